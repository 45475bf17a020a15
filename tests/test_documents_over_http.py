"""Documents over HTTP: the PDFs a family, a finance office and an auditor download.

The term of ``term_over_http``: school 第S1小学, a 1,200.00 term cost split
600.00 government, 200.00 school and 400.00 parents under the standard
示发改价〔2026〕12号 of 示范区发改委; households 甲家 (whose guardian is the
``parent`` caller) and 乙家, each invoiced 400.00. Every PDF is read back
with pypdf and must carry the right names, numbers and amounts, in figures
and in Chinese capitals.
"""

from __future__ import annotations

import hashlib

import pytest
from http_helpers import assert_problem
from pdf_helpers import flat, pdf_text
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError
from term_over_http import billed_term, ok

from invoices.models import IssuedDocument
from ledger.school.models import DocumentCounter


@pytest.fixture
def term(client, db, tokens, make_token):  # type: ignore[no-untyped-def]
    return billed_term(client, db, tokens, make_token)


def pdf(response) -> bytes:  # type: ignore[no-untyped-def]
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "application/pdf"
    body = response.data
    assert response.headers["X-Content-SHA256"] == hashlib.sha256(body).hexdigest()
    return body


def pay(term, household: int, amount: str, key: str, on: str = "2026-09-10") -> dict:  # type: ignore[no-untyped-def]
    body = {"household": household, "amount": amount, "received_on": on, "method": "wechat"}
    return ok(term.finance.post("/api/v1/schools/S1/payments", json=body, key=key))


def issued(db, kind: str) -> int:  # type: ignore[no-untyped-def]
    return db.scalar(select(func.count()).where(IssuedDocument.kind == kind))


def test_a_fee_notice_shows_every_share_the_standard_and_how_to_pay(term, db):
    url = f"/api/v1/schools/S1/invoices/{term.invoice_a}.pdf"
    r = term.parent.get(url)
    body = pdf(r)
    assert r.headers["Content-Disposition"] == f'attachment; filename="{term.invoice_a}.pdf"'
    text = pdf_text(body)
    for expected in (
        "课后服务缴费通知单",
        "第S1小学",
        term.invoice_a,
        "甲家",
        "基本托管",
        "示范区发改委",
        "示发改价〔2026〕12号",
        "500.00/学期",  # the approved standard per term
        "1,200.00",  # the full cost...
        "600.00",  # ...the government's share...
        "200.00",  # ...the school's share...
        "400.00",  # ...and the parent's, shown as amounts
        "¥400.00",
        "2026年9月16日",  # due date: issued 2026-09-01 + 15 days
        "示范银行",
        "6222000011112222",
        "12345",  # complaints telephone
    ):
        assert expected in text, expected
    assert "大写金额：肆佰元整" in flat(text)
    assert "乙" not in text and term.invoice_b not in text

    # The same bytes on every download, by anyone allowed to see it; one archived row.
    assert pdf(term.finance.get(url)) == body
    assert pdf(term.auditor.get(url)) == body
    assert issued(db, "invoice") == 1
    row = db.scalar(select(IssuedDocument).where(IssuedDocument.kind == "invoice"))
    assert row.sha256 == hashlib.sha256(body).hexdigest() and row.number == term.invoice_a
    assert row.household_id == term.home_a

    # English on request: the same notice, the same figures, another archived document.
    english = pdf_text(pdf(term.parent.get(f"{url}?lang=en")))
    assert "After-school service fee notice" in english and term.invoice_a in english
    assert "肆佰元整" in flat(english) and "1,200.00" in english and "甲家" in english
    assert issued(db, "invoice") == 2


def test_parents_see_only_their_own_households_documents(term):
    b = term.invoice_b
    home_b = term.home_b
    pay(term, term.home_b, "400.00", "pay-b")
    payment_b = term.finance.get(f"/api/v1/households/{home_b}/payments").json["items"][0]["id"]
    stmt = "from=2026-09-01&to=2026-12-31"
    for path in (
        f"/api/v1/schools/S1/invoices/{b}.pdf",
        f"/api/v1/schools/S1/payments/{payment_b}/receipt.pdf",
        f"/api/v1/households/{home_b}/statement?{stmt}",
        f"/api/v1/households/{home_b}/statement.pdf?{stmt}",
        # Nothing is learnt from validation about another household: 404 before 422.
        f"/api/v1/households/{home_b}/statement?from=yesterday",
        f"/api/v1/schools/S1/invoices/{b}.pdf?lang=fr",
        "/api/v1/schools/S1/invoices/S1-2026-999999.pdf",
        "/api/v1/schools/NOPE/invoices/S1-2026-000001.pdf",
    ):
        assert_problem(term.parent.get(path), 404, "not_found")
    # Finance of another school sees none of S1's documents.
    for path in (
        f"/api/v1/schools/S1/invoices/{term.invoice_a}.pdf",
        f"/api/v1/schools/S1/payments/{payment_b}/receipt.pdf",
        f"/api/v1/households/{home_b}/statement.pdf?{stmt}&lang=fr",
        f"/api/v1/schools/S1/terms/{term.term}/disclosure.pdf",
    ):
        assert_problem(term.outsider.get(path), 404, "not_found")
    # Their own: validated only once in scope.
    own = f"/api/v1/households/{term.home_a}/statement"
    assert_problem(term.parent.get(f"{own}?from=yesterday&to=2026-12-31"), 422, "invalid_input")
    assert_problem(term.parent.get(f"{own}?from=2026-12-31&to=2026-09-01"), 422, "invalid_input")
    assert_problem(
        term.parent.get(f"/api/v1/schools/S1/invoices/{term.invoice_a}.pdf?lang=fr"),
        422,
        "invalid_input",
    )
    assert_problem(term.parent.get(f"{own}?{stmt}&extra=1"), 422, "invalid_input")


def test_receipt_numbers_are_gap_free_in_the_order_receipts_are_issued(term, db):
    first = pay(term, term.home_a, "300.00", "p-1")["id"]
    second = pay(term, term.home_b, "400.00", "p-2")["id"]
    third = pay(term, term.home_a, "150.00", "p-3", on="2026-10-08")["id"]
    path = "/api/v1/schools/S1/payments/{}/receipt.pdf"

    r = term.finance.get(path.format(second))
    second_pdf = pdf(r)
    assert r.headers["Content-Disposition"] == 'attachment; filename="S1-R2026-000001.pdf"'
    text = pdf_text(second_pdf)
    assert "课后服务费收据" in text and "乙家" in text and "S1-R2026-000001" in text
    assert "¥400.00" in text and "大写金额：肆佰元整" in flat(text)
    assert term.invoice_b in text  # what it settled

    first_text = pdf_text(pdf(term.parent.get(path.format(first))))
    assert "S1-R2026-000002" in first_text and "甲家" in first_text
    assert "叁佰元整" in flat(first_text) and "2026年9月10日" in first_text
    # 150.00 of the third payment: 100.00 still owed on A's invoice, 50.00 to credit.
    third_text = pdf_text(pdf(term.parent.get(path.format(third))))
    assert "S1-R2026-000003" in third_text and "壹佰伍拾元整" in flat(third_text)
    assert "100.00" in third_text and "转入家庭预收款" in third_text and "50.00" in third_text

    # Downloading again, or in English, takes no new number: one number per receipt.
    assert pdf(term.finance.get(path.format(second))) == second_pdf
    english = pdf_text(pdf(term.finance.get(path.format(second) + "?lang=en")))
    assert "S1-R2026-000001" in english and "After-school service fee receipt" in english
    numbers = sorted(
        db.scalars(select(IssuedDocument.number).where(IssuedDocument.kind == "receipt"))
    )
    assert numbers == ["S1-R2026-000001", "S1-R2026-000001", "S1-R2026-000002", "S1-R2026-000003"]
    counter = db.scalar(select(DocumentCounter).where(DocumentCounter.kind == "receipt"))
    assert (counter.year, counter.last) == (2026, 3)
    # The parent may not fetch household B's receipt, and it costs no number.
    assert_problem(term.parent.get(path.format(second) + "?lang=en"), 404, "not_found")
    assert db.get(DocumentCounter, (counter.school_id, "receipt", 2026)).last == 3


def _money(value: str) -> str:
    """A JSON amount as the PDF prints it: grouped, credit balances as 结余."""
    sign, digits = ("-", value[1:]) if value.startswith("-") else ("", value)
    yuan, cents = digits.split(".")
    return f"{sign}{int(yuan):,}.{cents}"


def _balance(value: str) -> str:
    return f"结余{_money(value[1:])}" if value.startswith("-") else _money(value)


def test_the_statement_json_and_pdf_show_the_same_figures(term, db):
    pay(term, term.home_a, "450.00", "p-1")  # 400.00 settles the invoice, 50.00 is credit
    refund = {
        "household": term.home_a,
        "amount": "30.00",
        "paid_on": "2026-09-20",
        "method": "bank_transfer",
    }
    ok(term.finance.post("/api/v1/schools/S1/refunds", json=refund, key="r-1"))
    query = "from=2026-09-01&to=2026-12-31"
    st = ok(term.parent.get(f"/api/v1/households/{term.home_a}/statement?{query}"), 200)
    assert (st["from"], st["to"], st["household_name"]) == ("2026-09-01", "2026-12-31", "甲家")
    assert [(line["kind"], line["amount"], line["balance"]) for line in st["lines"]] == [
        ("charge", "400.00", "400.00"),
        ("payment", "-450.00", "-50.00"),
        ("refund", "30.00", "-20.00"),
    ]
    assert (st["opening_balance"], st["closing_balance"]) == ("0.00", "-20.00")
    assert (st["closing_receivable"], st["closing_credit"]) == ("0.00", "20.00")
    # The closing figures are the household's accounts in the books.
    for code, expected in ((f"1122.H{term.home_a}", "0.00"), (f"2241.H{term.home_a}", "-20.00")):
        balance = ok(term.finance.get(f"/api/v1/books/S1/accounts/{code}/balance"), 200)
        assert balance["balance"] == expected

    text = flat(
        pdf_text(pdf(term.parent.get(f"/api/v1/households/{term.home_a}/statement.pdf?{query}")))
    )
    assert "课后服务费对账单" in text and "甲家" in text
    # Every line's amount and running balance, in the JSON's order.
    position = text.index("期初余额")
    for line in st["lines"]:
        here = text.index(_money(line["amount"]) + _balance(line["balance"]), position)
        position = here + 1
    assert "期末余额" + _balance(st["closing_balance"]) in text
    assert "其中：应收未缴0.00" in text and "其中：家庭预收款结余20.00" in text

    # A later range opens with the balance the first one closed with.
    later = ok(
        term.parent.get(
            f"/api/v1/households/{term.home_a}/statement?from=2027-01-01&to=2027-01-31"
        ),
        200,
    )
    assert (later["opening_balance"], later["lines"], later["closing_balance"]) == (
        "-20.00",
        [],
        "-20.00",
    )


def test_a_statement_is_archived_once_per_content(term, db):
    url = f"/api/v1/households/{term.home_a}/statement.pdf?from=2026-09-01&to=2026-12-31"
    first = pdf(term.parent.get(url))
    assert pdf(term.parent.get(url)) == first
    assert issued(db, "statement") == 1
    pay(term, term.home_a, "100.00", "p-1")
    changed = pdf(term.parent.get(url))
    assert changed != first and "-100.00" in pdf_text(changed)
    assert issued(db, "statement") == 2


def test_the_subsidy_claim_form_lists_each_childs_government_share(term, db):
    period = {"period_start": "2026-09-01", "period_end": "2027-01-15", "claimed_on": "2026-09-05"}
    claim = ok(term.finance.post("/api/v1/schools/S1/subsidy-claims", json=period))
    url = f"/api/v1/schools/S1/subsidy-claims/{claim['id']}.pdf"
    r = term.finance.get(url)
    text = pdf_text(pdf(r))
    assert r.headers["Content-Disposition"] == 'attachment; filename="S1-SC-2026-0001.pdf"'
    for expected in ("课后服务财政补贴申报表", "S1-SC-2026-0001", "示范区财政局", "甲", "乙"):
        assert expected in text, expected
    assert text.count("600.00") >= 2 and "¥1,200.00" in text
    assert "壹仟贰佰元整" in flat(text)
    assert pdf(term.auditor.get(url)) == r.data
    assert_problem(term.parent.get(url), 403, "forbidden")
    assert_problem(term.outsider.get(url), 404, "not_found")
    assert_problem(
        term.finance.get(f"/api/v1/schools/S1/subsidy-claims/{claim['id'] + 99}.pdf"),
        404,
        "not_found",
    )


def test_the_fee_disclosure_notice_is_public_to_the_schools_families(term, db, make_token):
    url = f"/api/v1/schools/S1/terms/{term.term}/disclosure.pdf"
    text = pdf_text(pdf(term.parent.get(url)))
    flat_text = flat(text)
    for expected in (
        "课后服务收费公示",
        "2026秋季学期",
        "基本托管",
        "示范区发改委",
        "示发改价〔2026〕12号",
        "500.00元/学期",
        "财政补贴600.00",
        "学校分担200.00",
        "家长分担400.00",
        "按天退费",
        "家庭经济困难学生免收",
        "周一、周二、周三、周四、周五15:30–17:30",
        "监督投诉电话：12345",
    ):
        assert expected in flat_text, expected
    assert pdf(term.finance.get(url + "?lang=en")) != b""
    # A parent whose household has no child at the school does not see it.
    stranger = make_token("parent")
    assert_problem(term.parent.as_(stranger).get(url), 404, "not_found")
    assert_problem(
        term.finance.get(f"/api/v1/schools/S1/terms/{term.term + 99}/disclosure.pdf"),
        404,
        "not_found",
    )


def test_a_cancelled_invoice_keeps_its_number_and_its_notice(term, db):
    url = f"/api/v1/schools/S1/invoices/{term.invoice_b}.pdf"
    before = pdf(term.finance.get(url))
    path = f"/api/v1/schools/S1/invoices/{term.invoice_b}"
    ok(
        term.finance.post(
            f"{path}/cancel", json={"on": "2026-09-15", "reason": "名单有误"}, key="c-1"
        )
    )
    # The notice as issued stays what it was: same bytes, same number.
    assert pdf(term.finance.get(url)) == before
    # A notice first printed after the cancellation says so.
    english = pdf_text(pdf(term.finance.get(url + "?lang=en")))
    assert "CANCELLED" in english and "名单有误" in english and term.invoice_b in english
    reissued = ok(
        term.finance.post(f"{path}/reissue", json={"issued_on": "2026-10-02"}, key="re-1")
    )
    number = reissued["invoice"]["number"]
    assert number == "S1-2026-000003"  # the next number; the cancelled one keeps 000002
    text = pdf_text(pdf(term.finance.get(f"/api/v1/schools/S1/invoices/{number}.pdf")))
    assert number in text and f"本通知单重开自 {term.invoice_b}" in text


def test_issued_documents_cannot_be_changed_or_removed(term, db):
    pdf(term.parent.get(f"/api/v1/schools/S1/invoices/{term.invoice_a}.pdf"))
    for statement in (
        "UPDATE issued_documents SET sha256 = repeat('0', 64)",
        "DELETE FROM issued_documents",
    ):
        with pytest.raises(DBAPIError), db.begin_nested():
            db.execute(text(statement))
    assert issued(db, "invoice") == 1
