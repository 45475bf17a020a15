"""The archive of issued documents: each PDF kept with its SHA-256 and the data it was made from."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from ledger.books.models import utcnow
from ledger.books.orm import Base, BigId

#: The documents the archive keeps.
KINDS = (
    "invoice",
    "receipt",
    "statement",
    "subsidy_claim",
    "payout_sheet",
    "remittance",
    "disclosure",
    "audit_report",
)


class IssuedDocument(Base):
    """One issued PDF. Never updated: issuing the same document again returns this row.

    ``source`` names what it was made from (``invoice:12``, ``payment:7``,
    ``statement:household:3:2026-09-01:2026-12-31``); ``number`` is the
    document's own gap-free number where it has one (invoices, receipts).
    ``data`` is the JSON the template received, so the PDF can be explained
    and re-rendered; ``sha256`` is of ``pdf``.
    """

    __tablename__ = "issued_documents"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id"))
    kind: Mapped[str] = mapped_column(String(20))
    source: Mapped[str] = mapped_column(String(200))
    language: Mapped[str] = mapped_column(String(8))
    number: Mapped[str | None] = mapped_column(String(40))
    year: Mapped[int | None] = mapped_column(Integer)
    household_id: Mapped[int | None] = mapped_column(ForeignKey("households.id"))
    sha256: Mapped[str] = mapped_column(String(64))
    data: Mapped[str] = mapped_column(Text)
    pdf: Mapped[bytes] = mapped_column(LargeBinary)
    issued_by: Mapped[str] = mapped_column(String(255))
    issued_at: Mapped[dt.datetime] = mapped_column(DateTime(), default=utcnow)

    __table_args__ = (
        UniqueConstraint("school_id", "kind", "source", "language"),
        Index("ix_issued_documents_school_id_kind_number", "school_id", "kind", "number"),
        Index("ix_issued_documents_household_id", "household_id"),
        CheckConstraint(
            "kind IN ({})".format(", ".join(f"'{k}'" for k in KINDS)), name="kind_known"
        ),
        CheckConstraint("language IN ('zh-CN', 'en')", name="language_known"),
        CheckConstraint("length(sha256) = 64", name="sha256_length"),
    )
