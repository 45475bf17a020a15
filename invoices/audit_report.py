"""The audit report (审计报告) as plain data: a summary per rule, then every finding with its
evidence, for the ``audit_report`` template.

The findings come from :func:`ledger.audit.rules.run_audit` (what the JSON and
CSV of the same run show); this module only arranges them for reading:
evidence is flattened into ``key: value`` lines (nested keys joined with
``.``, lists of pairs such as postings as ``code amount``), so the template
never walks structures of unknown shape. The report is a snapshot of a run,
not a numbered document: it is rendered on request and not archived.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from markupsafe import Markup
from sqlalchemy.orm import Session

from invoices import charts
from invoices.messages import message
from ledger.audit.report import subject_dates
from ledger.audit.rules import RULES, Finding
from ledger.school.models import School

__all__ = ["audit_report_data", "evidence_lines"]


def _text(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, (list, tuple)):
        if all(not isinstance(v, (dict, list, tuple)) for v in value):
            return ", ".join(_text(v) for v in value) if value else "—"
        return "; ".join(
            " ".join(_text(x) for x in v) if isinstance(v, (list, tuple)) else _text(v)
            for v in value
        )
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False, separators=(", ", ": "), default=str)
    return str(value)


def evidence_lines(evidence: dict[str, Any], prefix: str = "") -> list[dict[str, str]]:
    """Evidence as ``{"key", "value"}`` lines: nested mappings become dotted keys."""
    lines: list[dict[str, str]] = []
    for key, value in evidence.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            lines.extend(evidence_lines(value, f"{name}."))
        else:
            lines.append({"key": name, "value": _text(value)})
    return lines


def audit_report_data(
    db: Session,
    *,
    scope_kind: str,
    scope_code: str,
    scope_name: str,
    schools: list[School],
    start: dt.date,
    end: dt.date,
    rules_run: list[str],
    findings: list[Finding],
    run_at: dt.datetime,
    run_by: str,
    language: str = "zh-CN",
) -> dict[str, Any]:
    """What the audit report prints: scope, range, when and by whom it was run, the rules
    run with their counts, and each finding with its evidence and any acknowledgement."""
    known = {r.code: r for r in RULES}
    dates = subject_dates(db, findings)
    summary = []
    for code in rules_run:
        mine = [f for f in findings if f.rule == code]
        summary.append(
            {
                "code": code,
                "severity": known[code].severity,
                "description": known[code].description,
                "findings": len(mine),
                "acknowledged": sum(1 for f in mine if f.acknowledged),
            }
        )
    items = [
        {
            "n": i,
            "rule": f.rule,
            "severity": f.severity,
            "school": f.school,
            "subject": f.subject,
            "summary": f.summary,
            "date": dates.get(f.subject),
            "acknowledged": None
            if not f.acknowledged
            else {
                "by": f.acknowledged.get("by") or "",
                "at": str(f.acknowledged.get("at") or "").replace("T", " ")[:19],
                "note": f.acknowledged.get("note") or "",
            },
            "evidence": evidence_lines(f.evidence),
        }
        for i, f in enumerate(findings, start=1)
    ]
    return {
        "number": None,
        "date": run_at.date(),
        # The masthead's first line: whose data was audited.
        "school": {"name": scope_name, "complaints_phone": ""},
        "scope": {"kind": scope_kind, "code": scope_code, "name": scope_name},
        "schools": [{"code": s.code, "name": s.name} for s in schools],
        "start": start,
        "end": end,
        "run_at": run_at.replace(microsecond=0),
        "run_by": run_by,
        "rules_run": list(rules_run),
        "summary": summary,
        "chart": findings_chart(summary, language),
        "total": len(findings),
        "acknowledged": sum(1 for f in findings if f.acknowledged),
        "findings": items,
    }


def findings_chart(summary: list[dict[str, Any]], language: str) -> Markup:
    """Findings per rule run, as the dashboard draws them (SVG, every text escaped by
    :mod:`invoices.charts`): one bar per rule, an empty bar where a rule found nothing."""
    svg = charts.bar_chart(
        "audit-findings-by-rule",
        message(language, "audit_report.chart"),
        [message(language, f"audit_rule.{r['code']}") for r in summary],
        [r["findings"] for r in summary],
        unit=charts.COUNT,
        axis_label=message(language, "audit_report.count"),
    )
    return Markup(svg)  # noqa: S704 - the chart escapes every text it draws
