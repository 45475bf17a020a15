"""Audit runs over a school or a district, the rules they apply, and acknowledgements.

Auditors and admins may run any school or district; finance users only their
own. Findings are recomputed from the stored data on every run; an
acknowledgement adds a note to a finding and never removes it, and finance
acknowledge only the findings of their own schools.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from typing import Any

from flask import Response, g
from flask.views import MethodView
from marshmallow import Schema, fields, validate
from sqlalchemy import select

from invoices import render
from invoices.audit_report import audit_report_data
from ledger.audit import rules
from ledger.audit.report import findings_csv
from ledger.books import Entry
from ledger.books.errors import NotFound
from ledger.school.models import (
    ChargeRecord,
    District,
    Payment,
    School,
    ServiceHours,
    VendorBill,
)

from .. import audit
from ..auth import actor, roles
from ..database import session
from ..document_schemas import LANGUAGE
from ..models import Role
from ..schemas import Strict, UtcDateTime
from ..scope import district_whole_in_scope, school_ids, school_in_scope
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


class RunPdfArgs(RunArgs):
    lang = LANGUAGE


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
    acknowledged_at = UtcDateTime()


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
        d = district_whole_in_scope(session(), district)
        schools = list(
            session().scalars(
                select(School).where(School.district_id == d.id).order_by(School.code)
            )
        )
        return _run(f"district:{d.code}", schools, args)


def _subject_school(subject: str) -> int | None:
    """The school of a finding's subject as the rules name it (``charge:12``, ``entry:7``,
    ``payment:3``, ``vendor_bill:4``, ``hours:9``, ``account:S1:1002``, ``book:S1``)."""
    db = session()
    kind, _, rest = subject.partition(":")
    if kind in ("account", "book"):
        return db.scalar(select(School.id).where(School.code == rest.split(":", 1)[0]))
    if not re.fullmatch(r"[0-9]{1,18}", rest):
        return None
    row = int(rest)
    if kind == "entry":
        return db.scalar(
            select(School.id).join(Entry, Entry.book_id == School.book_id).where(Entry.id == row)
        )
    model = {
        "charge": ChargeRecord,
        "payment": Payment,
        "vendor_bill": VendorBill,
        "hours": ServiceHours,
    }.get(kind)
    return db.scalar(select(model.school_id).where(model.id == row)) if model else None


def _subject_in_scope(subject: str) -> None:
    """Finance acknowledge the findings of their own schools only; others are 404."""
    school = _subject_school(subject)
    if school is None or school not in (school_ids(session(), g.user) or set()):
        raise NotFound(f"no finding subject {subject!r} at your schools")


@blp.route("/audit-acknowledgements")
class Acknowledgements(MethodView):
    @roles(Role.FINANCE)
    @blp.arguments(AckIn)
    @blp.response(201, AckOut)
    def post(self, data: dict[str, Any]) -> Any:
        """Finance answers a finding (rule and subject as the run reported them) with a note.

        Auditors read acknowledgements in every later run but write nothing themselves.

        Once per finding (``already_acknowledged``); the finding is still reported. A subject
        of a school outside the caller's answers 404, as if it did not exist.
        """
        _subject_in_scope(data["subject"])
        ack = rules.acknowledge(session(), actor=actor(), **data)
        audit.commit("finding.acknowledge", f"{data['rule']}:{data['subject']}")
        return ack


# --------------------------------------------------------------------------- CSV and PDF


def _school_scope(school: str) -> tuple[str, str, str, list[School]]:
    s = school_in_scope(session(), school)
    return "school", s.code, s.name, [s]


def _district_scope(district: str) -> tuple[str, str, str, list[School]]:
    d: District = district_whole_in_scope(session(), district)
    schools = list(
        session().scalars(select(School).where(School.district_id == d.id).order_by(School.code))
    )
    return "district", d.code, d.name, schools


def _csv(kind: str, code: str, schools: list[School], args: dict[str, Any]) -> Response:
    run = _run(f"{kind}:{code}", schools, args)
    body = "\ufeff" + findings_csv(session(), run["findings"])
    name = f"audit-{kind}-{code}-{run['start']}-{run['end']}.csv"
    return Response(
        body,
        mimetype="text/csv",
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "Cache-Control": "private, no-store",
        },
    )


def _pdf(kind: str, code: str, name: str, schools: list[School], args: dict[str, Any]) -> Response:
    run = _run(f"{kind}:{code}", schools, args)
    values = audit_report_data(
        session(),
        scope_kind=kind,
        scope_code=code,
        scope_name=name,
        schools=schools,
        start=run["start"],
        end=run["end"],
        rules_run=run["rules_run"],
        findings=run["findings"],
        run_at=dt.datetime.now(dt.UTC).replace(tzinfo=None),
        run_by=actor(),
        language=args["lang"],
    )
    pdf = render.render_pdf("audit_report", values, args["lang"])
    filename = f"audit-{kind}-{code}-{run['start']}-{run['end']}.pdf"
    return Response(
        pdf,
        mimetype="application/pdf",
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "X-Content-SHA256": hashlib.sha256(pdf).hexdigest(),
            "Cache-Control": "private, no-store",
        },
    )


@blp.route("/schools/<school>/audit.csv")
class SchoolAuditCsv(MethodView):
    @roles(*READERS)
    @blp.arguments(RunArgs, location="query")
    @blp.response(200, content_type="text/csv", description="one row per finding")
    def get(self, args: dict[str, Any], school: str) -> Response:
        """The school's audit run as CSV (UTF-8 with BOM), one row per finding: rule,
        severity, title, school, subject, date, whether and by whom it was acknowledged with
        the note, and the evidence as compact JSON. Text a spreadsheet would run as a formula
        is prefixed with ``'``."""
        kind, code, _, schools = _school_scope(school)
        return _csv(kind, code, schools, args)


@blp.route("/districts/<district>/audit.csv")
class DistrictAuditCsv(MethodView):
    @roles(*READERS)
    @blp.arguments(RunArgs, location="query")
    @blp.response(200, content_type="text/csv", description="one row per finding")
    def get(self, args: dict[str, Any], district: str) -> Response:
        """The district's audit run as CSV, over every school of the district, as
        ``…/schools/<school>/audit.csv`` describes."""
        kind, code, _, schools = _district_scope(district)
        return _csv(kind, code, schools, args)


@blp.route("/schools/<school>/audit.pdf")
class SchoolAuditPdf(MethodView):
    @roles(*READERS)
    @blp.arguments(RunPdfArgs, location="query")
    @blp.response(200, content_type="application/pdf", description="the audit report")
    def get(self, args: dict[str, Any], school: str) -> Response:
        """The school's audit report (审计报告) as PDF: scope, date range, when and by whom
        it was run, the rules run, a summary per rule (severity, what it checks, findings,
        acknowledged), then each finding with its evidence. Chinese, or English with
        ``lang=en``. A snapshot of the run, not an issued document: it is not archived."""
        kind, code, name, schools = _school_scope(school)
        return _pdf(kind, code, name, schools, args)


@blp.route("/districts/<district>/audit.pdf")
class DistrictAuditPdf(MethodView):
    @roles(*READERS)
    @blp.arguments(RunPdfArgs, location="query")
    @blp.response(200, content_type="application/pdf", description="the audit report")
    def get(self, args: dict[str, Any], district: str) -> Response:
        """The district's audit report as PDF, over every school of the district, as
        ``…/schools/<school>/audit.pdf`` describes."""
        kind, code, name, schools = _district_scope(district)
        return _pdf(kind, code, name, schools, args)
