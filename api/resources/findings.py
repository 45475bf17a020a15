"""Audit runs over a school or a district, the rules they apply, and acknowledgements.

Auditors and admins may run any school or district; finance users only their
own. Findings are recomputed from the stored data on every run; an
acknowledgement adds a note to a finding and never removes it.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask.views import MethodView
from marshmallow import Schema, fields, validate
from sqlalchemy import select

from ledger.audit import rules
from ledger.school.models import School

from .. import audit
from ..auth import actor, roles
from ..database import session
from ..models import Role
from ..schemas import Strict
from ..scope import district_in_scope, school_in_scope
from . import Blueprint

blp = Blueprint(
    "findings", __name__, url_prefix="/api/v1", description="Audit rules, runs and findings"
)

READERS = (Role.FINANCE, Role.AUDITOR, Role.ADMIN)


class RunArgs(Strict):
    from_ = fields.Date(data_key="from", required=True)
    to = fields.Date(required=True)
    rules = fields.List(
        fields.String(validate=validate.OneOf([r.code for r in rules.RULES])),
        load_default=None,
        metadata={"description": "only these rules (repeat the parameter)"},
    )


class FindingOut(Schema):
    rule = fields.String()
    severity = fields.String()
    school = fields.String()
    subject = fields.String()
    summary = fields.String()
    evidence = fields.Dict()
    acknowledged = fields.Dict(allow_none=True)


class RunOut(Schema):
    scope = fields.String()
    start = fields.Date()
    end = fields.Date()
    rules_run = fields.List(fields.String())
    counts = fields.Dict(keys=fields.String(), values=fields.Integer())
    findings = fields.List(fields.Nested(FindingOut))


class RuleOut(Schema):
    code = fields.String()
    severity = fields.String()
    description = fields.String()


class AckIn(Strict):
    rule = fields.String(required=True, validate=validate.OneOf([r.code for r in rules.RULES]))
    subject = fields.String(required=True, validate=validate.Length(min=1, max=200))
    note = fields.String(required=True, validate=validate.Length(min=1))


class AckOut(Schema):
    id = fields.Integer()
    rule = fields.String()
    subject = fields.String()
    note = fields.String()
    acknowledged_by = fields.String()
    acknowledged_at = fields.DateTime()


def _run(scope_name: str, schools: list[School], args: dict[str, Any]) -> dict[str, Any]:
    start: dt.date = args["from_"]
    scope = rules.scope_for(session(), schools, start, args["to"])
    wanted = args["rules"]
    findings = rules.run_audit(session(), scope, wanted)
    codes = wanted or [r.code for r in rules.RULES]
    counts = {code: 0 for code in codes}
    for f in findings:
        counts[f.rule] += 1
    return {
        "scope": scope_name,
        "start": start,
        "end": args["to"],
        "rules_run": codes,
        "counts": counts,
        "findings": findings,
    }


@blp.route("/audit-rules")
class Rules(MethodView):
    @roles(*READERS)
    @blp.response(200, RuleOut(many=True))
    def get(self) -> Any:
        """Every audit rule: its stable code, severity and what it checks."""
        return rules.RULES


@blp.route("/schools/<school>/audit")
class SchoolAudit(MethodView):
    @roles(*READERS)
    @blp.arguments(RunArgs, location="query")
    @blp.response(200, RunOut)
    def get(self, args: dict[str, Any], school: str) -> Any:
        """Run the audit rules over a school's data dated in ``from``..``to``."""
        s = school_in_scope(session(), school)
        return _run(f"school:{s.code}", [s], args)


@blp.route("/districts/<district>/audit")
class DistrictAudit(MethodView):
    @roles(*READERS)
    @blp.arguments(RunArgs, location="query")
    @blp.response(200, RunOut)
    def get(self, args: dict[str, Any], district: str) -> Any:
        """Run the audit rules over every school of a district."""
        d = district_in_scope(session(), district)
        schools = list(
            session().scalars(
                select(School).where(School.district_id == d.id).order_by(School.code)
            )
        )
        return _run(f"district:{d.code}", schools, args)


@blp.route("/audit-acknowledgements")
class Acknowledgements(MethodView):
    @roles(Role.FINANCE)
    @blp.arguments(AckIn)
    @blp.response(201, AckOut)
    def post(self, data: dict[str, Any]) -> Any:
        """Finance answers a finding (rule and subject as the run reported them) with a note.

        Auditors read acknowledgements in every later run but write nothing themselves.

        Once per finding (``already_acknowledged``); the finding is still reported.
        """
        ack = rules.acknowledge(session(), actor=actor(), **data)
        audit.commit("finding.acknowledge", f"{data['rule']}:{data['subject']}")
        return ack
