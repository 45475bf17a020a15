"""Audit runs over HTTP: a term whose applications were approved after service began is
found out; acknowledging a finding keeps it in the report; scopes and roles hold."""

from __future__ import annotations

import pytest
from http_helpers import assert_problem
from term_over_http import billed_term, ok


@pytest.fixture
def term(client, db, tokens, make_token):  # type: ignore[no-untyped-def]
    return billed_term(client, db, tokens, make_token)


def test_late_approvals_are_found_acknowledged_and_still_reported(term):
    # billed_term approves the applications today, but bills the term from 2026-09-01.
    path = "/api/v1/schools/S1/audit?from=2026-09-01&to=2027-01-15"
    run = ok(term.auditor.get(path), 200)
    assert run["counts"]["charge_without_consent"] == 2
    assert sum(run["counts"].values()) == 2
    first = run["findings"][0]
    assert first["rule"] == "charge_without_consent" and first["severity"] == "critical"
    assert "before the application was approved" in first["summary"]
    assert first["evidence"]["application"]["decided_by"] == "school@test"

    ack = {"rule": first["rule"], "subject": first["subject"], "note": "补签申请, 见附件 3"}
    assert_problem(term.parent.post("/api/v1/audit-acknowledgements", json=ack), 403, "forbidden")
    # Auditors write nothing (issue 8): finance answers a finding; auditors read the answer.
    assert_problem(term.auditor.post("/api/v1/audit-acknowledgements", json=ack), 403, "forbidden")
    done = ok(term.finance.post("/api/v1/audit-acknowledgements", json=ack))
    assert done["acknowledged_by"].startswith("finance")
    assert_problem(
        term.finance.post("/api/v1/audit-acknowledgements", json=ack), 409, "already_acknowledged"
    )
    again = ok(term.finance.get(path), 200)
    assert len(again["findings"]) == 2
    assert again["findings"][0]["acknowledged"]["note"] == "补签申请, 见附件 3"

    only = ok(term.auditor.get(path + "&rules=broken_chain&rules=unbalanced_entry"), 200)
    assert (only["rules_run"], only["findings"]) == (["broken_chain", "unbalanced_entry"], [])
    district = ok(
        term.auditor.get("/api/v1/districts/DS1/audit?from=2026-09-01&to=2027-01-15"), 200
    )
    assert district["counts"]["charge_without_consent"] == 2

    assert_problem(term.outsider.get(path), 404, "not_found")
    assert_problem(term.parent.get(path), 403, "forbidden")
    bad = term.auditor.get("/api/v1/schools/S1/audit?from=2026-09-01&to=2026-08-01")
    assert_problem(bad, 422, "invalid_dates")
    assert_problem(term.auditor.get(path + "&rules=nope"), 422, "invalid_input")
    rules = ok(term.auditor.get("/api/v1/audit-rules"), 200)
    assert {r["code"] for r in rules} >= {"charge_without_consent", "broken_chain"}
