"""Tables of audit and reconciliation: imported bank statements and their lines, and
acknowledgements of audit findings (a finding is never deleted, only acknowledged)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from ledger.books.models import utcnow
from ledger.books.orm import Base, BigId

BANK_LINE_STATUSES = ("matched", "unmatched", "assigned", "ignored", "outgoing")


class BankStatement(Base):
    """One imported bank statement file; the same file (by SHA-256) is imported once."""

    __tablename__ = "bank_statements"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id"))
    filename: Mapped[str] = mapped_column(String(255))
    sha256: Mapped[str] = mapped_column(String(64))
    encoding: Mapped[str] = mapped_column(String(16))
    mapping: Mapped[str] = mapped_column(String(40))
    lines: Mapped[int] = mapped_column(Integer)
    imported_by: Mapped[str] = mapped_column(String(255))
    imported_at: Mapped[dt.datetime] = mapped_column(DateTime(), default=utcnow)

    __table_args__ = (UniqueConstraint("school_id", "sha256"),)


class BankLine(Base):
    """One line of a bank statement: matched to a payment, or waiting for finance.

    ``fingerprint`` (date, amounts, counterparty, description, balance) is
    unique per school, so a line seen in two overlapping statement files is
    recorded once.
    """

    __tablename__ = "bank_lines"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    statement_id: Mapped[int] = mapped_column(ForeignKey("bank_statements.id"))
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id"))
    line_no: Mapped[int] = mapped_column(Integer)
    booked_on: Mapped[dt.date] = mapped_column(Date)
    description: Mapped[str] = mapped_column(String(500))
    income: Mapped[int] = mapped_column(BigInteger, default=0)
    expense: Mapped[int] = mapped_column(BigInteger, default=0)
    counterparty_name: Mapped[str | None] = mapped_column(String(200))
    counterparty_account: Mapped[str | None] = mapped_column(String(64))
    balance: Mapped[int | None] = mapped_column(BigInteger)
    fingerprint: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(10))
    household_id: Mapped[int | None] = mapped_column(ForeignKey("households.id"))
    payment_id: Mapped[int | None] = mapped_column(ForeignKey("payments.id"))
    note: Mapped[str | None] = mapped_column(Text)
    decided_by: Mapped[str | None] = mapped_column(String(255))
    decided_at: Mapped[dt.datetime | None] = mapped_column(DateTime())

    __table_args__ = (
        UniqueConstraint("school_id", "fingerprint"),
        CheckConstraint(
            "status IN ({})".format(", ".join(f"'{s}'" for s in BANK_LINE_STATUSES)),
            name="status_known",
        ),
        CheckConstraint("income >= 0 AND expense >= 0", name="amounts_not_negative"),
        CheckConstraint("NOT (income > 0 AND expense > 0)", name="one_direction"),
        Index("ix_bank_lines_school_id_status", "school_id", "status"),
    )


class FindingAcknowledgement(Base):
    """An auditor's or finance officer's note on a finding; findings are never deleted."""

    __tablename__ = "finding_acknowledgements"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    rule: Mapped[str] = mapped_column(String(60))
    subject: Mapped[str] = mapped_column(String(200))
    note: Mapped[str] = mapped_column(Text)
    acknowledged_by: Mapped[str] = mapped_column(String(255))
    acknowledged_at: Mapped[dt.datetime] = mapped_column(DateTime(), default=utcnow)

    __table_args__ = (UniqueConstraint("rule", "subject"),)
