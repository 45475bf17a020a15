"""What the portal's pages show, as plain data: dicts of strings, ints of fen and dates.

Templates never receive ORM objects. The figures come from the same domain
functions as the JSON API (``ledger.school.receivables`` for what is owed on
an invoice, ``ledger.school.payments`` for the household's balances), and the
statement and "why this amount" from ``invoices.data``, which the PDFs and
the JSON statement use too.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger.school import payments
from ledger.school.enrolment import ACTIVE
from ledger.school.models import (
    Application,
    ChargeRecord,
    Enrolment,
    Household,
    Invoice,
    Programme,
    School,
    SchoolClass,
    Student,
    Term,
)
from ledger.school.receivables import invoice_outstanding


def households(db: Session, ids: set[int]) -> list[Household]:
    return list(db.scalars(select(Household).where(Household.id.in_(ids)).order_by(Household.id)))


def _students(db: Session, household_id: int) -> list[Student]:
    return list(
        db.scalars(select(Student).where(Student.household_id == household_id).order_by(Student.id))
    )


def _schools_of(db: Session, household_id: int) -> list[School]:
    """Schools where the household has a child or an invoice."""
    ids = set(db.scalars(select(Student.school_id).where(Student.household_id == household_id)))
    ids.update(db.scalars(select(Invoice.school_id).where(Invoice.household_id == household_id)))
    if not ids:
        return []
    return list(db.scalars(select(School).where(School.id.in_(ids)).order_by(School.id)))


def _programme_status(
    enrolment: Enrolment | None, application: Application | None, today: dt.date
) -> dict[str, Any]:
    if enrolment is not None:
        if enrolment.end_date is not None and enrolment.end_date <= today:
            return {
                "status": "withdrawn",
                "since": enrolment.start_date,
                "until": enrolment.end_date,
            }
        return {"status": "enrolled", "since": enrolment.start_date, "until": enrolment.end_date}
    assert application is not None
    return {"status": application.status, "since": application.start_date, "until": None}


def overview(db: Session, household: Household, *, today: dt.date) -> dict[str, Any]:
    """A household: its children with their programmes and status, and what it owes."""
    children = []
    for student in _students(db, household.id):
        school = db.get(School, student.school_id)
        klass = db.get(SchoolClass, student.class_id) if student.class_id else None
        enrolments = {
            e.programme_id: e
            for e in db.scalars(select(Enrolment).where(Enrolment.student_id == student.id))
        }
        latest: dict[int, Application] = {}
        for a in db.scalars(
            select(Application).where(Application.student_id == student.id).order_by(Application.id)
        ):
            latest[a.programme_id] = a
        programmes = []
        for programme_id in sorted(set(enrolments) | set(latest)):
            programme = db.get(Programme, programme_id)
            term = db.get(Term, programme.term_id)
            programmes.append(
                {
                    "name": programme.name,
                    "kind": programme.kind,
                    "term": term.name,
                    "start_time": programme.start_time.strftime("%H:%M"),
                    "end_time": programme.end_time.strftime("%H:%M"),
                    **_programme_status(
                        enrolments.get(programme_id), latest.get(programme_id), today
                    ),
                }
            )
        children.append(
            {
                "name": student.name,
                "school": school.name,
                "class": klass.name if klass else None,
                "programmes": programmes,
            }
        )
    balances = [
        {
            "school": school.name,
            "due": payments.receivable_balance(db, school, household.id),
            "credit": payments.credit_balance(db, school, household.id),
        }
        for school in _schools_of(db, household.id)
    ]
    return {
        "id": household.id,
        "name": household.name,
        "children": children,
        "balances": balances,
        "due": sum(b["due"] for b in balances),
        "credit": sum(b["credit"] for b in balances),
    }


def _invoice_row(db: Session, invoice: Invoice, school: School) -> dict[str, Any]:
    outstanding = 0 if invoice.status == "cancelled" else max(0, invoice_outstanding(db, invoice))
    return {
        "number": invoice.number,
        "school": school.code,
        "school_name": school.name,
        "period_start": invoice.period_start,
        "period_end": invoice.period_end,
        "issued_on": invoice.issued_on,
        "due_date": invoice.due_date,
        "amount": invoice.amount,
        "outstanding": outstanding,
        "status": invoice.status,
    }


def invoices(db: Session, household_id: int) -> list[dict[str, Any]]:
    """The household's invoices, newest first."""
    rows = db.execute(
        select(Invoice, School)
        .join(School, School.id == Invoice.school_id)
        .where(Invoice.household_id == household_id)
        .order_by(Invoice.issued_on.desc(), Invoice.id.desc())
    )
    return [_invoice_row(db, invoice, school) for invoice, school in rows]


def invoice_detail(db: Session, invoice: Invoice) -> dict[str, Any]:
    """An invoice with its charges, each linking to its explanation."""
    school = db.get(School, invoice.school_id)
    charges = []
    for charge in db.scalars(
        select(ChargeRecord).where(ChargeRecord.invoice_id == invoice.id).order_by(ChargeRecord.id)
    ):
        enrolment = db.get(Enrolment, charge.enrolment_id)
        student = db.get(Student, enrolment.student_id)
        programme = db.get(Programme, enrolment.programme_id)
        charges.append(
            {
                "id": charge.id,
                "student": student.name,
                "programme": programme.name,
                "period_start": charge.period_start,
                "period_end": charge.period_end,
                "cost": charge.cost,
                "waiver": charge.waiver,
                "household": charge.household,
            }
        )
    return {
        **_invoice_row(db, invoice, school),
        "household_id": invoice.household_id,
        "charges": charges,
    }


def applications(db: Session, household_id: int) -> list[dict[str, Any]]:
    """Every application of the household's children, newest first, with its review status."""
    rows = db.execute(
        select(Application, Student, Programme)
        .join(Student, Student.id == Application.student_id)
        .join(Programme, Programme.id == Application.programme_id)
        .where(Student.household_id == household_id)
        .order_by(Application.applied_at.desc(), Application.id.desc())
    )
    return [
        {
            "id": a.id,
            "student": s.name,
            "programme": p.name,
            "kind": p.kind,
            "status": a.status,
            "applied_at": a.applied_at,
            "start_date": a.start_date,
            "note": a.decision_note or a.review_note,
        }
        for a, s, p in rows
    ]


def apply_choices(db: Session, household_id: int, *, today: dt.date) -> list[dict[str, Any]]:
    """For each child: the programmes of their school still open to an application.

    A programme is open while its term has not ended or closed, and the child
    has no application under way or enrolment for it.
    """
    out = []
    for student in _students(db, household_id):
        taken = set(
            db.scalars(
                select(Application.programme_id).where(
                    Application.student_id == student.id, Application.status.in_(ACTIVE)
                )
            )
        )
        taken.update(
            db.scalars(select(Enrolment.programme_id).where(Enrolment.student_id == student.id))
        )
        rows = db.execute(
            select(Programme, Term)
            .join(Term, Term.id == Programme.term_id)
            .where(
                Programme.school_id == student.school_id,
                Term.is_closed.is_(False),
                Term.end >= today,
            )
            .order_by(Term.start, Programme.id)
        )
        programmes = [
            {
                "id": p.id,
                "name": p.name,
                "kind": p.kind,
                "term": t.name,
                "start_time": p.start_time.strftime("%H:%M"),
                "end_time": p.end_time.strftime("%H:%M"),
                "term_start": t.start,
                "term_end": t.end,
            }
            for p, t in rows
            if p.id not in taken
        ]
        out.append({"id": student.id, "name": student.name, "programmes": programmes})
    return out
