"""The migrations build exactly the models' schema, and walk down to nothing and back up.

Each test has a database of its own (``throwaway_url``), migrated to head by
the fixture; the models are every table registered by importing all of
``ledger`` and ``api``, so a model without a migration is found too.
"""

from __future__ import annotations

import datetime as dt
import importlib
import pkgutil
from collections.abc import Iterator

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import CheckConstraint, Engine, MetaData, inspect, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

import api
import ledger
from api.db import alembic_config, downgrade, upgrade
from ledger.books import EntryDraft, PostingDraft, create_account, create_book, post_entry
from ledger.books.orm import Base
from ledger.database import make_engine

#: The guards the first revision creates, which the engine relies on.
GUARDS = {
    "sqlite": {
        "entries_no_update",
        "entries_no_delete",
        "postings_no_update",
        "postings_no_delete",
        "postings_references",
        "accounts_no_delete",
    },
    "postgresql": {
        "entries_immutable",
        "postings_immutable",
        "entries_no_truncate",
        "postings_no_truncate",
        "postings_checked",
        "accounts_no_delete",
    },
}


def models() -> MetaData:
    """The metadata with every model of the project registered."""
    for package in (ledger, api):
        for module in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
            importlib.import_module(module.name)
    return Base.metadata


@pytest.fixture
def engine(throwaway_url: str) -> Iterator[Engine]:
    eng = make_engine(throwaway_url)
    try:
        yield eng
    finally:
        eng.dispose()


def schema_diff(engine: Engine) -> list:
    metadata = models()
    with engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"compare_type": True, "compare_server_default": False}
        )
        return compare_metadata(context, metadata)


def check_constraints(engine: Engine) -> dict[str, set[str]]:
    insp = inspect(engine)
    return {
        table: {c["name"] for c in insp.get_check_constraints(table)}
        for table in insp.get_table_names()
        if table != "alembic_version"
    }


def model_check_constraints() -> dict[str, set[str]]:
    return {
        table.name: {
            str(c.name) for c in table.constraints if isinstance(c, CheckConstraint) and c.name
        }
        for table in models().sorted_tables
    }


def triggers(engine: Engine) -> set[str]:
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            rows = conn.execute(text("SELECT name FROM sqlite_master WHERE type = 'trigger'"))
        else:
            rows = conn.execute(text("SELECT tgname FROM pg_trigger WHERE NOT tgisinternal"))
        return {r[0] for r in rows}


def functions(engine: Engine) -> set[str]:
    if engine.dialect.name != "postgresql":
        return set()
    with engine.connect() as conn:
        return set(
            conn.scalars(
                text(
                    "SELECT p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
                    "WHERE n.nspname = 'public'"
                )
            )
        )


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def test_upgrade_head_gives_exactly_the_models_schema(engine: Engine) -> None:
    assert current_revision(engine) == head_revision()
    assert schema_diff(engine) == []


def test_every_table_has_the_models_check_constraints(engine: Engine) -> None:
    """Autogenerate does not compare CHECK constraints; compare their names here."""
    assert check_constraints(engine) == model_check_constraints()


def test_upgrade_head_installs_the_guards(engine: Engine) -> None:
    assert GUARDS[engine.dialect.name] <= triggers(engine)


def test_the_comparison_would_see_a_missing_table(engine: Engine) -> None:
    """The schema check itself is not vacuous."""
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE book_access"))
    diff = schema_diff(engine)
    assert [d[0] for d in diff] == ["add_table"]
    assert diff[0][1].name == "book_access"


def _post_one(engine: Engine) -> int:
    with Session(engine) as s:
        book = create_book(s, code="MIG", name="after re-upgrade", created_by=None)
        for code, type_ in (("1002", "asset"), ("4001", "revenue")):
            create_account(s, book, code=code, name=code, type=type_)
        entry = post_entry(
            s,
            book.id,
            EntryDraft(
                dt.date(2026, 9, 1), "fee", (PostingDraft("1002", 100), PostingDraft("4001", -100))
            ),
            actor="t",
        )
        s.commit()
        return entry.entry_id


def test_downgrade_to_base_then_upgrade_head_rebuilds_everything(engine: Engine) -> None:
    tables_at_head = set(inspect(engine).get_table_names())
    triggers_at_head = triggers(engine)

    downgrade(engine, "base")
    assert current_revision(engine) is None
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    assert triggers(engine) == set()
    assert {f for f in functions(engine) if f.startswith("kehou")} == set()

    upgrade(engine)
    assert current_revision(engine) == head_revision()
    assert set(inspect(engine).get_table_names()) == tables_at_head
    assert triggers(engine) == triggers_at_head
    assert schema_diff(engine) == []
    assert check_constraints(engine) == model_check_constraints()

    # The guards work again: a posted entry cannot be changed or removed.
    entry_id = _post_one(engine)
    for statement in (
        "UPDATE entries SET memo = 'changed' WHERE id = :id",
        "DELETE FROM entries WHERE id = :id",
        "UPDATE postings SET amount = amount * 2 WHERE entry_id = :id",
        "DELETE FROM postings WHERE entry_id = :id",
    ):
        with pytest.raises(DBAPIError, match="immutable"), engine.begin() as conn:
            conn.execute(text(statement), {"id": entry_id})


def test_each_revision_downgrades_and_upgrades_one_step_at_a_time(engine: Engine) -> None:
    script = ScriptDirectory.from_config(alembic_config())
    revisions = [r.revision for r in script.walk_revisions()]  # head first
    for revision in revisions:
        downgrade(engine, "-1")
        assert current_revision(engine) == script.get_revision(revision).down_revision
    assert current_revision(engine) is None
    for revision in reversed(revisions):
        upgrade(engine, "+1")
        assert current_revision(engine) == revision
    assert schema_diff(engine) == []
