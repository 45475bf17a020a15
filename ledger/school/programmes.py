"""Programmes and the "5+2" shape of the service (5+2 模式).

The policy asks for service five days a week (Monday to Friday), at least two
hours a day, ending no earlier than the local end of the working day (the
district's ``end_of_work``). A schedule that breaks it is not refused — an
enrichment club may well meet twice a week — but it is never silently
accepted either: creating a programme returns its breaches as warnings, and
the compliance listing shows them for every programme of a school, together
with whether the school's programmes *taken together* give each term the
5+2 shape.

The warnings are computed from the schedule and the district's end of work
whenever they are asked for, so they follow a change of either.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from .errors import NotFound, RuleBroken
from .models import PROGRAMME_KINDS, District, Programme, School, Term

__all__ = [
    "MIN_MINUTES",
    "ProgrammeCompliance",
    "ProgrammeResult",
    "SchoolCompliance",
    "ShapeWarning",
    "compliance_listing",
    "create_programme",
    "get_programme",
    "shape_warnings",
    "schedule_warnings",
]

SCHOOL_DAYS = (1, 2, 3, 4, 5)  # ISO weekdays, Monday to Friday
MIN_MINUTES = 120
DAY_NAMES = {1: "Mon", 2: "Tue", 3: "Wed", 4: "Thu", 5: "Fri", 6: "Sat", 7: "Sun"}


@dataclass(frozen=True)
class ShapeWarning:
    """One breach of the 5+2 shape; ``code`` names the rule."""

    code: str
    message: str


def _minutes(t: dt.time) -> int:
    return t.hour * 60 + t.minute


def _days(weekdays: str) -> list[int]:
    return sorted({int(ch) for ch in weekdays})


def schedule_warnings(
    weekdays: str, start_time: dt.time, end_time: dt.time, end_of_work: dt.time
) -> list[ShapeWarning]:
    """The 5+2 breaches of one schedule (pure; no database)."""
    out = []
    missing = [d for d in SCHOOL_DAYS if d not in _days(weekdays)]
    if missing:
        out.append(
            ShapeWarning(
                "fewer_than_five_days",
                f"runs {5 - len(missing)} of the five school days a week; not on "
                + ", ".join(DAY_NAMES[d] for d in missing),
            )
        )
    length = _minutes(end_time) - _minutes(start_time)
    if length < MIN_MINUTES:
        out.append(
            ShapeWarning(
                "under_two_hours",
                f"runs {length // 60}h{length % 60:02d} a day "
                f"({start_time:%H:%M}–{end_time:%H:%M}); at least 2h00 is asked for",
            )
        )
    if end_time < end_of_work:
        out.append(
            ShapeWarning(
                "ends_before_end_of_work",
                f"ends at {end_time:%H:%M}, before the local end of work {end_of_work:%H:%M}",
            )
        )
    return out


def _end_of_work(db: Session, school_id: int) -> dt.time:
    school = db.get(School, school_id)
    return db.get(District, school.district_id).end_of_work


def shape_warnings(db: Session, programme: Programme) -> list[ShapeWarning]:
    """The 5+2 breaches of a programme's schedule, against its district's end of work."""
    return schedule_warnings(
        programme.weekdays,
        programme.start_time,
        programme.end_time,
        _end_of_work(db, programme.school_id),
    )


@dataclass
class ProgrammeResult:
    programme: Programme
    #: Breaches of the 5+2 shape; empty when the schedule has it.
    warnings: list[ShapeWarning]


def create_programme(
    db: Session,
    school: School,
    term: Term,
    *,
    kind: str,
    name: str,
    start_time: dt.time,
    end_time: dt.time,
    capacity: int,
    weekdays: str = "12345",
    lessons_per_session: int = 1,
) -> ProgrammeResult:
    """Create a programme in a term and report its breaches of the 5+2 shape.

    ``kind`` is basic_care (基本托管), enrichment (素质拓展) or extended_care
    (延时托管); ``weekdays`` are ISO digits (``"12345"`` = Monday to Friday);
    ``lessons_per_session`` is the 课时 per session for per-lesson fees.
    Refused: ``invalid_kind``, ``name_required``, ``invalid_weekdays``,
    ``invalid_times`` (the end not after the start), ``invalid_capacity``,
    ``invalid_lessons``, ``term_of_other_school``, ``term_closed``.
    """
    if kind not in PROGRAMME_KINDS:
        raise RuleBroken(
            "invalid_kind", f"kind must be one of {', '.join(PROGRAMME_KINDS)}", field="kind"
        )
    if not name or not name.strip():
        raise RuleBroken("name_required", "a programme needs a name", field="name")
    if not weekdays or any(ch not in "1234567" for ch in weekdays):
        raise RuleBroken(
            "invalid_weekdays", "weekdays are ISO digits 1 (Monday) to 7 (Sunday)", field="weekdays"
        )
    if end_time <= start_time:
        raise RuleBroken(
            "invalid_times", "a programme ends after it starts on the same day", field="end_time"
        )
    if capacity <= 0:
        raise RuleBroken("invalid_capacity", "capacity must be at least 1", field="capacity")
    if lessons_per_session <= 0:
        raise RuleBroken(
            "invalid_lessons", "a session has at least one 课时", field="lessons_per_session"
        )
    if term.school_id != school.id:
        raise RuleBroken("term_of_other_school", "the term is at another school", field="term")
    if term.is_closed:
        raise RuleBroken("term_closed", f"the term {term.name} is closed", field="term")
    programme = Programme(
        school_id=school.id,
        term_id=term.id,
        kind=kind,
        name=name.strip(),
        weekdays="".join(str(d) for d in _days(weekdays)),
        start_time=start_time,
        end_time=end_time,
        capacity=capacity,
        lessons_per_session=lessons_per_session,
    )
    db.add(programme)
    db.flush()
    return ProgrammeResult(programme, shape_warnings(db, programme))


def get_programme(db: Session, school: School, programme_id: int) -> Programme:
    programme = db.get(Programme, programme_id)
    if programme is None or programme.school_id != school.id:
        raise NotFound(f"no programme {programme_id} at school {school.code}")
    return programme


# --------------------------------------------------------------------------- compliance listing


@dataclass
class ProgrammeCompliance:
    programme_id: int
    name: str
    kind: str
    term_id: int
    weekdays: str
    start_time: dt.time
    end_time: dt.time
    warnings: list[ShapeWarning]

    @property
    def compliant(self) -> bool:
        return not self.warnings


@dataclass
class TermShape:
    """Whether a term's programmes together give the 5+2 shape."""

    term_id: int
    term_name: str
    warnings: list[ShapeWarning]

    @property
    def compliant(self) -> bool:
        return not self.warnings


@dataclass
class SchoolCompliance:
    school_code: str
    end_of_work: dt.time
    programmes: list[ProgrammeCompliance] = field(default_factory=list)
    terms: list[TermShape] = field(default_factory=list)

    @property
    def with_warnings(self) -> list[ProgrammeCompliance]:
        return [p for p in self.programmes if not p.compliant]


def _term_shape(term: Term, programmes: list[Programme], end_of_work: dt.time) -> TermShape:
    """The service a term offers, all programmes taken together, day by day."""
    warnings = []
    short_days, early_days, missing = [], [], []
    for day in SCHOOL_DAYS:
        spans = sorted(
            (_minutes(p.start_time), _minutes(p.end_time))
            for p in programmes
            if str(day) in p.weekdays
        )
        if not spans:
            missing.append(day)
            continue
        longest, (lo, hi) = 0, spans[0]
        for start, end in spans[1:]:
            if start <= hi:  # overlapping or back to back: one continuous span
                hi = max(hi, end)
            else:
                longest, lo, hi = max(longest, hi - lo), start, end
        longest = max(longest, hi - lo)
        if longest < MIN_MINUTES:
            short_days.append(day)
        if max(end for _, end in spans) < _minutes(end_of_work):
            early_days.append(day)
    if missing:
        warnings.append(
            ShapeWarning(
                "fewer_than_five_days",
                f"{term.name}: no service on " + ", ".join(DAY_NAMES[d] for d in missing),
            )
        )
    if short_days:
        warnings.append(
            ShapeWarning(
                "under_two_hours",
                f"{term.name}: less than two continuous hours on "
                + ", ".join(DAY_NAMES[d] for d in short_days),
            )
        )
    if early_days:
        warnings.append(
            ShapeWarning(
                "ends_before_end_of_work",
                f"{term.name}: service ends before {end_of_work:%H:%M} on "
                + ", ".join(DAY_NAMES[d] for d in early_days),
            )
        )
    return TermShape(term.id, term.name, warnings)


def compliance_listing(
    db: Session, school: School, *, term: Term | None = None
) -> SchoolCompliance:
    """Every programme of the school (or of one term) with its 5+2 warnings, and each term's shape.

    A term with no programmes is not listed.
    """
    end_of_work = _end_of_work(db, school.id)
    query = select(Programme).where(Programme.school_id == school.id)
    if term is not None:
        query = query.where(Programme.term_id == term.id)
    programmes = list(db.scalars(query.order_by(Programme.term_id, Programme.id)))
    listing = SchoolCompliance(school.code, end_of_work)
    for p in programmes:
        listing.programmes.append(
            ProgrammeCompliance(
                programme_id=p.id,
                name=p.name,
                kind=p.kind,
                term_id=p.term_id,
                weekdays=p.weekdays,
                start_time=p.start_time,
                end_time=p.end_time,
                warnings=schedule_warnings(p.weekdays, p.start_time, p.end_time, end_of_work),
            )
        )
    by_term: dict[int, list[Programme]] = {}
    for p in programmes:
        by_term.setdefault(p.term_id, []).append(p)
    for term_id, members in by_term.items():
        listing.terms.append(_term_shape(db.get(Term, term_id), members, end_of_work))
    return listing
