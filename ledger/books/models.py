"""Tables of the double-entry engine: books, accounts, balances, entries, postings, periods.

Entries and postings are append-only: the database refuses UPDATE and DELETE
on them (triggers created by the migrations), and corrections are reversals.
Amounts are signed integers of fen (debit positive, credit negative).
Postings carry their entry's book and effective date so that balances as of
a date read one index, and so that the database itself checks (by trigger,
set-wise per statement) that a posting's entry and account are in its book.
"""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .orm import Base, BigId

GENESIS_HASH = "0" * 64


class AccountType(enum.StrEnum):
    ASSET = "asset"
    LIABILITY = "liability"
    NET_ASSETS = "net_assets"
    REVENUE = "revenue"
    EXPENSE = "expense"


class EntryKind(enum.StrEnum):
    CHARGE = "charge"
    CREDIT = "credit"
    PAYMENT = "payment"
    REFUND = "refund"
    SUBSIDY_RECEIPT = "subsidy_receipt"
    STIPEND = "stipend"
    LABOUR_FEE = "labour_fee"
    VENDOR_BILL = "vendor_bill"
    PAYOUT = "payout"
    WRITE_OFF = "write_off"
    ADJUSTMENT = "adjustment"
    REVERSAL = "reversal"
    CLOSING = "closing"


def _in(values: type[enum.StrEnum]) -> str:
    return ", ".join(f"'{v.value}'" for v in values)


def utcnow() -> dt.datetime:
    """Naive UTC with microseconds: the form stored and hashed on every database."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


class Book(Base):
    """One set of accounts; every entry belongs to exactly one book.

    ``last_number`` and ``last_hash`` are the head of the journal. Every
    posting locks this row first, which serialises numbering and the hash
    chain per book.
    """

    __tablename__ = "books"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    #: Opaque reference of who created the book (the API stores the user's id).
    created_by: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(), default=utcnow)
    last_number: Mapped[int] = mapped_column(BigInteger, default=0)
    last_hash: Mapped[str] = mapped_column(String(64), default=GENESIS_HASH)

    __table_args__ = (
        CheckConstraint("last_number >= 0", name="last_number_not_negative"),
        CheckConstraint("length(code) > 0", name="code_not_empty"),
    )


class Account(Base):
    __tablename__ = "accounts"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    book_id: Mapped[int] = mapped_column(ForeignKey("books.id"))
    code: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    type: Mapped[str] = mapped_column(String(16))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"), index=True)
    #: Optional owner: a household, staff member, vendor or funder (``"household:12"``).
    owner_ref: Mapped[str | None] = mapped_column(String(100))
    is_closed: Mapped[bool] = mapped_column(Boolean, default=False)
    closed_at: Mapped[dt.datetime | None] = mapped_column(DateTime())
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(), default=utcnow)

    parent: Mapped[Account | None] = relationship(remote_side=[id])
    book: Mapped[Book] = relationship()

    __table_args__ = (
        UniqueConstraint("book_id", "code"),
        CheckConstraint(f"type IN ({_in(AccountType)})", name="type_known"),
        CheckConstraint("length(code) > 0", name="code_not_empty"),
    )


class Balance(Base):
    """Materialized totals of an account's postings, kept in the posting transaction."""

    __tablename__ = "balances"

    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), primary_key=True)
    debit: Mapped[int] = mapped_column(BigInteger, default=0)
    credit: Mapped[int] = mapped_column(BigInteger, default=0)

    __table_args__ = (
        CheckConstraint("debit >= 0", name="debit_not_negative"),
        CheckConstraint("credit >= 0", name="credit_not_negative"),
    )


class Entry(Base):
    __tablename__ = "entries"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    book_id: Mapped[int] = mapped_column(ForeignKey("books.id"))
    number: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(24))
    effective_date: Mapped[dt.date] = mapped_column(Date)
    recorded_at: Mapped[dt.datetime] = mapped_column(DateTime())
    memo: Mapped[str] = mapped_column(Text)
    #: What caused the entry: an enrolment, billing run or payment (``"billing-run:7"``).
    source_ref: Mapped[str | None] = mapped_column(String(200))
    posted_by: Mapped[str] = mapped_column(String(255))
    idempotency_key: Mapped[str | None] = mapped_column(String(200))
    request_hash: Mapped[str | None] = mapped_column(String(64))
    reverses_id: Mapped[int | None] = mapped_column(ForeignKey("entries.id"), unique=True)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))

    postings: Mapped[list[Posting]] = relationship(
        primaryjoin="Entry.id == foreign(Posting.entry_id)",
        order_by="Posting.id",
        viewonly=True,
        lazy="selectin",
    )

    __table_args__ = (
        UniqueConstraint("book_id", "number"),
        UniqueConstraint("book_id", "idempotency_key"),
        CheckConstraint(f"kind IN ({_in(EntryKind)})", name="kind_known"),
        CheckConstraint("number > 0", name="number_positive"),
        CheckConstraint("length(memo) > 0", name="memo_not_empty"),
        CheckConstraint("length(hash) = 64 AND length(prev_hash) = 64", name="hashes_sha256"),
        Index("ix_entries_book_id_effective_date", "book_id", "effective_date"),
    )


class Posting(Base):
    __tablename__ = "postings"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    entry_id: Mapped[int] = mapped_column(BigInteger)
    book_id: Mapped[int] = mapped_column(BigInteger)
    account_id: Mapped[int] = mapped_column(BigInteger)
    effective_date: Mapped[dt.date] = mapped_column(Date)
    #: Signed fen: debit positive, credit negative, never zero.
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3), default="CNY")

    account: Mapped[Account] = relationship(
        primaryjoin="Posting.account_id == Account.id", foreign_keys=[account_id], viewonly=True
    )

    __table_args__ = (
        CheckConstraint("amount <> 0", name="amount_not_zero"),
        CheckConstraint("length(currency) = 3", name="currency_code"),
        Index("ix_postings_entry_id", "entry_id"),
        Index("ix_postings_account_id_effective_date", "account_id", "effective_date"),
    )


class Period(Base):
    """An accounting period of a book; once closed, no entry may be dated inside it."""

    __tablename__ = "periods"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    book_id: Mapped[int] = mapped_column(ForeignKey("books.id"))
    start: Mapped[dt.date] = mapped_column(Date)
    end: Mapped[dt.date] = mapped_column(Date)
    is_closed: Mapped[bool] = mapped_column(Boolean, default=False)
    closed_at: Mapped[dt.datetime | None] = mapped_column(DateTime())
    closed_by: Mapped[str | None] = mapped_column(String(255))

    __table_args__ = (
        CheckConstraint('"end" >= start', name="end_not_before_start"),
        Index("ix_periods_book_id_start", "book_id", "start"),
    )
