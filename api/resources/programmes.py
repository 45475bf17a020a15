"""Programmes of a school and their "5+2" compliance (5+2 模式)."""

from __future__ import annotations

from typing import Any

from flask import g
from flask.views import MethodView
from sqlalchemy import select

from ledger.books.errors import NotFound
from ledger.school import programmes
from ledger.school.models import Programme, School, Student

from .. import audit
from ..auth import roles
from ..database import session
from ..models import Role
from ..school_schemas import ProgrammeIn
from ..scope import household_ids, school_in_scope
from ..settlement_schemas import (
    ComplianceOut,
    ProgrammeCreatedOut,
    ProgrammeList,
    ProgrammeListArgs,
)
from . import Blueprint
from .schools import term_in_school

blp = Blueprint(
    "programmes",
    __name__,
    url_prefix="/api/v1",
    description="Programmes and the 5+2 compliance listing",
)


def _view(programme: Programme) -> dict[str, Any]:
    return {
        "id": programme.id,
        "term_id": programme.term_id,
        "kind": programme.kind,
        "name": programme.name,
        "weekdays": programme.weekdays,
        "start_time": programme.start_time,
        "end_time": programme.end_time,
        "capacity": programme.capacity,
        "lessons_per_session": programme.lessons_per_session,
        "warnings": programmes.shape_warnings(session(), programme),
    }


def _school_for_reader(code: str) -> School:
    """Staff: their schools. Parents: a school where one of their households has a child."""
    if g.user.role != Role.PARENT:
        return school_in_scope(session(), code)
    school = session().scalar(select(School).where(School.code == code))
    homes = household_ids(session(), g.user) or set()
    if school is None or (
        session().scalar(
            select(Student.id).where(
                Student.school_id == school.id, Student.household_id.in_(homes)
            )
        )
        is None
    ):
        raise NotFound(f"no school {code!r}")
    return school


@blp.route("/schools/<school>/programmes")
class Programmes(MethodView):
    @roles(Role.FINANCE, Role.AUDITOR, Role.ADMIN, Role.PARENT)
    @blp.arguments(ProgrammeListArgs, location="query")
    @blp.response(200, ProgrammeList)
    def get(self, args: dict[str, Any], school: str) -> dict[str, Any]:
        """The school's programmes, each with its 5+2 warnings.

        Parents see the programmes of schools their children attend, to apply.
        """
        s = _school_for_reader(school)
        q = select(Programme).where(Programme.school_id == s.id)
        if args["term"] is not None:
            q = q.where(Programme.term_id == args["term"])
        return {"items": [_view(p) for p in session().scalars(q.order_by(Programme.id))]}

    @roles(Role.FINANCE)
    @blp.arguments(ProgrammeIn)
    @blp.response(201, ProgrammeCreatedOut)
    def post(self, data: dict[str, Any], school: str) -> dict[str, Any]:
        """Create a programme in a term; breaches of the 5+2 shape come back as ``warnings``.

        The 5+2 shape is five days a week (Monday–Friday), at least two hours a
        day, ending no earlier than the district's end of work. A schedule that
        breaks it is accepted but never silently: each breach is a warning with
        a ``code`` (``fewer_than_five_days``, ``under_two_hours``,
        ``ends_before_end_of_work``), here and in the compliance listing.
        """
        s = school_in_scope(session(), school)
        term = term_in_school(s, data["term"])
        result = programmes.create_programme(
            session(),
            s,
            term,
            kind=data["kind"],
            name=data["name"],
            start_time=data["start_time"],
            end_time=data["end_time"],
            capacity=data["capacity"],
            weekdays=data["weekdays"],
            lessons_per_session=data["lessons_per_session"],
        )
        view = _view(result.programme)
        audit.commit(
            "programme.create",
            f"school:{school}/programme:{result.programme.id}",
            {"warnings": [w.code for w in result.warnings]},
        )
        return view


@blp.route("/schools/<school>/compliance")
class Compliance(MethodView):
    @roles(Role.FINANCE, Role.AUDITOR, Role.ADMIN)
    @blp.arguments(ProgrammeListArgs, location="query")
    @blp.response(200, ComplianceOut)
    def get(self, args: dict[str, Any], school: str) -> Any:
        """Every programme (or one term's) with its 5+2 warnings, and each term's overall shape.

        A term is compliant when its programmes together give service on every
        weekday, two continuous hours a day, until the local end of work.
        """
        s = school_in_scope(session(), school)
        term = term_in_school(s, args["term"]) if args["term"] is not None else None
        return programmes.compliance_listing(session(), s, term=term)
