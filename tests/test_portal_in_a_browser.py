"""The parent portal in a real browser: Debian's Chromium driven by Playwright.

The app runs as a real HTTP server (werkzeug's ``make_server`` in a thread)
on a throwaway database of its own — SQLite, or PostgreSQL when
``KEHOU_TEST_DATABASE_URL`` is set — holding the billed term of
tests/term_over_http.py: households A (甲家, the parent's) and B (乙家), each
with an invoice of 400.00.

The parent logs in, sees only household A, opens the invoice's PDF, follows
"why this amount", switches from Chinese to English and gets 404 for
household B's pages; on a phone-sized screen no page scrolls sideways.
Screenshots are written to ``test-artifacts/screenshots/`` (git-ignored).

Run them alone with ``.venv/bin/pytest -m browser -s``. They are skipped,
with the reason, when /usr/bin/chromium is missing (``make test`` installs
it through scripts/test-deps.sh; never ``playwright install``).
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from browser_setup import BROWSER_MARKS, screenshot, served_billed_term
from portal_setup import PASSWORD
from pypdf import PdfReader
from sqlalchemy.orm import Session
from term_over_http import Term

from api.models import User
from api.portal.logins import set_password

pytestmark = BROWSER_MARKS


@dataclass
class LivePortal:
    url: str
    email: str
    home_a: int
    home_b: int
    invoice_a: str
    invoice_b: str


@pytest.fixture
def live_portal(throwaway_url: str) -> Iterator[LivePortal]:
    """The billed term in a throwaway database, served over HTTP on a free local port."""

    def prepare(db: Session, term: Term) -> LivePortal:
        parent = db.get(User, term.parent.get("/api/v1/me").json["id"])
        set_password(db, parent, PASSWORD)
        return LivePortal(
            "", parent.email, term.home_a, term.home_b, term.invoice_a, term.invoice_b
        )

    with served_billed_term(throwaway_url, prepare) as (url, portal):
        portal.url = url
        yield portal


def _log_in(page: Any, portal: LivePortal) -> None:
    page.goto(f"{portal.url}/portal/")
    assert page.url == f"{portal.url}/portal/login?next=/portal/"
    page.fill("#email", portal.email)
    page.fill("#password", PASSWORD)
    page.click("button.primary")
    page.wait_for_url(f"{portal.url}/portal/")


def test_a_parent_uses_the_portal_in_chromium(live_portal: LivePortal, browser: Any) -> None:
    portal = live_portal
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    page = context.new_page()

    # Logging in: a wrong password first, then the right one.
    page.goto(f"{portal.url}/portal/login")
    page.fill("#email", portal.email)
    page.fill("#password", "not-the-password")
    page.click("button.primary")
    assert "邮箱或密码不正确" in page.inner_text(".error")
    screenshot(page, "desktop-01-login-refused")
    _log_in(page, portal)

    # Only household A, its child and what it owes.
    sections = page.locator("section.household")
    assert sections.count() == 1
    assert sections.first.get_attribute("data-household") == str(portal.home_a)
    body = page.inner_text("main")
    assert "甲家" in body and "乙家" not in body
    assert "¥400.00" in page.inner_text(".figures")
    screenshot(page, "desktop-02-overview")

    # The invoices, and the invoice's PDF.
    page.click("nav.sub >> text=缴费通知单")
    page.wait_for_url(f"{portal.url}/portal/households/{portal.home_a}/invoices")
    rows = page.locator("tr[data-invoice]")
    assert [rows.nth(i).get_attribute("data-invoice") for i in range(rows.count())] == [
        portal.invoice_a
    ]
    screenshot(page, "desktop-03-invoices")
    href = page.get_attribute(f"tr[data-invoice='{portal.invoice_a}'] a.pdf", "href")
    pdf = page.request.get(f"{portal.url}{href}")  # the page's own cookies
    assert pdf.status == 200
    assert pdf.headers["content-type"] == "application/pdf"
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.body())).pages)
    assert portal.invoice_a in text and "400.00" in text

    # Why this amount.
    page.click(f"text={portal.invoice_a}")
    page.wait_for_url(f"{portal.url}/portal/invoices/S1/{portal.invoice_a}")
    page.click("a.why")
    page.wait_for_url(f"{portal.url}/portal/charges/*")
    why = page.inner_text("main")
    assert "为什么是这个金额" in why and "示发改价〔2026〕12号" in why
    assert page.inner_text("#household-amount") == "¥400.00"
    screenshot(page, "desktop-04-why-this-amount-zh")

    # zh-CN -> en: the same page, every string in English.
    page.click("form.lang button[value='en']")
    page.wait_for_load_state()
    assert page.get_attribute("html", "lang") == "en"
    why_en = page.inner_text("main")
    assert "Why this amount" in why_en and "为什么是这个金额" not in why_en
    assert "The approved fee standard" in why_en
    assert page.inner_text("#household-amount") == "¥400.00"
    screenshot(page, "desktop-05-why-this-amount-en")

    # Household B's pages do not exist for this parent.
    for path in (
        f"/portal/households/{portal.home_b}",
        f"/portal/households/{portal.home_b}/statement",
        f"/portal/invoices/S1/{portal.invoice_b}",
    ):
        response = page.goto(f"{portal.url}{path}")
        assert response.status == 404, path
        assert "Page not found" in page.inner_text("main")
    screenshot(page, "desktop-06-other-household-404")
    context.close()


def test_no_page_scrolls_sideways_on_a_phone(live_portal: LivePortal, browser: Any) -> None:
    portal = live_portal
    width = 390
    context = browser.new_context(
        viewport={"width": width, "height": 844},
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
        locale="zh-CN",
    )
    page = context.new_page()

    def fits(name: str) -> None:
        scroll = page.evaluate("document.documentElement.scrollWidth")
        assert scroll <= width, f"{name} is {scroll}px wide on a {width}px screen"
        screenshot(page, f"phone-{name}")

    page.goto(f"{portal.url}/portal/login")
    fits("login")
    _log_in(page, portal)
    page.goto(f"{portal.url}/portal/invoices/S1/{portal.invoice_a}")
    charge = page.get_attribute("a.why", "href")
    pages = {
        "overview": "/portal/",
        "invoices": f"/portal/households/{portal.home_a}/invoices",
        "invoice": f"/portal/invoices/S1/{portal.invoice_a}",
        "why-this-amount": charge,
        "statement": f"/portal/households/{portal.home_a}/statement"
        "?start=2026-08-01&end=2027-01-31",
        "applications": f"/portal/households/{portal.home_a}/applications",
    }
    for name, path in pages.items():
        assert page.goto(f"{portal.url}{path}").status == 200, name
        fits(name)
    context.close()
