"""Logging in to the parent portal: who may, what a failure reveals, lockout, CSRF, sessions.

A parent of household A (甲家) logs in with email and password. A wrong
password, an unknown email, a locked account and a non-parent all get the
same answer; failures lock the account in the database after
``PORTAL_MAX_FAILURES`` and throttle the client address after
``PORTAL_ADDRESS_FAILURES``; a POST without the form's CSRF token is refused
with 400 before anything is written; logging in starts a new session and
logging out (or a new password) ends it.
"""

from __future__ import annotations

import datetime as dt
import re

from conftest import Api
from portal_setup import PASSWORD, csrf, csrf_from, login, portal_term, text, user_by_email
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api import create_app
from api.auth import create_user
from api.models import AuditRecord, PortalLogin
from api.portal import logins
from ledger.books.models import utcnow
from ledger.database import make_engine
from ledger.school.models import Application


def _audit(db, action: str) -> list[AuditRecord]:
    return list(db.scalars(select(AuditRecord).where(AuditRecord.action == action)))


def _without_tokens(html: str) -> str:
    """A page with its CSRF tokens blanked, to compare two answers for equality."""
    return re.sub(r'name="csrf_token" value="[^"]+"', 'name="csrf_token" value=""', html)


def test_a_parent_logs_in_and_lands_on_their_household(client, db, tokens, make_token):
    term, email = portal_term(client, db, tokens, make_token)
    assert client.get("/portal/").status_code == 302  # not yet logged in

    r = login(client, email)
    assert r.status_code == 302 and r.headers["Location"] == "/portal/"
    page = text(client.get("/portal/"))
    assert "甲家" in page and "乙家" not in page
    assert f"当前用户：{email}" in page
    [line] = _audit(db, "portal.login")
    assert line.target == f"user:{line.user_id}" and line.actor == email


def test_a_wrong_password_and_an_unknown_email_get_the_same_answer(client, db, tokens, make_token):
    _, email = portal_term(client, db, tokens, make_token)
    wrong = login(client, email, "not-the-password-1")
    unknown = login(client, "nobody-here@test.kehou", "not-the-password-1")
    assert wrong.status_code == unknown.status_code == 401
    assert "邮箱或密码不正确" in text(wrong)
    # The pages differ only in the email typed back into the form.
    assert _without_tokens(text(wrong)).replace(email, "X") == _without_tokens(
        text(unknown)
    ).replace("nobody-here@test.kehou", "X")
    # Only the real account counts a failure; the audit log keeps both, with the reason.
    assert db.get(PortalLogin, user_by_email(db, email).id).failed_attempts == 1
    reasons = sorted(a.detail for a in _audit(db, logins.FAILED))
    assert any('"bad_password"' in d for d in reasons) and any('"unknown"' in d for d in reasons)
    assert all(a.target == "ip:127.0.0.1" for a in _audit(db, logins.FAILED))
    assert all(PASSWORD not in (a.detail or "") for a in db.scalars(select(AuditRecord)))


def test_only_active_users_of_a_portal_role_may_log_in(client, db, tokens, make_token):
    _, email = portal_term(client, db, tokens, make_token)
    teacher = Api(client, tokens["teacher"]).get("/api/v1/me").json
    # A teacher given a password row by hand (set_password refuses them) still cannot log in.
    db.add(
        PortalLogin(
            user_id=teacher["id"],
            password_hash=db.get(PortalLogin, user_by_email(db, email).id).password_hash,
            failed_attempts=0,
        )
    )
    db.commit()
    r = login(client, teacher["email"], PASSWORD)
    assert r.status_code == 401 and "邮箱或密码不正确" in text(r)

    parent = user_by_email(db, email)
    parent.is_active = False
    db.commit()
    assert login(client, email).status_code == 401


def test_failures_lock_the_account_even_against_the_right_password(
    app, client, db, tokens, make_token
):
    app.config["PORTAL_MAX_FAILURES"] = 3
    _, email = portal_term(client, db, tokens, make_token)
    parent = user_by_email(db, email)
    for _ in range(3):
        assert login(client, email, "wrong-password-xyz").status_code == 401
    row = db.get(PortalLogin, parent.id)
    db.refresh(row)
    assert row.locked_until is not None and row.locked_until > utcnow()
    assert row.failed_attempts == 0  # the count starts again once the lock ends

    locked = login(client, email)  # the right password, while locked
    assert locked.status_code == 401 and "邮箱或密码不正确" in text(locked)
    assert client.get("/portal/").status_code == 302

    # The lock is in the database: once its time has passed, the right password works.
    row.locked_until = utcnow() - dt.timedelta(seconds=1)
    db.commit()
    assert login(client, email).status_code == 302
    assert client.get("/portal/").status_code == 200


def test_two_workers_share_the_failure_counts(throwaway_url):
    """Two app processes on one database (gunicorn workers) see the same counts."""
    engine = make_engine(throwaway_url)
    with Session(engine) as db:
        user, _ = create_user(db, "shared@test.kehou", "parent")
        logins.set_password(db, user, PASSWORD)
        db.commit()
        user_id = user.id
    config = {
        "DATABASE_URL": throwaway_url,
        "TESTING": True,
        "SECRET_KEY": "one secret for every worker",
        "PORTAL_MAX_FAILURES": 4,
        "PORTAL_ADDRESS_FAILURES": 6,
    }
    workers = [create_app(config), create_app(config)]
    try:
        one, two = (w.test_client() for w in workers)
        for i in range(4):  # alternately: neither worker alone sees four failures
            r = login((one, two)[i % 2], "shared@test.kehou", "wrong-password-xyz")
            assert r.status_code == 401
        assert login(one, "shared@test.kehou").status_code == 401  # locked, for both
        assert login(two, "shared@test.kehou").status_code == 401
        with Session(engine) as db:
            assert db.get(PortalLogin, user_id).locked_until > utcnow()
        # Six failures from this address in all: the next one is throttled by either worker.
        assert login(one, "nobody@test.kehou", "wrong-password-xyz").status_code == 429
        assert login(two, "nobody@test.kehou", "wrong-password-xyz").status_code == 429
    finally:
        for w in workers:
            w.extensions["kehou_db"].dispose()
        engine.dispose()


def test_a_success_clears_the_failure_count(app, client, db, tokens, make_token):
    app.config["PORTAL_MAX_FAILURES"] = 3
    _, email = portal_term(client, db, tokens, make_token)
    for _ in range(2):
        login(client, email, "wrong-password-xyz")
    assert login(client, email).status_code == 302
    row = db.get(PortalLogin, user_by_email(db, email).id)
    db.refresh(row)
    assert (row.failed_attempts, row.locked_until) == (0, None)


def test_one_address_is_throttled_after_too_many_failures(app, client, db, tokens, make_token):
    app.config["PORTAL_ADDRESS_FAILURES"] = 3
    _, email = portal_term(client, db, tokens, make_token)
    attacker = {"REMOTE_ADDR": "203.0.113.9"}
    for i in range(3):
        r = login(client, f"guess{i}@test.kehou", "wrong-password-xyz", environ_base=attacker)
        assert r.status_code == 401
    before = db.scalar(select(func.count()).select_from(AuditRecord))

    throttled = login(client, email, environ_base=attacker)  # even the right password
    assert throttled.status_code == 429 and "登录尝试过多" in text(throttled)
    assert client.get("/portal/", environ_base=attacker).status_code == 302
    # Refusing without checking writes nothing, and says nothing about the account.
    assert db.scalar(select(func.count()).select_from(AuditRecord)) == before
    assert db.get(PortalLogin, user_by_email(db, email).id).failed_attempts == 0

    assert login(client, email, environ_base={"REMOTE_ADDR": "198.51.100.7"}).status_code == 302


def test_a_post_without_the_csrf_token_is_refused_and_writes_nothing(
    client, db, tokens, make_token
):
    term, email = portal_term(client, db, tokens, make_token)
    audit_before = db.scalar(select(func.count()).select_from(AuditRecord))
    r = client.post("/portal/login", data={"email": email, "password": "wrong-password-xyz"})
    assert r.status_code == 400 and "表单已过期或无效" in text(r)
    r = client.post(
        "/portal/login", data={"email": email, "password": PASSWORD, "csrf_token": "forged"}
    )
    assert r.status_code == 400
    assert db.get(PortalLogin, user_by_email(db, email).id).failed_attempts == 0
    assert client.get("/portal/").status_code == 302  # the forged login did not log in

    assert login(client, email).status_code == 302
    applications = db.scalar(select(func.count()).select_from(Application))
    r = client.post(
        f"/portal/households/{term.home_a}/applications",
        data={"student": term.student_a, "programme": term.programme},
    )
    assert r.status_code == 400
    assert client.post("/portal/logout").status_code == 400
    assert client.get("/portal/").status_code == 200  # still logged in
    assert db.scalar(select(func.count()).select_from(Application)) == applications
    assert db.scalar(select(func.count()).select_from(AuditRecord)) == audit_before + 1  # login


def test_the_json_api_needs_no_csrf_token(client, db, tokens, make_token):
    term, email = portal_term(client, db, tokens, make_token)
    r = term.parent.post(
        "/api/v1/applications", json={"student": term.student_a, "programme": term.programme}
    )
    assert r.status_code == 409  # past CSRF and auth: the domain refuses a second application
    assert r.json["code"] == "application_exists"
    # And a portal session is no way into the API.
    login(client, email)
    assert client.get("/portal/").status_code == 200
    assert client.get("/api/v1/me").status_code == 401


def test_login_starts_a_new_session(client, db, tokens, make_token):
    _, email = portal_term(client, db, tokens, make_token)
    before = csrf(client)
    assert login(client, email).status_code == 302
    # A token from before the login is worthless afterwards (the session was replaced).
    assert client.post("/portal/logout", data={"csrf_token": before}).status_code == 400
    after = csrf_from(text(client.get("/portal/")))
    assert after != before
    assert client.post("/portal/logout", data={"csrf_token": after}).status_code == 302


def test_logout_ends_the_session(client, db, tokens, make_token):
    _, email = portal_term(client, db, tokens, make_token)
    login(client, email)
    token = csrf_from(text(client.get("/portal/")))
    r = client.post("/portal/logout", data={"csrf_token": token})
    assert r.status_code == 302 and r.headers["Location"] == "/portal/login"
    assert client.get("/portal/").status_code == 302
    assert len(_audit(db, "portal.logout")) == 1


def test_a_new_password_ends_existing_sessions(client, db, tokens, make_token):
    _, email = portal_term(client, db, tokens, make_token)
    login(client, email)
    assert client.get("/portal/").status_code == 200
    logins.set_password(db, user_by_email(db, email), "another-Secret-2027")
    db.commit()
    r = client.get("/portal/")
    assert r.status_code == 302 and r.headers["Location"].startswith("/portal/login")


def test_a_session_ends_after_its_lifetime(app, client, db, tokens, make_token):
    _, email = portal_term(client, db, tokens, make_token)
    login(client, email)
    assert client.get("/portal/").status_code == 200
    app.config["PORTAL_SESSION_HOURS"] = -1
    assert client.get("/portal/").status_code == 302


def test_login_returns_only_to_pages_of_the_portal(client, db, tokens, make_token):
    term, email = portal_term(client, db, tokens, make_token)
    r = client.get(f"/portal/households/{term.home_a}/invoices")
    assert r.status_code == 302
    assert r.headers["Location"] == (
        f"/portal/login?next=/portal/households/{term.home_a}/invoices"
    )
    token = csrf(client)
    data = {"csrf_token": token, "email": email, "password": PASSWORD}
    r = client.post(
        "/portal/login", data={**data, "next": f"/portal/households/{term.home_a}/invoices"}
    )
    assert r.headers["Location"] == f"/portal/households/{term.home_a}/invoices"
    for evil in ("https://evil.example/", "//evil.example/portal/", "/portal/\\evil"):
        client.post("/portal/logout", data={"csrf_token": csrf_from(text(client.get("/portal/")))})
        r = client.post("/portal/login", data={**data, "csrf_token": csrf(client), "next": evil})
        assert r.headers["Location"] == "/portal/", evil


def test_the_session_cookie_is_httponly_lax_and_secure_outside_tests(client, database_url):
    cookie = client.get("/portal/login").headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie

    production = create_app({"DATABASE_URL": database_url, "SECRET_KEY": "x" * 32})
    cookie = production.test_client().get("/portal/login").headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" in cookie


def test_portal_pages_are_not_cached_or_framed(client):
    r = client.get("/portal/login")
    assert r.headers["Cache-Control"] == "no-store"
    assert "frame-ancestors 'none'" in r.headers["Content-Security-Policy"]
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in text(r)
