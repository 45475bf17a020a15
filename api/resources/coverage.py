"""The coverage report to the education bureau (课后服务覆盖情况): per school and term as JSON,
CSV and PDF, and a district's schools rolled up as JSON.

Students served against all students of the school, the same for the priority
groups (left-behind, migrant, verified hardship), each programme's capacity,
places and students served, staff taking part and hours delivered (approved
hours only), and 5+2 compliance — see :mod:`ledger.audit.coverage`. Finance
reads its own schools and districts; auditors and admins read all. Nothing is
written: the PDF is rendered from the figures as they stand, not archived.
"""

from __future__ import annotations

import csv
import hashlib
import io
from typing import Any

from flask import Response, g
from flask.views import MethodView
from marshmallow import Schema, fields, validate

from invoices import data, render
from ledger.audit import coverage
from ledger.books.errors import NotFound
from ledger.school.models import School, Term

from ..auth import roles
from ..database import session
from ..document_schemas import PdfArgs
from ..models import Role
from ..schemas import Strict
from ..scope import district_whole_in_scope, school_in_scope
from . import Blueprint
from .documents import scope_first

blp = Blueprint(
    "coverage",
    __name__,
    url_prefix="/api/v1",
    description="Coverage report to the education bureau: students, staff, hours, 5+2",
)

READERS = (Role.FINANCE, Role.AUDITOR, Role.ADMIN)


# --------------------------------------------------------------------------- schemas


class CoverageShareOut(Schema):
    served = fields.Integer()
    of = fields.Integer()
    fraction = fields.String(metadata={"description": "served/of, exact"})
    percent = fields.String(
        allow_none=True,
        metadata={
            "description": "served ÷ of in per cent, one decimal, rounded half up; "
            "null when there is nobody to serve",
            "example": "66.7",
        },
    )


class CoverageGroupsOut(Schema):
    left_behind = fields.Nested(CoverageShareOut)
    migrant = fields.Nested(CoverageShareOut)
    hardship = fields.Nested(CoverageShareOut)


class CoverageDeliveredOut(Schema):
    sessions = fields.Integer()
    minutes = fields.Integer()
    hours = fields.String(metadata={"description": "minutes ÷ 60, two decimals, half up"})
    lessons = fields.Integer(metadata={"description": "课时"})


class CoverageByStaffKindOut(Schema):
    teacher = fields.Nested(CoverageDeliveredOut)
    external = fields.Nested(CoverageDeliveredOut)
    volunteer = fields.Nested(CoverageDeliveredOut)


class CoverageWarningOut(Schema):
    code = fields.String()
    message = fields.String()


class CoverageProgrammeOut(Schema):
    id = fields.Integer()
    name = fields.String()
    kind = fields.String()
    weekdays = fields.String()
    start_time = fields.String()
    end_time = fields.String()
    capacity = fields.Integer()
    enrolled = fields.Integer(metadata={"description": "places held now (not withdrawn)"})
    served = fields.Integer(metadata={"description": "students enrolled on some day of the term"})
    staff = fields.Integer(metadata={"description": "people with approved hours"})
    delivered = fields.Nested(CoverageDeliveredOut)
    compliant = fields.Boolean(metadata={"description": "the schedule has the 5+2 shape"})
    warnings = fields.List(fields.Nested(CoverageWarningOut))


class CoverageStaffOut(Schema):
    total = fields.Integer()
    by_kind = fields.Dict(keys=fields.String(), values=fields.Integer())


class CoverageDeliveredTotalsOut(Schema):
    total = fields.Nested(CoverageDeliveredOut)
    by_staff_kind = fields.Nested(CoverageByStaffKindOut)


class CoverageComplianceOut(Schema):
    end_of_work = fields.String()
    programmes = fields.Integer()
    compliant_programmes = fields.Integer()
    term_compliant = fields.Boolean(metadata={"description": "all programmes together give 5+2"})
    term_warnings = fields.List(fields.Nested(CoverageWarningOut))


class CoverageSchoolRef(Schema):
    code = fields.String()
    name = fields.String()


class CoverageTermRef(Schema):
    id = fields.Integer()
    name = fields.String()
    start = fields.Date()
    end = fields.Date()


class CoverageOut(Schema):
    school = fields.Nested(CoverageSchoolRef)
    term = fields.Nested(CoverageTermRef)
    students = fields.Nested(
        CoverageShareOut, metadata={"description": "students served of all students of the school"}
    )
    groups = fields.Nested(CoverageGroupsOut)
    programmes = fields.List(fields.Nested(CoverageProgrammeOut))
    staff = fields.Nested(CoverageStaffOut)
    delivered = fields.Nested(CoverageDeliveredTotalsOut)
    compliance = fields.Nested(CoverageComplianceOut)


class CoverageDistrictArgs(Strict):
    term_name = fields.String(
        required=True,
        validate=validate.Length(min=1, max=100),
        metadata={"description": "the term's name in every school, e.g. 2026秋季学期"},
    )


class CoverageKindTotalsOut(Schema):
    programmes = fields.Integer()
    capacity = fields.Integer()
    enrolled = fields.Integer()
    served = fields.Integer()


class CoverageDistrictComplianceOut(Schema):
    programmes = fields.Integer()
    compliant_programmes = fields.Integer()
    compliant_terms = fields.Integer()


class CoverageDistrictTotalOut(Schema):
    schools = fields.Integer()
    students = fields.Nested(CoverageShareOut)
    groups = fields.Nested(CoverageGroupsOut)
    programmes_by_kind = fields.Dict(
        keys=fields.String(), values=fields.Nested(CoverageKindTotalsOut)
    )
    staff = fields.Nested(CoverageStaffOut)
    delivered = fields.Nested(CoverageDeliveredTotalsOut)
    compliance = fields.Nested(CoverageDistrictComplianceOut)


class DistrictCoverageOut(Schema):
    district = fields.Nested(CoverageSchoolRef)
    term_name = fields.String()
    schools = fields.List(fields.Nested(CoverageOut))
    schools_without_term = fields.List(fields.String())
    total = fields.Nested(CoverageDistrictTotalOut)


# --------------------------------------------------------------------------- routes


def _term_in_scope(school: str, term_id: int) -> tuple[School, Term]:
    s = school_in_scope(session(), school)
    term = session().get(Term, term_id)
    if term is None or term.school_id != s.id:
        raise NotFound(f"no term {term_id} at school {school}")
    return s, term


@blp.route("/schools/<school>/terms/<int:term_id>/coverage")
class Coverage(MethodView):
    @roles(*READERS)
    @blp.response(200, CoverageOut)
    def get(self, school: str, term_id: int) -> Any:
        """Students served (all and per priority group), programmes, staff taking part, hours
        delivered and 5+2 compliance of a school's term, for the education bureau."""
        s, term = _term_in_scope(school, term_id)
        return coverage.coverage_report(session(), s, term)


def coverage_csv(report: dict[str, Any]) -> str:
    """The report as one CSV table: ``section,item,…`` rows a spreadsheet reads as is."""
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\r\n")
    w.writerow(["school", report["school"]["code"], report["school"]["name"]])
    term = report["term"]
    w.writerow(
        ["term", term["id"], term["name"], term["start"].isoformat(), term["end"].isoformat()]
    )
    w.writerow([])
    w.writerow(["section", "item", "of", "served", "fraction", "percent"])
    rows = [("all", report["students"])] + list(report["groups"].items())
    for name, s in rows:
        w.writerow(["students", name, s["of"], s["served"], s["fraction"], s["percent"] or ""])
    w.writerow([])
    w.writerow(
        [
            "section",
            "programme_id",
            "name",
            "kind",
            "capacity",
            "enrolled",
            "served",
            "staff",
            "sessions",
            "minutes",
            "hours",
            "lessons",
            "compliant",
            "warnings",
        ]
    )
    for p in report["programmes"]:
        d = p["delivered"]
        w.writerow(
            [
                "programme",
                p["id"],
                p["name"],
                p["kind"],
                p["capacity"],
                p["enrolled"],
                p["served"],
                p["staff"],
                d["sessions"],
                d["minutes"],
                d["hours"],
                d["lessons"],
                "yes" if p["compliant"] else "no",
                " ".join(x["code"] for x in p["warnings"]),
            ]
        )
    w.writerow([])
    w.writerow(["section", "staff_kind", "people", "sessions", "minutes", "hours", "lessons"])
    kinds = [
        (k, report["staff"]["by_kind"][k], h)
        for k, h in report["delivered"]["by_staff_kind"].items()
    ]
    kinds.append(("total", report["staff"]["total"], report["delivered"]["total"]))
    for kind, people, h in kinds:
        w.writerow(["staff", kind, people, h["sessions"], h["minutes"], h["hours"], h["lessons"]])
    w.writerow([])
    c = report["compliance"]
    w.writerow(["section", "term_compliant", "programmes", "compliant_programmes", "warnings"])
    w.writerow(
        [
            "compliance",
            "yes" if c["term_compliant"] else "no",
            c["programmes"],
            c["compliant_programmes"],
            " ".join(x["code"] for x in c["term_warnings"]),
        ]
    )
    return out.getvalue()


@blp.route("/schools/<school>/terms/<int:term_id>/coverage.csv")
class CoverageCsv(MethodView):
    @roles(*READERS)
    @blp.response(200, content_type="text/csv", description="The coverage report as CSV")
    def get(self, school: str, term_id: int) -> Response:
        """The coverage report as CSV (UTF-8 with a byte order mark, for spreadsheets)."""
        s, term = _term_in_scope(school, term_id)
        body = "\ufeff" + coverage_csv(coverage.coverage_report(session(), s, term))
        return Response(
            body,
            mimetype="text/csv",
            headers={
                "Content-Disposition": f'attachment; filename="coverage-{s.code}-{term.id}.csv"'
            },
        )


@blp.route("/schools/<school>/terms/<int:term_id>/coverage.pdf")
class CoveragePdf(MethodView):
    @roles(*READERS)
    @scope_first(_term_in_scope)
    @blp.arguments(PdfArgs, location="query")
    @blp.response(200, content_type="application/pdf", description="The coverage report")
    def get(self, args: dict[str, Any], school: str, term_id: int) -> Response:
        """The coverage report as PDF, Chinese first (``?lang=en`` for English)."""
        s, term = g.scoped
        pdf = render.render_pdf("coverage", data.coverage_data(session(), s, term), args["lang"])
        response = Response(pdf, mimetype="application/pdf")
        response.headers["Content-Disposition"] = (
            f'attachment; filename="coverage-{s.code}-{term.id}.pdf"'
        )
        response.headers["X-Content-SHA256"] = hashlib.sha256(pdf).hexdigest()
        response.headers["Cache-Control"] = "private, no-store"
        return response


@blp.route("/districts/<district>/coverage")
class DistrictCoverage(MethodView):
    @roles(*READERS)
    @blp.arguments(CoverageDistrictArgs, location="query")
    @blp.response(200, DistrictCoverageOut)
    def get(self, args: dict[str, Any], district: str) -> Any:
        """Every school of a district in the term named ``term_name``, and the district's sums."""
        d = district_whole_in_scope(session(), district)
        return coverage.district_coverage(session(), d, args["term_name"])
