"""The access matrix: every route of the URL map, called as every caller, answers as
``tests/access_matrix.py`` says.

The world (``tests/access_world.py``) is built once for the module, in a
transaction rolled back at the end; every call runs in a savepoint of its own
that is rolled back after it, so a write allowed to one caller (a payment, a
closed period, a cancelled invoice) changes nothing the next call sees. The
routes' path parameters are filled from the world by name; reads get the
query they require, writes a valid body (:data:`REQUESTS`), so that an
out-of-scope caller meets the scope check (404) rather than a validation
error (422).

What is compared: the answer's class (``ok``, 401, 403, 404, or the status
itself when it is none of these) against the cell; every refusal is a
problem+json with the matching code; and no answer to a caller carries the
names or invoice numbers of a household or school it may not see. All
differences are collected and reported in one assertion.

The parent portal's pages (``/portal``, cookie sessions) have a table of
their own, :data:`access_matrix.PORTAL`, checked the same way with each
caller signed in through the login form. The routes in neither table are
named in :data:`EXCLUDED` with the reason: the OpenAPI description and its
docs page (public by design) and static files.

Two things are stood in for. The task queue (Redis), by a job of school X
that ``api.queue.fetch`` returns. And WeasyPrint's layout of a PDF: the
documents' data are gathered and their HTML rendered from the templates as
always, but the page layout (most of a document's time, and the documents'
own tests check it) is replaced by a fixed one-line PDF, which keeps the
whole matrix well within a minute and a half on two cores.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest
from access_matrix import (
    COLUMNS,
    MATRIX,
    PORTAL,
    PORTAL_CELLS,
    PORTAL_PREFIX,
    ROLE_OF,
    normal,
    parse,
)
from access_world import PORTAL_PASSWORD, World, build
from portal_setup import csrf_from
from sqlalchemy import text
from sqlalchemy.orm import Session

from api import create_app

WRITES = {"POST", "PUT", "PATCH", "DELETE"}
PREFIX_API = "/api/v1/"
PROBLEM_CODES = {401: "unauthenticated", 403: "forbidden", 404: "not_found"}

#: Routes of the URL map that the matrix leaves out, and why.
EXCLUDED = {
    "/api/openapi.json": "the API's description: public by design",
    "/api/docs": "the API's docs page: public by design",
    "/api/docs/static/<path:filename>": "the docs page's script and styles",
    "/static/<path:filename>": "Flask's static files",
    "/portal/static/<path:filename>": "the portal's style sheet",
}

Ids = dict[str, Any]

# --------------------------------------------------------------------------- what is sent

#: Per route: the query a read requires, the body a write takes, path values other than the
#: defaults (``params``), or raw ``data`` with its ``content_type``. Values are built from the
#: world's ids. A write without an entry is sent with no body.
REQUESTS: dict[tuple[str, str], Callable[[Ids], dict[str, Any]]] = {
    # users and links
    ("POST", "/users"): lambda i: {"json": {"email": "am-new@test.kehou", "role": "parent"}},
    ("POST", "/users/<int:user_id>/links"): lambda i: {"json": {"household": i["household_id"]}},
    ("POST", "/users/<int:user_id>/links/remove"): lambda i: {
        "json": {"household": i["household_id"]}
    },
    ("POST", "/users/<int:user_id>/portal-login"): lambda i: {
        "json": {"password": "a long and unusual phrase 7351"}
    },
    # districts, schools, households, students, standards
    ("POST", "/districts"): lambda i: {
        "json": {"code": "AMNEW", "name": "新区", "funder_name": "新区财政局"}
    },
    ("POST", "/schools"): lambda i: {
        "json": {"district": i["district"], "code": "AMNEW", "name": "新学校"}
    },
    ("POST", "/schools/<school>/terms"): lambda i: {
        "json": {
            "name": "2027春季学期",
            "start": "2027-02-22",
            "end": "2027-06-30",
            "billing_months": 4,
        }
    },
    ("POST", "/schools/<school>/terms/<int:term_id>/calendar"): lambda i: {
        "json": {"day": "2026-11-02", "kind": "holiday", "note": "运动会"}
    },
    ("POST", "/households"): lambda i: {"json": {"district": i["district"], "name": "丙家"}},
    ("POST", "/schools/<school>/students"): lambda i: {
        "json": {"household": i["household_id"], "name": "甲弟弟"}
    },
    ("POST", "/students/<int:student_id>/hardship"): lambda i: {
        "json": {"evidence_ref": "低保 AM-2", "valid_from": "2026-10-01", "valid_to": "2026-12-31"}
    },
    ("POST", "/fee-standards"): lambda i: {
        "json": {
            "school": i["school"],
            "kind": "enrichment",
            "amount": "100.00",
            "unit": "month",
            "authority": "访问矩阵区发改委",
            "document_no": "访发改价〔2026〕2号",
            "valid_from": "2026-08-01",
            "valid_to": "2027-07-31",
        }
    },
    ("POST", "/cost-policies"): lambda i: {
        "json": {
            "school": i["school"],
            "kind": "basic_care",
            "fee_standard": i["fee_standard_id"],
            "effective_from": "2027-08-01",
            "effective_to": "2028-07-31",
            "unit": "month",
            "unit_cost": "400.00",
            "government": {"mode": "percent", "percent": "50"},
            "school_share": {"mode": "amount", "amount": "50.00"},
            "waiver_cover": "government",
            "refund_rule": "daily",
        }
    },
    # programmes, applications, enrolments, waivers
    ("POST", "/schools/<school>/programmes"): lambda i: {
        "json": {
            "term": i["term_id"],
            "kind": "enrichment",
            "name": "足球",
            "start_time": "15:30",
            "end_time": "17:30",
            "capacity": 20,
        }
    },
    ("POST", "/applications"): lambda i: {
        "json": {
            "student": i["student_id"],
            "programme": i["programme_id"],
            "written_ref": "书面申请 AM-2",
        }
    },
    ("POST", "/applications/<int:application_id>/review"): lambda i: {"json": {"approve": True}},
    ("POST", "/applications/<int:application_id>/decide"): lambda i: {"json": {"approve": True}},
    ("POST", "/enrolments/<int:enrolment_id>/withdraw"): lambda i: {
        "json": {"effective": "2026-10-15"}
    },
    ("POST", "/enrolments/<int:enrolment_id>/absences"): lambda i: {
        "json": {"start": "2026-10-12", "end": "2026-11-20"}
    },
    ("POST", "/waivers"): lambda i: {
        "json": {
            "student": i["student_id"],
            "percent": "100",
            "reason": "低保",
            "evidence_ref": "民政证明 AM-3",
            "valid_from": "2026-10-01",
            "valid_to": "2026-12-31",
        }
    },
    ("POST", "/waivers/<int:waiver_id>/decide"): lambda i: {"json": {"approve": True}},
    ("POST", "/waivers/<int:waiver_id>/credit"): lambda i: {"json": {"effective": "2026-10-01"}},
    # billing and settling
    ("POST", "/schools/<school>/billing-runs"): lambda i: {
        "json": {"term": i["term_id"], "month": "2026-10", "issued_on": "2026-10-01"}
    },
    ("POST", "/schools/<school>/invoices/<number>/cancel"): lambda i: {
        "json": {"on": "2026-10-01", "reason": "开错"}
    },
    ("POST", "/schools/<school>/invoices/<number>/reissue"): lambda i: {
        "json": {"issued_on": "2026-10-02"}
    },
    ("POST", "/schools/<school>/payments"): lambda i: {
        "json": {
            "household": i["household_id"],
            "amount": "5.00",
            "received_on": "2026-10-01",
            "method": "cash",
        }
    },
    ("POST", "/payments/<int:payment_id>/return"): lambda i: {
        "json": {"returned_on": "2026-09-10", "reason": "退票"}
    },
    ("POST", "/schools/<school>/refunds"): lambda i: {
        "json": {
            "household": i["household_id"],
            "amount": "1.00",
            "paid_on": "2026-10-01",
            "method": "cash",
        }
    },
    ("POST", "/schools/<school>/credit-applications"): lambda i: {
        "json": {"household": i["household_id"], "on": "2026-10-01"}
    },
    ("POST", "/schools/<school>/overdue"): lambda i: {"json": {"as_of": "2026-10-31"}},
    ("POST", "/schools/<school>/write-offs"): lambda i: {
        "json": {"household": i["household_id"], "reason": "少不补"}
    },
    ("POST", "/write-offs/<int:write_off_id>/decide"): lambda i: {
        "json": {"approve": True, "on": "2026-10-01"}
    },
    # closing and subsidies
    ("POST", "/schools/<school>/close-period"): lambda i: {
        "json": {"term": i["term_id"], "month": "2026-09"}
    },
    ("POST", "/schools/<school>/close-year"): lambda i: {
        "json": {"year_start": "2025-09-01", "year_end": "2026-08-31"}
    },
    ("POST", "/schools/<school>/subsidy-claims"): lambda i: {
        "json": {"period_start": "2026-10-01", "period_end": "2026-10-31"}
    },
    ("POST", "/schools/<school>/subsidy-claims/<int:claim_id>/receipts"): lambda i: {
        "json": {"amount": "1.00", "received_on": "2026-10-20", "reference": "国库 AM"}
    },
    # books
    ("POST", "/books"): lambda i: {"json": {"code": "AMNEWBOOK", "name": "新账簿"}},
    ("POST", "/books/<book>/accounts"): lambda i: {
        "json": {"code": "1002.9", "name": "备用", "type": "asset", "parent": "1002"}
    },
    ("POST", "/books/<book>/entries"): lambda i: {
        "json": {
            "effective_date": "2026-10-01",
            "memo": "matrix",
            "kind": "adjustment",
            "postings": [
                {"account": "1002", "direction": "debit", "amount": "1.00"},
                {"account": "3001", "direction": "credit", "amount": "1.00"},
            ],
        }
    },
    ("POST", "/books/<book>/entries/<int:entry_id>/reverse"): lambda i: {
        "json": {"effective_date": "2026-10-01", "memo": "matrix"}
    },
    ("POST", "/books/<book>/periods"): lambda i: {
        "json": {"start": "2027-01-01", "end": "2027-01-31"}
    },
    # money out
    ("POST", "/schools/<school>/staff"): lambda i: {"json": {"name": "新老师", "kind": "teacher"}},
    ("POST", "/schools/<school>/pay-rates"): lambda i: {
        "json": {
            "staff_kind": "external",
            "programme_kind": "basic_care",
            "unit": "hour",
            "amount": "200.00",
            "valid_from": "2026-09-01",
            "valid_to": "2026-12-31",
        }
    },
    ("POST", "/schools/<school>/service-hours"): lambda i: {
        "json": {
            "staff": i["staff_id"],
            "programme": i["programme_id"],
            "day": "2026-10-12",
            "start": "15:30",
            "end": "17:30",
        }
    },
    ("POST", "/service-hours/<int:hours_id>/decide"): lambda i: {"json": {"approve": True}},
    ("POST", "/schools/<school>/pay-runs"): lambda i: {
        "json": {"month": "2026-10", "on": "2026-10-31"}
    },
    ("POST", "/districts/<district>/vendors"): lambda i: {
        "json": {
            "name": "另一家体育",
            "uscc": "91330100716105852F",
            "qualification": "资质",
            "services": "篮球",
            "approved_price": "80.00",
            "price_unit": "session",
            "valid_from": "2026-09-01",
            "valid_to": "2026-12-31",
        }
    },
    ("POST", "/vendors/<int:vendor_id>/status"): lambda i: {
        "json": {"status": "suspended", "effective": "2026-11-01", "reason": "整改"}
    },
    ("POST", "/schools/<school>/purchase-agreements"): lambda i: {
        "json": {
            "vendor": i["vendor_id"],
            "programme": i["programme_id"],
            "reference": "AMX-采购-2",
            "unit": "session",
            "price": "70.00",
            "start": "2026-10-01",
            "end": "2026-12-31",
        }
    },
    ("POST", "/schools/<school>/vendor-bills"): lambda i: {
        "json": {
            "vendor": i["vendor_id"],
            "agreement": i["agreement_id"],
            "reference": "LY-AM-10",
            "service_date": "2026-10-30",
            "quantity": 1,
            "unit_price": "75.00",
        }
    },
    ("POST", "/schools/<school>/payout-batches"): lambda i: {
        "json": {
            "method": "bank_transfer",
            "items": [{"source": "vendor_bill", "id": i["bill_id"]}],
        }
    },
    ("POST", "/payout-batches/<int:batch_id>/pay"): lambda i: {"json": {"paid_on": "2026-10-09"}},
    ("GET", "/payout-batches/<int:batch_id>/payroll.csv"): lambda i: {
        "params": {"batch_id": i["payroll_batch_id"]}
    },
    # audit
    ("POST", "/audit-acknowledgements"): lambda i: {
        "json": {
            "rule": "charge_without_consent",
            "subject": f"charge:{i['charge_id']}",
            "note": "已核对",
        }
    },
    # bank
    ("POST", "/schools/<school>/bank-statements"): lambda i: {
        "data": (
            "交易日期,摘要,收入金额,支出金额,对方户名,对方账号,余额\r\n"
            "2026-10-20,结息 interest,1.00,,示范银行,,10013.34\r\n"
        ).encode(),
        "content_type": "text/csv",
    },
    ("POST", "/bank-lines/<int:line_id>/assign"): lambda i: {
        "json": {"household": i["household_id"], "on": "2026-10-01"}
    },
    ("POST", "/bank-lines/<int:line_id>/ignore"): lambda i: {
        "json": {"note": "利息, 另记", "on": "2026-10-01"}
    },
}

_MONTH = {"month": "2026-09"}
_RANGE = {"from": "2026-09-01", "to": "2026-12-31"}
#: The query strings that reads require.
QUERIES: dict[str, Callable[[Ids], dict[str, Any]]] = {
    "/households/<int:household_id>/statement": lambda i: _RANGE,
    "/households/<int:household_id>/statement.pdf": lambda i: _RANGE,
    "/schools/<school>/fund-use": lambda i: {"term": i["term_id"]},
    "/schools/<school>/service-hours": lambda i: _MONTH,
    "/schools/<school>/tax-withheld": lambda i: _MONTH,
    "/staff/<int:staff_id>/payout-sheet": lambda i: _MONTH,
    "/staff/<int:staff_id>/payout-sheet.pdf": lambda i: _MONTH,
    "/districts/<district>/coverage": lambda i: {"term_name": "2026秋季学期"},
    "/schools/<school>/audit": lambda i: _RANGE,
    "/schools/<school>/audit.csv": lambda i: _RANGE,
    "/schools/<school>/audit.pdf": lambda i: _RANGE,
    "/districts/<district>/audit": lambda i: _RANGE,
    "/districts/<district>/audit.csv": lambda i: _RANGE,
    "/districts/<district>/audit.pdf": lambda i: _RANGE,
}


def _short(rule: str) -> str:
    return rule.removeprefix("/api/v1")


def request_for(method: str, rule: str, ids: Ids) -> dict[str, Any]:
    spec = REQUESTS.get((method, _short(rule)), lambda i: {})(ids)
    if method == "GET" and _short(rule) in QUERIES:
        spec = {**spec, "query_string": QUERIES[_short(rule)](ids)}
    return spec


_PARAM = re.compile(r"<(?:[^:<>]+:)?([^<>]+)>")


def fill(rule: str, ids: Ids, params: dict[str, Any] | None = None) -> str:
    values = {**ids, **(params or {})}
    return _PARAM.sub(lambda m: str(values[m.group(1)]), rule)


# --------------------------------------------------------------------------- the world


class FakeJob:
    """What ``api.queue.fetch`` returns for the world's job: a billing run of school X."""

    def __init__(self, job_id: str, school: str) -> None:
        self.id = job_id
        self.meta = {"kind": "billing.run", "school": school}


@pytest.fixture(scope="module")
def matrix_app(engine, database_url) -> Iterator[tuple[Any, Any, World]]:  # type: ignore[no-untyped-def]
    """The app bound to one connection whose transaction holds the world, rolled back after."""
    connection = engine.connect()
    outer = connection.begin()
    db = Session(bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False)
    try:
        world = build(db)
        db.commit()
        db.close()
        app = create_app(
            {
                "DATABASE_URL": database_url,
                "TESTING": True,
                "ENV": "testing",
            }
        )
        app.extensions["kehou_db"].bind(connection)
        with pytest.MonkeyPatch.context() as mp:
            job = FakeJob(str(world.ids["job_id"]), world.school_x)
            mp.setattr(
                "api.queue.fetch", lambda job_id, app=None: job if job_id == job.id else None
            )
            mp.setattr(
                "api.queue.job_view",
                lambda j: {"id": j.id, "kind": j.meta["kind"], "school": j.meta["school"]},
            )
            mp.setattr("invoices.render._document", lambda html, kind, font_config: _Laid())
            yield app, connection, world
    finally:
        outer.rollback()
        connection.close()


class _Laid:
    """A laid-out document's stand-in: its PDF is a fixed, minimal one."""

    def write_pdf(self) -> bytes:
        return b"%PDF-1.4\n% access matrix: layout not run\n%%EOF\n"


# --------------------------------------------------------------------------- the checks


def _routes(app: Any, prefix: str) -> set[tuple[str, str]]:
    return {
        (method, normal(rule.rule))
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith(prefix) and rule.rule not in EXCLUDED
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"})
    }


def test_every_route_has_a_row_and_every_row_a_route(matrix_app):
    """A new route without a row fails here, by name; so does a row whose route is gone."""
    app, _, _ = matrix_app
    rows = set(parse()) | set(parse(PORTAL, PORTAL_PREFIX, PORTAL_CELLS))
    routes = _routes(app, PREFIX_API) | _routes(app, PORTAL_PREFIX + "/")
    every = {rule.rule for rule in app.url_map.iter_rules()}
    missing = sorted(routes - rows)
    gone = sorted(rows - routes)
    assert not missing, "routes without a row in tests/access_matrix.py:\n" + "\n".join(
        f"  {m} {r}" for m, r in missing
    )
    assert not gone, "rows of tests/access_matrix.py naming no route:\n" + "\n".join(
        f"  {m} {r}" for m, r in gone
    )
    outside = sorted(
        r for r in every - set(EXCLUDED) if not r.startswith((PREFIX_API, PORTAL_PREFIX + "/"))
    )
    assert not outside, f"routes in neither table nor EXCLUDED: {outside}"
    assert set(EXCLUDED) <= every, f"excluded routes that no longer exist: {set(EXCLUDED) - every}"


def test_the_matrix_keeps_the_contract():
    """DESIGN.md's "must never" column, read off the tables themselves."""
    rows = parse(MATRIX)
    for (method, rule), cells in rows.items():
        where = f"{method} {_short(rule)}"
        assert cells["anon"] == "401", f"no token must be 401: {where}"
        assert any(c == "ok" for c in cells.values()), f"nobody may use {where}"
        for role in {r for r in ROLE_OF.values() if r}:
            same = {cells[c] == "403" for c, r in ROLE_OF.items() if r == role}
            assert len(same) == 1, f"403 is per role, not per caller: {role} on {where}"
        if method in WRITES:
            assert cells["audit"] == "403", f"auditors write nothing: {where}"
            if cells["par_A"] != "403":
                assert _short(rule) in (
                    "/applications",
                    "/enrolments/<int:enrolment_id>/absences",
                ), f"parents write only applications and absences: {where}"
            if cells["teach"] != "403":
                assert _short(rule) == "/applications/<int:application_id>/review", where
            if cells["admin"] != "403":
                assert _short(rule).startswith("/users") or _short(rule) in (
                    "/districts",
                    "/schools",
                    "/households",
                ), f"admins post no money: {where}"
        if _short(rule).startswith("/users") or _short(rule) == "/audit-log":
            assert cells["par_A"] == cells["fin_X"] == cells["teach"] == "403", where
    for (method, rule), cells in parse(PORTAL, PORTAL_PREFIX, PORTAL_CELLS).items():
        where = f"{method} {rule}"
        assert cells["teach"] == cells["anon"], f"teachers have no portal login: {where}"
        if cells["anon"] == "ok":
            assert rule in ("/portal/login", "/portal/language"), f"a page for anyone: {where}"
        if rule.startswith(("/portal/households", "/portal/invoices", "/portal/charges")):
            staff = {cells[c] for c in COLUMNS if ROLE_OF[c] not in (None, "parent", "teacher")}
            assert staff == {"404"}, f"household pages are parents' only: {where}"


def _outcome(method: str, status: int) -> str:
    if status in PROBLEM_CODES:
        return str(status)
    if 200 <= status < 300:
        return "ok"
    if method in WRITES and status in (400, 409, 422):
        return "ok"
    return str(status)


def _text_of(response: Any) -> str | None:
    """The answer as text to search for what the caller must not read (not PDFs, XLSX)."""
    if response.mimetype in ("application/json", "application/problem+json"):
        return json.dumps(response.get_json(), ensure_ascii=False)
    if response.mimetype.startswith("text/"):
        return response.get_data(as_text=True)
    return None


def _leaked(response: Any, secrets: set[str], path: str) -> list[str]:
    """What the caller may not see and the answer shows (other than the path it asked for,
    which a 404 page or a redirect to the login page may repeat)."""
    text = _text_of(response)
    if not text:
        return []
    asked = unquote(path)
    return sorted(s for s in secrets if s in text and s not in asked)


#: Tables whose row counts show whether anything a call wrote outlived its savepoint.
FOOTPRINT = (
    "audit_log",
    "entries",
    "periods",
    "invoices",
    "payments",
    "users",
    "api_tokens",
    "user_households",
    "issued_documents",
)


def _footprint(connection: Any) -> dict[str, Any]:
    counts = {t: connection.scalar(text(f"SELECT count(*) FROM {t}")) for t in FOOTPRINT}
    counts["revoked"] = connection.scalar(
        text("SELECT count(*) FROM api_tokens WHERE revoked_at IS NOT NULL")
    )
    counts["closed"] = connection.scalar(text("SELECT count(*) FROM periods WHERE is_closed"))
    return counts


def test_every_caller_gets_what_the_matrix_says(matrix_app):
    app, connection, world = matrix_app
    before = _footprint(connection)
    rows = parse()
    client = app.test_client()
    keys = itertools.count(1)
    failures: list[str] = []
    for (method, rule), cells in sorted(rows.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        spec = request_for(method, rule, world.ids)
        path = fill(rule, world.ids, spec.pop("params", None))
        for persona in COLUMNS:
            headers = {"X-Request-Id": f"matrix-{persona}"}
            token = world.tokens[persona]
            if token:
                headers["Authorization"] = f"Bearer {token}"
            if method in WRITES:
                headers["Idempotency-Key"] = f"matrix-{next(keys)}"
            savepoint = connection.begin_nested()
            try:
                r = client.open(path, method=method, headers=headers, **spec)
            finally:
                savepoint.rollback()
            expected, got = cells[persona], _outcome(method, r.status_code)
            where = f"{method} {_short(rule)} as {persona}"
            if got != expected:
                body = r.get_data(as_text=True)[:200] if r.mimetype != "application/pdf" else ""
                failures.append(f"{where}: expected {expected}, got {r.status_code} {body}")
                continue
            if r.status_code in PROBLEM_CODES:
                problem = r.get_json(silent=True) or {}
                if problem.get("code") != PROBLEM_CODES[r.status_code]:
                    failures.append(f"{where}: {r.status_code} is not a problem+json: {problem}")
            leaked = _leaked(r, world.secrets[persona], path)
            if leaked:
                failures.append(f"{where}: the answer shows {leaked}")
    assert not failures, f"{len(failures)} differences from tests/access_matrix.py:\n" + "\n".join(
        failures
    )
    assert _footprint(connection) == before, "a call's writes outlived its savepoint"


# --------------------------------------------------------------------------- the portal

COOKIE = "kehou_portal"
#: What the portal's forms send (besides the session's CSRF token).
PORTAL_FORMS: dict[str, Callable[[Ids], dict[str, Any]]] = {
    "/portal/login": lambda i: {},
    "/portal/logout": lambda i: {},
    "/portal/language": lambda i: {"lang": "en", "next": "/portal/"},
    "/portal/households/<int:household_id>/applications": lambda i: {
        "student": i["student_id"],
        "programme": i["programme_id"],
    },
}


def _portal_path(rule: str, ids: Ids) -> str:
    """A concrete path: a dashboard's ``<code>`` is school X's or district D's."""
    code = ids["district"] if "/districts/" in rule else ids["school"]
    return fill(rule, {**ids, "code": code, "chart": "collection"})


def _portal_outcome(method: str, response: Any) -> str:
    status = response.status_code
    if 300 <= status < 400:
        path = urlsplit(response.headers["Location"]).path
        return "login" if path == "/portal/login" else "ok"
    if status == 404:
        return "404"
    if 200 <= status < 300 or (method in WRITES and status in (400, 409, 422)):
        return "ok"
    return str(status)


def _sign_in(app: Any, world: World, persona: str) -> tuple[str, str]:
    """The session cookie and its CSRF token of a caller signed in through the login form
    (anonymous, and teachers, who have no portal login, only fetch the login page)."""
    client = app.test_client()
    page = "/portal/login"
    if persona in world.portal:
        token = csrf_from(client.get(page).get_data(as_text=True))
        form = {"csrf_token": token, "email": world.emails[persona], "password": PORTAL_PASSWORD}
        signed = client.post(page, data=form)
        assert signed.status_code == 302, (persona, signed.status_code)
        page = "/portal/dashboard" if ROLE_OF[persona] != "parent" else "/portal/"
    response = client.get(page)
    assert response.status_code == 200, (persona, page, response.status_code)
    cookie = client.get_cookie(COOKIE)
    assert cookie is not None
    return cookie.value, csrf_from(response.get_data(as_text=True))


def test_every_caller_gets_what_the_portal_matrix_says(matrix_app):
    app, connection, world = matrix_app
    sessions = {persona: _sign_in(app, world, persona) for persona in COLUMNS}
    before = _footprint(connection)
    rows = parse(PORTAL, PORTAL_PREFIX, PORTAL_CELLS)
    client = app.test_client()
    failures: list[str] = []
    for (method, rule), cells in sorted(rows.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        path = _portal_path(rule, world.ids)
        for persona in COLUMNS:
            cookie, token = sessions[persona]
            client.set_cookie(COOKIE, cookie)
            kwargs: dict[str, Any] = {}
            if method in WRITES:
                kwargs["data"] = {"csrf_token": token, **PORTAL_FORMS[rule](world.ids)}
            savepoint = connection.begin_nested()
            try:
                r = client.open(path, method=method, **kwargs)
            finally:
                savepoint.rollback()
            expected, got = cells[persona], _portal_outcome(method, r)
            where = f"{method} {rule} as {persona}"
            if got != expected:
                body = r.get_data(as_text=True)[:200] if r.mimetype == "text/html" else ""
                failures.append(f"{where}: expected {expected}, got {r.status_code} {body}")
                continue
            leaked = _leaked(r, world.secrets[persona], path)
            if leaked:
                failures.append(f"{where}: the page shows {leaked}")
    assert not failures, f"{len(failures)} differences from access_matrix.PORTAL:\n" + "\n".join(
        failures
    )
    assert _footprint(connection) == before, "a call's writes outlived its savepoint"
