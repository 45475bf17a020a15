"""An audit run's findings as rows: the date each finding is about, and the CSV export.

A finding names its subject (``charge:12``, ``entry:40``, ``payment:3``…); the
date of a finding is the date of that subject — a charge's first day, an
entry's effective date, a payment's receipt, a bill's or hours' service date, a
waiver's or hardship status's first valid day — and empty for subjects that
are not dated (an account's balance, a book's chain).

CSV: one row per finding, the evidence as compact JSON text, and every text
cell that a spreadsheet would run as a formula prefixed with ``'``
(:func:`ledger.audit.exports.safe_text`).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger.books import Entry
from ledger.school.models import (
    ChargeRecord,
    HardshipStatus,
    Payment,
    ServiceHours,
    VendorBill,
    WaiverGrant,
)

from .exports import safe_text
from .rules import Finding

__all__ = ["FINDING_COLUMNS", "evidence_json", "findings_csv", "subject_dates"]

FINDING_COLUMNS = (
    "rule",
    "severity",
    "title",
    "school",
    "subject",
    "date",
    "acknowledged",
    "acknowledged_by",
    "acknowledged_at",
    "note",
    "evidence",
)

#: Subject kind -> (model, the column that dates it).
_DATED: dict[str, tuple[Any, Any]] = {
    "charge": (ChargeRecord, ChargeRecord.period_start),
    "entry": (Entry, Entry.effective_date),
    "payment": (Payment, Payment.received_on),
    "vendor_bill": (VendorBill, VendorBill.service_date),
    "hours": (ServiceHours, ServiceHours.service_date),
    "hardship": (HardshipStatus, HardshipStatus.valid_from),
    "waiver": (WaiverGrant, WaiverGrant.valid_from),
}


def subject_dates(db: Session, findings: Iterable[Finding]) -> dict[str, dt.date | None]:
    """The date of each finding's subject (``None`` when the subject has no date)."""
    wanted: dict[str, set[int]] = defaultdict(set)
    subjects: set[str] = set()
    for f in findings:
        subjects.add(f.subject)
        kind, _, rest = f.subject.partition(":")
        if kind in _DATED and rest.isdigit():
            wanted[kind].add(int(rest))
    out: dict[str, dt.date | None] = dict.fromkeys(subjects)
    for kind, ids in wanted.items():
        model, column = _DATED[kind]
        id_list = sorted(ids)
        for i in range(0, len(id_list), 500):
            for row_id, day in db.execute(
                select(model.id, column).where(model.id.in_(id_list[i : i + 500]))
            ):
                out[f"{kind}:{row_id}"] = day
    return out


def evidence_json(evidence: dict[str, Any]) -> str:
    """Evidence as compact JSON text (keys sorted, Chinese kept as written)."""
    return json.dumps(evidence, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def findings_csv(db: Session, findings: list[Finding]) -> str:
    """The findings as CSV (UTF-8; the caller adds a BOM for spreadsheet programs if wanted)."""
    dates = subject_dates(db, findings)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(FINDING_COLUMNS)
    for f in findings:
        ack = f.acknowledged or {}
        day = dates.get(f.subject)
        writer.writerow(
            [
                safe_text(f.rule),
                safe_text(f.severity),
                safe_text(f.summary),
                safe_text(f.school),
                safe_text(f.subject),
                day.isoformat() if day else "",
                "yes" if f.acknowledged else "no",
                safe_text(ack.get("by")),
                safe_text(ack.get("at")),
                safe_text(ack.get("note")),
                safe_text(evidence_json(f.evidence)),
            ]
        )
    return out.getvalue()
