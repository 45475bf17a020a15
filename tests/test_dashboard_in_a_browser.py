"""The staff dashboard in a real browser: Debian's Chromium driven by Playwright.

The same set-up as tests/test_portal_in_a_browser.py (a live werkzeug server
on a throwaway database, SQLite or PostgreSQL): the billed term, a payment of
150.00 from household A, and portal passwords for S1's finance user and the
parent. The finance user logs in on the portal's login page, lands on the
dashboard, opens school S1 for a date range and sees five SVG charts,
downloads them as a PDF report, follows a chart's "numbers" link to its
table and downloads its CSV; on a phone the
dashboard does not scroll sideways; the parent gets 404 on the dashboard.
Screenshots go to ``test-artifacts/screenshots/dashboard-*.png``.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from browser_setup import BROWSER_MARKS, screenshot, served_billed_term
from portal_setup import PASSWORD
from sqlalchemy import select
from sqlalchemy.orm import Session
from term_over_http import Term, ok

from api.models import User
from api.portal.logins import set_password

START, END = "2026-08-01", "2027-01-31"

pytestmark = BROWSER_MARKS


@dataclass
class LiveDashboard:
    url: str
    finance: str
    parent: str


@pytest.fixture
def live(throwaway_url: str) -> Iterator[LiveDashboard]:
    def prepare(db: Session, term: Term) -> LiveDashboard:
        pay = {"household": term.home_a, "amount": "150.00", "received_on": "2026-09-10"}
        ok(term.finance.post("/api/v1/schools/S1/payments", json=pay | {"method": "cash"}, key="p"))
        emails = [api.get("/api/v1/me").json["email"] for api in (term.finance, term.parent)]
        for email in emails:  # after the HTTP calls: SQLite lets one writer at a time
            set_password(db, db.scalar(select(User).where(User.email == email)), PASSWORD)
        return LiveDashboard("", *emails)

    with served_billed_term(throwaway_url, prepare) as (url, live):
        live.url = url
        yield live


def _shoot(page: Any, name: str) -> None:
    screenshot(page, f"dashboard-{name}")


def _log_in(page: Any, live: LiveDashboard, email: str) -> None:
    page.goto(f"{live.url}/portal/login")
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    page.click("button.primary")
    page.wait_for_load_state()


def test_finance_reads_the_dashboard_in_chromium(live: LiveDashboard, browser: Any) -> None:
    context = browser.new_context(
        viewport={"width": 1280, "height": 900}, locale="zh-CN", accept_downloads=True
    )
    page = context.new_page()
    console_errors: list[str] = []
    page.on("console", lambda m: console_errors.append(m.text) if m.type == "error" else None)

    # The parents' login page, and the dashboard after it.
    _log_in(page, live, live.finance)
    assert page.url == f"{live.url}/portal/dashboard"
    assert page.locator("li[data-school]").count() == 1
    _shoot(page, "desktop-01-index")

    # School S1 over a date range chosen in the form.
    page.click("li[data-school='S1'] a")
    page.wait_for_url(f"{live.url}/portal/dashboard/schools/S1")
    page.fill("#from", START)
    page.fill("#to", END)
    page.click("form.range button")
    page.wait_for_url(f"{live.url}/portal/dashboard/schools/S1?from={START}&to={END}")
    charts = page.locator("svg.chart")
    assert charts.count() == 5
    for i in range(5):
        box = charts.nth(i).bounding_box()
        assert box is not None and box["width"] > 300 and box["height"] > 60, i
    assert page.inner_text("#collection-rate") == "18.75%"
    assert page.locator("#chart-collection rect title").count() == 3  # billed, collected, owed
    assert "欠费账龄" in page.inner_text("#card-aging h2")
    _shoot(page, "desktop-02-school")

    # The same charts as a PDF report.
    with page.expect_download() as info:
        page.click("a.pdf")
    report = info.value
    assert report.suggested_filename == f"dashboard-S1-{START}-{END}.pdf"
    assert Path(report.path()).read_bytes().startswith(b"%PDF-")

    # One click to the numbers behind the aging chart.
    page.click("#card-aging a.numbers")
    page.wait_for_url(f"{live.url}/portal/dashboard/schools/S1/numbers/aging?*")
    households = page.locator("table#numbers tbody tr td[data-key='household']")
    assert sorted(households.all_inner_texts()) == ["乙家", "甲家"]
    assert page.inner_text("table#numbers tfoot td[data-key='total']") == "¥650.00"
    _shoot(page, "desktop-03-aging-numbers")

    # And its CSV, downloaded as a browser does.
    with page.expect_download() as info:
        page.click("a.csv")
    download = info.value
    assert download.suggested_filename == f"aging-S1-{START}-{END}.csv"
    body = Path(download.path()).read_text(encoding="utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(body)))
    assert sorted(r["household"] for r in rows) == ["total", "乙家", "甲家"]
    assert [r["total"] for r in rows if r["household"] == "total"] == ["650.00"]

    # In English, the same page.
    page.click("form.lang button[value='en']")
    page.wait_for_load_state()
    assert "Receivables aging" in page.inner_text("h1")
    _shoot(page, "desktop-04-aging-numbers-en")
    # The inline SVGs break no rule of the page's Content-Security-Policy.
    assert [e for e in console_errors if "Content Security Policy" in e] == []
    context.close()


def test_the_dashboard_fits_a_phone(live: LiveDashboard, browser: Any) -> None:
    width = 390
    context = browser.new_context(
        viewport={"width": width, "height": 844},
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
        locale="zh-CN",
    )
    page = context.new_page()
    _log_in(page, live, live.finance)
    for name, path in {
        "index": "/portal/dashboard",
        "school": f"/portal/dashboard/schools/S1?from={START}&to={END}",
        "district": f"/portal/dashboard/districts/DS1?from={START}&to={END}",
        "numbers": f"/portal/dashboard/schools/S1/numbers/subsidies?from={START}&to={END}",
    }.items():
        assert page.goto(f"{live.url}{path}").status == 200, name
        scroll = page.evaluate("document.documentElement.scrollWidth")
        assert scroll <= width, f"{name} is {scroll}px wide on a {width}px screen"
        _shoot(page, f"phone-{name}")
    context.close()


def test_a_parent_gets_404_on_the_dashboard(live: LiveDashboard, browser: Any) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    page = context.new_page()
    _log_in(page, live, live.parent)
    assert page.url == f"{live.url}/portal/"
    for path in ("/portal/dashboard", "/portal/dashboard/schools/S1"):
        response = page.goto(f"{live.url}{path}")
        assert response.status == 404, path
        assert "页面不存在" in page.inner_text("main")
    _shoot(page, "desktop-05-parent-404")
    context.close()
