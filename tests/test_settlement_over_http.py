"""Settling a term's invoices over HTTP: refunds, a returned payment, cancel and reissue,
a late waiver, a small write-off with four eyes, and overdue invoices.

Each invoice asks 400.00 (see ``term_over_http``). Household A pays 450.00 and
has 50.00 of credit; household B gets a 50 % waiver after billing and pays all
but 0.05 of what is left.
"""

from __future__ import annotations

import pytest
from http_helpers import assert_problem
from term_over_http import assert_books_sound, billed_term, book_state, invoice, lines, ok


@pytest.fixture
def term(client, db, tokens, make_token):  # type: ignore[no-untyped-def]
    return billed_term(client, db, tokens, make_token)


def pay(term, household: int, amount: str, key: str, on: str = "2026-09-10"):  # type: ignore[no-untyped-def]
    body = {"household": household, "amount": amount, "received_on": on, "method": "wechat"}
    return ok(term.finance.post("/api/v1/schools/S1/payments", json=body, key=key))


def test_refunds_only_what_the_household_holds_and_only_once(term):
    fin = term.finance
    paid = pay(term, term.home_a, "450.00", "pay-a")
    assert paid["to_credit"] == "50.00"
    refund = {
        "household": term.home_a,
        "amount": "30.00",
        "paid_on": "2026-09-12",
        "method": "bank_transfer",
    }
    before = book_state(fin)
    # 60.00 is more than the 50.00 held.
    r = fin.post("/api/v1/schools/S1/refunds", json={**refund, "amount": "60.00"}, key="r-0")
    assert_problem(r, 422, "refund_exceeds_credit", "amount")
    r = fin.post("/api/v1/schools/S1/refunds", json={**refund, "paid_from": "2202"}, key="r-0")
    assert_problem(r, 422, "refund_not_from_school_account")
    assert_problem(
        fin.post("/api/v1/schools/S1/refunds", json=refund), 422, "idempotency_key_required"
    )
    for caller in (term.parent, term.auditor, term.admin):
        assert_problem(
            caller.post("/api/v1/schools/S1/refunds", json=refund, key="r-x"), 403, "forbidden"
        )
    assert_problem(
        term.outsider.post("/api/v1/schools/S1/refunds", json=refund, key="r-x"), 404, "not_found"
    )
    assert book_state(fin) == before

    done = ok(fin.post("/api/v1/schools/S1/refunds", json=refund, key="r-1"))
    assert (done["amount"], done["credit_left"]) == ("30.00", "20.00")  # 50.00 − 30.00
    again = ok(fin.post("/api/v1/schools/S1/refunds", json=refund, key="r-1"), 200)
    assert again["id"] == done["id"] and again["entry"] == done["entry"]
    clash = fin.post("/api/v1/schools/S1/refunds", json={**refund, "amount": "1.00"}, key="r-1")
    assert clash.status_code == 409
    tb = lines(fin)
    assert tb["1002"]["debit"] == "420.00"  # 450.00 in, 30.00 out
    assert tb[f"2241.H{term.home_a}"]["credit"] == "20.00"

    # A payment whose credit was refunded in cash cannot be returned: nothing is written.
    before = book_state(fin)
    r = fin.post(
        f"/api/v1/payments/{paid['id']}/return",
        json={"returned_on": "2026-09-20", "reason": "bounced"},
        key="ret-a",
    )
    assert_problem(r, 422, "returned_payment_credit_refunded")
    assert book_state(fin) == before
    assert_books_sound(term.auditor)


def test_cancel_and_reissue_carry_what_was_paid(term):
    fin = term.finance
    pay(term, term.home_a, "450.00", "pay-a")
    path = f"/api/v1/schools/S1/invoices/{term.invoice_a}"
    cancel = {"on": "2026-10-01", "reason": "wrong programme on the invoice"}
    assert_problem(fin.post(f"{path}/cancel", json=cancel), 422, "idempotency_key_required")
    assert_problem(term.auditor.post(f"{path}/cancel", json=cancel, key="c"), 403, "forbidden")
    assert_problem(term.outsider.post(f"{path}/cancel", json=cancel, key="c"), 404, "not_found")
    before = book_state(fin)
    assert_problem(
        fin.post(f"{path}/reissue", json={"issued_on": "2026-10-02"}, key="re-0"),
        422,
        "invoice_not_cancelled",
    )
    assert book_state(fin) == before

    cancelled = ok(fin.post(f"{path}/cancel", json=cancel, key="c-1"))
    assert cancelled["invoice"]["status"] == "cancelled"
    assert cancelled["invoice"]["outstanding"] == "0.00"
    replay = ok(fin.post(f"{path}/cancel", json=cancel, key="c-1"), 200)
    assert replay == cancelled
    # The same key with another body is not a retry: refused, nothing written.
    before = book_state(fin)
    other = {"on": "2026-10-01", "reason": "another reason"}
    r = fin.post(f"{path}/cancel", json=other, key="c-1")
    assert_problem(r, 409, "idempotency_key_reused")
    assert book_state(fin) == before
    before = book_state(fin)
    assert_problem(
        fin.post(f"{path}/cancel", json=cancel, key="c-2"), 409, "invoice_already_cancelled"
    )
    assert book_state(fin) == before
    # The 400.00 paid went to credit: 50.00 + 400.00.
    assert lines(fin)[f"2241.H{term.home_a}"]["credit"] == "450.00"

    reissued = ok(fin.post(f"{path}/reissue", json={"issued_on": "2026-10-02"}, key="re-1"))
    assert reissued["cancelled"] == term.invoice_a
    assert reissued["charges"] == 1 and reissued["carried"] == "400.00"
    new = reissued["invoice"]
    assert (new["amount"], new["outstanding"], new["status"]) == ("400.00", "0.00", "paid")
    assert new["number"] not in (term.invoice_a, term.invoice_b)
    assert ok(fin.post(f"{path}/reissue", json={"issued_on": "2026-10-02"}, key="re-1"), 200) == (
        reissued
    )
    assert_problem(
        fin.post(f"{path}/reissue", json={"issued_on": "2026-10-02"}, key="re-2"),
        409,
        "invoice_already_reissued",
    )
    tb = lines(fin)
    assert tb[f"2241.H{term.home_a}"]["credit"] == "50.00"
    # The parent sees the new invoice; the auditor reads the book, both balanced.
    mine = ok(term.parent.get(f"/api/v1/households/{term.home_a}/invoices"), 200)["items"]
    assert {i["number"]: i["status"] for i in mine} == {
        term.invoice_a: "cancelled",
        new["number"]: "paid",
    }
    assert_books_sound(term.auditor)


def test_a_late_waiver_a_write_off_a_returned_payment_and_overdue(term):
    fin, second = term.finance, term.second
    waiver = ok(
        fin.post(
            "/api/v1/waivers",
            json={
                "student": term.student_b,
                "percent": "50",
                "reason": "低保",
                "evidence_ref": "民政-2026-17",
                "valid_from": "2026-09-01",
                "valid_to": "2027-01-15",
            },
        )
    )
    credit = {"effective": "2026-09-20"}
    before = book_state(fin)
    assert_problem(
        fin.post(f"/api/v1/waivers/{waiver['id']}/credit", json=credit, key="w-0"),
        422,
        "waiver_not_approved",
    )
    assert book_state(fin) == before
    ok(second.post(f"/api/v1/waivers/{waiver['id']}/decide", json={"approve": True}), 200)
    assert_problem(
        term.outsider.post(f"/api/v1/waivers/{waiver['id']}/credit", json=credit, key="w-1"),
        404,
        "not_found",
    )
    credited = ok(fin.post(f"/api/v1/waivers/{waiver['id']}/credit", json=credit, key="w-1"))
    [record] = credited["items"]
    # Half of the 400.00 parent share, taken over by the government.
    assert (record["household"], record["to_invoice"]) == ("200.00", "200.00")
    assert ok(fin.post(f"/api/v1/waivers/{waiver['id']}/credit", json=credit, key="w-1"), 200) == (
        credited
    )
    assert invoice(fin, term.invoice_b)["outstanding"] == "200.00"

    paid = pay(term, term.home_b, "199.95", "pay-b")
    assert invoice(fin, term.invoice_b)["outstanding"] == "0.05"

    # Four eyes: the requester cannot approve; 0.06 is more than owed.
    body = {"household": term.home_b, "amount": "0.06", "reason": "少不补"}
    assert_problem(
        fin.post("/api/v1/schools/S1/write-offs", json=body),
        422,
        "write_off_exceeds_receivable",
    )
    asked = ok(fin.post("/api/v1/schools/S1/write-offs", json={**body, "amount": None}))
    assert (asked["amount"], asked["status"]) == ("0.05", "requested")
    decide = {"approve": True, "on": "2026-09-30"}
    before = book_state(fin)
    assert_problem(
        fin.post(f"/api/v1/write-offs/{asked['id']}/decide", json=decide, key="d-0"),
        422,
        "same_approver",
    )
    assert_problem(
        term.auditor.post(f"/api/v1/write-offs/{asked['id']}/decide", json=decide, key="d-0"),
        403,
        "forbidden",
    )
    assert_problem(
        term.outsider.post(f"/api/v1/write-offs/{asked['id']}/decide", json=decide, key="d-0"),
        404,
        "not_found",
    )
    assert book_state(fin) == before
    approved = ok(
        second.post(f"/api/v1/write-offs/{asked['id']}/decide", json=decide, key="d-1"), 200
    )
    assert approved["status"] == "approved"
    assert approved["lines"] == [{"invoice": term.invoice_b, "amount": "0.05"}]
    assert (
        ok(second.post(f"/api/v1/write-offs/{asked['id']}/decide", json=decide, key="d-1"), 200)
        == approved
    )
    assert_problem(
        second.post(f"/api/v1/write-offs/{asked['id']}/decide", json=decide, key="d-2"),
        409,
        "write_off_decided",
    )
    assert ok(term.auditor.get(f"/api/v1/write-offs/{asked['id']}"), 200) == approved
    assert invoice(fin, term.invoice_b)["status"] == "paid"
    assert lines(fin)["5901"]["debit"] == "0.05"

    # The 199.95 bounces: the invoice asks for it again.
    back = {"returned_on": "2026-10-08", "reason": "退票: account closed"}
    assert_problem(
        term.parent.post(f"/api/v1/payments/{paid['id']}/return", json=back, key="b-1"),
        403,
        "forbidden",
    )
    returned = ok(fin.post(f"/api/v1/payments/{paid['id']}/return", json=back, key="b-1"))
    assert returned["amount"] == "199.95"
    [reopened] = returned["reopened"]
    assert (reopened["invoice"], reopened["outstanding"]) == (term.invoice_b, "199.95")
    again = ok(fin.post(f"/api/v1/payments/{paid['id']}/return", json=back, key="b-1"), 200)
    assert again["entry"] == returned["entry"]
    assert_problem(
        fin.post(f"/api/v1/payments/{paid['id']}/return", json=back, key="b-2"),
        409,
        "payment_already_returned",
    )

    # Due on 2026-09-16 (15 days after issue): overdue by the new year, A's paid one is not.
    pay(term, term.home_a, "400.00", "pay-a")
    assert_problem(
        term.auditor.post("/api/v1/schools/S1/overdue", json={"as_of": "2027-01-01"}),
        403,
        "forbidden",
    )
    marked = ok(fin.post("/api/v1/schools/S1/overdue", json={"as_of": "2027-01-01"}), 200)
    assert [(i["number"], i["status"], i["outstanding"]) for i in marked["items"]] == [
        (term.invoice_b, "overdue", "199.95")
    ]
    assert (
        ok(fin.post("/api/v1/schools/S1/overdue", json={"as_of": "2027-01-01"}), 200)["items"] == []
    )

    tb = lines(fin)
    assert tb["1002"]["debit"] == "400.00"  # A's 400.00; B's 199.95 came back
    assert tb[f"1122.H{term.home_b}"]["debit"] == "199.95"
    assert tb["1123.DS1"]["debit"] == "1400.00"  # 600.00 × 2 + B's waived 200.00
    assert_books_sound(term.auditor)


def test_household_credit_is_applied_to_a_reopened_invoice(term):
    fin = term.finance
    first = pay(term, term.home_a, "400.00", "pay-1")
    assert invoice(fin, term.invoice_a)["status"] == "paid"
    extra = pay(term, term.home_a, "100.00", "pay-2", on="2026-09-11")
    assert extra["to_credit"] == "100.00"
    ok(
        fin.post(
            f"/api/v1/payments/{first['id']}/return",
            json={"returned_on": "2026-09-15", "reason": "bounced"},
            key="ret-1",
        )
    )
    reopened = invoice(fin, term.invoice_a)
    assert (reopened["status"], reopened["outstanding"]) == ("issued", "400.00")
    # The parent sees both payments, the first one marked returned; not another household's.
    mine = ok(term.parent.get(f"/api/v1/households/{term.home_a}/payments"), 200)["items"]
    assert [(p["amount"], p["returned"], p["to_credit"]) for p in mine] == [
        ("400.00", True, "0.00"),
        ("100.00", False, "100.00"),
    ]
    assert mine[0]["allocations"] == [{"invoice": term.invoice_a, "amount": "400.00"}]
    r = term.parent.get(f"/api/v1/households/{term.home_b}/payments")
    assert_problem(r, 404, "not_found")
    assert lines(fin)[f"2241.H{term.home_a}"]["credit"] == "100.00"

    path = "/api/v1/schools/S1/credit-applications"
    body = {"household": term.home_a, "on": "2026-09-16"}
    before = book_state(fin)
    assert_problem(
        fin.post(path, json={**body, "amount": "100.01"}, key="ap-0"),
        422,
        "credit_exceeds_balance",
        "amount",
    )
    assert_problem(fin.post(path, json=body), 422, "idempotency_key_required")
    for caller in (term.parent, term.auditor, term.admin):
        assert_problem(caller.post(path, json=body, key="ap-x"), 403, "forbidden")
    assert_problem(term.outsider.post(path, json=body, key="ap-x"), 404, "not_found")
    assert book_state(fin) == before

    applied = ok(fin.post(path, json={**body, "amount": "60.00"}, key="ap-1"))
    assert [(i["invoice"], i["amount"]) for i in applied["items"]] == [(term.invoice_a, "60.00")]
    assert (applied["applied"], applied["credit_left"]) == ("60.00", "40.00")
    assert ok(fin.post(path, json={**body, "amount": "60.00"}, key="ap-1"), 200) == applied
    assert_problem(fin.post(path, json=body, key="ap-1"), 409, "idempotency_key_reused")
    rest = ok(fin.post(path, json=body, key="ap-2"))
    assert (rest["applied"], rest["credit_left"]) == ("40.00", "0.00")
    after = invoice(fin, term.invoice_a)
    assert (after["status"], after["outstanding"]) == ("partially_paid", "300.00")
    nothing = ok(fin.post(path, json=body, key="ap-3"))
    assert (nothing["items"], nothing["applied"]) == ([], "0.00")
    assert_books_sound(term.auditor)


def test_the_write_off_limit_is_a_setting(term, app):
    fin = term.finance
    pay(term, term.home_b, "399.95", "pay-b")
    body = {"household": term.home_b, "reason": "少不补"}
    app.config["WRITE_OFF_LIMIT"] = "0.04"
    before = book_state(fin)
    r = fin.post("/api/v1/schools/S1/write-offs", json=body)
    assert_problem(r, 422, "write_off_above_limit")
    assert "at most 4 fen" in r.get_json()["detail"]
    assert book_state(fin) == before
    app.config["WRITE_OFF_LIMIT"] = "0.05"
    assert ok(fin.post("/api/v1/schools/S1/write-offs", json=body))["amount"] == "0.05"


@pytest.mark.parametrize("limit", ["ten", "1.001", "-1.00", "1e3"])
def test_a_malformed_write_off_limit_stops_the_app_from_starting(limit):
    from api import create_app

    with pytest.raises(ValueError, match="KEHOU_WRITE_OFF_LIMIT"):
        create_app({"WRITE_OFF_LIMIT": limit, "DATABASE_URL": "sqlite://"})
