"""Issuing documents: render once, number, keep the PDF with its SHA-256 and its data.

A document is identified by its school, kind, ``source`` and language. The
first :func:`issue` renders it and stores an :class:`IssuedDocument`; every
later call returns that stored row, so a second download is the same bytes
with the same SHA-256 whatever has happened since (the table refuses UPDATE
and DELETE at the database level).

Numbers: an invoice brings the number billing gave it (a cancelled invoice
keeps it); a receipt gets the next gap-free number of its school and year
from :func:`ledger.school.billing.next_number`, in the same transaction and
savepoint as the row that stores it — if storing fails (another request
issued the same receipt first), the number is given back with it, so no
number is ever lost or used twice.

What a *statement* or a *disclosure notice* says changes as the books and
the term's programmes change; their ``source`` therefore ends with a digest
of their data (:func:`content_source`): the same figures are issued once,
and different figures are a different document.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ledger.school.billing import next_number
from ledger.school.models import DocumentCounter, School

from .models import KINDS, IssuedDocument
from .render import render_pdf

__all__ = ["content_source", "data_json", "find_issued", "issue", "receipt_number"]

#: Kinds numbered here, in the transaction that issues them.
NUMBERED_HERE = {"receipt": "R"}


def _json_default(value: Any) -> str:
    if isinstance(value, dt.date):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not plain document data")


def data_json(data: Mapping[str, Any]) -> str:
    """The data a document was made from, as stored: stable key order, dates as ISO strings."""
    return json.dumps(data, default=_json_default, ensure_ascii=False, sort_keys=True)


def content_source(prefix: str, data: Mapping[str, Any]) -> str:
    """``prefix`` plus a digest of ``data``: one archived document per distinct content."""
    digest = hashlib.sha256(data_json(data).encode()).hexdigest()[:16]
    return f"{prefix}:{digest}"


def receipt_number(school: School, year: int, seq: int) -> str:
    return f"{school.code}-R{year}-{seq:06d}"


def find_issued(
    db: Session, school: School, kind: str, source: str, language: str
) -> IssuedDocument | None:
    return db.scalar(
        select(IssuedDocument).where(
            IssuedDocument.school_id == school.id,
            IssuedDocument.kind == kind,
            IssuedDocument.source == source,
            IssuedDocument.language == language,
        )
    )


def _number_in_other_language(db: Session, school: School, kind: str, source: str) -> str | None:
    """A document has one number whatever the language it is printed in."""
    return db.scalar(
        select(IssuedDocument.number)
        .where(
            IssuedDocument.school_id == school.id,
            IssuedDocument.kind == kind,
            IssuedDocument.source == source,
        )
        .limit(1)
    )


def _lock_counter(db: Session, school: School, kind: str, year: int) -> None:
    """Wait for any other transaction numbering this school's documents of the year."""
    db.execute(
        select(DocumentCounter.last)
        .where(
            DocumentCounter.school_id == school.id,
            DocumentCounter.kind == kind,
            DocumentCounter.year == year,
        )
        .with_for_update()
    )


def issue(
    db: Session,
    school: School,
    kind: str,
    source: str,
    language: str,
    data: Mapping[str, Any] | Callable[[], Mapping[str, Any]],
    *,
    actor: str,
    household_id: int | None = None,
    pdf: bytes | None = None,
) -> IssuedDocument:
    """The issued document for ``(school, kind, source, language)``, issuing it the first time.

    ``data`` may be a callable, so that callers skip building it when the
    document is already archived. ``pdf`` is for a batch that rendered the
    document already (not for receipts, whose number must be in the PDF).
    Flushes; the caller commits.

    Concurrent requests for the same document: the counter row is locked
    before a number is chosen, so the second request sees the first one's
    number (for the same document in another language, it takes the same
    number) and a unique-key clash returns the first one's row. Only the
    very first receipt of a school and year has no counter row to lock; a
    clash there is retried once.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown document kind {kind!r}")
    if kind in NUMBERED_HERE and pdf is not None:
        raise ValueError(f"a {kind} is numbered when it is issued; do not pre-render it")
    existing = find_issued(db, school, kind, source, language)
    if existing is not None:
        return existing
    values = dict(data() if callable(data) else data)
    for attempt in (1, 2):
        try:
            with db.begin_nested():
                return _store(db, school, kind, source, language, values, actor, household_id, pdf)
        except IntegrityError:
            existing = find_issued(db, school, kind, source, language)
            if existing is not None:
                return existing
            if attempt == 2:
                raise
    raise AssertionError("unreachable")  # pragma: no cover


def _store(
    db: Session,
    school: School,
    kind: str,
    source: str,
    language: str,
    values: dict[str, Any],
    actor: str,
    household_id: int | None,
    pdf: bytes | None,
) -> IssuedDocument:
    number, year = values.get("number"), None
    if kind in NUMBERED_HERE:
        year = values["date"].year
        _lock_counter(db, school, kind, year)
        existing = find_issued(db, school, kind, source, language)
        if existing is not None:  # issued while this request waited for the lock
            return existing
        number = _number_in_other_language(db, school, kind, source) or receipt_number(
            school, year, next_number(db, school, kind, year)
        )
        values["number"] = number
    elif number is not None:
        year = values["date"].year
    body = pdf if pdf is not None else render_pdf(kind, values, language)
    row = IssuedDocument(
        school_id=school.id,
        kind=kind,
        source=source,
        language=language,
        number=number,
        year=year,
        household_id=household_id,
        sha256=hashlib.sha256(body).hexdigest(),
        data=data_json(values),
        pdf=body,
        issued_by=actor,
    )
    db.add(row)
    db.flush()
    return row
