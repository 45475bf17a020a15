"""September's bank statements of school S1 over HTTP: matched, waiting, assigned, ignored,
imported once, and a malformed file refused whole.

The school (see ``term_over_http``) billed its term: invoices A and B ask
400.00 each, due 2026-09-16. The fund carried 10,000.00 over from last year,
so the bank account opens the month at 10,000.00. Student 乙 (household B)
has student number 2026002.

The first statement (UTF-8 with a byte-order mark, uploaded as a file,
oldest line first):

====  ==========  ================================  ========  ========  ==========
line  date        摘要                               收入       支出       余额
====  ==========  ================================  ========  ========  ==========
4     2026-09-03  课后服务费 <invoice A>             400.00              10,400.00
5     2026-09-04  学号2026002 课后服务               300.00              10,700.00
6     2026-09-05  结息                               12.34               10,712.34
====  ==========  ================================  ========  ========  ==========

Line 4 names A's invoice and pays exactly what it asks: a payment. Line 5
names 乙's student number but 300.00 is not the 400.00 B owes: it waits in
2299, and finance assigns it to B (B then owes 100.00). Line 6 is bank
interest, no household's: finance ignores it, and books it by hand.

The second statement (GBK, sent as the body, newest line first) repeats
lines 5 and 6 — its period overlaps the first — and adds money out (a
500.00 stipend transfer) and B's last 100.00, naming the invoice without its
dashes and in full-width letters.
"""

from __future__ import annotations

import io

import pytest
from http_helpers import assert_problem, body
from term_over_http import assert_books_sound, billed_term, book_state, invoice, lines, ok

S = "/api/v1/schools/S1"
HEADER = "交易日期,摘要,收入金额,支出金额,对方户名,对方账号,余额"
PREAMBLE = "账号:6222000011112222\r\n币种:人民币 起止日期:20260901-20260930\r\n"


@pytest.fixture
def term(client, db, tokens, make_token):  # type: ignore[no-untyped-def]
    from ledger.school.models import Student

    t = billed_term(client, db, tokens, make_token)
    db.get(Student, t.student_b).student_no = "2026002"
    db.commit()
    carried = body(("1002", "debit", "10000.00"), ("3001", "credit", "10000.00"), memo="上年结转")
    ok(t.finance.post("/api/v1/books/S1/entries", json=carried, key="carried"))
    return t


def csv_text(*rows: str) -> str:
    return PREAMBLE + HEADER + "\r\n" + "".join(r + "\r\n" for r in rows)


def upload(api, text: str, key: str | None, *, encoding="utf-8-sig", as_file=True, query=""):  # type: ignore[no-untyped-def]
    data = text.encode(encoding)
    url = f"{S}/bank-statements{query}"
    if as_file:
        return api.client.post(
            url,
            data={"file": (io.BytesIO(data), "2026-09.csv")},
            headers=api.headers(key),
            content_type="multipart/form-data",
        )
    return api.client.post(url, data=data, headers=api.headers(key), content_type="text/csv")


def first_statement(term) -> str:  # type: ignore[no-untyped-def]
    return csv_text(
        f'2026-09-03,课后服务费 {term.invoice_a},400.00,,甲家长,="6222020000000001","10,400.00"',
        '2026-09-04,学号2026002 课后服务,300.00,,乙家长,6222020000000002,"10,700.00"',
        '2026-09-05,结息,12.34,,,,"10,712.34"',
    )


def second_statement(term) -> str:  # type: ignore[no-untyped-def]
    squashed = term.invoice_b.replace("-", "")
    full_width = "".join(chr(ord(c) + 0xFEE0) if c.isalnum() else c for c in squashed)
    return csv_text(
        f'2026-09-09,缴费{full_width},100.00,,乙家长,6222020000000002,"10,312.34"',
        '2026-09-08,代发 王老师 九月补助,,500.00,王老师,6222020000000009,"10,212.34"',
        '2026-09-05,结息,12.34,,,,"10,712.34"',
        '2026-09-04,学号2026002 课后服务,300.00,,乙家长,6222020000000002,"10,700.00"',
    )


def waiting(api) -> list[dict]:  # type: ignore[no-untyped-def]
    return ok(api.get(f"{S}/bank-lines?status=unmatched"), 200)["items"]


def test_a_month_of_bank_lines_matched_waiting_assigned_ignored_and_imported_once(term):
    fin = term.finance
    first = ok(upload(fin, first_statement(term), "sept-1"))
    assert (first["encoding"], first["mapping"], first["lines"]) == (
        "utf-8-sig",
        "cn_online_banking",
        3,
    )
    assert first["filename"] == "2026-09.csv"
    assert first["counts"] == {
        "matched": 1,
        "unmatched": 2,
        "assigned": 0,
        "ignored": 0,
        "outgoing": 0,
    }
    by_line = {i["line_no"]: i for i in first["items"]}
    assert by_line[4]["status"] == "matched" and by_line[4]["household"] == term.home_a
    assert by_line[4]["counterparty_account"] == "6222020000000001"  # ="…" read as text
    assert by_line[6]["balance"] == "10712.34"

    # Line 4 paid invoice A by bank transfer, with the invoice as its reference.
    assert invoice(fin, term.invoice_a)["status"] == "paid"
    (paid,) = ok(fin.get(f"/api/v1/households/{term.home_a}/payments"), 200)["items"]
    assert (paid["amount"], paid["method"], paid["reference"], paid["received_on"]) == (
        "400.00",
        "bank_transfer",
        term.invoice_a,
        "2026-09-03",
    )
    # Everything reached the bank; what nobody is known to have paid waits in 2299.
    tb = lines(fin)
    assert tb["1002"]["debit"] == "10712.34"  # 10,000.00 + 400.00 + 300.00 + 12.34
    assert tb["2299"]["credit"] == "312.34"  # 300.00 + 12.34
    assert tb[f"1122.H{term.home_a}"]["debit"] == "0.00"

    # The queue: line 5 points at household B, but 300.00 is not what B owes.
    queue = waiting(term.auditor)
    assert [i["line_no"] for i in queue] == [5, 6]
    five, six = queue
    assert five["suggestion"]["household"] == term.home_b
    assert five["suggestion"]["via"] == "student"
    assert "300.00" in five["suggestion"]["reason"] and "400.00" in five["suggestion"]["reason"]
    assert six["suggestion"]["household"] is None

    # The same file again, under another key: the first import, nothing recorded twice.
    before = book_state(fin)
    again = ok(upload(fin, first_statement(term), "sept-1-again"), 200)
    assert again["id"] == first["id"] and again["items"] == first["items"]
    # The same key again: the first answer. The same key with another file: refused.
    assert ok(upload(fin, first_statement(term), "sept-1"), 200)["id"] == first["id"]
    other = first_statement(term).replace("12.34", "12.35")
    assert_problem(upload(fin, other, "sept-1"), 409, "idempotency_key_reused")
    assert book_state(fin) == before

    # Finance assigns line 5 to household B: out of 2299, onto B's invoice.
    assign = {"household": term.home_b, "on": "2026-09-07"}
    for caller in (term.auditor, term.parent, term.admin):
        r = caller.post(f"/api/v1/bank-lines/{five['id']}/assign", json=assign, key="a5")
        assert_problem(r, 403, "forbidden")
    r = term.outsider.post(f"/api/v1/bank-lines/{five['id']}/assign", json=assign, key="a5")
    assert_problem(r, 404, "not_found")
    r = fin.post(f"/api/v1/bank-lines/{five['id']}/assign", json=assign)
    assert_problem(r, 422, "idempotency_key_required")
    assert book_state(fin) == before

    done = ok(fin.post(f"/api/v1/bank-lines/{five['id']}/assign", json=assign, key="a5"))
    assert done["line"]["status"] == "assigned" and done["line"]["household"] == term.home_b
    assert done["allocations"] == [{"invoice": term.invoice_b, "amount": "300.00"}]
    assert done["to_credit"] == "0.00"
    assert ok(fin.post(f"/api/v1/bank-lines/{five['id']}/assign", json=assign, key="a5"), 200) == (
        done
    )
    b = invoice(fin, term.invoice_b)
    assert (b["status"], b["outstanding"]) == ("partially_paid", "100.00")
    entry = ok(fin.get(f"/api/v1/books/S1/entries/{done['entry']}"), 200)
    assert entry["effective_date"] == "2026-09-07"
    assert {(p["account"], p["direction"], p["amount"]) for p in entry["postings"]} == {
        ("2299", "debit", "300.00"),
        (f"1122.H{term.home_b}", "credit", "300.00"),
    }
    (b_paid,) = ok(fin.get(f"/api/v1/households/{term.home_b}/payments"), 200)["items"]
    assert (b_paid["received_on"], b_paid["method"]) == ("2026-09-04", "bank_transfer")
    # Assigned once: a second decision on the line is refused, nothing written.
    before = book_state(fin)
    r = fin.post(f"/api/v1/bank-lines/{five['id']}/assign", json=assign, key="a5-bis")
    assert_problem(r, 409, "bank_line_not_waiting")
    r = fin.post(f"/api/v1/bank-lines/{five['id']}/ignore", json={"note": "x"}, key="i5")
    assert_problem(r, 409, "bank_line_not_waiting")
    assert book_state(fin) == before

    # Line 6 is bank interest: ignored (its 2299 entry reversed) and booked by hand.
    # Dated the day the bank booked it, so that the books agree with the bank on every day.
    ignore = {"note": "银行结息, booked to the fund by hand", "on": "2026-09-05"}
    r = fin.post(f"/api/v1/bank-lines/{six['id']}/ignore", json={"note": " "}, key="i6")
    assert_problem(r, 422, "invalid_input" if False else "note_required")
    ignored = ok(fin.post(f"/api/v1/bank-lines/{six['id']}/ignore", json=ignore, key="i6"))
    assert ignored["line"]["status"] == "ignored" and ignored["line"]["note"] == ignore["note"]
    reversal = ok(fin.get(f"/api/v1/books/S1/entries/{ignored['entry']}"), 200)
    assert reversal["kind"] == "reversal"
    assert {(p["account"], p["direction"], p["amount"]) for p in reversal["postings"]} == {
        ("2299", "debit", "12.34"),
        ("1002", "credit", "12.34"),
    }
    assert ok(fin.post(f"/api/v1/bank-lines/{six['id']}/ignore", json=ignore, key="i6"), 200) == (
        ignored
    )
    interest = body(
        ("1002", "debit", "12.34"), ("3001", "credit", "12.34"), memo="结息", date="2026-09-05"
    )
    ok(fin.post("/api/v1/books/S1/entries", json=interest, key="interest"))
    assert waiting(fin) == []
    tb = lines(fin)
    assert tb["2299"]["credit"] == "0.00"
    assert tb["1002"]["debit"] == "10712.34"

    # The second statement: GBK, as the body, newest first, overlapping the first.
    second = ok(upload(fin, second_statement(term), "sept-2", encoding="gbk", as_file=False))
    assert (second["encoding"], second["lines"], second["already_known"]) == ("gbk", 4, 2)
    assert {i["line_no"]: i["status"] for i in second["items"]} == {4: "matched", 5: "outgoing"}
    assert invoice(fin, term.invoice_b)["status"] == "paid"
    tb = lines(fin)
    assert tb["1002"]["debit"] == "10812.34"  # + 100.00; the 500.00 out is not posted here
    assert tb[f"1122.H{term.home_b}"]["debit"] == "0.00"
    every = ok(fin.get(f"{S}/bank-lines"), 200)["items"]
    assert [(i["booked_on"], i["status"]) for i in every] == [
        ("2026-09-03", "matched"),
        ("2026-09-04", "assigned"),
        ("2026-09-05", "ignored"),
        ("2026-09-08", "outgoing"),
        ("2026-09-09", "matched"),
    ]
    # The bank says 10,312.34 on 09-09; the books 10,812.34: the 500.00 stipend transfer,
    # which no payout has posted yet.
    rec = ok(fin.get(f"{S}/bank-reconciliation?as_of=2026-09-30"), 200)
    assert (rec["booked_on"], rec["statement_balance"], rec["book_balance"]) == (
        "2026-09-09",
        "10312.34",
        "10812.34",
    )
    assert rec["difference"] == "-500.00"
    assert rec["outgoing"] == {"count": 1, "amount": "500.00"}
    assert rec["ignored"] == {"count": 1, "amount": "12.34"}
    assert rec["unmatched"] == {"count": 0, "amount": "0.00"}
    # On 09-07 the statement (its last line is of 09-05) and the books agree: the interest's
    # 2299 entry was reversed on 09-05 when finance ignored the line, and booked by hand.
    rec = ok(fin.get(f"{S}/bank-reconciliation?as_of=2026-09-07"), 200)
    assert (rec["booked_on"], rec["statement_balance"], rec["book_balance"], rec["difference"]) == (
        "2026-09-05",
        "10712.34",
        "10712.34",
        "0.00",
    )
    assert_books_sound(term.auditor)


def test_a_malformed_line_refuses_the_whole_file_with_its_line(term):
    fin = term.finance
    good = '2026-09-03,课后服务费,400.00,,甲家长,6222020000000001,"10,400.00"'
    cases = [
        # (the bad row, its line in the file, what the refusal says)
        ('2026-09-04,学号2026002,"1,20.00",,乙家长,6222,"10,520.00"', 5, "1,20.00"),
        ("2026-09-04,学号2026002,120.001,,乙家长,6222,10520.00", 5, "120.001"),
        (
            "2026-09-04,学号2026002,120.00,5.00,乙家长,6222,10515.00",
            5,
            "both an income and an expense",
        ),
        ("2026-09-04,学号2026002,,,乙家长,6222,10520.00", 5, "moves no money"),
        ("2026-09-31,学号2026002,120.00,,乙家长,6222,10520.00", 5, "2026-09-31"),
        ("2026-09-04,学号2026002,￥120.00,,乙家长,6222,10520.00", 5, "￥120.00"),
        ("2026-09-04,学号2026002,-120.00,,乙家长,6222,10520.00", 5, "-120.00"),
        ("2026-09-04,学号2026002", 5, "2 cells"),
    ]
    before = book_state(fin)
    for n, (bad, line, why) in enumerate(cases):
        text = csv_text(good, bad, good.replace("09-03", "09-05"))
        p = assert_problem(
            upload(fin, text, f"bad-{n}", encoding="gbk"), 422, "bank_file_malformed"
        )
        assert p["detail"].startswith(f"line {line}: "), p["detail"]
        assert why in p["detail"], p["detail"]
        assert "file" in p["errors"]
    # Not text in either encoding, and no header: refused too.
    r = fin.client.post(
        f"{S}/bank-statements",
        data=b"\xff\xfe\x00" + b"\x81" * 10,
        headers=fin.headers("bad-bytes"),
        content_type="text/csv",
    )
    assert_problem(r, 422, "bank_file_malformed")
    r = upload(fin, "日期,金额\r\n2026-09-03,400.00\r\n", "bad-header")
    p = assert_problem(r, 422, "bank_file_malformed")
    assert "交易日期" in p["detail"]
    assert_problem(upload(fin, csv_text(), "bad-empty"), 422, "bank_file_malformed")
    # Nothing of any of them was stored or posted.
    assert book_state(fin) == before
    assert ok(fin.get(f"{S}/bank-lines"), 200)["items"] == []
    # The first good line alone imports: nothing was left behind by the refusals.
    imported = ok(upload(fin, csv_text(good), "good"))
    assert imported["counts"]["unmatched"] == 1


def test_a_custom_mapping_with_one_signed_amount_column(term):
    fin = term.finance
    text = (
        "记账日期;附言;交易金额;账户余额\n"
        f"20260903;{term.invoice_a} 甲;400.00;10400.00\n"
        "20260904;退款;-20.00;10380.00\n"
    )
    columns = (
        '{"date": "记账日期", "description": "附言", "income": "交易金额", '
        '"expense": "交易金额", "balance": "账户余额", "delimiter": ";"}'
    )
    from urllib.parse import quote

    query = f"?mapping=custom&columns={quote(columns)}&filename=custom.csv"
    # A custom mapping needs its columns; columns need mapping=custom.
    assert_problem(upload(fin, text, "c-0", query="?mapping=custom"), 422, "invalid_mapping")
    assert_problem(
        upload(fin, text, "c-0", query=f"?columns={quote(columns)}"), 422, "invalid_mapping"
    )
    bad = quote('{"date": "记账日期", "description": "附言"}')
    assert_problem(
        upload(fin, text, "c-0", query=f"?mapping=custom&columns={bad}"), 422, "invalid_mapping"
    )
    done = ok(upload(fin, text, "c-1", encoding="utf-8", query=query))
    assert (done["filename"], done["mapping"], done["encoding"]) == (
        "custom.csv",
        "custom",
        "utf-8",
    )
    assert [(i["income"], i["expense"], i["status"]) for i in done["items"]] == [
        ("400.00", "0.00", "matched"),
        ("0.00", "20.00", "outgoing"),
    ]
    assert invoice(fin, term.invoice_a)["status"] == "paid"
    # The ready mapping does not find its headers in this file.
    assert_problem(upload(fin, text, "c-2"), 422, "bank_file_malformed")
    # Finance of another school, parents, auditors: not theirs to import.
    assert_problem(upload(term.outsider, text, "c-3", query=query), 404, "not_found")
    assert_problem(upload(term.auditor, text, "c-3", query=query), 403, "forbidden")
    assert_books_sound(fin)
