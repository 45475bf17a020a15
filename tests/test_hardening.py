"""Hardening: tokens, rate limits, CSRF, security headers, cookies, body size, logs, auditors.

Each test here would fail if the protection it names were taken away:

* API tokens are kept only as SHA-256 digests, looked up by digest and the
  digest checked with :func:`hmac.compare_digest` (``api.auth.user_for_token``);
  bad tokens from one address are limited (429), as portal logins are
  (tests/test_portal_login_lockout_and_csrf.py covers the portal's lockout);
* every POST route of the app is either the bearer-token API or a portal
  form, and every portal form refuses a POST without the session's CSRF
  token, writing nothing;
* every answer — JSON, problem+json errors, PDFs, the docs page, the
  portal — carries a Content-Security-Policy with ``frame-ancestors 'none'``,
  ``X-Frame-Options: DENY``, ``X-Content-Type-Options: nosniff`` and a
  Referrer-Policy; the Swagger UI still runs under its policy (in Chromium);
* the portal's session cookie is HttpOnly, SameSite=Lax, and Secure in production;
* a body over ``MAX_CONTENT_LENGTH`` gets 413 problem+json and writes nothing;
* no password, token or Authorization header reaches the logs or the audit log;
* an auditor's POST/PUT/PATCH/DELETE to any route of the app (from the URL
  map) gets no 2xx and changes no row.
"""

from __future__ import annotations

import base64
import hashlib
import io
import logging
import re
import uuid
from typing import Any

import pytest
from browser_setup import BROWSER_MARKS
from conftest import Api
from http_helpers import assert_problem
from portal_setup import PASSWORD, csrf, csrf_from, login, portal_term, text, user_by_email
from sqlalchemy import inspect, select
from sqlalchemy import text as sql
from sqlalchemy.orm import Session
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from api import auth, create_app
from api.models import ApiToken, AuditRecord
from api.portal import messages
from api.portal.logins import set_password

WRITES = {"POST", "PUT", "PATCH", "DELETE"}


def _table_rows(db: Session, skip: frozenset[str] = frozenset()) -> dict[str, list[str]]:
    """Every row of every table, as text: what a refused request must leave as it was."""
    conn = db.connection()
    out = {}
    for table in sorted(inspect(conn).get_table_names()):
        if table in skip or table == "alembic_version":
            continue
        rows = conn.execute(sql(f'SELECT * FROM "{table}"')).all()
        out[table] = sorted(repr(tuple(r)) for r in rows)
    return out


def _audit_lines(db: Session) -> list[AuditRecord]:
    return list(db.scalars(select(AuditRecord).order_by(AuditRecord.id)))


def _district_code(db: Session) -> str:
    from ledger.school.models import District, School

    return db.scalar(select(District.code).join(School, School.district_id == District.id).limit(1))


def _url(rule: Any, values: dict[str, Any]) -> str:
    """A concrete URL for a URL-map rule: real ids where the test has them, else 1 / X."""
    out = rule.rule
    for name in rule.arguments:
        value = values.get(name, 1 if re.search(rf"<int:{name}>", out) else "X")
        out = re.sub(rf"<[^<>]*\b{name}>", str(value), out)
    return out


# --------------------------------------------------------------------------- tokens


def test_tokens_are_kept_as_digests_and_checked_in_constant_time(client, db, monkeypatch):
    user, token = auth.create_user(db, f"f-{uuid.uuid4().hex[:6]}@test.kehou", "finance")
    db.commit()
    # 256 random bits after the prefix; only the digest is stored.
    assert len(token) - len(auth.TOKEN_PREFIX) >= 43
    [row] = db.scalars(select(ApiToken).where(ApiToken.user_id == user.id))
    assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in repr(_table_rows(db))

    compared: list[tuple[bytes, bytes]] = []
    real = auth.hmac.compare_digest

    def spy(a: Any, b: Any) -> bool:
        compared.append((a, b))
        return real(a, b)

    monkeypatch.setattr(auth.hmac, "compare_digest", spy)
    api = Api(client, token)
    assert api.get("/api/v1/me").status_code == 200
    # The digest found was checked with compare_digest, never the token itself.
    assert compared == [(row.token_hash.encode(), row.token_hash.encode())]
    assert all(token.encode() not in pair for pair in compared)

    # A token one character off, a token of the right digest's length, and no prefix: refused.
    for bad in (token[:-1] + ("A" if token[-1] != "A" else "B"), row.token_hash, token[3:]):
        assert_problem(api.as_(bad).get("/api/v1/me"), 401, "unauthenticated")


def test_bad_tokens_from_one_address_are_limited(app, client, make_token):
    app.extensions["kehou_token_failures"] = auth.TokenFailures(3, 600)
    good = make_token("finance")
    api = Api(client, good)
    for i in range(3):
        assert_problem(api.as_(f"kh_guess{i}").get("/api/v1/me"), 401, "unauthenticated")
    # Over the limit: refused before any lookup, even with a good token, with Retry-After.
    r = api.get("/api/v1/me")
    assert_problem(r, 429, "too_many_requests")
    assert 1 <= int(r.headers["Retry-After"]) <= 601
    # Another address is not affected.
    other = client.get(
        "/api/v1/me",
        headers={"Authorization": f"Bearer {good}"},
        environ_base={"REMOTE_ADDR": "10.0.0.9"},
    )
    assert other.status_code == 200
    # No header at all is not a guess; it is 401 and counts for nothing.
    fresh = auth.TokenFailures(3, 600)
    app.extensions["kehou_token_failures"] = fresh
    for _ in range(5):
        assert_problem(client.get("/api/v1/me"), 401, "unauthenticated")
    assert fresh.retry_after("127.0.0.1") is None


def test_the_bad_token_window_slides():
    limit = auth.TokenFailures(2, 60)
    limit.failed("a", now=0)
    limit.failed("a", now=30)
    assert limit.retry_after("a", now=31) == 30
    assert limit.retry_after("b", now=31) is None
    assert limit.retry_after("a", now=61) is None  # the first failure left the window
    limit.failed("a", now=62)
    assert limit.retry_after("a", now=63) is not None


# --------------------------------------------------------------------------- CSRF


def test_every_portal_form_refuses_a_post_without_its_csrf_token(
    app, client, db, tokens, make_token
):
    term, email = portal_term(client, db, tokens, make_token)
    posts = [r for r in app.url_map.iter_rules() if "POST" in r.methods]
    # Every POST route is either the bearer-token API (no cookie is read there) or a portal form.
    assert all(r.rule.startswith(("/api/v1/", "/portal/")) for r in posts), [r.rule for r in posts]
    forms = [r for r in posts if r.rule.startswith("/portal/")]
    assert {r.endpoint for r in forms} >= {"portal.login", "portal.logout", "portal.language"}

    assert login(client, email).status_code == 302
    values = {"household_id": term.home_a}
    bodies = {
        "portal.login": {"email": email, "password": PASSWORD},
        "portal.applications": {"student": term.student_a, "programme": term.programme},
        "portal.language": {"lang": "en"},
    }
    refused = messages.translate("error.csrf", messages.DEFAULT)
    before, lines = _table_rows(db), len(_audit_lines(db))
    for rule in forms:
        url = _url(rule, values)
        body = bodies.get(rule.endpoint, {})
        for token in (None, "", "not-a-token", csrf_from(text(client.get("/portal/"))) + "x"):
            data = dict(body) if token is None else {**body, "csrf_token": token}
            r = client.post(url, data=data)
            assert r.status_code == 400, (rule.rule, token, r.status_code)
            assert refused in text(r), rule.rule
        # A token from another session is refused too.
        with app.test_client() as stranger:
            r = client.post(url, data={**body, "csrf_token": csrf(stranger)})
            assert r.status_code == 400 and refused in text(r), rule.rule
    assert _table_rows(db) == before and len(_audit_lines(db)) == lines
    # Still logged in: nothing above ended the session, and with the token a form works.
    assert client.get("/portal/").status_code == 200
    token = csrf_from(text(client.get("/portal/")))
    assert (
        client.post("/portal/language", data={"lang": "en", "csrf_token": token}).status_code == 302
    )


# --------------------------------------------------------------------------- headers


def _assert_hardened(r: Any, what: str) -> None:
    h = r.headers
    csp = h.get("Content-Security-Policy", "")
    assert "frame-ancestors 'none'" in csp, (what, csp)
    assert h.get("X-Frame-Options") == "DENY", what
    assert h.get("X-Content-Type-Options") == "nosniff", what
    assert h.get("Referrer-Policy") in ("no-referrer", "same-origin"), what


def test_every_kind_of_answer_carries_the_security_headers(client, db, tokens, make_token):
    term, email = portal_term(client, db, tokens, make_token)
    finance, auditor = term.finance, term.auditor
    samples = {
        "api 200": finance.get("/api/v1/me"),
        "api 401": client.get("/api/v1/me"),
        "api 401 bad token": finance.as_("kh_nope").get("/api/v1/me"),
        "api 403": auditor.post("/api/v1/books", json={"code": "NO", "name": "no"}),
        "api 404 book": finance.get("/api/v1/books/NOPE"),
        "api 404 route": finance.get("/api/v1/no-such-route"),
        "api 405": finance.client.delete("/api/v1/me"),
        "api 422": finance.post("/api/v1/books", json={}),
        "api pdf": finance.get(f"/api/v1/schools/S1/invoices/{term.invoice_a}.pdf"),
        "api csv": finance.get("/api/v1/books/S1/exports/trial-balance.csv"),
        "openapi": client.get("/api/openapi.json"),
        "docs": client.get("/api/docs"),
        "docs asset": client.get("/api/docs/static/swagger-ui.css"),
        "404 outside": client.get("/no-such-page"),
        "portal login": client.get("/portal/login"),
        "portal static": client.get("/portal/static/portal.css"),
        "portal 405": client.get("/portal/logout"),
    }
    login(client, email)
    samples["portal page"] = client.get("/portal/")
    samples["portal 404"] = client.get("/portal/households/999999")
    samples["portal pdf"] = client.get(f"/portal/invoices/S1/{term.invoice_a}.pdf")
    samples["portal csrf 400"] = client.post("/portal/language", data={"lang": "en"})
    expected = {
        "api 200": 200,
        "api 401": 401,
        "api 401 bad token": 401,
        "api 403": 403,
        "api 404 book": 404,
        "api 404 route": 404,
        "api 405": 405,
        "api 422": 422,
        "404 outside": 404,
        "portal 404": 404,
        "portal 405": 405,
        "portal csrf 400": 400,
    }
    for what, r in samples.items():
        assert r.status_code == expected.get(what, 200), (what, r.status_code)
        _assert_hardened(r, what)
        data = ("application/json", "application/problem+json", "application/pdf")
        if r.mimetype in data and not what.startswith("portal"):
            assert r.headers["Content-Security-Policy"].startswith("default-src 'none'"), what
        r.close()
    assert samples["api pdf"].mimetype == samples["portal pdf"].mimetype == "application/pdf"
    assert samples["api 404 route"].mimetype == "application/problem+json"


def test_the_docs_page_allows_exactly_its_own_scripts(client):
    r = client.get("/api/docs")
    csp = r.headers["Content-Security-Policy"]
    script_src = re.search(r"script-src ([^;]+)", csp).group(1).split()
    inline = re.findall(r"<script>(.*?)</script>", text(r), re.DOTALL)
    assert inline, "the Swagger UI page starts with an inline script"
    hashes = {
        "'sha256-" + base64.b64encode(hashlib.sha256(s.encode()).digest()).decode() + "'"
        for s in inline
    }
    assert set(script_src) == {"'self'"} | hashes
    assert "'unsafe-inline'" not in script_src and "'unsafe-eval'" not in script_src
    assert "frame-ancestors 'none'" in csp and "default-src 'none'" in csp


def _served(app: Any) -> Any:
    import threading

    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.mark.parametrize("_", [None], ids=["chromium"])
def test_swagger_ui_runs_under_its_policy_in_chromium(_, browser, tmp_path):
    app = create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'docs.sqlite'}", "TESTING": True})
    server = _served(app)
    try:
        page = browser.new_page()
        problems: list[str] = []
        page.on(
            "console",
            lambda m: problems.append(m.text) if m.type in ("error", "warning") else None,
        )
        page.goto(f"http://127.0.0.1:{server.server_port}/api/docs")
        page.wait_for_selector(".swagger-ui .info .title", timeout=20_000)
        assert "Kehou Ledger" in page.inner_text(".swagger-ui .info .title")
        assert page.locator(".opblock").count() > 50
        assert not [p for p in problems if "Content Security Policy" in p], problems
        page.close()
    finally:
        server.shutdown()
        server.server_close()
        app.extensions["kehou_db"].dispose()


for _mark in BROWSER_MARKS:
    test_swagger_ui_runs_under_its_policy_in_chromium = _mark(
        test_swagger_ui_runs_under_its_policy_in_chromium
    )


# --------------------------------------------------------------------------- cookies


@pytest.mark.parametrize(
    ("config", "secure"),
    [
        ({"ENV": "production", "TESTING": True}, True),
        ({"ENV": "production"}, True),
        ({"ENV": "development"}, True),
        ({"ENV": "testing", "TESTING": True}, False),
        ({"ENV": "production", "PORTAL_COOKIE_SECURE": False}, False),
    ],
)
def test_the_portal_session_cookie_is_httponly_samesite_and_secure_in_production(
    tmp_path, config, secure
):
    url = f"sqlite:///{tmp_path / 'unused.sqlite'}"
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "k" * 32, **config})
    try:
        r = app.test_client().get("/portal/login")
        assert r.status_code == 200
        [cookie] = [c for c in r.headers.getlist("Set-Cookie") if c.startswith("kehou_portal=")]
        attributes = {a.strip().split("=")[0].lower() for a in cookie.split(";")[1:]}
        assert "httponly" in attributes
        assert re.search(r";\s*SameSite=(Lax|Strict)", cookie), cookie
        assert ("secure" in attributes) is secure, cookie
    finally:
        app.extensions["kehou_db"].dispose()


# --------------------------------------------------------------------------- body size


def test_a_body_over_the_limit_is_refused_with_413_and_writes_nothing(
    app, client, db, tokens, make_token
):
    term, _ = portal_term(client, db, tokens, make_token)
    limit = app.config["MAX_CONTENT_LENGTH"]
    assert limit == 1024 * 1024
    # Bank statements may be up to 8 MiB (api.resources.bank); everything else up to 1 MiB.
    statement_limit = 8 * 1024 * 1024
    line = "2026-09-10,学费,400.00,,甲家,6222000011112222,1000.00\n".encode()
    big_csv = "交易日期\n".encode() + line * (statement_limit // len(line) + 1)
    boundary, multipart = encode_multipart(
        {"file": FileStorage(io.BytesIO(big_csv), "statement.csv")}
    )
    before, lines = _table_rows(db), len(_audit_lines(db))
    answers = [
        term.finance.client.post(
            "/api/v1/schools/S1/bank-statements",
            data=big_csv,
            content_type="text/csv",
            headers=term.finance.headers("big-1"),
        ),
        # Encoded in memory: the test client would spool a body this large to a temporary
        # file of its own and, the app refusing it unread, leave that file to the collector.
        term.finance.client.post(
            "/api/v1/schools/S1/bank-statements",
            data=multipart,
            content_type=f"multipart/form-data; boundary={boundary}",
            headers=term.finance.headers("big-2"),
        ),
        term.finance.post(
            "/api/v1/books/S1/entries",
            json={"effective_date": "2026-09-01", "memo": "x" * (limit + 1), "postings": []},
            key="big-3",
        ),
    ]
    for r, size in zip(answers, ("8 MiB", "8 MiB", "1 MiB"), strict=True):
        p = assert_problem(r, 413, "payload_too_large")
        assert f"limit of {size}" in p["detail"] and "nothing was written" in p["detail"]
        _assert_hardened(r, "413")
    # The portal refuses it too, before reading a form field.
    r = client.post("/portal/login", data={"email": "a@b.c", "password": "x" * (limit + 1)})
    assert r.status_code == 413
    assert _table_rows(db) == before and len(_audit_lines(db)) == lines


# --------------------------------------------------------------------------- logs


def test_no_password_or_token_reaches_the_logs_or_the_audit_log(
    client, db, tokens, make_token, caplog
):
    term, email = portal_term(client, db, tokens, make_token)
    caplog.set_level(logging.DEBUG)
    wrong_password = f"wrong-{uuid.uuid4().hex}"
    new_password = f"新的-{uuid.uuid4().hex}-Pw"
    bad_token = f"kh_{uuid.uuid4().hex}{uuid.uuid4().hex}"
    secrets = [PASSWORD, wrong_password, new_password, bad_token, *tokens.values()]

    assert login(client, email, wrong_password).status_code == 401
    assert login(client, email).status_code == 302
    for token in tokens.values():
        Api(client, token).get("/api/v1/me")
    assert_problem(Api(client, bad_token).get("/api/v1/me"), 401, "unauthenticated")
    # Tokens and passwords that the API hands out or takes in: new user, new token, password.
    created = term.admin.post(
        "/api/v1/users", json={"email": f"n-{uuid.uuid4().hex[:6]}@test.kehou", "role": "parent"}
    )
    assert created.status_code == 201, created.json
    secrets.append(created.json["token"])
    issued = term.admin.post(f"/api/v1/users/{created.json['user']['id']}/tokens")
    assert issued.status_code == 201, issued.json
    secrets.append(issued.json["token"])
    r = term.admin.post(
        f"/api/v1/users/{created.json['user']['id']}/portal-login", json={"password": new_password}
    )
    assert r.status_code == 200, r.json
    # An unexpected error is logged with its traceback: still no Authorization header in it.
    client.application.view_functions["api-docs.openapi_json"] = _boom
    boom = client.get("/api/openapi.json", headers={"Authorization": f"Bearer {bad_token}"})
    assert boom.status_code == 500
    _assert_hardened(boom, "500")
    assert any("unhandled error" in r.getMessage() for r in caplog.records)

    logged = caplog.text + "".join(repr(r.args) for r in caplog.records)
    audit = repr(_table_rows(db, skip=frozenset()))
    for secret in secrets:
        assert secret not in logged
        assert secret not in audit
    assert "Bearer" not in logged and "Authorization" not in logged
    assert any(a.action == "portal.login_failed" for a in _audit_lines(db))
    assert any(a.action == "portal_login.set" for a in _audit_lines(db))


def _boom() -> Any:
    raise RuntimeError("boom")


# --------------------------------------------------------------------------- auditors


def test_an_auditor_writes_nothing_through_any_route(app, client, db, tokens, make_token):
    """Every POST/PUT/PATCH/DELETE route of the URL map, as an auditor: no 2xx, no row changed.

    API routes get the auditor's token and portal forms the auditor's session
    with a valid CSRF token, so that the refusal is the route's own. Logging
    in and out of the portal is not a write of data; the audit lines those
    add are the only new rows allowed.
    """
    term, _ = portal_term(client, db, tokens, make_token)
    auditor = user_by_email(db, term.auditor.get("/api/v1/me").json["email"])
    set_password(db, auditor, PASSWORD)
    db.commit()
    values = {
        "school": "S1",
        "book": "S1",
        "district": _district_code(db),
        "household_id": term.home_a,
        "student_id": term.student_a,
        "programme_id": term.programme,
        "term_id": term.term,
        "number": term.invoice_a,
        "user_id": auditor.id,
    }
    routes = [
        (method, rule)
        for rule in app.url_map.iter_rules()
        for method in sorted(rule.methods & WRITES)
    ]
    api_routes = [(m, r) for m, r in routes if r.rule.startswith("/api/v1/")]
    portal_routes = [(m, r) for m, r in routes if not r.rule.startswith("/api/v1/")]
    assert len(api_routes) > 50 and portal_routes
    assert all(r.rule.startswith("/portal/") for _, r in portal_routes)

    before, lines = _table_rows(db, skip=frozenset({"audit_log"})), len(_audit_lines(db))
    for method, rule in api_routes:
        r = client.open(
            _url(rule, values),
            method=method,
            json={},
            headers=term.auditor.headers(f"auditor-{method}-{rule.endpoint}"),
        )
        assert not 200 <= r.status_code < 300, (method, rule.rule, r.status_code)
        assert_problem(r, 403, "forbidden")
    email = auditor.email
    for method, rule in portal_routes:
        browser = app.test_client()  # a session of its own: logging out ends only this one
        assert login(browser, email).status_code == 302  # to the dashboard
        token = csrf_from(text(browser.get("/portal/dashboard")))
        body = {
            "csrf_token": token,
            "student": term.student_a,
            "programme": term.programme,
            "email": email,
            "password": PASSWORD,
            "lang": "en",
        }
        r = browser.open(_url(rule, values), method=method, data=body)
        assert not 200 <= r.status_code < 300, (method, rule.rule, r.status_code)
    assert _table_rows(db, skip=frozenset({"audit_log"})) == before
    new = _audit_lines(db)[lines:]
    assert {a.action for a in new} <= {"portal.login", "portal.logout"}, [a.action for a in new]
