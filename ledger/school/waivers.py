"""Waivers of the parent share: requested by one person, approved by another (four eyes)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger.books.models import utcnow

from .errors import Conflict, RuleBroken
from .fees import BASIS
from .models import HardshipStatus, Student, WaiverGrant


def request_waiver(
    db: Session,
    student: Student,
    *,
    percent: int,
    reason: str,
    evidence_ref: str,
    valid_from: dt.date,
    valid_to: dt.date,
    actor: str,
) -> WaiverGrant:
    if not 0 < percent <= BASIS:
        raise RuleBroken(
            "invalid_waiver", "percent is in basis points, 1 to 10000 (full)", field="percent"
        )
    if not reason.strip() or not evidence_ref.strip():
        raise RuleBroken(
            "evidence_required", "a waiver needs a reason and an evidence reference", field="reason"
        )
    if valid_to < valid_from:
        raise RuleBroken("invalid_dates", "valid_to is before valid_from", field="valid_to")
    waiver = WaiverGrant(
        student_id=student.id,
        percent=percent,
        reason=reason.strip(),
        evidence_ref=evidence_ref.strip(),
        valid_from=valid_from,
        valid_to=valid_to,
        status="requested",
        requested_by=actor,
    )
    db.add(waiver)
    db.flush()
    return waiver


def decide_waiver(db: Session, waiver: WaiverGrant, *, approve: bool, actor: str) -> WaiverGrant:
    if waiver.status != "requested":
        raise Conflict("waiver_decided", f"waiver {waiver.id} is already {waiver.status}")
    if actor == waiver.requested_by:
        raise RuleBroken(
            "same_approver",
            "a waiver must be approved by someone other than the person who requested it",
            field="approver",
        )
    waiver.status = "approved" if approve else "rejected"
    waiver.decided_by = actor
    waiver.decided_at = utcnow()
    db.flush()
    return waiver


def waiver_windows(
    db: Session, student_id: int, start: dt.date, end: dt.date
) -> list[tuple[int, dt.date, dt.date, str]]:
    """``(percent, from, to, reason)`` of hardship status and approved waivers over a span.

    Verified hardship is a full waiver of the parent share for the dates it covers.
    """
    return waiver_windows_for(db, {student_id}, start, end).get(student_id, [])


def waiver_windows_for(
    db: Session, student_ids: set[int], start: dt.date, end: dt.date
) -> dict[int, list[tuple[int, dt.date, dt.date, str]]]:
    """:func:`waiver_windows` for many students at once (two queries, not two per student)."""
    out: dict[int, list[tuple[int, dt.date, dt.date, str]]] = {}
    if not student_ids:
        return out
    # A few students: ask for them; a whole school: read the span once and filter here.
    few = sorted(student_ids) if len(student_ids) <= 500 else None
    hardship = select(
        HardshipStatus.student_id,
        HardshipStatus.valid_from,
        HardshipStatus.valid_to,
        HardshipStatus.evidence_ref,
    ).where(HardshipStatus.valid_from <= end, HardshipStatus.valid_to >= start)
    grants = select(
        WaiverGrant.student_id,
        WaiverGrant.percent,
        WaiverGrant.valid_from,
        WaiverGrant.valid_to,
        WaiverGrant.id,
    ).where(
        WaiverGrant.status == "approved",
        WaiverGrant.valid_from <= end,
        WaiverGrant.valid_to >= start,
    )
    if few is not None:
        hardship = hardship.where(HardshipStatus.student_id.in_(few))
        grants = grants.where(WaiverGrant.student_id.in_(few))
    for h in db.execute(hardship.order_by(HardshipStatus.id)):
        if h[0] in student_ids:
            out.setdefault(h[0], []).append((BASIS, h[1], h[2], f"hardship:{h[3]}"))
    for w in db.execute(grants.order_by(WaiverGrant.id)):
        if w[0] in student_ids:
            out.setdefault(w[0], []).append((w[1], w[2], w[3], f"waiver:{w[4]}"))
    return out
