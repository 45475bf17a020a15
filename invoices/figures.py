"""The dashboard's numbers as plain tables, and their charts: the domain's own figures.

Here, beside the documents, so that a PDF report can print the very charts
the portal's dashboard shows (:func:`chart_svg` takes the words as a
function, so it needs no Flask and no session).

Nothing is computed a second time here. Each table is built from one domain
function and only arranged (rows per school, household, claim, kind or rule;
totals are sums of those rows):

======================  ========================================================
``collection``          :func:`ledger.audit.reconcile.collection`
``aging``               :func:`ledger.audit.reconcile.receivables_aging` (as of ``to``)
``subsidies``           :func:`ledger.audit.reconcile.subsidy_claims`, the claims
                        whose period overlaps the range
``fund_use``            :func:`ledger.school.fund_use.fund_use` over the range
``findings``            :func:`ledger.audit.rules.run_audit` over the range
======================  ========================================================

A :class:`Table` is what the numbers page shows, what the CSV holds and what
the chart is drawn from (:func:`chart_svg`), so the three cannot disagree. Amounts are integer
fen, counts ints, rates the domain's percentage strings.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from invoices import charts
from ledger.audit import reconcile, rules
from ledger.school.fund_use import fund_use
from ledger.school.models import School

MONEY, COUNT, TEXT, PERCENT, DATE = "money", "count", "text", "percent", "date"
CHARTS = ("collection", "aging", "subsidies", "fund_use", "findings")
SPENDING = ("stipends", "labour_fees", "vendors", "other")


@dataclass(frozen=True)
class Column:
    key: str
    kind: str


@dataclass
class Table:
    """Rows of one chart's numbers: ``columns`` say each value's kind; ``total`` sums the rows."""

    chart: str
    scope: str  # "school" or "district"
    columns: list[Column]
    rows: list[dict[str, Any]]
    total: dict[str, Any] | None = None
    #: Figures about the whole table (as of, books' balance …), shown above it.
    facts: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Span:
    """A date range where the domain asks for a term (``fund_use`` reads its dates only)."""

    start: dt.date
    end: dt.date
    id: None = None


def _cols(*spec: tuple[str, str]) -> list[Column]:
    return [Column(k, kind) for k, kind in spec]


def _sum(rows: list[dict[str, Any]], columns: list[Column], **fixed: Any) -> dict[str, Any]:
    total: dict[str, Any] = {c.key: None for c in columns}
    for c in columns:
        if c.kind in (MONEY, COUNT):
            total[c.key] = sum(r[c.key] for r in rows)
    total.update(fixed)
    return total


# --------------------------------------------------------------------------- collection


COLLECTION = _cols(
    ("school", TEXT),
    ("invoices", COUNT),
    ("billed", MONEY),
    ("collected", MONEY),
    ("written_off", MONEY),
    ("outstanding", MONEY),
    ("rate_percent", PERCENT),
)


def _collection_row(c: reconcile.Collection, school: School) -> dict[str, Any]:
    return {
        "school": school.code,
        "school_name": school.name,
        "invoices": c.invoices,
        "billed": c.billed,
        "collected": c.collected,
        "written_off": c.written_off,
        "outstanding": c.outstanding,
        "rate_percent": c.rate_percent,
    }


def collection(db: Session, schools: list[School], start: dt.date, end: dt.date) -> Table:
    rows = [_collection_row(reconcile.collection(db, s, start, end), s) for s in schools]
    total = _sum(rows, COLLECTION, school="")
    total["rate_percent"] = reconcile.percent(total["collected"], total["billed"])
    return Table("collection", "", COLLECTION, rows, total)


# --------------------------------------------------------------------------- aging

AGING_BUCKETS = _cols(*((f"days_{b.replace('-', '_')}", MONEY) for b in reconcile.BUCKETS))


def _bucket_key(bucket: str) -> str:
    return f"days_{bucket.replace('-', '_')}"


def aging_school(db: Session, school: School, as_of: dt.date) -> Table:
    """Per household: what it owes by bucket as of the date, with the books' 1122 beside it."""
    aging = reconcile.receivables_aging(db, school, as_of)
    columns = [Column("household", TEXT), *AGING_BUCKETS, Column("total", MONEY)]
    rows = [
        {
            "household": h.name,
            **{_bucket_key(b): h.buckets[b] for b in reconcile.BUCKETS},
            "total": h.total,
        }
        for h in aging.households
    ]
    total = _sum(rows, columns, household="")
    facts = {
        "as_of": as_of,
        "not_yet_due": aging.not_yet_due,
        "books_receivable": aging.books_receivable,
        "difference": aging.difference,
    }
    return Table("aging", "school", columns, rows, total, facts)


def aging_district(db: Session, schools: list[School], as_of: dt.date) -> Table:
    columns = [
        Column("school", TEXT),
        *AGING_BUCKETS,
        Column("total", MONEY),
        Column("not_yet_due", MONEY),
        Column("books_receivable", MONEY),
        Column("difference", MONEY),
    ]
    rows = []
    for s in schools:
        aging = reconcile.receivables_aging(db, s, as_of)
        totals = aging.totals
        rows.append(
            {
                "school": s.code,
                "school_name": s.name,
                **{_bucket_key(b): totals[b] for b in reconcile.BUCKETS},
                "total": aging.total,
                "not_yet_due": aging.not_yet_due,
                "books_receivable": aging.books_receivable,
                "difference": aging.difference,
            }
        )
    return Table(
        "aging", "district", columns, rows, _sum(rows, columns, school=""), {"as_of": as_of}
    )


# --------------------------------------------------------------------------- subsidies


def _overlaps(claim: Any, start: dt.date, end: dt.date) -> bool:
    return claim.period_start <= end and claim.period_end >= start


def subsidies_school(db: Session, school: School, start: dt.date, end: dt.date) -> Table:
    """Each claim whose period overlaps the range: claimed, received, outstanding, due today."""
    rec = reconcile.subsidy_claims(db, school)
    columns = _cols(
        ("claim", TEXT),
        ("period_start", DATE),
        ("period_end", DATE),
        ("status", TEXT),
        ("claimed", MONEY),
        ("received", MONEY),
        ("outstanding", MONEY),
        ("due", MONEY),
        ("difference", MONEY),
    )
    rows = [
        {
            "claim": c.number,
            "period_start": c.period_start,
            "period_end": c.period_end,
            "status": c.status,
            "claimed": c.claimed,
            "received": c.received,
            "outstanding": c.outstanding,
            "due": c.due,
            "difference": c.difference,
        }
        for c in rec.claims
        if _overlaps(c, start, end)
    ]
    facts = {
        "unclaimed": rec.unclaimed_total,
        "books_balance": rec.books_balance,
        "unexplained": rec.unexplained,
    }
    return Table("subsidies", "school", columns, rows, _sum(rows, columns, claim=""), facts)


def subsidies_district(db: Session, schools: list[School], start: dt.date, end: dt.date) -> Table:
    columns = _cols(
        ("school", TEXT),
        ("claims", COUNT),
        ("claimed", MONEY),
        ("received", MONEY),
        ("outstanding", MONEY),
        ("unclaimed", MONEY),
        ("books_balance", MONEY),
        ("unexplained", MONEY),
    )
    rows = []
    for s in schools:
        rec = reconcile.subsidy_claims(db, s)
        claims = [c for c in rec.claims if _overlaps(c, start, end)]
        rows.append(
            {
                "school": s.code,
                "school_name": s.name,
                "claims": len(claims),
                "claimed": sum(c.claimed for c in claims),
                "received": sum(c.received for c in claims),
                "outstanding": sum(c.outstanding for c in claims),
                "unclaimed": rec.unclaimed_total,
                "books_balance": rec.books_balance,
                "unexplained": rec.unexplained,
            }
        )
    return Table("subsidies", "district", columns, rows, _sum(rows, columns, school=""))


# --------------------------------------------------------------------------- fund use


def fund_use_school(db: Session, school: School, start: dt.date, end: dt.date) -> Table:
    """Spending by kind over the range, with income by payer and the balance as facts."""
    report = fund_use(db, school, Span(start, end))  # type: ignore[arg-type]
    columns = _cols(("kind", TEXT), ("amount", MONEY))
    rows = [{"kind": k, "amount": report["spending"][k]} for k in SPENDING]
    facts = {
        "income_government": report["income"]["government"],
        "income_school": report["income"]["school"],
        "income_households": report["income"]["households"],
        "total_income": report["total_income"],
        "total_spending": report["total_spending"],
        "people_share_percent": (
            None if report["people_share_percent"] is None else str(report["people_share_percent"])
        ),
        "balance": report["balance"],
    }
    return Table("fund_use", "school", columns, rows, _sum(rows, columns, kind=""), facts)


def fund_use_district(db: Session, schools: list[School], start: dt.date, end: dt.date) -> Table:
    columns = _cols(
        ("school", TEXT),
        *((k, MONEY) for k in SPENDING),
        ("total_spending", MONEY),
        ("total_income", MONEY),
        ("balance", MONEY),
        ("people_share_percent", PERCENT),
    )
    rows = []
    for s in schools:
        report = fund_use(db, s, Span(start, end))  # type: ignore[arg-type]
        share = report["people_share_percent"]
        rows.append(
            {
                "school": s.code,
                "school_name": s.name,
                **{k: report["spending"][k] for k in SPENDING},
                "total_spending": report["total_spending"],
                "total_income": report["total_income"],
                "balance": report["balance"],
                "people_share_percent": None if share is None else str(share),
            }
        )
    total = _sum(rows, columns, school="")
    people = total["stipends"] + total["labour_fees"]
    total["people_share_percent"] = reconcile.percent(people, total["total_spending"])
    return Table("fund_use", "district", columns, rows, total)


# --------------------------------------------------------------------------- findings


def findings(
    db: Session, schools: list[School], start: dt.date, end: dt.date, *, scope: str
) -> Table:
    """Findings of every rule over the range: per rule, or per school and rule for a district."""
    found = rules.run_audit(db, rules.scope_for(db, schools, start, end))
    counts: dict[tuple[str, str], list[int]] = {}
    for f in found:
        c = counts.setdefault((f.school, f.rule), [0, 0])
        c[0] += 1
        c[1] += f.acknowledged is not None
    if scope == "school":
        columns = _cols(
            ("rule", TEXT), ("severity", TEXT), ("findings", COUNT), ("acknowledged", COUNT)
        )
        code = schools[0].code
        rows = [
            {
                "rule": r.code,
                "severity": r.severity,
                "findings": counts.get((code, r.code), [0, 0])[0],
                "acknowledged": counts.get((code, r.code), [0, 0])[1],
            }
            for r in rules.RULES
        ]
    else:
        columns = _cols(
            ("school", TEXT),
            ("rule", TEXT),
            ("severity", TEXT),
            ("findings", COUNT),
            ("acknowledged", COUNT),
        )
        rows = [
            {
                "school": s.code,
                "school_name": s.name,
                "rule": r.code,
                "severity": r.severity,
                "findings": counts[(s.code, r.code)][0],
                "acknowledged": counts[(s.code, r.code)][1],
            }
            for s in schools
            for r in rules.RULES
            if (s.code, r.code) in counts
        ]
    total = _sum(rows, columns, rule="")
    return Table("findings", scope, columns, rows, total)


# --------------------------------------------------------------------------- charts


def _school_label(row: dict[str, Any]) -> str:
    return row.get("school_name") or row["school"]


def chart_svg(table: Table, chart_id: str, t: Callable[..., str]) -> str:
    """The chart of a table as SVG text, its words from ``t`` (a message key -> text).

    The portal passes its catalogue's ``translate``; a PDF report can pass its
    own with the same ``dash.*``, ``dcol.*``, ``spend.*`` and ``audit_rule.*``
    keys and embed the very same SVG.
    """
    title = t(f"dash.{table.chart}.title")
    money_axis = t("dash.axis.yuan")
    rows = table.rows
    if table.chart == "collection":
        labels = [
            _school_label(r)
            + (f" · {t('dash.rate', rate=r['rate_percent'])}" if r["rate_percent"] else "")
            for r in rows
        ]
        series = [
            charts.Series(t(f"dcol.{k}"), [r[k] for r in rows])
            for k in ("billed", "collected", "outstanding")
        ]
        return charts.grouped_bar_chart(chart_id, title, labels, series, axis_label=money_axis)
    if table.chart == "aging":
        keys = [c.key for c in AGING_BUCKETS]
        if table.scope == "school":
            assert table.total is not None
            labels = [t(f"dcol.{k}") for k in keys]
            values = [table.total[k] for k in keys]
            return charts.bar_chart(chart_id, title, labels, values, axis_label=money_axis)
        labels = [_school_label(r) for r in rows]
        series = [charts.Series(t(f"dcol.{k}"), [r[k] for r in rows]) for k in keys]
        return charts.stacked_bar_chart(chart_id, title, labels, series, axis_label=money_axis)
    if table.chart == "subsidies":
        key = "claim" if table.scope == "school" else "school"
        labels = [r[key] if key == "claim" else _school_label(r) for r in rows]
        series = [
            charts.Series(t(f"dcol.{k}"), [r[k] for r in rows]) for k in ("claimed", "received")
        ]
        return charts.grouped_bar_chart(chart_id, title, labels, series, axis_label=money_axis)
    if table.chart == "fund_use":
        if table.scope == "school":
            labels = [t(f"spend.{r['kind']}") for r in rows]
            values = [r["amount"] for r in rows]
            return charts.bar_chart(chart_id, title, labels, values, axis_label=money_axis)
        labels = [_school_label(r) for r in rows]
        series = [charts.Series(t(f"spend.{k}"), [r[k] for r in rows]) for k in SPENDING]
        return charts.stacked_bar_chart(chart_id, title, labels, series, axis_label=money_axis)
    # findings: only the rules that found something are drawn; the table lists every rule
    count_axis = t("dash.axis.count")
    if table.scope == "school":
        shown = [r for r in rows if r["findings"]]
        labels = [t(f"audit_rule.{r['rule']}") for r in shown]
        values = [r["findings"] for r in shown]
        return charts.bar_chart(
            chart_id, title, labels, values, unit=charts.COUNT, axis_label=count_axis
        )
    rule_codes = sorted({r["rule"] for r in rows})
    school_codes = sorted({r["school"] for r in rows})
    names = {r["school"]: _school_label(r) for r in rows}
    count = {(r["school"], r["rule"]): r["findings"] for r in rows}
    series = [
        charts.Series(names[s], [count.get((s, rule), 0) for rule in rule_codes])
        for s in school_codes
    ] or [charts.Series(title, [])]
    labels = [t(f"audit_rule.{rule}") for rule in rule_codes]
    return charts.stacked_bar_chart(
        chart_id, title, labels, series, unit=charts.COUNT, axis_label=count_axis
    )


# --------------------------------------------------------------------------- all of them


def school_table(db: Session, chart: str, school: School, start: dt.date, end: dt.date) -> Table:
    build: dict[str, Callable[[], Table]] = {
        "collection": lambda: collection(db, [school], start, end),
        "aging": lambda: aging_school(db, school, end),
        "subsidies": lambda: subsidies_school(db, school, start, end),
        "fund_use": lambda: fund_use_school(db, school, start, end),
        "findings": lambda: findings(db, [school], start, end, scope="school"),
    }
    table = build[chart]()
    table.scope = "school"
    return table


def district_table(
    db: Session, chart: str, schools: list[School], start: dt.date, end: dt.date
) -> Table:
    build: dict[str, Callable[[], Table]] = {
        "collection": lambda: collection(db, schools, start, end),
        "aging": lambda: aging_district(db, schools, end),
        "subsidies": lambda: subsidies_district(db, schools, start, end),
        "fund_use": lambda: fund_use_district(db, schools, start, end),
        "findings": lambda: findings(db, schools, start, end, scope="district"),
    }
    table = build[chart]()
    table.scope = "district"
    return table
