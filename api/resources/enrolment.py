"""Applications and their review and approval, enrolments, withdrawals, absences, waivers."""

from __future__ import annotations

from typing import Any

from flask import g
from flask.views import MethodView
from flask_smorest import abort
from sqlalchemy import select

from ledger.books.errors import NotFound
from ledger.school import credits, enrolment, waivers
from ledger.school.models import Application, Enrolment, Programme, Student, WaiverGrant

from .. import audit
from ..auth import actor, roles
from ..database import session
from ..models import Role
from ..school_schemas import (
    AbsenceIn,
    AdmitOut,
    ApplicationIn,
    ApplicationOut,
    CreditList,
    DecisionIn,
    EnrolmentOut,
    WaiverIn,
    WaiverOut,
    WithdrawIn,
)
from ..scope import school_by_id_in_scope, student_in_scope
from . import Blueprint
from .schools import percent_to_bp, programme_in_scope

blp = Blueprint(
    "enrolment",
    __name__,
    url_prefix="/api/v1",
    description="Consent (apply, review, approve), enrolments, withdrawals, absences, waivers",
)


def _application_view(application: Application) -> dict[str, Any]:
    enrolment_id = session().scalar(
        select(Enrolment.id).where(Enrolment.application_id == application.id)
    )
    view = {c: getattr(application, c) for c in ApplicationOut().fields if hasattr(application, c)}
    view.update(
        student_id=application.student_id,
        programme_id=application.programme_id,
        enrolment=enrolment_id,
    )
    return view


def application_in_scope(application_id: int) -> Application:
    application = session().get(Application, application_id)
    if application is None:
        raise NotFound(f"no application {application_id}")
    student_in_scope(session(), application.student_id)
    return application


@blp.route("/applications")
class Applications(MethodView):
    @roles(Role.PARENT, Role.FINANCE)
    @blp.arguments(ApplicationIn)
    @blp.response(201, ApplicationOut)
    def post(self, data: dict[str, Any]) -> dict[str, Any]:
        """A guardian applies for their child; finance records a written application."""
        student = student_in_scope(session(), data["student"])
        programme = session().get(Programme, data["programme"])
        if programme is None or programme.school_id != student.school_id:
            raise NotFound(f"no programme {data['programme']} at the student's school")
        if g.user.role == Role.FINANCE and not (data["written_ref"] or "").strip():
            abort(
                422,
                message="finance records an application on a guardian's behalf only with the "
                "written application's reference",
                errors={"written_ref": ["required when finance records the application"]},
                code="written_application_required",
            )
        application = enrolment.apply(
            session(),
            student,
            programme,
            applied_by=actor(),
            start_date=data["start_date"],
            written_ref=data["written_ref"] if g.user.role == Role.FINANCE else None,
        )
        audit.commit("application.create", f"application:{application.id}")
        return _application_view(application)


@blp.route("/applications/<int:application_id>")
class OneApplication(MethodView):
    @roles(Role.PARENT, Role.FINANCE, Role.AUDITOR, Role.ADMIN)
    @blp.response(200, ApplicationOut)
    def get(self, application_id: int) -> dict[str, Any]:
        return _application_view(application_in_scope(application_id))


@blp.route("/applications/<int:application_id>/review")
class Review(MethodView):
    @roles(Role.FINANCE, Role.TEACHER)
    @blp.arguments(DecisionIn)
    @blp.response(200, ApplicationOut)
    def post(self, data: dict[str, Any], application_id: int) -> dict[str, Any]:
        """The class review (班级审核): approve to the school, or reject with a reason."""
        application = application_in_scope(application_id)
        enrolment.review(
            session(), application, approve=data["approve"], actor=actor(), note=data["note"]
        )
        audit.commit("application.review", f"application:{application.id}", data)
        return _application_view(application)


@blp.route("/applications/<int:application_id>/decide")
class Decide(MethodView):
    @roles(Role.FINANCE)
    @blp.arguments(DecisionIn)
    @blp.response(200, ApplicationOut)
    def post(self, data: dict[str, Any], application_id: int) -> dict[str, Any]:
        """The school's approval (学校统一实施); creates the enrolment, within capacity."""
        application = application_in_scope(application_id)
        enrolment.decide(
            session(), application, approve=data["approve"], actor=actor(), note=data["note"]
        )
        audit.commit("application.decide", f"application:{application.id}", data)
        return _application_view(application)


@blp.route("/programmes/<int:programme_id>/admit")
class Admit(MethodView):
    @roles(Role.FINANCE)
    @blp.response(200, AdmitOut)
    def post(self, programme_id: int) -> dict[str, Any]:
        """Admit reviewed applications up to capacity, priority groups first."""
        programme = programme_in_scope(programme_id)
        enrolled, waiting = enrolment.admit(session(), programme, actor=actor())
        audit.commit(
            "programme.admit",
            f"programme:{programme.id}",
            {"enrolled": len(enrolled), "waitlisted": len(waiting)},
        )
        return {"enrolled": enrolled, "waitlisted": [a.id for a in waiting]}


def enrolment_in_scope(enrolment_id: int) -> Enrolment:
    enr = session().get(Enrolment, enrolment_id)
    if enr is None:
        raise NotFound(f"no enrolment {enrolment_id}")
    student_in_scope(session(), enr.student_id)
    return enr


@blp.route("/enrolments/<int:enrolment_id>")
class OneEnrolment(MethodView):
    @roles(Role.PARENT, Role.FINANCE, Role.AUDITOR, Role.ADMIN)
    @blp.response(200, EnrolmentOut)
    def get(self, enrolment_id: int) -> Enrolment:
        return enrolment_in_scope(enrolment_id)


@blp.route("/enrolments/<int:enrolment_id>/withdraw")
class Withdraw(MethodView):
    @roles(Role.FINANCE)
    @blp.arguments(WithdrawIn)
    @blp.response(200, CreditList)
    def post(self, data: dict[str, Any], enrolment_id: int) -> dict[str, Any]:
        """Withdraw from a date; credits the unused part under the policy's refund rule."""
        enr = enrolment_in_scope(enrolment_id)
        enrolment.withdraw(session(), enr, effective=data["effective"], actor=actor())
        records = credits.credit_withdrawal(session(), enr, actor=actor())
        audit.commit(
            "enrolment.withdraw",
            f"enrolment:{enr.id}",
            {"effective": data["effective"].isoformat(), "credits": len(records)},
        )
        return {"items": records}


@blp.route("/enrolments/<int:enrolment_id>/absences")
class Absences(MethodView):
    @roles(Role.FINANCE, Role.PARENT)
    @blp.arguments(AbsenceIn)
    @blp.response(201, CreditList)
    def post(self, data: dict[str, Any], enrolment_id: int) -> dict[str, Any]:
        """A long absence reported by a guardian; credited under the half_month rule."""
        enr = enrolment_in_scope(enrolment_id)
        enrolment.report_absence(
            session(), enr, start=data["start"], end=data["end"], actor=actor()
        )
        records = []
        if g.user.role == Role.FINANCE:
            record = credits.credit_absence(
                session(), enr, start=data["start"], end=data["end"], actor=actor()
            )
            records = [record] if record else []
        audit.commit("enrolment.absence", f"enrolment:{enr.id}")
        return {"items": records}


@blp.route("/waivers")
class Waivers(MethodView):
    @roles(Role.FINANCE)
    @blp.arguments(WaiverIn)
    @blp.response(201, WaiverOut)
    def post(self, data: dict[str, Any]) -> WaiverGrant:
        """Request a waiver of the parent share; another user must approve it."""
        student = student_in_scope(session(), data["student"])
        waiver = waivers.request_waiver(
            session(),
            student,
            percent=percent_to_bp(data["percent"], "percent"),
            reason=data["reason"],
            evidence_ref=data["evidence_ref"],
            valid_from=data["valid_from"],
            valid_to=data["valid_to"],
            actor=actor(),
        )
        audit.commit("waiver.request", f"waiver:{waiver.id}")
        return waiver


@blp.route("/waivers/<int:waiver_id>/decide")
class DecideWaiver(MethodView):
    @roles(Role.FINANCE)
    @blp.arguments(DecisionIn)
    @blp.response(200, WaiverOut)
    def post(self, data: dict[str, Any], waiver_id: int) -> WaiverGrant:
        """Approve or reject a waiver; the requester cannot approve their own."""
        waiver = session().get(WaiverGrant, waiver_id)
        if waiver is None:
            raise NotFound(f"no waiver {waiver_id}")
        student = session().get(Student, waiver.student_id)
        school_by_id_in_scope(session(), student.school_id)
        waivers.decide_waiver(session(), waiver, approve=data["approve"], actor=actor())
        audit.commit("waiver.decide", f"waiver:{waiver.id}", {"approve": data["approve"]})
        return waiver
