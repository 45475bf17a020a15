"""The staff dashboard: the same login as parents, role-aware, scoped, and its numbers exact.

On the billed term of tests/term_over_http.py (school S1 in district DS1,
households A and B each invoiced 400.00 on 2026-09-01) with a payment of
150.00 from household A and a subsidy claim of 1200.00 of which 700.00
received, finance of S1, an auditor, an admin, finance of S2 and the parent
log in on the portal's one login page:

* staff land on ``/portal/dashboard``, the parent on their household;
* parents get 404 on every dashboard URL and staff 404 on the household pages;
* finance of S1 sees S1 and gets 404 for S2 (and for a district they do not
  see whole); auditors and admins see everything;
* every chart is an inline SVG with a numbers page and a CSV, and the CSV's
  numbers are the domain functions' numbers.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import xml.etree.ElementTree as ET

import pytest
from portal_setup import PASSWORD, login, text
from sqlalchemy import select
from term_over_http import billed_term, ok

from api.models import User
from api.portal import dashboard
from api.portal.logins import set_password
from invoices import figures
from ledger.audit import reconcile, rules
from ledger.money import format_fen
from ledger.school.fund_use import fund_use
from ledger.school.models import School

START, END = "2026-08-01", "2027-01-31"
RANGE = f"from={START}&to={END}"
CHARTS = ("collection", "aging", "subsidies", "fund-use", "findings")
SVG = "{http://www.w3.org/2000/svg}"


def _email(api) -> str:  # type: ignore[no-untyped-def]
    return api.get("/api/v1/me").json["email"]


def _give_password(db, email: str) -> None:  # type: ignore[no-untyped-def]
    set_password(db, db.scalar(select(User).where(User.email == email)), PASSWORD)


@pytest.fixture
def term(client, db, tokens, make_token):  # type: ignore[no-untyped-def]
    term = billed_term(client, db, tokens, make_token)
    pay = {"household": term.home_a, "amount": "150.00", "received_on": "2026-09-10"}
    ok(term.finance.post("/api/v1/schools/S1/payments", json={**pay, "method": "wechat"}, key="p"))
    period = {"period_start": "2026-09-01", "period_end": "2027-01-15", "claimed_on": "2026-09-05"}
    claim = ok(term.finance.post("/api/v1/schools/S1/subsidy-claims", json=period))
    receipt = {"amount": "700.00", "received_on": "2026-10-15", "reference": "财拨-01"}
    ok(
        term.finance.post(
            f"/api/v1/schools/S1/subsidy-claims/{claim['id']}/receipts", json=receipt, key="g"
        )
    )
    for api in (term.finance, term.auditor, term.admin, term.outsider, term.parent):
        _give_password(db, _email(api))
    db.commit()
    return term


def _as(app, api):  # type: ignore[no-untyped-def]
    """A fresh browser-like client logged in as the API caller's user."""
    c = app.test_client()
    r = login(c, _email(api))
    assert r.status_code == 302, text(r)
    return c, r


def test_staff_land_on_the_dashboard_and_parents_on_their_household(app, term):
    for who in (term.finance, term.auditor, term.admin):
        c, r = _as(app, who)
        assert r.headers["Location"] == "/portal/"
        home = c.get("/portal/")
        assert home.status_code == 302 and home.headers["Location"] == "/portal/dashboard"
        page = c.get("/portal/dashboard")
        assert page.status_code == 200 and 'data-school="S1"' in text(page)
    c, _ = _as(app, term.parent)
    assert "甲家" in text(c.get("/portal/"))


def test_a_parent_gets_404_on_every_dashboard_url(app, term):
    c, _ = _as(app, term.parent)
    for path in (
        "/portal/dashboard",
        "/portal/dashboard/schools/S1",
        "/portal/dashboard/districts/DS1",
        *(f"/portal/dashboard/schools/S1/numbers/{chart}" for chart in CHARTS),
        *(f"/portal/dashboard/schools/S1/numbers/{chart}.csv" for chart in CHARTS),
        "/portal/dashboard/districts/DS1/numbers/aging.csv",
    ):
        r = c.get(path)
        assert r.status_code == 404, path
        assert "页面不存在" in text(r)


def test_staff_get_404_on_the_household_pages(app, term):
    c, _ = _as(app, term.auditor)
    for path in (
        f"/portal/households/{term.home_a}",
        f"/portal/households/{term.home_a}/invoices",
        f"/portal/households/{term.home_a}/applications",
        f"/portal/invoices/S1/{term.invoice_a}",
        f"/portal/invoices/S1/{term.invoice_a}.pdf",
    ):
        assert c.get(path).status_code == 404, path


def test_without_a_login_the_dashboard_asks_for_one(client):
    r = client.get("/portal/dashboard/schools/S1?from=2026-09-01")
    assert r.status_code == 302
    assert r.headers["Location"].startswith("/portal/login?next=/portal/dashboard/schools/S1")


def test_finance_of_one_school_sees_only_that_school(app, term):
    c, _ = _as(app, term.finance)
    index = text(c.get("/portal/dashboard"))
    assert 'data-school="S1"' in index and 'data-school="S2"' not in index
    assert c.get(f"/portal/dashboard/schools/S1?{RANGE}").status_code == 200
    for path in (
        "/portal/dashboard/schools/S2",
        "/portal/dashboard/schools/S2/numbers/aging",
        "/portal/dashboard/schools/S2/numbers/aging.csv",
        "/portal/dashboard/schools/NOPE",
        "/portal/dashboard/districts/DS2",
        "/portal/dashboard/districts/DS2/numbers/collection.csv",
    ):
        assert c.get(path).status_code == 404, path
    # the other school's finance, the other way round
    other, _ = _as(app, term.outsider)
    assert other.get("/portal/dashboard/schools/S1").status_code == 404
    assert other.get("/portal/dashboard/schools/S2").status_code == 200


def test_a_district_page_is_only_for_who_sees_all_its_schools(app, db, term):
    # DS1 has S1 only, so S1's finance sees the district whole; add a school they do not see.
    c, _ = _as(app, term.finance)
    assert c.get(f"/portal/dashboard/districts/DS1?{RANGE}").status_code == 200
    from ledger.school import structure
    from ledger.school.models import District

    ds1 = db.scalar(select(District).where(District.code == "DS1"))
    structure.create_school(
        db,
        ds1,
        code="S3",
        name="第S3小学",
        actor="admin@test",
        bank_name="示范银行",
        bank_account="6222000011113333",
        complaints_phone="12345",
    )
    db.commit()
    assert c.get(f"/portal/dashboard/districts/DS1?{RANGE}").status_code == 404
    assert c.get("/portal/dashboard/districts/DS1/numbers/aging.csv").status_code == 404
    assert 'data-district="DS1"' not in text(c.get("/portal/dashboard"))
    auditor, _ = _as(app, term.auditor)
    page = auditor.get(f"/portal/dashboard/districts/DS1?{RANGE}")
    assert page.status_code == 200
    assert "第S3小学" in text(page)


@pytest.mark.parametrize("role", ["auditor", "admin"])
def test_auditors_and_admins_see_every_school_and_district(app, term, role):
    c, _ = _as(app, getattr(term, role))
    index = text(c.get("/portal/dashboard"))
    for code in ('data-school="S1"', 'data-school="S2"', 'data-district="DS1"'):
        assert code in index
    for path in ("/portal/dashboard/schools/S2", "/portal/dashboard/districts/DS2"):
        assert c.get(f"{path}?{RANGE}").status_code == 200, path


def _svgs(html: str) -> list[ET.Element]:
    """Every inline <svg> of a page, parsed as XML on its own."""
    out = []
    rest = html
    while "<svg" in rest:
        start = rest.index("<svg")
        end = rest.index("</svg>", start) + len("</svg>")
        out.append(ET.fromstring(rest[start:end]))
        rest = rest[end:]
    return out


@pytest.mark.parametrize("scope", ["schools/S1", "districts/DS1"])
def test_every_chart_is_an_svg_with_its_numbers_and_a_csv(app, term, scope):
    c, _ = _as(app, term.finance)
    page = c.get(f"/portal/dashboard/{scope}?{RANGE}")
    assert page.status_code == 200
    html = text(page)
    svgs = _svgs(html)
    assert [s.get("id") for s in svgs] == [f"chart-{chart}" for chart in CHARTS]
    for svg in svgs:
        assert svg.find(f"{SVG}title") is not None and svg.find(f"{SVG}desc") is not None
    assert "<script" not in html
    for chart in CHARTS:
        numbers = f"/portal/dashboard/{scope}/numbers/{chart}?{RANGE}"
        download = f"/portal/dashboard/{scope}/numbers/{chart}.csv?{RANGE}"
        assert f'href="{numbers.replace("&", "&amp;")}"' in html
        assert f'href="{download.replace("&", "&amp;")}"' in html
        table = c.get(numbers)
        assert table.status_code == 200, numbers
        assert 'id="numbers"' in text(table) or "此期间没有数据" in text(table)
        got = c.get(download)
        assert got.status_code == 200 and got.mimetype == "text/csv"
        assert got.headers["Content-Disposition"].startswith("attachment; filename=")
        assert got.get_data(as_text=True).startswith("\ufeff")


def _csv(c, path: str) -> list[dict[str, str]]:  # type: ignore[no-untyped-def]
    body = c.get(path).get_data(as_text=True).removeprefix("\ufeff")
    return list(csv.DictReader(io.StringIO(body)))


def test_the_csv_numbers_are_the_ledger_functions_numbers(app, db, term):
    c, _ = _as(app, term.auditor)
    s1 = db.scalar(select(School).where(School.code == "S1"))
    start, end = dt.date.fromisoformat(START), dt.date.fromisoformat(END)
    base = "/portal/dashboard/schools/S1/numbers"

    # collection: 800.00 billed, 150.00 collected, 650.00 outstanding, 18.75 %
    expected = reconcile.collection(db, s1, start, end)
    [row, total] = _csv(c, f"{base}/collection.csv?{RANGE}")
    assert (
        (row["billed"], row["collected"], row["outstanding"], row["rate_percent"])
        == (
            format_fen(expected.billed),
            format_fen(expected.collected),
            format_fen(expected.outstanding),
            expected.rate_percent,
        )
        == ("800.00", "150.00", "650.00", "18.75")
    )
    assert total["school"] == "total" and total["billed"] == "800.00"
    assert "18.75%" in text(c.get(f"/portal/dashboard/schools/S1?{RANGE}"))

    # aging as of the range's end: per household, buckets as the report has them
    aging = reconcile.receivables_aging(db, s1, end)
    rows = _csv(c, f"{base}/aging.csv?{RANGE}")
    assert [r["household"] for r in rows[:-1]] == [h.name for h in aging.households]
    for r, h in zip(rows, aging.households, strict=False):
        assert r["total"] == format_fen(h.total)
        assert r["days_over_90"] == format_fen(h.buckets["over_90"])
    assert rows[-1]["total"] == format_fen(aging.total) == "650.00"

    # subsidies: the claim as the reconciliation has it
    rec = reconcile.subsidy_claims(db, s1)
    [claim, _total] = _csv(c, f"{base}/subsidies.csv?{RANGE}")
    [expected_claim] = rec.claims
    assert (
        (claim["claim"], claim["claimed"], claim["received"], claim["outstanding"])
        == (
            expected_claim.number,
            format_fen(expected_claim.claimed),
            format_fen(expected_claim.received),
            format_fen(expected_claim.outstanding),
        )
        == (expected_claim.number, "1200.00", "700.00", "500.00")
    )

    # fund use over the range: each kind of spending
    report = fund_use(db, s1, figures.Span(start, end))  # type: ignore[arg-type]
    rows = _csv(c, f"{base}/fund-use.csv?{RANGE}")
    assert {r["kind"]: r["amount"] for r in rows[:-1]} == {
        k: format_fen(v) for k, v in report["spending"].items()
    }

    # findings: a count per rule, every rule listed
    found = rules.run_audit(db, rules.scope_for(db, [s1], start, end))
    rows = _csv(c, f"{base}/findings.csv?{RANGE}")
    assert [r["rule"] for r in rows[:-1]] == [r.code for r in rules.RULES]
    for r in rows[:-1]:
        assert int(r["findings"]) == sum(1 for f in found if f.rule == r["rule"])


def test_the_district_csv_adds_up_the_schools(app, db, term):
    c, _ = _as(app, term.admin)
    s1 = db.scalar(select(School).where(School.code == "S1"))
    [row, total] = _csv(c, f"/portal/dashboard/districts/DS1/numbers/aging.csv?{RANGE}")
    aging = reconcile.receivables_aging(db, s1, dt.date.fromisoformat(END))
    assert row["school"] == "S1" and row["total"] == format_fen(aging.total)
    assert row["books_receivable"] == format_fen(aging.books_receivable)
    assert total["total"] == row["total"]


def test_a_bad_range_is_refused_with_the_form(app, term):
    c, _ = _as(app, term.finance)
    r = c.get("/portal/dashboard/schools/S1?from=2027-01-01&to=2026-01-01")
    assert r.status_code == 400 and "结束日期不能早于开始日期" in text(r)
    assert c.get("/portal/dashboard/schools/S1?from=not-a-date").status_code == 400
    bad = "/portal/dashboard/schools/S1/numbers/aging.csv?from=2027-01-01&to=2026-01-01"
    assert c.get(bad).status_code == 400
    assert c.get("/portal/dashboard/schools/S1/numbers/nothing").status_code == 404


def test_the_numbers_page_shows_the_table_and_its_chart_in_english(app, term):
    c, _ = _as(app, term.finance)
    token = c.get("/portal/dashboard").get_data(as_text=True)
    from portal_setup import csrf_from

    c.post("/portal/language", data={"csrf_token": csrf_from(token), "lang": "en"})
    page = text(c.get(f"/portal/dashboard/schools/S1/numbers/collection?{RANGE}"))
    assert "Collection rate" in page and "Billed" in page and "¥800.00" in page
    assert "18.75%" in page and "收缴率" not in page
    assert _svgs(page)[0].get("id") == "chart-collection"


def test_a_teacher_may_not_have_a_portal_login(api, db, tokens):
    from http_helpers import assert_problem

    teacher = api.as_(tokens["teacher"]).get("/api/v1/me").json["id"]
    r = api.as_(tokens["admin"]).post(
        f"/api/v1/users/{teacher}/portal-login", json={"password": "晚霞-orchard-77"}
    )
    assert_problem(r, 422, "portal_login_role_not_allowed")
    finance = api.as_(tokens["finance"]).get("/api/v1/me").json["id"]
    r = api.as_(tokens["admin"]).post(
        f"/api/v1/users/{finance}/portal-login", json={"password": "晚霞-orchard-77"}
    )
    assert r.status_code == 200, r.json


def test_every_audit_rule_and_chart_has_its_words():
    from api.portal import messages

    for rule in rules.RULES:
        assert f"audit_rule.{rule.code}" in messages.MESSAGES
        assert f"severity.{rule.severity}" in messages.MESSAGES
    for key in dashboard.SLUGS.values():
        for part in ("title", "note"):
            assert f"dash.{key}.{part}" in messages.MESSAGES


def test_every_word_the_charts_use_is_in_the_catalogue():
    import re
    from pathlib import Path

    from api.portal import messages

    source = Path(figures.__file__).read_text() + Path(dashboard.__file__).read_text()
    used = set(re.findall(r"""\bt\(\s*["']([\w.\-]+)["']""", source))
    assert {"dash.axis.yuan", "dash.axis.count", "dash.rate"} <= used
    assert sorted(used - set(messages.MESSAGES)) == []
    for column in (
        *figures.COLLECTION,
        *figures.AGING_BUCKETS,
        *(figures.Column(k, "") for k in ("claimed", "received", "outstanding", "household")),
    ):
        assert f"dcol.{column.key}" in messages.MESSAGES


def test_the_pdf_report_embeds_the_same_charts_with_their_numbers(app, term):
    from pdf_helpers import pdf_text

    c, _ = _as(app, term.finance)
    page = text(c.get(f"/portal/dashboard/schools/S1?{RANGE}"))
    report = f"/portal/dashboard/schools/S1/report.pdf?{RANGE}"
    assert f'href="{report.replace("&", "&amp;")}"' in page
    r = c.get(report)
    assert r.status_code == 200 and r.mimetype == "application/pdf"
    assert r.headers["Content-Disposition"] == (
        f'attachment; filename="dashboard-S1-{START}-{END}.pdf"'
    )
    words = pdf_text(r.data)
    for expected in (
        "课后服务经费看板",  # the document's title
        "第S1小学",
        "收缴率",
        "18.75%",
        "¥800.00",  # in the collection chart and its table
        "欠费账龄",
        "¥650.00",
        "S1-SC-2026-0001",  # the subsidy claim, in its chart and its table
        "¥1,200.00",
        "经费使用（按类别）",
        "审计发现（按规则）",
        "金额（元）",  # the charts' axis, drawn from the SVG
    ):
        assert expected in words, expected
    district = c.get(f"/portal/dashboard/districts/DS1/report.pdf?{RANGE}")
    assert district.status_code == 200 and "第S1小学" in pdf_text(district.data)
    other, _ = _as(app, term.outsider)
    assert other.get(report).status_code == 404
    parent, _ = _as(app, term.parent)
    assert parent.get(report).status_code == 404


@pytest.mark.parametrize(
    ("part", "whole", "expected"),
    [
        (15000, 80000, "18.75"),
        (1, 3, "33.33"),
        (2, 3, "66.67"),
        (1, 20000, "0.01"),  # 0.005 % rounds half up
        (1, 80000, "0.00"),
        (0, 5, "0.00"),
        (5, 5, "100.00"),
        (7, 5, "140.00"),
        (-1, 3, "-33.33"),
        (5, 0, None),
    ],
)
def test_a_rate_is_an_exact_percentage_with_two_decimals(part, whole, expected):
    assert reconcile.percent(part, whole) == expected
