"""Money-out documents over HTTP: a payout sheet with the income tax withheld, and a vendor's
remittance advice.

September 2026 at S1 (``term_over_http``): 李教练, external staff at 200.00 an hour,
gives ten 1.5-hour sessions = 3,000.00 of labour fees, taxed as one payment:
(3,000 − 800) × 20 % = 440.00 withheld, 2,560.00 paid. 王老师, a teacher at
50.00 an hour, gives two 2-hour sessions = 200.00 stipend, no tax. 绿茵体育,
a whitelisted vendor, bills ten sessions at 75.00 = 750.00, paid in a batch
with 李教练's fee on 2026-10-08.
"""

from __future__ import annotations

import pytest
from http_helpers import assert_problem, body
from pdf_helpers import flat, pdf_text
from term_over_http import billed_term, link, ok

SEPT = [f"2026-09-{d:02d}" for d in (1, 2, 3, 4, 7, 8, 9, 10, 11, 14)]
GREEN = "91330100716105852F"


@pytest.fixture
def month(client, db, tokens, make_token):  # type: ignore[no-untyped-def]
    term = billed_term(client, db, tokens, make_token)
    fin, s = term.finance, "/api/v1/schools/S1"
    carried = body(("1002", "debit", "10000.00"), ("3001", "credit", "10000.00"), memo="上年结转")
    ok(fin.post("/api/v1/books/S1/entries", json=carried, key="carried"))
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
    span = {"programme_kind": "basic_care", "unit": "hour"}
    span |= {"valid_from": "2026-09-01", "valid_to": "2027-01-15"}
    ok(fin.post(f"{s}/pay-rates", json={**span, "staff_kind": "teacher", "amount": "50.00"}))
    ok(fin.post(f"{s}/pay-rates", json={**span, "staff_kind": "external", "amount": "200.00"}))

    def log(staff: int, day: str, end: str) -> None:
        hours = {"staff": staff, "programme": term.programme, "day": day, "start": "15:30"}
        logged = ok(fin.post(f"{s}/service-hours", json={**hours, "end": end}))
        ok(fin.post(f"/api/v1/service-hours/{logged['id']}/decide", json={"approve": True}), 200)

    for day in SEPT:
        log(li["id"], day, "17:00")
    for day in SEPT[:2]:
        log(wang["id"], day, "17:30")
    run = ok(fin.post(f"{s}/pay-runs", json={"month": "2026-09", "on": "2026-09-30"}, key="r"))
    fee = next(line for line in run["lines"] if line["staff"] == li["id"])
    vendor = {
        "name": "绿茵体育",
        "uscc": GREEN,
        "qualification": "体育类培训资质",
        "services": "足球",
        "approved_price": "80.00",
        "price_unit": "session",
        "valid_from": "2026-09-01",
        "valid_to": "2026-12-31",
    }
    green = ok(fin.post("/api/v1/districts/DS1/vendors", json=vendor))
    agreement = {
        "programme": term.programme,
        "reference": "S1-采购-2026-07",
        "unit": "session",
        "start": "2026-09-01",
        "end": "2026-12-31",
        "vendor": green["id"],
        "price": "75.00",
    }
    ok(fin.post(f"{s}/purchase-agreements", json=agreement))
    bill = {
        "vendor": green["id"],
        "reference": "G-2026-09",
        "service_date": "2026-09-30",
        "quantity": 10,
        "unit_price": "75.00",
    }
    billed = ok(fin.post(f"{s}/vendor-bills", json=bill, key="bill"))
    items = [{"source": "pay_line", "id": fee["id"]}, {"source": "vendor_bill", "id": billed["id"]}]
    batch = ok(fin.post(f"{s}/payout-batches", json={"method": "bank_transfer", "items": items}))
    return term, wang["id"], li["id"], green["id"], batch["id"]


def pdf(response) -> bytes:  # type: ignore[no-untyped-def]
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "application/pdf"
    return response.data


def test_a_payout_sheet_shows_gross_tax_withheld_and_net(month, tokens):
    term, wang, li, _, _ = month
    url = f"/api/v1/staff/{li}/payout-sheet.pdf?month=2026-09"
    sheet = pdf(term.finance.get(url))
    text = pdf_text(sheet)
    for expected in ("课后服务教师补助及劳务费发放表", "李教练", "校外人员", "劳务费", "2026年9月"):
        assert expected in text, expected
    assert "居民身份证 110***********1234" in text and "110101199001011234" not in text  # masked
    assert "3,000.00" in text and "440.00" in text and "2,560.00" in text
    assert text.count("2026年9月") >= 10  # a line per session
    assert "实发金额¥2,560.00" in flat(text) and "贰仟伍佰陆拾元整" in flat(text)
    assert pdf(term.auditor.get(url)) == sheet  # archived once, the same bytes

    # A teacher reads their own sheet only.
    teacher = term.finance.as_(tokens["teacher"])
    link(term.admin, tokens["teacher"], staff=wang)
    own = pdf_text(pdf(teacher.get(f"/api/v1/staff/{wang}/payout-sheet.pdf?month=2026-09&lang=en")))
    assert "王老师" in own and "Teacher stipend" in own and "200.00" in own
    assert "贰佰元整" in flat(own)
    assert_problem(teacher.get(url), 404, "not_found")
    assert_problem(teacher.get(f"/api/v1/staff/{li}/payout-sheet.pdf?month=13"), 404, "not_found")
    assert_problem(term.finance.get(f"/api/v1/staff/{li}/payout-sheet.pdf"), 422, "invalid_input")
    assert_problem(term.outsider.get(url), 404, "not_found")
    assert_problem(term.parent.get(url), 403, "forbidden")


def test_a_remittance_advice_lists_the_vendors_bills_once_the_batch_is_paid(month):
    term, _, li, green, batch = month
    url = f"/api/v1/payout-batches/{batch}/remittance/{green}.pdf"
    assert_problem(term.finance.get(url), 409, "batch_not_paid")
    ok(
        term.finance.post(
            f"/api/v1/payout-batches/{batch}/pay", json={"paid_on": "2026-10-08"}, key="p"
        ),
        200,
    )
    advice = pdf(term.finance.get(url))
    text = pdf_text(advice)
    for expected in (
        "课后服务购买服务付款通知",
        "绿茵体育",
        GREEN,
        "G-2026-09",
        "S1-采购-2026-07",
        "2026年10月8日",
        "10 × 75.00",
        "6222000011112222",
    ):
        assert expected in text, expected
    assert "¥750.00" in text and "柒佰伍拾元整" in flat(text)
    assert "李教练" not in text and "2,560.00" not in text  # only this vendor's bills
    assert pdf(term.auditor.get(url)) == advice
    assert_problem(
        term.finance.get(f"/api/v1/payout-batches/{batch}/remittance/{li + 999}.pdf"),
        404,
        "not_found",
    )
    assert_problem(term.outsider.get(url), 404, "not_found")
    assert_problem(term.parent.get(url), 403, "forbidden")
