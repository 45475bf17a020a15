"""Consent before charge: apply, review, approve (家长申请、班级审核、学校统一实施).

Each step keeps who and when; an enrolment exists only through an approved
application. Capacity is respected, and when a programme is over-subscribed
the priority groups (hardship, left-behind, migrant) are admitted first.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ledger.books.models import utcnow

from .errors import Conflict, NotFound, RuleBroken
from .models import Absence, Application, Enrolment, HardshipStatus, Programme, Student, Term

ACTIVE = ("applied", "reviewed", "approved", "waitlisted")


def apply(
    db: Session,
    student: Student,
    programme: Programme,
    *,
    applied_by: str,
    start_date: dt.date | None = None,
    written_ref: str | None = None,
) -> Application:
    """A guardian's application, or finance recording a written one (``written_ref``)."""
    if student.school_id != programme.school_id:
        raise RuleBroken(
            "programme_of_other_school", "the programme is at another school", field="programme"
        )
    term = db.get(Term, programme.term_id)
    start = start_date or term.start
    if not term.start <= start <= term.end:
        raise RuleBroken(
            "start_outside_term", f"{start} is outside the term {term.name}", field="start_date"
        )
    open_one = db.scalar(
        select(Application.id).where(
            Application.student_id == student.id,
            Application.programme_id == programme.id,
            Application.status.in_(ACTIVE),
        )
    )
    if open_one is not None:
        raise Conflict(
            "application_exists", "the student already has an application for this programme"
        )
    application = Application(
        student_id=student.id,
        programme_id=programme.id,
        status="applied",
        applied_by=applied_by,
        written_ref=written_ref,
        start_date=start,
    )
    db.add(application)
    db.flush()
    return application


def get_application(db: Session, application_id: int) -> Application:
    application = db.get(Application, application_id)
    if application is None:
        raise NotFound(f"no application {application_id}")
    return application


def review(
    db: Session, application: Application, *, approve: bool, actor: str, note: str | None = None
) -> Application:
    """The class review: approve (to the school) or reject with a reason."""
    if application.status != "applied":
        raise Conflict(
            "invalid_application_state",
            f"application {application.id} is {application.status}, not awaiting review",
        )
    if not approve and not (note and note.strip()):
        raise RuleBroken("reason_required", "a rejection needs a reason", field="note")
    application.status = "reviewed" if approve else "rejected"
    application.reviewed_by = actor
    application.reviewed_at = utcnow()
    application.review_note = note
    db.flush()
    return application


def _take_place(db: Session, programme_id: int) -> bool:
    """Take one place if one is free: a single conditional UPDATE, so two clerks
    approving at once cannot both take the last place (the row lock orders them)."""
    taken = db.execute(
        update(Programme)
        .where(Programme.id == programme_id, Programme.places_taken < Programme.capacity)
        .values(places_taken=Programme.places_taken + 1)
        .execution_options(synchronize_session="fetch")
    )
    return taken.rowcount == 1


def _enrol(db: Session, application: Application, actor: str, note: str | None) -> Enrolment:
    """The enrolment of an approved application; its place is already taken."""
    application.status = "approved"
    application.decided_by = actor
    application.decided_at = utcnow()
    application.decision_note = note
    enrolment = Enrolment(
        application_id=application.id,
        student_id=application.student_id,
        programme_id=application.programme_id,
        start_date=application.start_date,
    )
    db.add(enrolment)
    db.flush()
    return enrolment


def decide(
    db: Session, application: Application, *, approve: bool, actor: str, note: str | None = None
) -> Enrolment | None:
    """The school's decision on one reviewed application."""
    if application.status not in ("reviewed", "waitlisted"):
        raise Conflict(
            "invalid_application_state",
            f"application {application.id} is {application.status}; the class must review it first",
        )
    if not approve:
        if not (note and note.strip()):
            raise RuleBroken("reason_required", "a rejection needs a reason", field="note")
        application.status = "rejected"
        application.decided_by = actor
        application.decided_at = utcnow()
        application.decision_note = note
        db.flush()
        return None
    if not _take_place(db, application.programme_id):
        programme = db.get(Programme, application.programme_id)
        raise Conflict("programme_full", f"{programme.name} is full ({programme.capacity} places)")
    return _enrol(db, application, actor, note)


def priority_of(db: Session, student: Student, on: dt.date) -> int:
    """0 for hardship, 1 for left-behind or migrant children, 2 for everyone else."""
    hardship = db.scalar(
        select(HardshipStatus.id).where(
            HardshipStatus.student_id == student.id,
            HardshipStatus.valid_from <= on,
            HardshipStatus.valid_to >= on,
        )
    )
    if hardship is not None:
        return 0
    if student.left_behind or student.migrant:
        return 1
    return 2


def admit(
    db: Session, programme: Programme, *, actor: str
) -> tuple[list[Enrolment], list[Application]]:
    """Approve reviewed applications up to capacity, priority groups first, then by time.

    Returns the new enrolments and the applications put on the waiting list.
    """
    pending = list(
        db.scalars(
            select(Application).where(
                Application.programme_id == programme.id,
                Application.status.in_(("reviewed", "waitlisted")),
            )
        )
    )
    students = {
        s.id: s
        for s in db.scalars(select(Student).where(Student.id.in_([a.student_id for a in pending])))
    }
    pending.sort(
        key=lambda a: (priority_of(db, students[a.student_id], a.start_date), a.applied_at, a.id)
    )
    enrolled, waiting = [], []
    for application in pending:
        if _take_place(db, programme.id):
            enrolled.append(_enrol(db, application, actor, "admitted"))
        else:
            application.status = "waitlisted"
            waiting.append(application)
    db.flush()
    return enrolled, waiting


def withdraw(db: Session, enrolment: Enrolment, *, effective: dt.date, actor: str) -> Enrolment:
    """Withdraw from ``effective``: the first service day the student no longer attends."""
    if enrolment.end_date is not None:
        raise Conflict(
            "already_withdrawn", f"enrolment {enrolment.id} ended on {enrolment.end_date}"
        )
    if effective < enrolment.start_date:
        raise RuleBroken(
            "withdrawal_before_start",
            "a withdrawal cannot precede the enrolment",
            field="effective",
        )
    enrolment.end_date = effective
    db.execute(
        update(Programme)
        .where(Programme.id == enrolment.programme_id)
        .values(places_taken=Programme.places_taken - 1)
        .execution_options(synchronize_session="fetch")
    )
    enrolment.withdrawn_by = actor
    enrolment.withdrawn_at = utcnow()
    db.flush()
    return enrolment


def report_absence(
    db: Session, enrolment: Enrolment, *, start: dt.date, end: dt.date, actor: str
) -> Absence:
    if end < start:
        raise RuleBroken("invalid_dates", "the absence ends before it starts", field="end")
    absence = Absence(enrolment_id=enrolment.id, start=start, end=end, reported_by=actor)
    db.add(absence)
    db.flush()
    return absence


def get_enrolment(db: Session, enrolment_id: int) -> Enrolment:
    enrolment = db.get(Enrolment, enrolment_id)
    if enrolment is None:
        raise NotFound(f"no enrolment {enrolment_id}")
    return enrolment
