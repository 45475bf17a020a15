"""Programmes and their 5+2 warnings, subsidy claims and receipts, closing a month and the
school year, and the district roll-up — over HTTP.

Two children are billed 1200.00 each for the term: 600.00 from the government
(1123.DS1), 200.00 from the school, 400.00 from the household (see ``term_over_http``).
"""

from __future__ import annotations

import pytest
from http_helpers import assert_problem
from term_over_http import assert_books_sound, billed_term, book_state, lines, ok


@pytest.fixture
def term(client, db, tokens, make_token):  # type: ignore[no-untyped-def]
    return billed_term(client, db, tokens, make_token)


def test_a_programme_off_the_5_plus_2_shape_is_created_with_its_warnings(term, make_token):
    fin = term.finance
    club = {
        "term": term.term,
        "kind": "enrichment",
        "name": "书法社",
        "weekdays": "135",
        "start_time": "15:30",
        "end_time": "16:30",
        "capacity": 20,
    }
    for caller in (term.auditor, term.admin, term.parent):
        assert_problem(caller.post("/api/v1/schools/S1/programmes", json=club), 403, "forbidden")
    assert_problem(term.outsider.post("/api/v1/schools/S1/programmes", json=club), 404, "not_found")
    bad = fin.post("/api/v1/schools/S1/programmes", json={**club, "end_time": "15:00"})
    assert_problem(bad, 422, "invalid_times", "end_time")
    assert_problem(
        fin.post("/api/v1/schools/S1/programmes", json={**club, "colour": "red"}),
        422,
        "invalid_input",
        "colour",
    )

    made = ok(fin.post("/api/v1/schools/S1/programmes", json=club))
    # Three days of five, one hour, ending before the district's 17:30.
    assert [w["code"] for w in made["warnings"]] == [
        "fewer_than_five_days",
        "under_two_hours",
        "ends_before_end_of_work",
    ]
    assert made["weekdays"] == "135" and made["end_time"] == "16:30"

    listed = ok(fin.get("/api/v1/schools/S1/programmes"), 200)["items"]
    assert [(p["name"], len(p["warnings"])) for p in listed] == [("基本托管", 0), ("书法社", 3)]
    # A guardian whose child is at the school may look (to apply); another may not.
    assert len(ok(term.parent.get("/api/v1/schools/S1/programmes"), 200)["items"]) == 2
    assert_problem(
        term.parent.as_(make_token("parent")).get("/api/v1/schools/S1/programmes"),
        404,
        "not_found",
    )

    listing = ok(term.auditor.get("/api/v1/schools/S1/compliance"), 200)
    assert listing["end_of_work"] == "17:30" and listing["with_warnings"] == 1
    assert [(p["name"], p["compliant"]) for p in listing["programmes"]] == [
        ("基本托管", True),
        ("书法社", False),
    ]
    # Together the term still has the 5+2 shape: basic care runs 15:30–17:30 every weekday.
    [shape] = listing["terms"]
    assert shape["compliant"] is True and shape["warnings"] == []
    assert_problem(term.parent.get("/api/v1/schools/S1/compliance"), 403, "forbidden")
    assert_problem(term.outsider.get("/api/v1/schools/S1/compliance"), 404, "not_found")


def test_a_claim_is_received_in_parts_never_above_what_was_claimed(term):
    fin = term.finance
    period = {"period_start": "2026-09-01", "period_end": "2027-01-15", "claimed_on": "2026-09-05"}
    assert_problem(
        term.auditor.post("/api/v1/schools/S1/subsidy-claims", json=period), 403, "forbidden"
    )
    assert_problem(
        term.outsider.post("/api/v1/schools/S1/subsidy-claims", json=period), 404, "not_found"
    )
    claim = ok(fin.post("/api/v1/schools/S1/subsidy-claims", json=period))
    assert claim["number"] == "S1-SC-2026-0001"
    assert (claim["claimed"], claim["received"], claim["outstanding"]) == (
        "1200.00",
        "0.00",
        "1200.00",
    )
    assert sorted((s["name"], s["claimed"]) for s in claim["students"]) == [
        ("乙", "600.00"),
        ("甲", "600.00"),
    ]
    assert_problem(
        fin.post("/api/v1/schools/S1/subsidy-claims", json=period), 422, "nothing_to_claim"
    )

    receipts = f"/api/v1/schools/S1/subsidy-claims/{claim['id']}/receipts"
    first = {"amount": "700.00", "received_on": "2026-10-15", "reference": "财拨-01"}
    assert_problem(fin.post(receipts, json=first), 422, "idempotency_key_required")
    assert_problem(term.admin.post(receipts, json=first, key="g-1"), 403, "forbidden")
    got = ok(fin.post(receipts, json=first, key="g-1"))
    assert got["amount"] == "700.00"
    again = ok(fin.post(receipts, json=first, key="g-1"), 200)
    assert again["id"] == got["id"]
    before = book_state(fin)
    # 1200.00 − 700.00 = 500.00 is outstanding: 600.00 is too much.
    r = fin.post(receipts, json={**first, "amount": "600.00"}, key="g-2")
    assert_problem(r, 422, "receipt_exceeds_claim", "amount")
    assert book_state(fin) == before
    ok(fin.post(receipts, json={**first, "amount": "500.00"}, key="g-3"))

    done = ok(term.auditor.get(f"/api/v1/schools/S1/subsidy-claims/{claim['id']}"), 200)
    assert (done["status"], done["received"], done["outstanding"]) == (
        "received",
        "1200.00",
        "0.00",
    )
    assert done["differences"] == []
    rec = ok(fin.get("/api/v1/schools/S1/subsidy-reconciliation"), 200)
    assert (rec["claimed"], rec["received"], rec["books_balance"], rec["unexplained"]) == (
        "1200.00",
        "1200.00",
        "0.00",
        "0.00",
    )
    assert_problem(term.parent.get("/api/v1/schools/S1/subsidy-reconciliation"), 403, "forbidden")
    assert lines(fin)["1002"]["debit"] == "1200.00"
    assert_books_sound(term.auditor)


def test_closing_a_month_then_the_year_moves_the_result_to_net_assets(term, make_token):
    fin = term.finance
    body = {"term": term.term, "month": "2026-09"}
    assert_problem(
        fin.post("/api/v1/schools/S1/close-period", json=body), 422, "idempotency_key_required"
    )
    assert_problem(
        term.auditor.post("/api/v1/schools/S1/close-period", json=body, key="k"), 403, "forbidden"
    )
    assert_problem(
        term.outsider.post("/api/v1/schools/S1/close-period", json=body, key="k"), 404, "not_found"
    )
    closed = ok(fin.post("/api/v1/schools/S1/close-period", json=body, key="sep"))
    assert [(p["start"], p["end"], p["is_closed"]) for p in closed["periods"]] == [
        ("2026-09-01", "2026-09-30", True)
    ]
    assert closed["term_closed"] is False
    assert ok(fin.post("/api/v1/schools/S1/close-period", json=body, key="sep"), 200) == closed
    assert_problem(
        fin.post("/api/v1/schools/S1/close-period", json=body, key="sep-2"),
        409,
        "span_already_closed",
    )
    # Nothing may be dated in September any more.
    before = book_state(fin)
    pay = {
        "household": term.home_a,
        "amount": "400.00",
        "received_on": "2026-09-20",
        "method": "cash",
    }
    assert_problem(
        fin.post("/api/v1/schools/S1/payments", json=pay, key="late"), 422, "period_closed"
    )
    assert book_state(fin) == before
    ok(fin.post("/api/v1/schools/S1/payments", json={**pay, "received_on": "2026-10-09"}, key="p"))

    # The year's result, worked out from the trial balance before closing.
    tb = lines(fin)
    cents = {
        code: int(line["credit"].replace(".", "")) - int(line["debit"].replace(".", ""))
        for code, line in tb.items()
    }
    revenue = sum(v for c, v in cents.items() if c.startswith("4"))
    expense = -sum(v for c, v in cents.items() if c.startswith("5"))
    assert revenue == 2 * 120000 - sum(v for c, v in cents.items() if c.startswith("4901"))
    result = revenue - expense

    year = {"year_start": "2026-09-01", "year_end": "2027-08-31"}
    assert_problem(
        term.admin.post("/api/v1/schools/S1/close-year", json=year, key="y"), 403, "forbidden"
    )
    closing = ok(fin.post("/api/v1/schools/S1/close-year", json=year, key="y-1"))
    assert int(closing["net_result"].replace(".", "").replace("-", "")) == abs(result)
    assert closing["entry"] is not None
    assert closing["periods"][0]["start"] == "2026-09-01"
    assert closing["periods"][-1]["end"] == "2027-08-31"
    assert all(p["is_closed"] for p in closing["periods"])
    assert ok(fin.post("/api/v1/schools/S1/close-year", json=year, key="y-1"), 200) == closing
    assert_problem(
        fin.post("/api/v1/schools/S1/close-year", json=year, key="y-2"),
        409,
        "year_already_closed",
    )
    after = lines(fin)
    assert all(line["debit"] == line["credit"] for code, line in after.items() if code[0] in "45")
    net = after["3001"]
    assert (net["credit"] if result >= 0 else net["debit"]) == closing["net_result"].lstrip("-")
    assert_books_sound(term.auditor)

    # The district roll-up: S1's trial balance, and the district total.
    rollup = ok(term.auditor.get("/api/v1/districts/DS1/rollup?as_of=2027-08-31"), 200)
    assert [s["school"] for s in rollup["schools"]] == ["S1"]
    assert rollup["total_debit"] == rollup["total_credit"] == rollup["schools"][0]["total_debit"]
    summary = {line["code"]: line for line in rollup["total"]}
    assert summary["1122"]["debit"] == "400.00"  # B's invoice; A paid
    assert summary["1123"]["debit"] == "1200.00"
    assert ok(fin.get("/api/v1/districts/DS1/rollup"), 200)["district"] == "DS1"
    assert_problem(term.outsider.get("/api/v1/districts/DS1/rollup"), 404, "not_found")
    assert_problem(term.parent.get("/api/v1/districts/DS1/rollup"), 403, "forbidden")
    assert_problem(
        term.auditor.get("/api/v1/districts/DS1/rollup?asof=2027-01-01"), 422, "invalid_input"
    )
    stranger = term.finance.as_(make_token("finance"))
    assert_problem(stranger.get("/api/v1/districts/DS1/rollup"), 404, "not_found")


def test_the_new_routes_are_documented_in_the_openapi(client):
    spec = ok(client.get("/api/openapi.json"), 200)
    paths = spec["paths"]
    for path, method in (
        ("/api/v1/schools/{school}/programmes", "post"),
        ("/api/v1/schools/{school}/compliance", "get"),
        ("/api/v1/schools/{school}/close-period", "post"),
        ("/api/v1/schools/{school}/close-year", "post"),
        ("/api/v1/districts/{district}/rollup", "get"),
        ("/api/v1/schools/{school}/subsidy-claims", "post"),
        ("/api/v1/schools/{school}/subsidy-claims/{claim_id}", "get"),
        ("/api/v1/schools/{school}/subsidy-claims/{claim_id}/receipts", "post"),
        ("/api/v1/schools/{school}/subsidy-reconciliation", "get"),
        ("/api/v1/schools/{school}/refunds", "post"),
        ("/api/v1/payments/{payment_id}/return", "post"),
        ("/api/v1/schools/{school}/invoices/{number}/cancel", "post"),
        ("/api/v1/schools/{school}/invoices/{number}/reissue", "post"),
        ("/api/v1/waivers/{waiver_id}/credit", "post"),
        ("/api/v1/schools/{school}/write-offs", "post"),
        ("/api/v1/write-offs/{write_off_id}/decide", "post"),
        ("/api/v1/schools/{school}/overdue", "post"),
    ):
        assert path in paths, path
        assert paths[path][method].get("description"), (path, method)
    receipt = spec["components"]["schemas"]["ReceiptIn"]["properties"]["amount"]
    assert receipt["type"] == "string"
