"""The audit run as CSV and as a PDF audit report (issue 6): the same findings as the JSON run,
one CSV row per finding with its evidence, formulas kept as text, and a report that prints
the summary and then each finding with its evidence, in Chinese first.

The term of ``term_over_http`` is billed from 2026-09-01 on applications approved
today, so two charges are found (``charge_without_consent``); a manual adjustment
of household A's account is injected over the journal API and found as well
(``household_adjustment``), with a memo that a spreadsheet would run as a formula.
"""

from __future__ import annotations

import csv
import io
import json
from xml.etree import ElementTree

import pytest
from http_helpers import assert_problem
from pdf_helpers import flat, pdf_text
from sqlalchemy import func, select
from term_over_http import billed_term, ok

from invoices.audit_report import findings_chart
from invoices.models import IssuedDocument

RANGE = "from=2026-09-01&to=2027-01-15"
FORMULA = '=HYPERLINK("http://evil.example","看这里")'


@pytest.fixture
def term(client, db, tokens, make_token):  # type: ignore[no-untyped-def]
    term = billed_term(client, db, tokens, make_token)
    adjustment = ok(
        term.finance.post(
            "/api/v1/books/S1/entries",
            json={
                "effective_date": "2026-10-08",
                "memo": FORMULA,
                "postings": [
                    {"account": f"1122.H{term.home_a}", "direction": "debit", "amount": "50.00"},
                    {"account": "4001", "direction": "credit", "amount": "50.00"},
                ],
            },
            key="audit-report-adjustment",
        )
    )
    term.adjustment = adjustment["id"]
    return term


def _csv_rows(response) -> list[dict[str, str]]:  # type: ignore[no-untyped-def]
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    body = response.get_data(as_text=True)
    assert body.startswith("\ufeff")
    return list(csv.DictReader(io.StringIO(body[1:])))


def test_the_csv_has_one_row_per_finding_with_its_evidence(term):
    run = ok(term.auditor.get(f"/api/v1/schools/S1/audit?{RANGE}"), 200)
    assert run["counts"]["household_adjustment"] == 1
    assert run["counts"]["charge_without_consent"] == 2

    rows = _csv_rows(term.auditor.get(f"/api/v1/schools/S1/audit.csv?{RANGE}"))
    assert len(rows) == len(run["findings"]) == 3
    assert [(r["rule"], r["subject"]) for r in rows] == [
        (f["rule"], f["subject"]) for f in run["findings"]
    ]
    assert list(rows[0]) == [
        "rule",
        "severity",
        "title",
        "school",
        "subject",
        "date",
        "acknowledged",
        "acknowledged_by",
        "acknowledged_at",
        "note",
        "evidence",
    ]
    adjustment = next(r for r in rows if r["rule"] == "household_adjustment")
    assert adjustment["subject"] == f"entry:{term.adjustment}"
    assert adjustment["severity"] == "review" and adjustment["school"] == "S1"
    assert adjustment["date"] == "2026-10-08"
    assert adjustment["acknowledged"] == "no" and adjustment["note"] == ""
    evidence = json.loads(adjustment["evidence"])
    assert evidence["entry"] == term.adjustment and evidence["memo"] == FORMULA
    assert evidence["postings"] == [[f"1122.H{term.home_a}", 5000]]
    for row in rows:
        if row["rule"] == "charge_without_consent":
            assert row["date"] == "2026-09-01"
            assert json.loads(row["evidence"])["application"]["decided_by"] == "school@test"

    # The same query arguments and the same roles as the JSON run.
    only = _csv_rows(term.finance.get(f"/api/v1/schools/S1/audit.csv?{RANGE}&rules=broken_chain"))
    assert only == []
    district = _csv_rows(term.auditor.get(f"/api/v1/districts/DS1/audit.csv?{RANGE}"))
    assert len(district) == 3
    assert_problem(term.outsider.get(f"/api/v1/schools/S1/audit.csv?{RANGE}"), 404, "not_found")
    assert_problem(term.parent.get(f"/api/v1/schools/S1/audit.csv?{RANGE}"), 403, "forbidden")
    bad = term.auditor.get("/api/v1/schools/S1/audit.csv?from=2026-09-01&to=2026-08-01")
    assert_problem(bad, 422, "invalid_dates")


def test_text_a_spreadsheet_would_run_is_escaped(term):
    ack = {
        "rule": "household_adjustment",
        "subject": f"entry:{term.adjustment}",
        "note": "=1+2 见凭证",
    }
    ok(term.finance.post("/api/v1/audit-acknowledgements", json=ack))
    rows = _csv_rows(term.auditor.get(f"/api/v1/schools/S1/audit.csv?{RANGE}"))
    row = next(r for r in rows if r["rule"] == "household_adjustment")
    assert row["acknowledged"] == "yes" and row["acknowledged_by"].startswith("finance")
    assert row["note"] == "'=1+2 见凭证"
    assert not any(cell.startswith(("=", "+", "-", "@")) for r in rows for cell in r.values())


def test_the_pdf_report_prints_the_summary_then_each_finding_with_its_evidence(term, db):
    before = db.scalar(select(func.count()).select_from(IssuedDocument))
    response = term.auditor.get(f"/api/v1/schools/S1/audit.pdf?{RANGE}")
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "application/pdf"
    text = pdf_text(response.data)
    flat_text = flat(text)
    assert "课后服务审计报告" in text
    assert "第S1小学" in text
    assert "household_adjustment" in flat_text and "charge_without_consent" in flat_text
    assert f"entry:{term.adjustment}" in flat_text  # the finding's subject
    assert f"entry{term.adjustment}" in flat_text  # its evidence: the entry id
    assert f"1122.H{term.home_a}5000" in flat_text  # and the posting it made
    assert "school@test" in flat_text  # who approved the late applications
    assert "2026年9月1日" in flat_text
    # Summary first, then the findings-by-rule chart (the dashboard's SVG), then the findings.
    assert flat_text.index("审计摘要") < flat_text.index("各规则发现数")
    assert flat_text.index("各规则发现数") < flat_text.index("发现事项及证据")
    # A report, not an issued document: nothing is archived.
    assert db.scalar(select(func.count()).select_from(IssuedDocument)) == before

    english = term.finance.get(f"/api/v1/districts/DS1/audit.pdf?{RANGE}&lang=en")
    assert english.status_code == 200, english.get_data(as_text=True)
    en_text = pdf_text(english.data)
    assert "After-school service audit report" in en_text
    assert "Findings by rule" in en_text
    assert "课后服务审计报告" not in en_text
    assert f"entry:{term.adjustment}" in flat(en_text)

    assert_problem(term.outsider.get(f"/api/v1/schools/S1/audit.pdf?{RANGE}"), 404, "not_found")
    assert_problem(term.parent.get(f"/api/v1/schools/S1/audit.pdf?{RANGE}"), 403, "forbidden")
    assert_problem(
        term.auditor.get(f"/api/v1/schools/S1/audit.pdf?{RANGE}&lang=fr"), 422, "invalid_input"
    )


def test_the_report_chart_draws_one_bar_per_rule_run_with_its_count():
    summary = [
        {"code": "household_adjustment", "findings": 3},
        {"code": "charge_without_consent", "findings": 0},
        {"code": "duplicate_charge", "findings": 1},
    ]
    svg = ElementTree.fromstring(str(findings_chart(summary, "zh-CN")))
    texts = "".join(svg.itertext())
    assert "各规则发现数" in texts and "手工调整家庭账户" in texts and "重复收费" in texts
    bars = [
        r for r in svg.iter("{http://www.w3.org/2000/svg}rect") if r.find("{*}title") is not None
    ]
    widths = sorted(float(r.get("width")) for r in bars)
    assert len(bars) == 2  # a rule that found nothing draws no bar, but keeps its label
    assert widths[1] == pytest.approx(3 * widths[0])
