"""Helpers for the domain-level journal tests: books with a small chart, drafts, snapshots."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ledger.books import (
    Account,
    Balance,
    Book,
    EntryDraft,
    PostingDraft,
    balance_mismatches,
    create_account,
    create_book,
    trial_balance,
    verify_chain,
)
from ledger.books.models import Entry, Period, Posting

#: A small chart: code -> type.
CHART = {
    "1002": "asset",
    "1122": "asset",
    "2241": "liability",
    "4001": "revenue",
    "5001": "expense",
}


def unique_code(prefix: str = "B") -> str:
    return f"{prefix}{uuid.uuid4().hex[:12]}"


def make_book(
    session: Session, code: str | None = None, chart: dict[str, str] | None = None
) -> Book:
    book = create_book(session, code=code or unique_code(), name="Test school", created_by="t")
    for account_code, type_ in (CHART if chart is None else chart).items():
        create_account(session, book, code=account_code, name=account_code, type=type_)
    return book


def draft(
    day: dt.date,
    *lines: tuple[str, int],
    memo: str = "test entry",
    key: str | None = None,
    kind: str = "adjustment",
    source_ref: str | None = None,
) -> EntryDraft:
    return EntryDraft(
        effective_date=day,
        memo=memo,
        postings=tuple(PostingDraft(code, amount) for code, amount in lines),
        kind=kind,
        source_ref=source_ref,
        idempotency_key=key,
    )


@dataclass(frozen=True)
class BookState:
    """Everything a write could change in a book, read fresh from the database."""

    last_number: int
    last_hash: str
    entries: int
    postings: int
    balances: tuple[tuple[str, int, int, bool], ...]
    periods: tuple[tuple[int, bool], ...]


def book_state(session: Session, book_id: int) -> BookState:
    last_number, last_hash = session.execute(
        select(Book.last_number, Book.last_hash).where(Book.id == book_id)
    ).one()
    entries = session.scalar(
        select(func.count()).select_from(Entry).where(Entry.book_id == book_id)
    )
    postings = session.scalar(
        select(func.count()).select_from(Posting).where(Posting.book_id == book_id)
    )
    balances = tuple(
        (code, int(d), int(c), bool(closed))
        for code, d, c, closed in session.execute(
            select(Account.code, Balance.debit, Balance.credit, Account.is_closed)
            .join(Balance, Balance.account_id == Account.id)
            .where(Account.book_id == book_id)
            .order_by(Account.code)
        )
    )
    periods = tuple(
        (pid, bool(closed))
        for pid, closed in session.execute(
            select(Period.id, Period.is_closed).where(Period.book_id == book_id).order_by(Period.id)
        )
    )
    return BookState(int(last_number), last_hash, entries, postings, balances, periods)


def total_rows(session: Session) -> tuple[int, int]:
    """Entries and postings in the whole database (every book)."""
    return (
        session.scalar(select(func.count()).select_from(Entry)),
        session.scalar(select(func.count()).select_from(Posting)),
    )


def entry_numbers(session: Session, book_id: int) -> list[int]:
    return list(
        session.scalars(select(Entry.number).where(Entry.book_id == book_id).order_by(Entry.number))
    )


def net_balances(session: Session, book_id: int) -> dict[str, int]:
    """Materialized debit minus credit per account code."""
    return {
        code: int(d) - int(c)
        for code, d, c in session.execute(
            select(Account.code, Balance.debit, Balance.credit)
            .join(Balance, Balance.account_id == Account.id)
            .where(Account.book_id == book_id)
        )
    }


def assert_books_sound(session: Session, book: Book, *, entries: int | None = None) -> None:
    """Trial balance zero, materialized = recomputed, chain verifies, numbers gap-free."""
    tb = trial_balance(session, book)
    assert tb.total_debit == tb.total_credit
    assert balance_mismatches(session, book) == []
    report = verify_chain(session, book.id)
    assert report.ok, report
    assert report.first_bad_entry is None
    numbers = entry_numbers(session, book.id)
    assert numbers == list(range(1, len(numbers) + 1))
    assert report.entries_checked == len(numbers)
    if entries is not None:
        assert len(numbers) == entries
