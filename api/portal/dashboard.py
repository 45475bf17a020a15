"""The dashboard for finance staff, auditors and admins: charts per school and district.

Same login as the parents' pages (``views.login``); after it, staff land here.
Every page takes ``?from=&to=`` (dates; the last twelve months by default):

* ``/portal/dashboard`` — the schools and districts the user may see;
* ``/portal/dashboard/schools/<code>`` and ``/portal/dashboard/districts/<code>``
  — five charts: collection rate, receivables aging (as of ``to``), subsidy
  claimed against received, fund use by kind, audit findings by rule; each an
  inline SVG drawn on the server (:mod:`invoices.charts`);
* ``…/numbers/<chart>`` — the numbers behind one chart as a table, and
  ``…/numbers/<chart>.csv`` — the same numbers to download.
* ``…/report.pdf`` — the page as a PDF report (the ``dashboard`` document of
  :mod:`invoices.render`): the same SVG charts, each with its numbers.

Who sees what: parents (and anyone not staff) get 404 on every dashboard
URL; a school outside the user's scope is 404 (:mod:`api.scope`); a district
page shows a whole district, so it is 404 for a user who does not see every
school of it (a finance user of one school sees that school's page only).
The chart, the table and the CSV are made from one :class:`figures.Table`.
"""

from __future__ import annotations

import csv
import datetime as dt
import functools
import io
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import Response, abort, g, render_template, request, url_for
from markupsafe import Markup
from sqlalchemy import select
from wtforms import DateField, ValidationError
from wtforms.validators import Optional

from invoices import figures
from invoices.render import render_pdf
from ledger.audit.exports import safe_text
from ledger.money import format_fen
from ledger.school.models import District, School

from ..database import session as db_session
from ..models import Role
from ..scope import district_whole_in_scope, school_ids, school_in_scope
from . import bp, messages
from .forms import PortalForm
from .views import F, current_lang, signed_in

STAFF = (Role.FINANCE, Role.AUDITOR, Role.ADMIN)
#: URL slug -> table key, in the order the page shows them.
SLUGS = {
    "collection": "collection",
    "aging": "aging",
    "subsidies": "subsidies",
    "fund-use": "fund_use",
    "findings": "findings",
}
_CHART = '<any("collection","aging","subsidies","fund-use","findings"):chart>'


class RangeForm(PortalForm):
    """``?from=&to=``: defaults to the twelve months up to today."""

    from_ = DateField(name="from", validators=[Optional()])
    to = DateField(validators=[Optional()])

    def validate_to(self, field: DateField) -> None:
        if self.from_.data and field.data and field.data < self.from_.data:
            raise ValidationError(messages.translate("statement.range_error", self.lang))
        if self.from_.data and field.data and (field.data - self.from_.data).days > 3660:
            raise ValidationError(messages.translate("statement.range_too_long", self.lang))

    def dates(self, today: dt.date) -> tuple[dt.date, dt.date]:
        end = self.to.data or today
        start = self.from_.data or (end - dt.timedelta(days=365))
        return start, end


def staff_only(view: F) -> F:
    """Signed in as finance, auditor or admin; 404 for anyone else (as if it did not exist)."""

    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if g.user.role not in STAFF:
            abort(404)
        return view(*args, **kwargs)

    return signed_in(wrapped)  # type: ignore[return-value]


def _today() -> dt.date:
    from .views import _today as today

    return today()


def _range() -> tuple[RangeForm, tuple[dt.date, dt.date] | None]:
    form = RangeForm(request.args, current_lang())
    if not form.validate():
        return form, None
    return form, form.dates(_today())


def _visible_schools(db: Any) -> list[School]:
    ids = school_ids(db, g.user)
    stmt = select(School).order_by(School.code)
    if ids is not None:
        stmt = stmt.where(School.id.in_(ids or {-1}))
    return list(db.scalars(stmt))


def _district_schools(db: Any, code: str) -> tuple[District, list[School]]:
    """A district the user sees whole: every one of its schools in their scope, or 404."""
    district = district_whole_in_scope(db, code)
    schools = list(
        db.scalars(select(School).where(School.district_id == district.id).order_by(School.code))
    )
    return district, schools


# --------------------------------------------------------------------------- charts


def _t(key: str, **values: Any) -> str:
    return messages.translate(key, current_lang(), **values)


def chart_svg(table: figures.Table, chart_id: str) -> str:
    """The chart of a table in the page's language (:func:`invoices.figures.chart_svg`)."""
    return figures.chart_svg(table, chart_id, _t)


def cell_text(value: Any, column: figures.Column) -> str:
    """One value of a table as the page (and the PDF) prints it, in the page's language."""
    if value is None:
        return "—"
    if column.kind == figures.MONEY:
        return _t("money", amount=format_fen(value))
    if column.kind == figures.PERCENT:
        return _t("dash.percent", value=value)
    if column.kind == figures.COUNT:
        return f"{value:,}"
    prefixes = {"rule": "audit_rule.", "severity": "severity.", "kind": "spend."}
    if value and column.key in prefixes:
        return _t(prefixes[column.key] + str(value))
    if value and column.key == "status":
        return _t("claim_status." + str(value))
    return str(value)


@bp.context_processor
def dashboard_helpers() -> dict[str, Any]:
    return {"cell": cell_text}


# --------------------------------------------------------------------------- CSV


def _csv_value(value: Any, kind: str) -> str:
    if value is None:
        return ""
    if kind == figures.MONEY:
        return format_fen(value)
    if kind in (figures.COUNT, figures.PERCENT):
        return str(value)
    if kind == figures.DATE:
        return value.isoformat()
    return safe_text(str(value))


def table_csv(table: figures.Table) -> str:
    """The table as CSV: a header of column keys, amounts in yuan (``"400.00"``), a total row."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([c.key for c in table.columns])
    for row in table.rows:
        writer.writerow([_csv_value(row[c.key], c.kind) for c in table.columns])
    if table.total is not None and table.rows:
        total = dict(table.total)
        first = table.columns[0]
        if first.kind == figures.TEXT:
            total[first.key] = "total"
        writer.writerow([_csv_value(total[c.key], c.kind) for c in table.columns])
    return out.getvalue()


# --------------------------------------------------------------------------- pages


@bp.get("/dashboard")
@staff_only
def dashboard() -> Any:
    """The schools and districts the user may open."""
    db = db_session()
    schools = _visible_schools(db)
    ids = school_ids(db, g.user)
    districts = []
    for d in db.scalars(select(District).order_by(District.code)):
        members = {s for s in db.scalars(select(School.id).where(School.district_id == d.id))}
        if members and (ids is None or members <= ids):
            districts.append({"code": d.code, "name": d.name, "schools": len(members)})
    return render_template(
        "portal/dashboard_index.html",
        schools=[{"code": s.code, "name": s.name} for s in schools],
        districts=districts,
    )


def _page(
    kind: str,
    code: str,
    name: str,
    tables: dict[str, figures.Table],
    form: RangeForm,
    start: dt.date,
    end: dt.date,
) -> str:
    endpoint = "portal.school_numbers" if kind == "school" else "portal.district_numbers"
    cards = []
    for slug, key in SLUGS.items():
        table = tables[key]
        args = {"code": code, "chart": slug, "from": start.isoformat(), "to": end.isoformat()}
        cards.append(
            {
                "slug": slug,
                "key": key,
                "svg": Markup(chart_svg(table, f"chart-{slug}")),  # noqa: S704 - escaped by charts
                "numbers": url_for(endpoint, **args),
                "csv": url_for(endpoint + "_csv", **args),
                "facts": table.facts,
                "total": table.total,
            }
        )
    report = url_for(
        f"portal.{kind}_report", code=code, **{"from": start.isoformat(), "to": end.isoformat()}
    )
    return render_template(
        "portal/dashboard.html",
        kind=kind,
        code=code,
        name=name,
        cards=cards,
        form=form,
        start=start,
        end=end,
        report=report,
    )


def _bad_range(form: RangeForm, kind: str, code: str, name: str) -> tuple[str, int]:
    page = render_template(
        "portal/dashboard.html", kind=kind, code=code, name=name, cards=[], form=form
    )
    return page, 400


@dataclass
class _Scope:
    kind: str  # "school" or "district"
    code: str
    name: str
    phone: str | None
    tables: Callable[[str, dt.date, dt.date], figures.Table]


def _scope(kind: str, code: str) -> _Scope:
    """The school or district of the URL, in the user's scope (404 otherwise)."""
    db = db_session()
    if kind == "school":
        school = school_in_scope(db, code)
        return _Scope(
            "school",
            school.code,
            school.name,
            school.complaints_phone,
            lambda key, s, e: figures.school_table(db, key, school, s, e),
        )
    district, schools = _district_schools(db, code)
    return _Scope(
        "district",
        district.code,
        district.name,
        None,
        lambda key, s, e: figures.district_table(db, key, schools, s, e),
    )


def _dashboard(kind: str, code: str) -> Any:
    where = _scope(kind, code)
    form, dates = _range()
    if dates is None:
        return _bad_range(form, where.kind, where.code, where.name)
    start, end = dates
    tables = {key: where.tables(key, start, end) for key in SLUGS.values()}
    return _page(where.kind, where.code, where.name, tables, form, start, end)


@bp.get("/dashboard/schools/<code>")
@staff_only
def school_dashboard(code: str) -> Any:
    return _dashboard("school", code)


@bp.get("/dashboard/districts/<code>")
@staff_only
def district_dashboard(code: str) -> Any:
    return _dashboard("district", code)


# --------------------------------------------------------------------------- PDF


def _fact_text(key: str, value: Any) -> str:
    if value is None:
        return "—"
    if key == "as_of":
        return value.isoformat()
    if key == "people_share_percent":
        return _t("dash.percent", value=value)
    return _t("money", amount=format_fen(value))


def report_data(
    where: _Scope, tables: dict[str, figures.Table], start: dt.date, end: dt.date
) -> dict[str, Any]:
    """The ``dashboard`` document's data: the page's charts and numbers, in its language."""
    cards = []
    for slug, key in SLUGS.items():
        table = tables[key]
        total = None
        if table.total is not None and table.rows:
            total = [cell_text(table.total[c.key], c) for c in table.columns]
            if table.columns[0].kind == figures.TEXT:
                total[0] = _t("dash.total")
        cards.append(
            {
                "slug": slug,
                "title": _t(f"dash.{key}.title"),
                "note": _t(f"dash.{key}.note"),
                "svg": Markup(chart_svg(table, f"pdf-{slug}")),  # noqa: S704 - escaped by charts
                "facts": [
                    {"label": _t(f"dcol.{k}"), "value": _fact_text(k, v)}
                    for k, v in table.facts.items()
                ],
                "headers": [_t(f"dcol.{c.key}") for c in table.columns],
                "numeric": [
                    c.kind in (figures.MONEY, figures.COUNT, figures.PERCENT) for c in table.columns
                ],
                "rows": [[cell_text(r[c.key], c) for c in table.columns] for r in table.rows],
                "total": total,
                "empty": _t("dash.no_rows"),
            }
        )
    return {
        "school": {"name": where.name, "complaints_phone": where.phone},
        "number": None,
        "date": end,
        "heading": f"{_t('dash.' + where.kind)} {where.code}",
        "range": _t("statement.range", start=start, end=end),
        "cards": cards,
    }


def _report(kind: str, code: str) -> Any:
    where = _scope(kind, code)
    form, dates = _range()
    if dates is None:
        abort(400)
    start, end = dates
    tables = {key: where.tables(key, start, end) for key in SLUGS.values()}
    pdf = render_pdf("dashboard", report_data(where, tables, start, end), current_lang())
    response = Response(pdf, mimetype="application/pdf")
    filename = f"dashboard-{where.code}-{start.isoformat()}-{end.isoformat()}.pdf"
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@bp.get("/dashboard/schools/<code>/report.pdf")
@staff_only
def school_report(code: str) -> Any:
    """The school's dashboard as a PDF report: the same charts, each with its numbers."""
    return _report("school", code)


@bp.get("/dashboard/districts/<code>/report.pdf")
@staff_only
def district_report(code: str) -> Any:
    return _report("district", code)


def _numbers(kind: str, code: str, chart: str, as_csv: bool) -> Any:
    key = SLUGS[chart]
    where = _scope(kind, code)
    name, code = where.name, where.code
    back = f"portal.{kind}_dashboard"
    form, dates = _range()
    if dates is None:
        if as_csv:
            abort(400)
        page = render_template(
            "portal/dashboard_numbers.html",
            kind=kind,
            code=code,
            name=name,
            form=form,
            table=None,
            chart=chart,
            key=key,
        )
        return page, 400
    start, end = dates
    table = where.tables(key, start, end)
    if as_csv:
        filename = f"{key}-{code}-{start.isoformat()}-{end.isoformat()}.csv"
        response = Response("\ufeff" + table_csv(table), mimetype="text/csv")
        response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response
    args = {"code": code, "from": start.isoformat(), "to": end.isoformat()}
    endpoint = "portal.school_numbers_csv" if kind == "school" else "portal.district_numbers_csv"
    return render_template(
        "portal/dashboard_numbers.html",
        kind=kind,
        code=code,
        name=name,
        form=form,
        table=table,
        chart=chart,
        key=key,
        start=start,
        end=end,
        back=url_for(back, **args),
        csv=url_for(endpoint, chart=chart, **args),
        svg=Markup(chart_svg(table, f"chart-{chart}")),  # noqa: S704 - escaped by charts
    )


@bp.get(f"/dashboard/schools/<code>/numbers/{_CHART}")
@staff_only
def school_numbers(code: str, chart: str) -> Any:
    return _numbers("school", code, chart, as_csv=False)


@bp.get(f"/dashboard/schools/<code>/numbers/{_CHART}.csv")
@staff_only
def school_numbers_csv(code: str, chart: str) -> Any:
    return _numbers("school", code, chart, as_csv=True)


@bp.get(f"/dashboard/districts/<code>/numbers/{_CHART}")
@staff_only
def district_numbers(code: str, chart: str) -> Any:
    return _numbers("district", code, chart, as_csv=False)


@bp.get(f"/dashboard/districts/<code>/numbers/{_CHART}.csv")
@staff_only
def district_numbers_csv(code: str, chart: str) -> Any:
    return _numbers("district", code, chart, as_csv=True)
