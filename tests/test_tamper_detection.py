"""Posted rows are guarded by the database, and tampering past the guards is found by the chain.

On a throwaway database with committed entries: UPDATE and DELETE of entries
and postings are refused by triggers (on both databases); postings naming an
account or entry of another book are refused; on PostgreSQL an unbalanced
INSERT is refused too. Then the triggers are dropped, rows are changed with
raw SQL, and ``verify_chain`` names exactly the entry that was touched, while
``balance_mismatches`` names the account whose postings no longer add up.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pytest
from conftest import SERVER_URL, _create_pg_database, _drop_pg_database, is_postgres
from engine_helpers import make_book
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from api.db import upgrade
from ledger.books import (
    EntryDraft,
    PostingDraft,
    balance_mismatches,
    get_book,
    post_entry,
    trial_balance,
    verify_chain,
)
from ledger.books.chain import entry_hash
from ledger.database import make_engine

# The databases here are this module's own, so conftest cannot tell these tests touch one.
pytestmark = pytest.mark.db

ACTOR = "clerk@test"
D = dt.date(2026, 9, 1)

#: (debit account, credit account, fen) of book A's five entries.
A_ENTRIES = [
    ("1122", "4001", 10000),
    ("1002", "1122", 6000),
    ("5001", "2241", 2500),
    ("1002", "1122", 4000),
    ("2241", "1002", 2500),
]


@dataclass
class Journal:
    engine: Engine
    a: int
    b: int
    a_code: str
    entries: list[int]  # book A's entry ids, in number order
    b_entries: list[int]

    def sql(self, statement: str, **params: object) -> None:
        with self.engine.begin() as conn:
            conn.execute(text(statement), params)

    def scalar(self, statement: str, **params: object) -> object:
        with self.engine.connect() as conn:
            return conn.execute(text(statement), params).scalar_one()

    def verify(self, book_id: int | None = None):  # type: ignore[no-untyped-def]
        with Session(self.engine) as s:
            return verify_chain(s, self.a if book_id is None else book_id)

    def mismatches(self) -> list[tuple[str, int, int, int, int]]:
        with Session(self.engine) as s:
            return balance_mismatches(s, get_book(s, self.a_code))

    def posting(self, entry_id: int, index: int = 0) -> tuple[int, int, str]:
        """(posting id, amount, account code) of an entry's posting."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT p.id, p.amount, a.code FROM postings p "
                    "JOIN accounts a ON a.id = p.account_id WHERE p.entry_id = :e ORDER BY p.id"
                ),
                {"e": entry_id},
            ).all()
        return tuple(rows[index])  # type: ignore[return-value]

    def account_id(self, book_id: int, code: str) -> int:
        return int(
            self.scalar(
                "SELECT id FROM accounts WHERE book_id = :b AND code = :c", b=book_id, c=code
            )
        )


def _drop_guards(engine: Engine) -> None:
    """Drop the triggers that refuse UPDATE and DELETE of entries and postings."""
    if engine.dialect.name == "postgresql":
        statements = [
            "DROP TRIGGER entries_immutable ON entries",
            "DROP TRIGGER postings_immutable ON postings",
        ]
    else:
        statements = [
            f"DROP TRIGGER {name}"
            for name in (
                "entries_no_update",
                "entries_no_delete",
                "postings_no_update",
                "postings_no_delete",
            )
        ]
    with engine.begin() as conn:
        for statement in statements:
            conn.execute(text(statement))


@contextmanager
def _migrated_database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """A throwaway migrated database shared by a module's tests (each uses fresh books)."""
    if is_postgres():
        url = _create_pg_database(SERVER_URL)
    else:
        url = f"sqlite:///{tmp_path_factory.mktemp('tamper') / 'db.sqlite'}"
    engine = make_engine(url)
    upgrade(engine)
    try:
        yield engine
    finally:
        engine.dispose()
        if is_postgres():
            _drop_pg_database(SERVER_URL, url)


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    with _migrated_database(tmp_path_factory) as engine:
        yield engine


@pytest.fixture(scope="module")
def unguarded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    with _migrated_database(tmp_path_factory) as engine:
        _drop_guards(engine)
        yield engine


def _journal(engine: Engine) -> Journal:
    """Two fresh books with committed entries: A with five, B with two."""
    with Session(engine) as s:
        a = make_book(s)
        b = make_book(s, chart={"1002": "asset", "7777": "asset"})
        s.commit()
        ids = [
            post_entry(
                s,
                a.id,
                EntryDraft(D, f"entry {i}", (PostingDraft(dr, n), PostingDraft(cr, -n))),
                actor=ACTOR,
            ).entry_id
            for i, (dr, cr, n) in enumerate(A_ENTRIES, start=1)
        ]
        b_ids = [
            post_entry(
                s,
                b.id,
                EntryDraft(D, "b", (PostingDraft("1002", 300), PostingDraft("7777", -300))),
                actor=ACTOR,
            ).entry_id
            for _ in range(2)
        ]
        s.commit()
        j = Journal(engine, a.id, b.id, a.code, ids, b_ids)
    assert j.verify().ok
    assert j.mismatches() == []
    return j


@pytest.fixture
def journal(guarded: Engine) -> Journal:
    """Fresh books in a database whose guards are in place."""
    return _journal(guarded)


@pytest.fixture
def tampered(unguarded: Engine) -> Journal:
    """Fresh books in a database whose UPDATE/DELETE guards were dropped."""
    return _journal(unguarded)


def assert_untouched(j: Journal) -> None:
    report = j.verify()
    assert report.ok, report
    assert report.entries_checked == len(A_ENTRIES)
    assert j.mismatches() == []
    assert j.scalar("SELECT count(*) FROM entries WHERE book_id = :b", b=j.a) == len(A_ENTRIES)
    assert j.scalar("SELECT count(*) FROM postings WHERE book_id = :b", b=j.a) == 2 * len(A_ENTRIES)


# --------------------------------------------------------------------------- the guards

CHANGES = [
    pytest.param("UPDATE entries SET memo = 'changed' WHERE id = :id", id="update-entry"),
    pytest.param("UPDATE entries SET number = number WHERE id = :id", id="update-entry-noop"),
    pytest.param("DELETE FROM entries WHERE id = :id", id="delete-entry"),
    pytest.param(
        "UPDATE postings SET amount = amount + 1 WHERE entry_id = :id", id="update-posting"
    ),
    pytest.param("DELETE FROM postings WHERE entry_id = :id", id="delete-postings"),
    pytest.param("UPDATE entries SET memo = 'x'", id="update-every-entry"),
    pytest.param("DELETE FROM postings", id="delete-every-posting"),
]


@pytest.mark.parametrize("statement", CHANGES)
def test_the_database_refuses_to_change_posted_rows(journal: Journal, statement: str) -> None:
    with pytest.raises(DBAPIError, match="immutable"):
        journal.sql(statement, id=journal.entries[2])
    assert_untouched(journal)


@pytest.mark.pg_only
@pytest.mark.parametrize("table", ["entries", "postings"])
def test_postgres_refuses_to_truncate_the_journal(journal: Journal, table: str) -> None:
    with pytest.raises(DBAPIError, match="immutable"):
        journal.sql(f"TRUNCATE {table} CASCADE")
    assert_untouched(journal)


def _insert_postings(j: Journal, entry_id: int, book_id: int, lines: list[tuple[int, int]]) -> None:
    """One INSERT statement with the given (account id, amount) lines for an entry."""
    values = ", ".join(f"(:e, :b, :a{i}, :d, :m{i}, 'CNY')" for i in range(len(lines)))
    params: dict[str, object] = {"e": entry_id, "b": book_id, "d": D}
    for i, (account, amount) in enumerate(lines):
        params[f"a{i}"], params[f"m{i}"] = account, amount
    j.sql(
        "INSERT INTO postings (entry_id, book_id, account_id, effective_date, amount, currency) "
        f"VALUES {values}",
        **params,
    )


def test_the_database_refuses_a_posting_naming_an_account_of_another_book(
    journal: Journal,
) -> None:
    foreign = journal.account_id(journal.b, "7777")
    own = journal.account_id(journal.a, "1002")
    with pytest.raises(DBAPIError, match="outside its book"):
        _insert_postings(journal, journal.entries[0], journal.a, [(own, 50), (foreign, -50)])
    assert_untouched(journal)


def test_the_database_refuses_a_posting_naming_an_entry_of_another_book(journal: Journal) -> None:
    own = [journal.account_id(journal.a, c) for c in ("1002", "4001")]
    with pytest.raises(DBAPIError, match="outside its book"):
        _insert_postings(journal, journal.b_entries[0], journal.a, [(own[0], 50), (own[1], -50)])
    assert_untouched(journal)


@pytest.mark.pg_only
@pytest.mark.parametrize(
    "amounts",
    [pytest.param([50], id="one-line"), pytest.param([50, -49], id="off-by-one-fen")],
)
def test_postgres_refuses_an_unbalanced_insert_into_postings(
    journal: Journal, amounts: list[int]
) -> None:
    accounts = [journal.account_id(journal.a, c) for c in ("1002", "4001")]
    with pytest.raises(DBAPIError, match="does not balance"):
        _insert_postings(
            journal, journal.entries[0], journal.a, list(zip(accounts, amounts, strict=False))
        )
    assert_untouched(journal)


def test_a_balanced_pair_slipped_into_a_posted_entry_is_found(journal: Journal) -> None:
    """INSERT is the one write the guards allow (the engine needs it): the chain still sees it."""
    own = [journal.account_id(journal.a, c) for c in ("1002", "4001")]
    _insert_postings(journal, journal.entries[1], journal.a, [(own[0], 50), (own[1], -50)])
    report = journal.verify()
    assert not report.ok
    assert report.first_bad_entry == journal.entries[1]
    assert {m[0] for m in journal.mismatches()} == {"1002", "4001"}


# --------------------------------------------------------------------------- past the guards


def test_a_changed_posting_amount_is_named_by_the_chain_and_the_balances(
    tampered: Journal,
) -> None:
    target = tampered.entries[2]
    posting_id, amount, code = tampered.posting(target)
    assert (amount, code) == (2500, "5001")
    tampered.sql("UPDATE postings SET amount = :m WHERE id = :id", m=2600, id=posting_id)

    report = tampered.verify()
    assert not report.ok
    assert report.first_bad_entry == target
    assert report.entries_checked == 3
    assert "hash" in (report.problem or "")
    # The materialized balance of 5001 no longer equals the sum of its postings.
    assert tampered.mismatches() == [("5001", 2500, 0, 2600, 0)]
    # Recomputed from postings, the books no longer balance.
    with Session(tampered.engine) as s:
        book = get_book(s, tampered.a_code)
        tb = trial_balance(s, book, dt.date(2100, 1, 1))
        assert tb.total_debit - tb.total_credit == 100
    # The other book is untouched.
    assert tampered.verify(tampered.b).ok

    # Put it back: the chain verifies again, so the verifier's verdict is exact.
    tampered.sql("UPDATE postings SET amount = :m WHERE id = :id", m=amount, id=posting_id)
    assert_untouched(tampered)


def test_a_posting_moved_to_another_account_is_named(tampered: Journal) -> None:
    target = tampered.entries[3]
    posting_id, _, code = tampered.posting(target)
    assert code == "1002"
    tampered.sql(
        "UPDATE postings SET account_id = :a WHERE id = :id",
        a=tampered.account_id(tampered.a, "5001"),
        id=posting_id,
    )
    report = tampered.verify()
    assert report.first_bad_entry == target
    assert {m[0] for m in tampered.mismatches()} == {"1002", "5001"}


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("memo", "entry 2 (quietly changed)"),
        ("effective_date", dt.date(2026, 9, 2)),
        ("posted_by", "someone-else@test"),
        ("kind", "charge"),
        ("source_ref", "billing-run:1"),
    ],
)
def test_a_changed_entry_field_is_named_by_the_chain(
    tampered: Journal, column: str, value: object
) -> None:
    target = tampered.entries[1]
    tampered.sql(f"UPDATE entries SET {column} = :v WHERE id = :id", v=value, id=target)
    report = tampered.verify()
    assert not report.ok
    assert report.first_bad_entry == target
    assert report.entries_checked == 2


def test_a_changed_entry_with_its_hash_recomputed_breaks_the_next_link(tampered: Journal) -> None:
    """A tamperer who re-hashes the entry they changed is caught at the next entry."""
    target = tampered.entries[1]
    with Session(tampered.engine) as s:
        row = s.execute(
            text(
                "SELECT prev_hash, number, kind, effective_date, recorded_at, posted_by "
                "FROM entries WHERE id = :id"
            ),
            {"id": target},
        ).one()
        postings = [
            tuple(p)
            for p in s.execute(
                text(
                    "SELECT account_id, amount, currency FROM postings WHERE entry_id = :id "
                    "ORDER BY id"
                ),
                {"id": target},
            )
        ]
    recorded_at = row.recorded_at
    if isinstance(recorded_at, str):  # SQLite keeps datetimes as text
        recorded_at = dt.datetime.fromisoformat(recorded_at)
    forged = entry_hash(
        prev_hash=row.prev_hash,
        book_code=tampered.a_code,
        number=row.number,
        kind=row.kind,
        effective_date=D,
        recorded_at=recorded_at,
        memo="forged memo",
        source_ref=None,
        posted_by=row.posted_by,
        reverses_id=None,
        postings=postings,
    )
    tampered.sql(
        "UPDATE entries SET memo = 'forged memo', hash = :h WHERE id = :id", h=forged, id=target
    )
    report = tampered.verify()
    assert not report.ok
    assert report.first_bad_entry == tampered.entries[2]
    assert "link" in (report.problem or "")


def test_a_deleted_last_entry_is_found_by_the_books_head(tampered: Journal) -> None:
    last = tampered.entries[-1]
    tampered.sql("DELETE FROM postings WHERE entry_id = :id", id=last)
    tampered.sql("DELETE FROM entries WHERE id = :id", id=last)
    report = tampered.verify()
    assert not report.ok
    # Every remaining entry verifies; it is the book's head that points past them.
    assert report.first_bad_entry is None
    assert report.entries_checked == len(A_ENTRIES) - 1
    assert "head" in (report.problem or "")
    # Its postings (Dr 2241, Cr 1002 25.00) are gone from the sums but not from the balances.
    assert {m[0] for m in tampered.mismatches()} == {"1002", "2241"}


def test_a_deleted_middle_entry_is_named_at_the_gap(tampered: Journal) -> None:
    gone = tampered.entries[2]
    tampered.sql("DELETE FROM postings WHERE entry_id = :id", id=gone)
    tampered.sql("DELETE FROM entries WHERE id = :id", id=gone)
    report = tampered.verify()
    assert report.first_bad_entry == tampered.entries[3]
    assert "sequence" in (report.problem or "")
