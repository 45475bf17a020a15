"""Coverage of the after-school service, reported to the education bureau per school and term.

What the bureau asks each school for each term (issue 6):

- **students served**: all students of the school against those with an
  enrolment in a programme of the term that was active on at least one day of
  the term (distinct students; an enrolment withdrawn on its first day never
  served anyone);
- the same for the **priority groups**: left-behind children (留守儿童),
  migrant children (进城务工人员随迁子女) and students whose family hardship
  (家庭经济困难) was verified for some day of the term;
- **per programme**: kind, capacity, places held now (enrolments not
  withdrawn, as the capacity check counts them) and students served in the term;
- **staff taking part**: distinct people with approved service hours in the
  term's programmes, by kind (teacher, external, volunteer);
- **hours delivered**: approved sessions, minutes, hours and 课时 by programme
  and by staff kind (logged or rejected hours are not delivered service);
- **5+2 compliance** of each programme and of the term as a whole, from
  :func:`ledger.school.programmes.compliance_listing` (one definition of the rule).

Shares are exact: ``served`` of ``of`` as a fraction, and a percentage with
one decimal rounded half up from integers (``2/3`` → ``66.7``), never a float.
Everything here only reads; the result is plain data (dicts, lists, ints,
strings, dates).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from ledger.money import round_fen_half_up
from ledger.school.models import (
    PROGRAMME_KINDS,
    STAFF_KINDS,
    District,
    Enrolment,
    HardshipStatus,
    Programme,
    School,
    ServiceHours,
    StaffMember,
    Student,
    Term,
)
from ledger.school.programmes import compliance_listing

__all__ = ["GROUPS", "coverage_report", "district_coverage", "hours_text", "share"]

#: The priority groups the bureau asks about, in the order reports list them.
GROUPS = ("left_behind", "migrant", "hardship")


def share(served: int, of: int) -> dict[str, Any]:
    """``served`` of ``of``: the counts, the exact fraction and a percentage (one decimal,
    half up, from integers); no percentage when there is nobody to serve."""
    if of == 0:
        return {"served": served, "of": of, "fraction": f"{served}/{of}", "percent": None}
    tenths = round_fen_half_up(served * 1000, of)
    return {
        "served": served,
        "of": of,
        "fraction": f"{served}/{of}",
        "percent": f"{tenths // 10}.{tenths % 10}",
    }


def hours_text(minutes: int) -> str:
    """Minutes as hours with two decimals, rounded half up (``90`` → ``"1.50"``, ``20`` →
    ``"0.33"``)."""
    hundredths = round_fen_half_up(minutes * 100, 60)
    return f"{hundredths // 100}.{hundredths % 100:02d}"


def _delivered(sessions: int = 0, minutes: int = 0, lessons: int = 0) -> dict[str, Any]:
    return {
        "sessions": sessions,
        "minutes": minutes,
        "hours": hours_text(minutes),
        "lessons": lessons,
    }


def _served_in_term(term: Term):  # type: ignore[no-untyped-def]
    """An enrolment active on at least one day of the term: it started by the term's end,
    and was not withdrawn before the term began or on its own first day."""
    return and_(
        Enrolment.start_date <= term.end,
        or_(
            Enrolment.end_date.is_(None),
            and_(Enrolment.end_date > Enrolment.start_date, Enrolment.end_date > term.start),
        ),
    )


def coverage_report(db: Session, school: School, term: Term) -> dict[str, Any]:
    """The coverage of one school's after-school service in one term, as plain data."""
    if term.school_id != school.id:
        raise ValueError(f"term {term.id} is not a term of school {school.code}")
    students = {
        sid: (left_behind, migrant)
        for sid, left_behind, migrant in db.execute(
            select(Student.id, Student.left_behind, Student.migrant).where(
                Student.school_id == school.id
            )
        )
    }
    hardship = set(
        db.scalars(
            select(HardshipStatus.student_id)
            .join(Student, Student.id == HardshipStatus.student_id)
            .where(
                Student.school_id == school.id,
                HardshipStatus.valid_from <= term.end,
                HardshipStatus.valid_to >= term.start,
            )
        )
    )
    programmes = list(
        db.scalars(
            select(Programme)
            .where(Programme.school_id == school.id, Programme.term_id == term.id)
            .order_by(Programme.id)
        )
    )
    programme_ids = [p.id for p in programmes]
    enrolments = (
        db.execute(
            select(Enrolment.programme_id, Enrolment.student_id, Enrolment.end_date).where(
                Enrolment.programme_id.in_(programme_ids), _served_in_term(term)
            )
        ).all()
        if programme_ids
        else []
    )
    # Places held now, as the capacity check counts them: enrolments not withdrawn.
    held: dict[int, int] = defaultdict(int)
    if programme_ids:
        for programme_id in db.scalars(
            select(Enrolment.programme_id).where(
                Enrolment.programme_id.in_(programme_ids), Enrolment.end_date.is_(None)
            )
        ):
            held[programme_id] += 1
    served_by_programme: dict[int, set[int]] = defaultdict(set)
    for programme_id, student_id, _ in enrolments:
        served_by_programme[programme_id].add(student_id)
    served = {student_id for _, student_id, _ in enrolments if student_id in students}

    members = {
        "left_behind": {sid for sid, (lb, _) in students.items() if lb},
        "migrant": {sid for sid, (_, mg) in students.items() if mg},
        "hardship": hardship & set(students),
    }
    groups = {name: share(len(members[name] & served), len(members[name])) for name in GROUPS}

    # Approved hours in the term's programmes, by programme and by the staff member's kind.
    hours_rows = (
        db.execute(
            select(
                ServiceHours.programme_id,
                ServiceHours.staff_id,
                StaffMember.kind,
                ServiceHours.minutes,
                ServiceHours.lessons,
            )
            .join(StaffMember, StaffMember.id == ServiceHours.staff_id)
            .where(
                ServiceHours.school_id == school.id,
                ServiceHours.programme_id.in_(programme_ids),
                ServiceHours.status == "approved",
                ServiceHours.service_date >= term.start,
                ServiceHours.service_date <= term.end,
            )
        ).all()
        if programme_ids
        else []
    )
    by_programme: dict[int, list[int]] = defaultdict(lambda: [0, 0, 0])
    by_kind: dict[str, list[int]] = {kind: [0, 0, 0] for kind in STAFF_KINDS}
    staff_by_kind: dict[str, set[int]] = {kind: set() for kind in STAFF_KINDS}
    staff_by_programme: dict[int, set[int]] = defaultdict(set)
    for programme_id, staff_id, kind, minutes, lessons in hours_rows:
        for tally in (by_programme[programme_id], by_kind[kind]):
            tally[0] += 1
            tally[1] += minutes
            tally[2] += lessons
        staff_by_kind[kind].add(staff_id)
        staff_by_programme[programme_id].add(staff_id)
    total = [sum(t[i] for t in by_kind.values()) for i in range(3)]

    listing = compliance_listing(db, school, term=term)
    warnings = {p.programme_id: p.warnings for p in listing.programmes}
    [term_shape] = [t for t in listing.terms if t.term_id == term.id] or [None]

    programme_rows = []
    for p in programmes:
        programme_rows.append(
            {
                "id": p.id,
                "name": p.name,
                "kind": p.kind,
                "weekdays": p.weekdays,
                "start_time": p.start_time.strftime("%H:%M"),
                "end_time": p.end_time.strftime("%H:%M"),
                "capacity": p.capacity,
                "enrolled": held[p.id],
                "served": len(served_by_programme[p.id]),
                "staff": len(staff_by_programme[p.id]),
                "delivered": _delivered(*by_programme[p.id]),
                "compliant": not warnings[p.id],
                "warnings": [{"code": w.code, "message": w.message} for w in warnings[p.id]],
            }
        )
    return {
        "school": {"code": school.code, "name": school.name},
        "term": {"id": term.id, "name": term.name, "start": term.start, "end": term.end},
        "students": share(len(served), len(students)),
        "groups": groups,
        "programmes": programme_rows,
        "staff": {
            "total": sum(len(ids) for ids in staff_by_kind.values()),
            "by_kind": {kind: len(staff_by_kind[kind]) for kind in STAFF_KINDS},
        },
        "delivered": {
            "total": _delivered(*total),
            "by_staff_kind": {kind: _delivered(*by_kind[kind]) for kind in STAFF_KINDS},
        },
        "compliance": {
            "end_of_work": listing.end_of_work.strftime("%H:%M"),
            "programmes": len(programmes),
            "compliant_programmes": sum(1 for row in programme_rows if row["compliant"]),
            "term_compliant": term_shape is not None and term_shape.compliant,
            "term_warnings": [
                {"code": w.code, "message": w.message}
                for w in (term_shape.warnings if term_shape is not None else [])
            ],
        },
    }


def district_coverage(db: Session, district: District, term_name: str) -> dict[str, Any]:
    """The coverage of every school of a district in the term of that name, and their sums.

    Terms belong to schools; the district report takes, in each school, the
    term named ``term_name`` (e.g. ``2026秋季学期``). Schools with no such term
    are listed in ``schools_without_term``; the totals add up the schools'
    counts (staff belong to one school, so their sum counts nobody twice) and
    recompute the shares from the summed integers.
    """
    schools = list(
        db.scalars(select(School).where(School.district_id == district.id).order_by(School.code))
    )
    reports, missing = [], []
    for school in schools:
        term = db.scalar(
            select(Term)
            .where(Term.school_id == school.id, Term.name == term_name)
            .order_by(Term.start, Term.id)
            .limit(1)
        )
        if term is None:
            missing.append(school.code)
        else:
            reports.append(coverage_report(db, school, term))

    def add_shares(parts: list[dict[str, Any]]) -> dict[str, Any]:
        return share(sum(p["served"] for p in parts), sum(p["of"] for p in parts))

    def add_delivered(parts: list[dict[str, Any]]) -> dict[str, Any]:
        return _delivered(*(sum(p[k] for p in parts) for k in ("sessions", "minutes", "lessons")))

    by_kind: dict[str, dict[str, int]] = {
        kind: {"capacity": 0, "enrolled": 0, "served": 0, "programmes": 0}
        for kind in PROGRAMME_KINDS
    }
    for r in reports:
        for p in r["programmes"]:
            row = by_kind[p["kind"]]
            row["programmes"] += 1
            for key in ("capacity", "enrolled", "served"):
                row[key] += p[key]
    return {
        "district": {"code": district.code, "name": district.name},
        "term_name": term_name,
        "schools": reports,
        "schools_without_term": missing,
        "total": {
            "schools": len(reports),
            "students": add_shares([r["students"] for r in reports]),
            "groups": {g: add_shares([r["groups"][g] for r in reports]) for g in GROUPS},
            "programmes_by_kind": by_kind,
            "staff": {
                "total": sum(r["staff"]["total"] for r in reports),
                "by_kind": {
                    kind: sum(r["staff"]["by_kind"][kind] for r in reports) for kind in STAFF_KINDS
                },
            },
            "delivered": {
                "total": add_delivered([r["delivered"]["total"] for r in reports]),
                "by_staff_kind": {
                    kind: add_delivered([r["delivered"]["by_staff_kind"][kind] for r in reports])
                    for kind in STAFF_KINDS
                },
            },
            "compliance": {
                "programmes": sum(r["compliance"]["programmes"] for r in reports),
                "compliant_programmes": sum(
                    r["compliance"]["compliant_programmes"] for r in reports
                ),
                "compliant_terms": sum(1 for r in reports if r["compliance"]["term_compliant"]),
            },
        },
    }
