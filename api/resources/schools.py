"""Districts, schools, terms and calendars, households, students, fee standards, policies."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from flask import g
from flask.views import MethodView
from flask_smorest import abort
from sqlalchemy import select

from ledger.books.errors import NotFound
from ledger.school import standards, structure
from ledger.school.models import (
    District,
    FeeStandard,
    Programme,
    School,
    SchoolClass,
    Student,
    Term,
)

from .. import audit
from ..auth import actor, roles
from ..database import session
from ..models import Role
from ..schemas import ListArgs
from ..school_schemas import (
    CalendarDayIn,
    CostPolicyIn,
    CostPolicyOut,
    DistrictIn,
    DistrictOut,
    FeeStandardIn,
    FeeStandardList,
    FeeStandardOut,
    HardshipIn,
    HardshipOut,
    HouseholdIn,
    HouseholdOut,
    SchoolIn,
    SchoolOut,
    SchoolPage,
    ServiceDaysOut,
    StudentIn,
    StudentOut,
    StudentPage,
    TermIn,
    TermList,
    TermOut,
)
from ..scope import (
    district_in_scope,
    household_in_scope,
    school_ids,
    school_in_scope,
    student_in_scope,
)
from . import Blueprint
from .books import _page

blp = Blueprint(
    "schools",
    __name__,
    url_prefix="/api/v1",
    description="Districts, schools, calendars, households, students, fee standards, policies",
)

STAFF_READ = (Role.FINANCE, Role.AUDITOR, Role.ADMIN)
FINANCE = (Role.FINANCE,)


def percent_to_bp(value: Decimal | None, field: str) -> int:
    if value is None:
        abort(422, message=f"{field}: percent is required", errors={field: ["required"]})
    if value < 0 or value > 100 or value != value.quantize(Decimal("0.01")):
        abort(
            422,
            message=f"{field}: percent must be between 0 and 100 with at most two decimals",
            errors={field: ["0–100, at most two decimals"]},
        )
    return int(value * 100)


@blp.route("/districts")
class Districts(MethodView):
    @roles(*STAFF_READ)
    @blp.response(200, DistrictOut(many=True))
    def get(self) -> list[District]:
        from ..scope import district_ids

        ids = district_ids(session(), g.user)
        q = select(District).order_by(District.code)
        if ids is not None:
            q = q.where(District.id.in_(ids))
        return list(session().scalars(q))

    @roles(Role.ADMIN)
    @blp.arguments(DistrictIn)
    @blp.response(201, DistrictOut)
    def post(self, data: dict[str, Any]) -> District:
        """Create a district and its government funder."""
        extra = {"end_of_work": data["end_of_work"]} if data["end_of_work"] else {}
        district = structure.create_district(
            session(),
            code=data["code"],
            name=data["name"],
            funder_name=data["funder_name"],
            **extra,
        )
        audit.commit("district.create", f"district:{district.code}")
        return district


@blp.route("/schools")
class Schools(MethodView):
    @roles(*STAFF_READ)
    @blp.arguments(ListArgs, location="query")
    @blp.response(200, SchoolPage)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        ids = school_ids(session(), g.user)
        q = select(School).order_by(School.code)
        if ids is not None:
            q = q.where(School.id.in_(ids))
        if args["cursor"] is not None:
            q = q.where(School.code > str(args["cursor"]))
        rows = list(session().scalars(q.limit(args["limit"] + 1)))
        return _page(rows, args["limit"], lambda s: s.code)

    @roles(Role.ADMIN)
    @blp.arguments(SchoolIn)
    @blp.response(201, SchoolOut)
    def post(self, data: dict[str, Any]) -> School:
        """Create a school; it gets its own book with the chart of accounts."""
        district = district_in_scope(session(), data.pop("district"))
        school = structure.create_school(session(), district, actor=actor(), **data)
        audit.commit("school.create", f"school:{school.code}")
        return school


@blp.route("/schools/<school>")
class OneSchool(MethodView):
    @roles(*STAFF_READ)
    @blp.response(200, SchoolOut)
    def get(self, school: str) -> School:
        return school_in_scope(session(), school)


@blp.route("/schools/<school>/terms")
class Terms(MethodView):
    @roles(*STAFF_READ)
    @blp.response(200, TermList)
    def get(self, school: str) -> dict[str, Any]:
        s = school_in_scope(session(), school)
        return {
            "items": list(
                session().scalars(select(Term).where(Term.school_id == s.id).order_by(Term.start))
            )
        }

    @roles(*FINANCE)
    @blp.arguments(TermIn)
    @blp.response(201, TermOut)
    def post(self, data: dict[str, Any], school: str) -> Term:
        s = school_in_scope(session(), school)
        term = structure.create_term(session(), s, **data)
        audit.commit("term.create", f"school:{school}/term:{term.id}")
        return term


def term_in_school(school: School, term_id: int) -> Term:
    term = session().get(Term, term_id)
    if term is None or term.school_id != school.id:
        raise NotFound(f"no term {term_id} at school {school.code}")
    return term


@blp.route("/schools/<school>/terms/<int:term_id>/calendar")
class Calendar(MethodView):
    @roles(*STAFF_READ)
    @blp.response(200, ServiceDaysOut)
    def get(self, school: str, term_id: int) -> dict[str, Any]:
        """The term's service days (weekdays, less holidays, plus make-up days)."""
        term = term_in_school(school_in_scope(session(), school), term_id)
        days = structure.calendar_of(session(), term).service_days()
        return {"term": term.id, "count": len(days), "days": days}

    @roles(*FINANCE)
    @blp.arguments(CalendarDayIn)
    @blp.response(200, ServiceDaysOut)
    def post(self, data: dict[str, Any], school: str, term_id: int) -> dict[str, Any]:
        """Mark a holiday or a make-up day."""
        term = term_in_school(school_in_scope(session(), school), term_id)
        structure.set_calendar_day(session(), term, data["day"], data["kind"], data["note"])
        audit.commit("calendar.set", f"term:{term.id}", {"day": data["day"].isoformat()})
        days = structure.calendar_of(session(), term).service_days()
        return {"term": term.id, "count": len(days), "days": days}


@blp.route("/households")
class Households(MethodView):
    @roles(Role.FINANCE, Role.ADMIN)
    @blp.arguments(HouseholdIn)
    @blp.response(201, HouseholdOut)
    def post(self, data: dict[str, Any]) -> dict[str, Any]:
        district = district_in_scope(session(), data["district"])
        allowed = {"name", "phone", "relation"}
        guardians = []
        for i, guardian in enumerate(data["guardians"]):
            if not set(guardian) <= allowed or "name" not in guardian:
                abort(
                    422,
                    message="a guardian has a name and optionally phone and relation",
                    errors={"guardians": {str(i): ["name, phone, relation only"]}},
                )
            guardians.append(guardian)
        household = structure.create_household(session(), district, data["name"], guardians)
        audit.commit("household.create", f"household:{household.id}")
        return {"id": household.id, "name": household.name, "district_code": district.code}


@blp.route("/households/<int:household_id>")
class OneHousehold(MethodView):
    @roles(Role.FINANCE, Role.AUDITOR, Role.ADMIN, Role.PARENT)
    @blp.response(200, HouseholdOut)
    def get(self, household_id: int) -> dict[str, Any]:
        h = household_in_scope(session(), household_id)
        district = session().get(District, h.district_id)
        return {"id": h.id, "name": h.name, "district_code": district.code}


@blp.route("/schools/<school>/students")
class Students(MethodView):
    @roles(*STAFF_READ)
    @blp.arguments(ListArgs, location="query")
    @blp.response(200, StudentPage)
    def get(self, args: dict[str, Any], school: str) -> dict[str, Any]:
        s = school_in_scope(session(), school)
        q = select(Student).where(Student.school_id == s.id).order_by(Student.id)
        if args["cursor"] is not None:
            q = q.where(Student.id > int(args["cursor"]))
        rows = list(session().scalars(q.limit(args["limit"] + 1)))
        return _page(rows, args["limit"], lambda st: st.id)

    @roles(*FINANCE)
    @blp.arguments(StudentIn)
    @blp.response(201, StudentOut)
    def post(self, data: dict[str, Any], school: str) -> Student:
        s = school_in_scope(session(), school)
        household = household_in_scope(session(), data["household"])
        school_class = None
        if data["class_name"]:
            school_class = session().scalar(
                select(SchoolClass).where(
                    SchoolClass.school_id == s.id, SchoolClass.name == data["class_name"]
                )
            ) or structure.create_class(session(), s, data["class_name"])
        student = structure.create_student(
            session(),
            s,
            household,
            name=data["name"],
            school_class=school_class,
            student_no=data["student_no"],
            left_behind=data["left_behind"],
            migrant=data["migrant"],
        )
        audit.commit("student.create", f"student:{student.id}")
        return student


@blp.route("/students/<int:student_id>/hardship")
class Hardship(MethodView):
    @roles(*FINANCE)
    @blp.arguments(HardshipIn)
    @blp.response(201, HardshipOut)
    def post(self, data: dict[str, Any], student_id: int) -> Any:
        """Record verified hardship status: the parent share is waived while it holds."""
        student = student_in_scope(session(), student_id)
        status = structure.verify_hardship(session(), student, verified_by=actor(), **data)
        audit.commit("hardship.verify", f"student:{student.id}")
        return status


def _scope_args(data: dict[str, Any]) -> dict[str, Any]:
    if bool(data.get("district")) == bool(data.get("school")):
        abort(
            422,
            message="name either a district or a school",
            errors={"district": ["either district or school"]},
            code="invalid_scope",
        )
    if data.get("district"):
        district = district_in_scope(session(), data["district"])
        if g.user.role == Role.FINANCE:
            from ..scope import district_ids

            own = session().scalar(
                select(School.id).where(
                    School.district_id == district.id,
                    School.id.in_(school_ids(session(), g.user) or set()),
                )
            )
            if own is None and district.id not in (district_ids(session(), g.user) or set()):
                raise NotFound(f"no district {data['district']!r}")
        return {"district": district}
    return {"school": school_in_scope(session(), data["school"])}


@blp.route("/fee-standards")
class FeeStandards(MethodView):
    @roles(*STAFF_READ, Role.PARENT)
    @blp.response(200, FeeStandardList)
    def get(self) -> dict[str, Any]:
        """Approved fee standards (public information: 收费公示)."""
        return {
            "items": list(
                session().scalars(
                    select(FeeStandard).order_by(FeeStandard.kind, FeeStandard.version)
                )
            )
        }

    @roles(*FINANCE)
    @blp.arguments(FeeStandardIn)
    @blp.response(201, FeeStandardOut)
    def post(self, data: dict[str, Any]) -> FeeStandard:
        scope = _scope_args(data)
        standard = standards.create_fee_standard(
            session(),
            **scope,
            kind=data["kind"],
            amount=data["amount"],
            unit=data["unit"],
            authority=data["authority"],
            document_no=data["document_no"],
            valid_from=data["valid_from"],
            valid_to=data["valid_to"],
            actor=actor(),
        )
        audit.commit("fee_standard.create", f"fee_standard:{standard.id}")
        return standard


@blp.route("/cost-policies")
class CostPolicies(MethodView):
    @roles(*FINANCE)
    @blp.arguments(CostPolicyIn)
    @blp.response(201, CostPolicyOut)
    def post(self, data: dict[str, Any]) -> Any:
        """A cost-sharing policy; refused unless 0 ≤ parent share ≤ the fee standard."""
        scope = _scope_args(data)
        standard = standards.get_standard(session(), data["fee_standard"])

        def share(part: dict[str, Any], field: str) -> tuple[str, int]:
            if part["mode"] == "amount":
                if part["amount"] is None:
                    abort(422, message=f"{field}.amount is required", errors={field: ["amount"]})
                return ("amount", part["amount"])
            return ("percent", percent_to_bp(part["percent"], f"{field}.percent"))

        policy = standards.create_cost_policy(
            session(),
            **scope,
            kind=data["kind"],
            fee_standard=standard,
            effective_from=data["effective_from"],
            effective_to=data["effective_to"],
            unit=data["unit"],
            unit_cost=data["unit_cost"],
            government=share(data["government"], "government"),
            school_share=share(data["school_share"], "school_share"),
            waiver_cover=data["waiver_cover"],
            refund_rule=data["refund_rule"],
            notice_ref=data["notice_ref"],
            actor=actor(),
        )
        audit.commit("cost_policy.create", f"cost_policy:{policy.id}")
        return policy


def programme_in_scope(programme_id: int) -> Programme:
    programme = session().get(Programme, programme_id)
    if programme is None:
        raise NotFound(f"no programme {programme_id}")
    ids = school_ids(session(), g.user)
    if g.user.role != Role.PARENT and ids is not None and programme.school_id not in ids:
        raise NotFound(f"no programme {programme_id}")
    return programme
