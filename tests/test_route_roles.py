"""Every route under ``/api/v1`` and the roles that may call it, as one table.

The table is written by hand from the contract (DESIGN.md "Who uses it" and the
issues): finance writes for their schools, auditors read everything and write
nothing, parents read their own households and apply for programmes, teachers
review applications, admins manage users, districts and schools. Each route is
called by every role the table leaves out and must answer 403, and with no
token 401, before any input is looked at. A new route without a row fails
:func:`test_the_table_names_every_route`, so adding one forces the decision.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from http_helpers import assert_problem

AD, AU, FI, PA, TE = "admin", "auditor", "finance", "parent", "teacher"
ROLES = (AD, AU, FI, PA, TE)
READ_ALL = {AD, AU, FI}
EVERYONE = set(ROLES)

TABLE: dict[tuple[str, str], set[str]] = {
    ("POST", "/api/v1/applications"): {FI, PA},
    ("GET", "/api/v1/applications/<int:application_id>"): {AD, AU, FI, PA},
    ("POST", "/api/v1/applications/<int:application_id>/decide"): {FI},
    ("POST", "/api/v1/applications/<int:application_id>/review"): {FI, TE},
    ("GET", "/api/v1/audit-log"): {AD, AU},
    ("GET", "/api/v1/books"): READ_ALL,
    ("POST", "/api/v1/books"): {FI},
    ("GET", "/api/v1/books/<book>"): READ_ALL,
    ("GET", "/api/v1/books/<book>/accounts"): READ_ALL,
    ("POST", "/api/v1/books/<book>/accounts"): {FI},
    ("GET", "/api/v1/books/<book>/accounts/<code>"): READ_ALL,
    ("GET", "/api/v1/books/<book>/accounts/<code>/balance"): READ_ALL,
    ("POST", "/api/v1/books/<book>/accounts/<code>/close"): {FI},
    ("GET", "/api/v1/books/<book>/chain"): READ_ALL,
    ("GET", "/api/v1/books/<book>/entries"): READ_ALL,
    ("POST", "/api/v1/books/<book>/entries"): {FI},
    ("GET", "/api/v1/books/<book>/entries/<int:entry_id>"): READ_ALL,
    ("POST", "/api/v1/books/<book>/entries/<int:entry_id>/reverse"): {FI},
    ("GET", "/api/v1/books/<book>/periods"): READ_ALL,
    ("POST", "/api/v1/books/<book>/periods"): {FI},
    ("POST", "/api/v1/books/<book>/periods/<int:period_id>/close"): {FI},
    ("GET", "/api/v1/books/<book>/trial-balance"): READ_ALL,
    ("POST", "/api/v1/cost-policies"): {FI},
    ("GET", "/api/v1/districts"): READ_ALL,
    ("POST", "/api/v1/districts"): {AD},
    ("GET", "/api/v1/districts/<district>/rollup"): READ_ALL,
    ("GET", "/api/v1/enrolments/<int:enrolment_id>"): {AD, AU, FI, PA},
    ("POST", "/api/v1/enrolments/<int:enrolment_id>/absences"): {FI, PA},
    ("POST", "/api/v1/enrolments/<int:enrolment_id>/withdraw"): {FI},
    ("GET", "/api/v1/fee-standards"): {AD, AU, FI, PA},
    ("POST", "/api/v1/fee-standards"): {FI},
    ("POST", "/api/v1/households"): {AD, FI},
    ("GET", "/api/v1/households/<int:household_id>"): {AD, AU, FI, PA},
    ("GET", "/api/v1/households/<int:household_id>/invoices"): {AD, AU, FI, PA},
    ("GET", "/api/v1/households/<int:household_id>/payments"): {AD, AU, FI, PA},
    ("GET", "/api/v1/households/<int:household_id>/statement"): {AD, AU, FI, PA},
    ("GET", "/api/v1/households/<int:household_id>/statement.pdf"): {AD, AU, FI, PA},
    ("GET", "/api/v1/me"): EVERYONE,
    ("POST", "/api/v1/payments/<int:payment_id>/return"): {FI},
    ("POST", "/api/v1/programmes/<int:programme_id>/admit"): {FI},
    ("GET", "/api/v1/schools"): READ_ALL,
    ("POST", "/api/v1/schools"): {AD},
    ("GET", "/api/v1/schools/<school>"): READ_ALL,
    ("POST", "/api/v1/schools/<school>/billing-runs"): {FI},
    ("POST", "/api/v1/schools/<school>/close-period"): {FI},
    ("POST", "/api/v1/schools/<school>/close-year"): {FI},
    ("GET", "/api/v1/schools/<school>/compliance"): READ_ALL,
    ("POST", "/api/v1/schools/<school>/credit-applications"): {FI},
    ("GET", "/api/v1/schools/<school>/invoices"): READ_ALL,
    ("GET", "/api/v1/schools/<school>/invoices/<number>"): {AD, AU, FI, PA},
    ("GET", "/api/v1/schools/<school>/invoices/<number>.pdf"): {AD, AU, FI, PA},
    ("POST", "/api/v1/schools/<school>/invoices/<number>/cancel"): {FI},
    ("POST", "/api/v1/schools/<school>/invoices/<number>/reissue"): {FI},
    ("POST", "/api/v1/schools/<school>/overdue"): {FI},
    ("POST", "/api/v1/schools/<school>/payments"): {FI},
    ("GET", "/api/v1/schools/<school>/payments/<int:payment_id>/receipt.pdf"): {AD, AU, FI, PA},
    ("GET", "/api/v1/schools/<school>/programmes"): {AD, AU, FI, PA},
    ("POST", "/api/v1/schools/<school>/programmes"): {FI},
    ("POST", "/api/v1/schools/<school>/refunds"): {FI},
    ("GET", "/api/v1/schools/<school>/students"): READ_ALL,
    ("POST", "/api/v1/schools/<school>/students"): {FI},
    ("POST", "/api/v1/schools/<school>/subsidy-claims"): {FI},
    ("GET", "/api/v1/schools/<school>/subsidy-claims/<int:claim_id>"): READ_ALL,
    ("GET", "/api/v1/schools/<school>/subsidy-claims/<int:claim_id>.pdf"): READ_ALL,
    ("POST", "/api/v1/schools/<school>/subsidy-claims/<int:claim_id>/receipts"): {FI},
    ("GET", "/api/v1/schools/<school>/subsidy-reconciliation"): READ_ALL,
    ("GET", "/api/v1/schools/<school>/terms"): READ_ALL,
    ("POST", "/api/v1/schools/<school>/terms"): {FI},
    ("GET", "/api/v1/schools/<school>/terms/<int:term_id>/calendar"): READ_ALL,
    ("GET", "/api/v1/schools/<school>/terms/<int:term_id>/disclosure.pdf"): {AD, AU, FI, PA},
    ("POST", "/api/v1/schools/<school>/terms/<int:term_id>/calendar"): {FI},
    ("POST", "/api/v1/schools/<school>/write-offs"): {FI},
    ("POST", "/api/v1/students/<int:student_id>/hardship"): {FI},
    ("GET", "/api/v1/users"): {AD},
    ("POST", "/api/v1/users"): {AD},
    ("GET", "/api/v1/users/<int:user_id>/links"): {AD},
    ("POST", "/api/v1/users/<int:user_id>/links"): {AD},
    ("POST", "/api/v1/users/<int:user_id>/links/remove"): {AD},
    ("POST", "/api/v1/users/<int:user_id>/portal-login"): {AD},
    ("POST", "/api/v1/users/<int:user_id>/revoke"): {AD},
    ("POST", "/api/v1/users/<int:user_id>/tokens"): {AD},
    ("POST", "/api/v1/waivers"): {FI},
    ("POST", "/api/v1/waivers/<int:waiver_id>/credit"): {FI},
    ("POST", "/api/v1/waivers/<int:waiver_id>/decide"): {FI},
    ("GET", "/api/v1/write-offs/<int:write_off_id>"): READ_ALL,
    ("POST", "/api/v1/write-offs/<int:write_off_id>/decide"): {FI},
    # Money out (issue 4): finance writes, auditors and admins read, parents never;
    # teachers read their own hours and payout sheets.
    ("GET", "/api/v1/schools/<school>/staff"): READ_ALL,
    ("POST", "/api/v1/schools/<school>/staff"): {FI},
    ("GET", "/api/v1/schools/<school>/pay-rates"): READ_ALL,
    ("POST", "/api/v1/schools/<school>/pay-rates"): {FI},
    ("GET", "/api/v1/schools/<school>/service-hours"): {AD, AU, FI, TE},
    ("POST", "/api/v1/schools/<school>/service-hours"): {FI},
    ("POST", "/api/v1/service-hours/<int:hours_id>/decide"): {FI},
    ("POST", "/api/v1/schools/<school>/pay-runs"): {FI},
    ("GET", "/api/v1/staff/<int:staff_id>/payout-sheet"): {AD, AU, FI, TE},
    ("GET", "/api/v1/staff/<int:staff_id>/payout-sheet.pdf"): {AD, AU, FI, TE},
    ("GET", "/api/v1/schools/<school>/tax-withheld"): READ_ALL,
    ("GET", "/api/v1/districts/<district>/vendors"): READ_ALL,
    ("POST", "/api/v1/districts/<district>/vendors"): {FI},
    ("POST", "/api/v1/vendors/<int:vendor_id>/status"): {FI},
    ("GET", "/api/v1/schools/<school>/purchase-agreements"): READ_ALL,
    ("POST", "/api/v1/schools/<school>/purchase-agreements"): {FI},
    ("POST", "/api/v1/schools/<school>/vendor-bills"): {FI},
    ("POST", "/api/v1/schools/<school>/payout-batches"): {FI},
    ("GET", "/api/v1/payout-batches/<int:batch_id>"): READ_ALL,
    ("POST", "/api/v1/payout-batches/<int:batch_id>/pay"): {FI},
    ("POST", "/api/v1/payout-batches/<int:batch_id>/cancel"): {FI},
    ("GET", "/api/v1/payout-batches/<int:batch_id>/payroll.csv"): READ_ALL,
    ("GET", "/api/v1/payout-batches/<int:batch_id>/remittance/<int:vendor_id>.pdf"): READ_ALL,
    ("GET", "/api/v1/schools/<school>/fund-use"): READ_ALL,
    # Coverage report to the education bureau (issue 6): read like fund use.
    ("GET", "/api/v1/schools/<school>/terms/<int:term_id>/coverage"): READ_ALL,
    ("GET", "/api/v1/schools/<school>/terms/<int:term_id>/coverage.csv"): READ_ALL,
    ("GET", "/api/v1/schools/<school>/terms/<int:term_id>/coverage.pdf"): READ_ALL,
    ("GET", "/api/v1/districts/<district>/coverage"): READ_ALL,
    # Audit runs (issue 6): everyone who reads whole books runs them; finance answers findings.
    ("GET", "/api/v1/audit-rules"): READ_ALL,
    ("GET", "/api/v1/schools/<school>/audit"): READ_ALL,
    ("GET", "/api/v1/districts/<district>/audit"): READ_ALL,
    ("GET", "/api/v1/schools/<school>/audit.csv"): READ_ALL,
    ("GET", "/api/v1/schools/<school>/audit.pdf"): READ_ALL,
    ("GET", "/api/v1/districts/<district>/audit.csv"): READ_ALL,
    ("GET", "/api/v1/districts/<district>/audit.pdf"): READ_ALL,
    ("POST", "/api/v1/audit-acknowledgements"): {FI},
    # Explain a charge (issue 6): parents only their own households' charges (404 otherwise);
    # a book's entries only for those who read whole books.
    ("GET", "/api/v1/schools/<school>/charges/<int:charge_id>/explanation"): {AD, AU, FI, PA},
    ("GET", "/api/v1/books/<book>/entries/<int:entry_id>/explanation"): READ_ALL,
    # Bank statements, reconciliations and exports (issue 6): finance imports and decides,
    # auditors and admins read; parents and teachers never see bank lines or whole books.
    ("POST", "/api/v1/schools/<school>/bank-statements"): {FI},
    ("GET", "/api/v1/schools/<school>/bank-statements/<int:statement_id>"): READ_ALL,
    ("GET", "/api/v1/schools/<school>/bank-lines"): READ_ALL,
    ("POST", "/api/v1/bank-lines/<int:line_id>/assign"): {FI},
    ("POST", "/api/v1/bank-lines/<int:line_id>/ignore"): {FI},
    ("GET", "/api/v1/schools/<school>/receivables-aging"): READ_ALL,
    ("GET", "/api/v1/schools/<school>/bank-reconciliation"): READ_ALL,
    ("GET", "/api/v1/books/<book>/exports/journal.csv"): READ_ALL,
    ("GET", "/api/v1/books/<book>/exports/journal.xlsx"): READ_ALL,
    ("GET", "/api/v1/books/<book>/exports/trial-balance.csv"): READ_ALL,
    ("GET", "/api/v1/books/<book>/exports/trial-balance.xlsx"): READ_ALL,
    ("GET", "/api/v1/books/<book>/exports/book.beancount"): READ_ALL,
    # Queued batch jobs (issue 7): finance of the job's school, auditors and admins read.
    ("GET", "/api/v1/jobs/<job_id>"): READ_ALL,
}

WRITES = {"POST", "PUT", "PATCH", "DELETE"}


def _routes(app: Any) -> set[tuple[str, str]]:
    return {
        (method, rule.rule)
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/api/v1")
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }


def _url(rule: str) -> str:
    """A concrete URL for a rule: ids 1, codes ``X`` (refusals come before any lookup)."""
    return re.sub(r"<int:[^>]+>", "1", re.sub(r"<(?!int:)[^>]+>", "X", rule))


def _call(client: Any, method: str, rule: str, token: str | None) -> Any:
    headers = {"Idempotency-Key": "route-roles"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return client.open(
        _url(rule), method=method, json={} if method in WRITES else None, headers=headers
    )


def test_the_table_names_every_route(app):
    assert _routes(app) == set(TABLE)


def test_the_table_keeps_the_contract():
    for (method, rule), allowed in TABLE.items():
        if method in WRITES:
            assert AU not in allowed, f"auditors write nothing: {method} {rule}"
        if PA in allowed and method in WRITES:
            # Parents write only applications and absences for their own children.
            assert rule in (
                "/api/v1/applications",
                "/api/v1/enrolments/<int:enrolment_id>/absences",
            )
        if rule.startswith("/api/v1/users"):
            assert allowed == {AD}


@pytest.mark.parametrize(("method", "rule"), sorted(TABLE))
def test_each_role_is_refused_or_let_through_as_the_table_says(client, tokens, method, rule):
    """Left-out roles get 403; allowed ones get past the role check (any answer but 403);
    no token gets 401."""
    allowed = TABLE[(method, rule)]
    for role in ROLES:
        r = _call(client, method, rule, tokens[role])
        if role in allowed:
            assert r.status_code != 403, (role, r.status_code, r.get_json())
        else:
            assert_problem(r, 403, "forbidden")
    assert_problem(_call(client, method, rule, None), 401, "unauthenticated")
