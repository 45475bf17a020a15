"""The parent portal's pages, for the parent of household A (甲家) in the billed term.

The term (tests/term_over_http.py): a 1200.00 term cost split 600.00
government, 200.00 school and 400.00 parents under a 500.00 standard
(示发改价〔2026〕12号); 甲 of household A and 乙 of household B each have an
invoice of 400.00. The parent sees A's child, programme, balance, invoice,
the invoice's PDF, the statement and why the charge is 400.00 — and every URL
of household B answers 404, exactly like a URL that names nothing.
"""

from __future__ import annotations

import datetime as dt
import io
import re

import pytest
from portal_setup import csrf_from, login, portal_term, text
from pypdf import PdfReader
from school_setup import programme
from sqlalchemy import func, select

from api.models import AuditRecord
from invoices.data import statement
from ledger.school.models import Application, ChargeRecord, School, Term


@pytest.fixture
def term(client, db, tokens, make_token):
    term, email = portal_term(client, db, tokens, make_token)
    assert login(client, email).status_code == 302
    term.email = email
    return term


def _flat(response) -> str:
    """The page's visible text on one line."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", text(response)))


def _charge_of(db, household_id: int) -> int:
    return db.scalar(select(ChargeRecord.id).where(ChargeRecord.household_id == household_id))


def test_the_overview_shows_the_child_programme_and_balance(client, term):
    page = _flat(client.get("/portal/"))
    assert "甲家" in page and "甲" in page and "第S1小学" in page
    assert "基本托管" in page and "在读 自 2026-09-01 起" in page
    assert "应缴余额 ¥400.00" in page and "家庭预收余额 ¥0.00" in page
    assert "乙" not in page
    assert _flat(client.get(f"/portal/households/{term.home_a}")).count("甲家") >= 1


def test_every_url_of_another_household_answers_404(client, db, term):
    other = term.home_b
    charge_b = _charge_of(db, other)
    urls = [
        f"/portal/households/{other}",
        f"/portal/households/{other}/invoices",
        f"/portal/households/{other}/statement",
        f"/portal/households/{other}/applications",
        f"/portal/invoices/S1/{term.invoice_b}",
        f"/portal/invoices/S1/{term.invoice_b}.pdf",
        f"/portal/charges/{charge_b}",
    ]
    nothing = ["/portal/households/999999", "/portal/invoices/S1/NOPE", "/portal/charges/999999"]
    for url in urls + nothing:
        r = client.get(url)
        assert r.status_code == 404, url
        assert r.mimetype == "text/html" and "页面不存在" in text(r), url
    # Not 403: the page for someone else's household reads exactly like one that does not exist.
    assert _flat(client.get(urls[0])) == _flat(client.get(nothing[0]))
    token = csrf_from(text(client.get("/portal/")))
    r = client.post(
        f"/portal/households/{other}/applications",
        data={"csrf_token": token, "student": term.student_b, "programme": term.programme},
    )
    assert r.status_code == 404


def test_the_invoices_page_lists_only_the_households_invoices(client, term):
    page = _flat(client.get(f"/portal/households/{term.home_a}/invoices"))
    assert term.invoice_a in page and term.invoice_b not in page
    assert "¥400.00" in page and "待缴费" in page
    html = text(client.get(f"/portal/households/{term.home_a}/invoices"))
    assert f'href="/portal/invoices/S1/{term.invoice_a}.pdf"' in html


def test_the_invoice_pdf_is_the_households_invoice_as_issued(client, db, term):
    r = client.get(f"/portal/invoices/S1/{term.invoice_a}.pdf")
    assert r.status_code == 200 and r.mimetype == "application/pdf"
    pdf = "".join(page.extract_text() for page in PdfReader(io.BytesIO(r.data)).pages)
    assert term.invoice_a in pdf and "400.00" in pdf and "甲" in pdf
    assert term.invoice_b not in pdf
    # Issued once into the archive: the API gives the parent the very same bytes.
    api_pdf = term.parent.get(f"/api/v1/schools/S1/invoices/{term.invoice_a}.pdf")
    assert api_pdf.status_code == 200 and api_pdf.data == r.data
    assert client.get(f"/portal/invoices/S1/{term.invoice_a}.pdf").data == r.data
    [line] = db.scalars(select(AuditRecord).where(AuditRecord.action == "document.issue"))
    assert line.actor == term.email and line.target == f"school:S1/invoice:{term.invoice_a}"


def test_why_this_amount_shows_standard_shares_and_the_household_part(client, db, term):
    html = text(client.get(f"/portal/invoices/S1/{term.invoice_a}"))
    [link] = re.findall(r'href="(/portal/charges/\d+)"', html)
    assert link == f"/portal/charges/{_charge_of(db, term.home_a)}"
    page = _flat(client.get(link))
    assert "示范区发改委以示发改价〔2026〕12号核定" in page
    assert "每学期最多缴纳 ¥500.00" in page
    assert "财政补贴 成本的 50% ¥600.00" in page
    assert "学校分担 每学期 ¥200.00 ¥200.00" in page
    assert "家长分担 成本减去财政和学校承担部分 ¥400.00" in page
    assert "本期服务成本： ¥1200.00" in page and "本期没有减免" in page


def test_the_statement_page_has_the_figures_of_the_statement_data(client, db, term):
    r = client.get(f"/portal/households/{term.home_a}/statement?start=2026-08-01&end=2026-12-31")
    page = _flat(r)
    data = statement(db, term.home_a, dt.date(2026, 8, 1), dt.date(2026, 12, 31))
    assert [line["amount"] for line in data["lines"]] == [40000]
    assert "期初余额 ¥0.00" in page and "期末余额 ¥400.00" in page
    assert f"2026-09-01 收费 {term.invoice_a} · 甲 · 基本托管" in page
    # Before the charge: nothing happened.
    page = _flat(
        client.get(f"/portal/households/{term.home_a}/statement?start=2026-01-01&end=2026-08-31")
    )
    assert "此期间没有收支记录" in page and "期末余额 ¥0.00" in page


def test_a_statement_range_that_ends_before_it_starts_is_refused(client, term):
    r = client.get(f"/portal/households/{term.home_a}/statement?start=2026-12-01&end=2026-01-01")
    assert r.status_code == 400 and "结束日期不能早于开始日期" in text(r)
    r = client.get(f"/portal/households/{term.home_a}/statement?start=yesterday")
    assert r.status_code == 400 and "日期格式不正确" in text(r)


def test_the_language_switch_changes_every_string_and_is_kept(client, term):
    assert "家庭概览" in text(client.get("/portal/"))
    token = csrf_from(text(client.get("/portal/")))
    r = client.post(
        "/portal/language", data={"csrf_token": token, "lang": "en", "next": "/portal/"}
    )
    assert r.status_code == 302 and r.headers["Location"] == "/portal/"
    page = text(client.get("/portal/"))
    assert '<html lang="en">' in page
    assert "Household overview" in page and "Balance due" in page and "家庭概览" not in page
    assert "Enrolled" in _flat(client.get("/portal/"))
    # Kept for the next pages, and an unknown language changes nothing.
    assert "Invoices" in text(client.get(f"/portal/households/{term.home_a}/invoices"))
    client.post("/portal/language", data={"csrf_token": token, "lang": "fr", "next": "/portal/"})
    assert "Household overview" in text(client.get("/portal/"))
    client.post("/portal/language", data={"csrf_token": token, "lang": "zh-CN"})
    assert "家庭概览" in text(client.get("/portal/"))


def test_the_language_can_be_switched_before_login(client):
    token = csrf_from(text(client.get("/portal/login")))
    client.post(
        "/portal/language", data={"csrf_token": token, "lang": "en", "next": "/portal/login"}
    )
    assert "Parent login" in text(client.get("/portal/login"))


@pytest.fixture
def open_programme(db, term):
    school = db.scalar(select(School).where(School.code == "S1"))
    p = programme(db, school, db.get(Term, term.term), kind="enrichment")
    db.commit()
    return p.id


def _apply(client, term, **data):
    token = csrf_from(text(client.get(f"/portal/households/{term.home_a}/applications")))
    return client.post(
        f"/portal/households/{term.home_a}/applications", data={"csrf_token": token, **data}
    )


def test_a_parent_applies_and_sees_the_review_status(client, db, term, open_programme):
    page = text(client.get(f"/portal/households/{term.home_a}/applications"))
    assert f'<option value="{open_programme}">' in page
    r = _apply(client, term, student=term.student_a, programme=open_programme)
    assert r.status_code == 302
    [application] = db.scalars(
        select(Application).where(Application.programme_id == open_programme)
    )
    assert (application.student_id, application.status) == (term.student_a, "applied")
    assert application.applied_by == term.email
    [line] = db.scalars(
        select(AuditRecord).where(AuditRecord.target == f"application:{application.id}")
    )
    assert (line.action, line.actor, line.path) == (
        "application.create",
        term.email,
        f"/portal/households/{term.home_a}/applications",
    )
    page = _flat(client.get(r.headers["Location"]))
    applied_on = application.applied_at.date()
    assert "申请已提交，等待班级审核" in page
    assert f"甲 enrichment 班 {applied_on} 2026-09-01 待审核" in page
    # The programme is no longer offered, and the approved basic care shows as approved.
    assert f'<option value="{open_programme}">' not in text(
        client.get(f"/portal/households/{term.home_a}/applications")
    )
    assert re.search(r"甲 基本托管 [\d-]+ 2026-09-01 已批准", page)


def test_applying_twice_is_refused_and_written_once(client, db, term, open_programme):
    assert _apply(client, term, student=term.student_a, programme=open_programme).status_code == 302
    r = _apply(client, term, student=term.student_a, programme=open_programme)
    assert r.status_code == 409 and "该孩子已有此项目的申请" in text(r)
    count = select(func.count()).select_from(Application)
    assert db.scalar(count.where(Application.programme_id == open_programme)) == 1


def test_a_parent_cannot_apply_for_another_child_or_school(client, db, term, open_programme):
    before = db.scalar(select(func.count()).select_from(Application))
    assert _apply(client, term, student=term.student_b, programme=open_programme).status_code == 404
    other_school = db.scalar(select(School).where(School.code == "S2"))
    other_term = db.scalar(select(Term).where(Term.school_id == other_school.id))
    elsewhere = programme(db, other_school, other_term)
    db.commit()
    assert _apply(client, term, student=term.student_a, programme=elsewhere.id).status_code == 404
    r = _apply(
        client, term, student=term.student_a, programme=open_programme, start_date="2030-01-01"
    )
    assert r.status_code == 422 and "开始日期不在学期内" in text(r)
    r = _apply(client, term, student=term.student_a)
    assert r.status_code == 400
    assert db.scalar(select(func.count()).select_from(Application)) == before
