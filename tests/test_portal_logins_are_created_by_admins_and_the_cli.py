"""Creating a portal login: the admin endpoint and ``kehou users set-password``.

Parents, finance staff, auditors and admins get one (teachers not yet); the
password is kept as an argon2id hash and never written anywhere as text (not
in the audit log either); a weak password is refused with 422 and the rule's
code; setting a new one lifts a lockout.
"""

from __future__ import annotations

import datetime as dt

import pytest
from http_helpers import assert_problem
from portal_setup import login
from sqlalchemy import func, select

from api.models import AuditRecord, PortalLogin
from ledger.books.models import utcnow

GOOD = "晚霞-orchard-77"


@pytest.fixture
def parent(api, tokens):
    me = api.as_(tokens["parent"]).get("/api/v1/me").json
    return me


def _set(api, tokens, user_id: int, body):
    return api.as_(tokens["admin"]).post(f"/api/v1/users/{user_id}/portal-login", json=body)


def test_an_admin_creates_a_portal_login_the_parent_can_use(api, client, db, tokens, parent):
    r = _set(api, tokens, parent["id"], {"password": GOOD})
    assert r.status_code == 200, r.json
    assert (r.json["user"], r.json["email"], r.json["created"]) == (
        parent["id"],
        parent["email"],
        True,
    )
    assert "password" not in r.json
    row = db.get(PortalLogin, parent["id"])
    assert row.password_hash.startswith("$argon2id$") and GOOD not in row.password_hash
    assert login(client, parent["email"], GOOD).status_code == 302
    [line] = db.scalars(select(AuditRecord).where(AuditRecord.action == "portal_login.set"))
    assert line.target == f"user:{parent['id']}" and GOOD not in (line.detail or "")

    again = _set(api, tokens, parent["id"], {"password": "another-Orchard-88"})
    assert again.status_code == 200 and again.json["created"] is False
    assert login(client, parent["email"], GOOD).status_code == 401


def test_a_new_password_lifts_a_lockout(api, client, db, tokens, parent):
    _set(api, tokens, parent["id"], {"password": GOOD})
    row = db.get(PortalLogin, parent["id"])
    row.locked_until = utcnow() + dt.timedelta(hours=1)
    row.failed_attempts = 3
    db.commit()
    assert login(client, parent["email"], GOOD).status_code == 401
    _set(api, tokens, parent["id"], {"password": "another-Orchard-88"})
    db.refresh(row)
    assert (row.failed_attempts, row.locked_until) == (0, None)
    assert login(client, parent["email"], "another-Orchard-88").status_code == 302


@pytest.mark.parametrize(
    ("password", "code"),
    [
        ("short-1", "password_too_short"),
        ("x" * 129, "password_too_long"),
        ("aaaaabbbbbaaaaa", "password_too_simple"),
        ("1234567890", "password_too_simple"),
        ("Qwertyuiop", "password_too_simple"),
    ],
)
def test_a_weak_password_is_refused_with_its_rule(api, db, tokens, parent, password, code):
    r = _set(api, tokens, parent["id"], {"password": password})
    assert_problem(r, 422, code)
    assert r.json["errors"] == {"password": [r.json["detail"]]}
    assert db.get(PortalLogin, parent["id"]) is None


def test_a_password_may_not_contain_the_emails_name(api, tokens):
    r = api.as_(tokens["admin"]).post(
        "/api/v1/users", json={"email": "wanglei@example.cn", "role": "parent"}
    )
    user = r.json["user"]["id"]
    assert_problem(
        _set(api, tokens, user, {"password": "WangLei-2026!"}), 422, "password_contains_email"
    )


def test_teachers_get_no_portal_login(api, db, tokens):
    teacher = api.as_(tokens["teacher"]).get("/api/v1/me").json["id"]
    r = _set(api, tokens, teacher, {"password": GOOD})
    assert_problem(r, 422, "portal_login_role_not_allowed")
    assert db.get(PortalLogin, teacher) is None
    assert_problem(_set(api, tokens, 999999, {"password": GOOD}), 404, "not_found")


@pytest.mark.parametrize(
    "body", [{}, {"password": GOOD, "role": "admin"}, {"password": 12345678901}]
)
def test_a_malformed_body_is_refused(api, db, tokens, parent, body):
    assert _set(api, tokens, parent["id"], body).status_code == 422
    assert db.scalar(select(func.count()).select_from(PortalLogin)) == 0


def test_the_endpoint_is_in_the_openapi_document(client):
    spec = client.get("/api/openapi.json").json
    assert "post" in spec["paths"]["/api/v1/users/{user_id}/portal-login"]


# --------------------------------------------------------------------------- the CLI


def _cli(app, *args: str, input: str | None = None):
    return app.test_cli_runner().invoke(args=list(args), input=input)


def test_set_password_reads_the_password_from_stdin(app, client, db, parent):
    result = _cli(
        app, "users", "set-password", parent["email"], "--password-stdin", input=GOOD + "\n"
    )
    assert result.exit_code == 0, result.output
    assert f"portal login created for {parent['email']}" in result.output
    assert GOOD not in result.output
    assert login(client, parent["email"], GOOD).status_code == 302
    [line] = db.scalars(select(AuditRecord).where(AuditRecord.action == "portal_login.set"))
    assert line.actor.startswith("cli")


def test_set_password_prompts_twice_when_not_piped(app, client, parent):
    result = _cli(app, "users", "set-password", parent["email"], input=f"{GOOD}\n{GOOD}\n")
    assert result.exit_code == 0, result.output
    assert login(client, parent["email"], GOOD).status_code == 302


def test_set_password_refuses_weak_passwords_unknown_users_and_teachers(app, db, tokens, api):
    parent_email = api.as_(tokens["parent"]).get("/api/v1/me").json["email"]
    teacher_email = api.as_(tokens["teacher"]).get("/api/v1/me").json["email"]
    weak = _cli(app, "users", "set-password", parent_email, "--password-stdin", input="short\n")
    assert weak.exit_code == 1 and "password_too_short" in weak.output
    unknown = _cli(app, "users", "set-password", "nobody@x.cn", "--password-stdin", input=GOOD)
    assert unknown.exit_code == 1 and "no user nobody@x.cn" in unknown.output
    teacher = _cli(app, "users", "set-password", teacher_email, "--password-stdin", input=GOOD)
    assert teacher.exit_code == 1 and "portal_login_role_not_allowed" in teacher.output
    assert db.scalar(select(func.count()).select_from(PortalLogin)) == 0


def test_set_password_is_documented_in_the_help(app):
    result = _cli(app, "users", "--help")
    assert "set-password" in result.output
    assert "--password-stdin" in _cli(app, "users", "set-password", "--help").output
