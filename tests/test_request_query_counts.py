"""The scope checks every request makes cost a fixed number of queries, not one per row.

Every call on a book looks up the token and the book (with the caller's right to
see it) before anything else, and every write ends with one audit line: a posting
request runs exactly those three statements through SQLAlchemy, besides the
engine's own (which go to the driver directly). A household's statement checks
the caller's scope with one query for that household, instead of reading every
household of the caller's districts. The counts are of statements SQLAlchemy
sends; a change that brings back per-request scope queries fails here.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from access_world import World, build
from sqlalchemy import event, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from api import create_app
from api.models import User
from api.scope import household_visible
from ledger.school.models import Household

pytestmark = pytest.mark.db


@contextmanager
def statements() -> Iterator[list[str]]:
    """The SQL statements SQLAlchemy runs inside the block (BEGIN and SAVEPOINT left out)."""
    seen: list[str] = []

    def count(conn, cursor, statement, params, context, executemany) -> None:  # type: ignore[no-untyped-def]
        head = statement.lstrip().split(None, 1)[0].upper()
        if head not in {"BEGIN", "SAVEPOINT", "RELEASE", "ROLLBACK"}:
            seen.append(statement)

    event.listen(Engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(Engine, "before_cursor_execute", count)


@pytest.fixture
def world_app(db: Session, connection, database_url):  # type: ignore[no-untyped-def]
    world = build(db)
    db.commit()
    app = create_app({"DATABASE_URL": database_url, "TESTING": True, "ENV": "testing"})
    app.extensions["kehou_db"].bind(connection)
    return app, world


def _headers(world: World, persona: str, **extra: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {world.tokens[persona]}", **extra}


@pytest.mark.parametrize("persona", ["fin_X", "fin_D"])
def test_posting_an_entry_runs_token_book_and_audit_line_only(world_app, persona) -> None:  # type: ignore[no-untyped-def]
    app, world = world_app
    client = app.test_client()
    body = {
        "effective_date": "2026-12-03",
        "memo": "query count",
        "postings": [
            {"account": "1002", "direction": "debit", "amount": "1.00"},
            {"account": "4001.basic_care", "direction": "credit", "amount": "1.00"},
        ],
    }
    # One untimed call first: the statement caches and the app's first request.
    for i in range(2):
        with statements() as seen:
            r = client.post(
                f"/api/v1/books/{world.ids['book']}/entries",
                json=body,
                headers=_headers(world, persona, **{"Idempotency-Key": f"qc-{persona}-{i}"}),
            )
        assert r.status_code == 201, r.json
    tables = [s.split()[0].upper() for s in seen]
    assert len(seen) == 3, seen
    assert "api_tokens" in seen[0] and "books" in seen[1], seen
    assert tables[2] == "INSERT" and "audit_log" in seen[2], seen


@pytest.mark.parametrize("persona", ["audit", "fin_X"])
def test_reading_a_book_looks_up_the_token_and_the_book_first(world_app, persona) -> None:  # type: ignore[no-untyped-def]
    app, world = world_app
    client = app.test_client()
    with statements() as seen:
        r = client.get(
            f"/api/v1/books/{world.ids['book']}/accounts/1002", headers=_headers(world, persona)
        )
    assert r.status_code == 200, r.json
    assert "api_tokens" in seen[0] and "FROM books" in seen[1], seen
    assert all("user_schools" not in s and "book_access" not in s for s in seen[2:]), seen


def test_posting_to_a_book_out_of_scope_is_404_after_two_queries(world_app) -> None:  # type: ignore[no-untyped-def]
    app, world = world_app
    client = app.test_client()
    with statements() as seen:
        r = client.post(
            f"/api/v1/books/{world.ids['book']}/entries",
            json={},
            headers=_headers(world, "fin_Y", **{"Idempotency-Key": "qc-y"}),
        )
    assert r.status_code == 404
    assert len(seen) == 2, seen


@pytest.mark.parametrize(
    ("persona", "household", "visible"),
    [
        ("par_A", "household_id", True),
        ("par_A", "household_b", False),
        ("par_B", "household_id", False),
        ("fin_X", "household_id", True),
        # Households belong to the district: finance of school Y sees A's record too.
        ("fin_Y", "household_id", True),
        ("fin_D", "household_b", True),
        ("audit", "household_b", True),
        ("teach", "household_id", False),
    ],
)
def test_household_scope_is_one_query(world_app, db: Session, persona, household, visible) -> None:  # type: ignore[no-untyped-def]
    _, world = world_app
    user = db.get(User, world.user_ids[persona])
    home = db.get(Household, world.ids[household])
    assert user is not None and home is not None
    # Another household in the district must not be read to answer for this one.
    others = db.scalars(select(Household.id).where(Household.id != home.id)).all()
    assert others
    with statements() as seen:
        assert household_visible(db, user, home) is visible
    assert len(seen) <= 1, seen


def test_a_household_statement_does_not_read_the_districts_households(world_app) -> None:  # type: ignore[no-untyped-def]
    app, world = world_app
    client = app.test_client()
    path = f"/api/v1/households/{world.ids['household_id']}/statement?from=2026-09-01&to=2026-09-30"
    r = client.get(path, headers=_headers(world, "fin_D"))
    assert r.status_code == 200, r.json
    with statements() as seen:
        r = client.get(path, headers=_headers(world, "fin_D"))
    assert r.status_code == 200, r.json
    whole = [
        s
        for s in seen
        if "FROM households" in s and "WHERE" in s and "households.district_id IN" in s
    ]
    assert not whole, whole
