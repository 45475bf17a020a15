"""September 2026 at school S1, money out, over HTTP: hours logged and approved, the stipend
and labour-fee run, hours approved late, vendor bills, payouts — and every refusal.

The school (see ``term_over_http``) billed its term: 1,200.00 from the
government, 400.00 from the school and 800.00 from two households, who pay.
The fund carried over 10,000.00 from last year. 中秋节, Friday 2026-09-25, is
a holiday. The programme runs 15:30–17:30, Monday to Friday.

- 王老师, a teacher, 50.00 an hour: ten 2-hour sessions = 1,000.00, paid to payroll.
- 李教练, external, 200.00 an hour: ten 1.5-hour sessions = 3,000.00 in one payment:
  taxable 3,000 − 800 = 2,200, tax 440.00, net 2,560.00. Two more sessions
  (600.00) are approved after the run: the month is 3,600.00, taxable 2,800,
  tax 560.00, so 120.00 more is withheld and 480.00 paid.
- 赵阿姨, a volunteer, logs hours that are never paid.
- 绿茵体育, whitelisted at 80.00 a session, agreed at 75.00 (cap 1,000.00): ten
  sessions billed = 750.00.
"""

from __future__ import annotations

import pytest
from http_helpers import assert_problem, body
from term_over_http import assert_books_sound, billed_term, book_state, lines, link, ok

SEPT = [f"2026-09-{d:02d}" for d in (1, 2, 3, 4, 7, 8, 9, 10, 11, 14)]
GREEN = "91330100716105852F"  # a real code: its check character fits
OTHER = "914403001922038216"
THIRD = "9144030071526726XG"


@pytest.fixture
def term(client, db, tokens, make_token):  # type: ignore[no-untyped-def]
    return billed_term(client, db, tokens, make_token)


def _debit(tb: dict, code: str) -> str:
    line = tb.get(code)
    return line["debit"] if line else "0.00"


def _credit(tb: dict, code: str) -> str:
    line = tb.get(code)
    return line["credit"] if line else "0.00"


def test_a_month_of_money_out(term, tokens):
    fin = term.finance
    s = "/api/v1/schools/S1"
    # Money in: the households pay, the fund carried over from last year.
    for home, key in ((term.home_a, "pa"), (term.home_b, "pb")):
        pay = {"household": home, "amount": "400.00", "received_on": "2026-09-05", "method": "cash"}
        ok(fin.post(f"{s}/payments", json=pay, key=key))
    carried = body(("1002", "debit", "10000.00"), ("3001", "credit", "10000.00"), memo="上年结转")
    ok(fin.post("/api/v1/books/S1/entries", json=carried, key="carried"))
    ok(
        fin.post(
            f"{s}/terms/{term.term}/calendar",
            json={"day": "2026-09-25", "kind": "holiday", "note": "中秋节"},
        ),
        200,
    )

    # Staff and rates.
    wang = ok(fin.post(f"{s}/staff", json={"name": "王老师", "kind": "teacher"}))
    li = ok(
        fin.post(
            f"{s}/staff",
            json={
                "name": "李教练",
                "kind": "external",
                "id_type": "resident_id",
                "id_number": "110101199001011234",
            },
        )
    )
    zhao = ok(fin.post(f"{s}/staff", json={"name": "赵阿姨", "kind": "volunteer"}))
    assert li["id_number"] == "110101199001011234"  # finance sees it whole
    listed = ok(term.auditor.get(f"{s}/staff"), 200)["items"]
    assert {m["name"]: m["id_number"] for m in listed}["李教练"] == "110***********1234"
    rate = {"programme_kind": "basic_care", "unit": "hour"}
    span = {"valid_from": "2026-09-01", "valid_to": "2027-01-15"}
    ok(
        fin.post(
            f"{s}/pay-rates", json={**rate, **span, "staff_kind": "teacher", "amount": "50.00"}
        )
    )
    ok(
        fin.post(
            f"{s}/pay-rates", json={**rate, **span, "staff_kind": "external", "amount": "200.00"}
        )
    )

    def log(staff, day, start="15:30", end="17:30"):  # type: ignore[no-untyped-def]
        hours = {"staff": staff, "programme": term.programme, "day": day}
        return fin.post(f"{s}/service-hours", json={**hours, "start": start, "end": end})

    def approve(hours_id):  # type: ignore[no-untyped-def]
        return ok(fin.post(f"/api/v1/service-hours/{hours_id}/decide", json={"approve": True}), 200)

    for day in SEPT:
        approve(ok(log(wang["id"], day))["id"])
        approve(ok(log(li["id"], day, end="17:00"))["id"])
    approve(ok(log(zhao["id"], "2026-09-01"))["id"])
    late = [ok(log(li["id"], day, end="17:00"))["id"] for day in ("2026-09-15", "2026-09-16")]

    # Refused, nothing written: a holiday, an overlap, beyond the session.
    before = book_state(fin)
    count = len(ok(fin.get(f"{s}/service-hours?month=2026-09"), 200)["items"])
    assert_problem(log(wang["id"], "2026-09-25"), 422, "not_a_service_day", "day")
    assert_problem(log(wang["id"], "2026-09-26"), 422, "not_a_service_day", "day")  # Saturday
    assert_problem(log(wang["id"], "2026-09-01", "16:00", "17:00"), 409, "overlapping_session")
    assert_problem(log(wang["id"], "2026-09-17", "17:00", "18:00"), 422, "outside_session", "end")
    assert len(ok(fin.get(f"{s}/service-hours?month=2026-09"), 200)["items"]) == count
    assert book_state(fin) == before

    # The run: one line per person; 赵阿姨 is not paid; 李教练's late hours are not approved yet.
    run_body = {"month": "2026-09", "on": "2026-09-30"}
    assert_problem(fin.post(f"{s}/pay-runs", json=run_body), 422, "idempotency_key_required")
    run = ok(fin.post(f"{s}/pay-runs", json=run_body, key="run-1"))
    by_staff = {line["staff"]: line for line in run["lines"]}
    assert set(by_staff) == {wang["id"], li["id"]}
    w, lf = by_staff[wang["id"]], by_staff[li["id"]]
    assert (w["kind"], w["minutes"], w["gross"], w["tax"], w["net"]) == (
        "stipend",
        1200,
        "1000.00",
        "0.00",
        "1000.00",
    )
    assert (lf["kind"], lf["gross"], lf["taxable"], lf["tax"], lf["net"]) == (
        "labour_fee",
        "3000.00",
        "2200",
        "440.00",
        "2560.00",
    )
    assert ok(fin.post(f"{s}/pay-runs", json=run_body, key="run-1"), 200) == run
    again = ok(fin.post(f"{s}/pay-runs", json=run_body, key="run-2"))
    assert (again["lines"], again["already_paid_sessions"]) == ([], 20)

    # Hours approved late: taxed as part of September's one payment.
    for hours_id in late:
        approve(hours_id)
    late_run = ok(fin.post(f"{s}/pay-runs", json=run_body, key="run-3"))
    [extra] = late_run["lines"]
    assert (extra["gross"], extra["tax"], extra["net"]) == ("600.00", "120.00", "480.00")
    assert (extra["month_gross"], extra["month_tax"], extra["taxable"]) == (
        "3600.00",
        "560.00",
        "2800",
    )
    report = ok(term.auditor.get(f"{s}/tax-withheld?month=2026-09"), 200)
    assert [
        (i["name"], i["gross"], i["taxable"], i["tax"], i["net"], i["payments"], i["id_number"])
        for i in report["items"]
    ] == [("李教练", "3600.00", "2800", "560.00", "3040.00", 2, "110***********1234")]

    # Vendors: the district's whitelist, the school's agreement, bills.
    vendor = {
        "qualification": "体育类培训资质",
        "services": "足球",
        "approved_price": "80.00",
        "price_unit": "session",
        "valid_from": "2026-09-01",
        "valid_to": "2026-12-31",
    }
    bad = fin.post(
        "/api/v1/districts/DS1/vendors", json={**vendor, "name": "X", "uscc": GREEN[:-1] + "0"}
    )
    assert_problem(bad, 422, "invalid_uscc", "uscc")
    assert ok(fin.get("/api/v1/districts/DS1/vendors"), 200)["items"] == []
    green = ok(
        fin.post(
            "/api/v1/districts/DS1/vendors", json={**vendor, "name": "绿茵体育", "uscc": GREEN}
        )
    )
    other = ok(
        fin.post("/api/v1/districts/DS1/vendors", json={**vendor, "name": "乙", "uscc": OTHER})
    )
    third = ok(
        fin.post("/api/v1/districts/DS1/vendors", json={**vendor, "name": "丙", "uscc": THIRD})
    )
    agreement = {
        "programme": term.programme,
        "reference": "S1-采购-2026-07",
        "unit": "session",
        "start": "2026-09-01",
        "end": "2026-12-31",
    }
    r = fin.post(
        f"{s}/purchase-agreements", json={**agreement, "vendor": green["id"], "price": "80.01"}
    )
    assert_problem(r, 422, "price_above_whitelist", "price")
    ok(
        fin.post(
            f"{s}/purchase-agreements",
            json={**agreement, "vendor": green["id"], "price": "75.00", "cap": "1000.00"},
        )
    )
    ok(
        fin.post(
            f"{s}/purchase-agreements", json={**agreement, "vendor": other["id"], "price": "70.00"}
        )
    )
    ok(
        fin.post(
            f"/api/v1/vendors/{other['id']}/status",
            json={"status": "suspended", "effective": "2026-09-20", "reason": "安全检查未通过"},
        ),
        200,
    )
    # A vendor of another district: not on S1's whitelist.
    outside = ok(
        term.outsider.post(
            "/api/v1/districts/DS2/vendors", json={**vendor, "name": "丁", "uscc": GREEN}
        )
    )

    def bill(vendor_id, ref, day="2026-09-30", qty=10, price="75.00"):  # type: ignore[no-untyped-def]
        b = {
            "vendor": vendor_id,
            "reference": ref,
            "service_date": day,
            "quantity": qty,
            "unit_price": price,
        }
        return fin.post(f"{s}/vendor-bills", json=b, key=f"bill-{ref}")

    before = book_state(fin)
    assert_problem(bill(outside["id"], "o-1"), 422, "vendor_not_whitelisted", "vendor")
    assert_problem(bill(other["id"], "s-1", price="70.00"), 422, "vendor_suspended", "vendor")
    assert_problem(bill(green["id"], "d-1", day="2027-01-05"), 422, "vendor_out_of_dates")
    assert_problem(bill(third["id"], "n-1"), 422, "no_agreement", "agreement")
    assert_problem(bill(green["id"], "p-1", price="75.01"), 422, "above_agreed_price", "unit_price")
    assert_problem(bill(green["id"], "c-1", qty=14), 422, "agreement_cap_exceeded", "quantity")
    assert book_state(fin) == before
    # Before the suspension the suspended vendor could bill; it is owed nothing here.
    billed = ok(bill(green["id"], "G-2026-09"))
    assert (billed["quantity"], billed["amount"]) == (10, "750.00")
    assert ok(bill(green["id"], "G-2026-09"), 200) == billed

    # Payouts: vendor and labour fee by bank, the stipend to payroll, then the tax.
    batches = f"{s}/payout-batches"
    first = ok(
        fin.post(
            batches,
            json={
                "method": "bank_transfer",
                "items": [
                    {"source": "pay_line", "id": lf["id"]},
                    {"source": "vendor_bill", "id": billed["id"]},
                ],
            },
        )
    )
    assert (first["status"], first["total"]) == ("draft", "3310.00")
    paid = ok(
        fin.post(
            f"/api/v1/payout-batches/{first['id']}/pay", json={"paid_on": "2026-10-08"}, key="pay-1"
        ),
        200,
    )
    assert paid["status"] == "paid" and paid["entry"] is not None
    before = book_state(fin)
    twice = fin.post(
        batches, json={"method": "bank_transfer", "items": [{"source": "pay_line", "id": lf["id"]}]}
    )
    assert_problem(twice, 409, "already_paid", "items")
    assert_problem(
        fin.post(
            f"/api/v1/payout-batches/{first['id']}/pay", json={"paid_on": "2026-10-09"}, key="pay-2"
        ),
        409,
        "batch_already_paid",
    )
    not_payroll = fin.post(
        batches,
        json={"method": "payroll_transfer", "items": [{"source": "pay_line", "id": extra["id"]}]},
    )
    assert_problem(not_payroll, 422, "not_payroll", "items")
    assert book_state(fin) == before

    payroll = ok(
        fin.post(
            batches,
            json={
                "method": "payroll_transfer",
                "reference": "2026-10 工资",
                "items": [{"source": "pay_line", "id": w["id"]}],
            },
        )
    )
    ok(
        fin.post(
            f"/api/v1/payout-batches/{payroll['id']}/pay",
            json={"paid_on": "2026-10-10"},
            key="pay-3",
        ),
        200,
    )
    csv = fin.get(f"/api/v1/payout-batches/{payroll['id']}/payroll.csv")
    assert csv.status_code == 200 and csv.mimetype == "text/csv"
    assert csv.get_data(as_text=True).splitlines() == [
        "batch,staff_id,name,pay_line,year_month,amount",
        f"{payroll['id']},{wang['id']},王老师,{w['id']},2026-09,1000.00",
    ]
    tax = ok(
        fin.post(
            batches,
            json={
                "method": "tax_remittance",
                "items": [{"source": "tax", "id": lf["id"]}, {"source": "tax", "id": extra["id"]}],
            },
        )
    )
    assert tax["total"] == "560.00"
    ok(
        fin.post(
            f"/api/v1/payout-batches/{tax['id']}/pay", json={"paid_on": "2026-10-15"}, key="pay-4"
        ),
        200,
    )
    rest = ok(
        fin.post(
            batches,
            json={"method": "bank_transfer", "items": [{"source": "pay_line", "id": extra["id"]}]},
        )
    )
    ok(
        fin.post(
            f"/api/v1/payout-batches/{rest['id']}/pay", json={"paid_on": "2026-10-15"}, key="pay-5"
        ),
        200,
    )

    # The books, by hand: 1002 = 10,000 + 800 − 3,310 − 1,000 − 560 − 480 = 5,450.00.
    tb = lines(fin)
    assert _debit(tb, "1002") == "5450.00"
    assert (_debit(tb, "5001"), _debit(tb, "5002"), _debit(tb, "5003")) == (
        "1000.00",
        "3600.00",
        "750.00",
    )
    for payable in (f"2211.S{wang['id']}", f"2211.S{li['id']}", "2221", f"2202.V{green['id']}"):
        assert (_debit(tb, payable), _credit(tb, payable)) in (("0.00", "0.00"),), payable
    assert_books_sound(term.auditor)

    # A teacher reads their own payout sheet and nobody else's.
    teacher = fin.as_(tokens["teacher"])
    link(term.admin, tokens["teacher"], staff=wang["id"])
    sheet = ok(teacher.get(f"/api/v1/staff/{wang['id']}/payout-sheet?month=2026-09"), 200)
    assert (sheet["gross"], sheet["tax"], sheet["net"]) == ("1000.00", "0.00", "1000.00")
    assert [x["date"] for x in sheet["lines"][0]["sessions"]] == SEPT
    assert sheet["lines"][0]["sessions"][0]["amount"] == "10000"  # 2 h × 50.00, exact fen
    assert_problem(
        teacher.get(f"/api/v1/staff/{li['id']}/payout-sheet?month=2026-09"), 404, "not_found"
    )
    assert_problem(
        term.parent.get(f"/api/v1/staff/{wang['id']}/payout-sheet?month=2026-09"), 403, "forbidden"
    )
    li_sheet = ok(fin.get(f"/api/v1/staff/{li['id']}/payout-sheet?month=2026-09"), 200)
    assert (li_sheet["gross"], li_sheet["tax"], li_sheet["net"]) == ("3600.00", "560.00", "3040.00")

    # Fund use for the term: 2,400.00 in, 5,350.00 out, 4,600.00 of it to people.
    use = ok(term.auditor.get(f"{s}/fund-use?term={term.term}"), 200)
    assert use["income"] == {"government": "1200.00", "school": "400.00", "households": "800.00"}
    assert use["spending"] == {
        "stipends": "1000.00",
        "labour_fees": "3600.00",
        "vendors": "750.00",
        "other": "0.00",
    }
    assert (use["total_income"], use["total_spending"], use["balance"]) == (
        "2400.00",
        "5350.00",
        "-2950.00",
    )
    assert use["people_share_percent"] == "85.98"  # 4,600 ÷ 5,350
