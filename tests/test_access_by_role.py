"""Who may call what: 401 without a valid token, 403 for a role, 404 outside the caller's scope.

Refusals come in that order, and before any validation of the request's input.
"""

from __future__ import annotations

from typing import Any

import pytest
from http_helpers import assert_problem, fee, make_book, post

ROLES = ("admin", "finance", "auditor", "parent", "teacher")


@pytest.fixture
def book(api) -> str:  # type: ignore[no-untyped-def]
    """Book A of the finance user, with one entry and one period."""
    make_book(api, "A")
    post(api, "A", fee("10.00"), key="a-1")
    r = api.post("/api/v1/books/A/periods", json={"start": "2026-09-01", "end": "2026-09-30"})
    assert r.status_code == 201
    return "A"


def _call(api: Any, method: str, path: str, json: Any = None, key: str | None = None) -> Any:
    if method == "GET":
        return api.get(path)
    return api.post(path, json=json, key=key)


def _entry_id(api: Any) -> int:
    return api.get("/api/v1/books/A/entries").json["items"][0]["id"]


def _period_id(api: Any) -> int:
    return api.get("/api/v1/books/A/periods").json["items"][0]["id"]


# Every route under /api/v1, with a valid body where it takes one.
ROUTES = [
    ("GET", "/api/v1/me", None),
    ("GET", "/api/v1/books", None),
    ("POST", "/api/v1/books", {"code": "NEW", "name": "New"}),
    ("GET", "/api/v1/books/A", None),
    ("GET", "/api/v1/books/A/accounts", None),
    ("POST", "/api/v1/books/A/accounts", {"code": "9", "name": "n", "type": "asset"}),
    ("GET", "/api/v1/books/A/accounts/1002", None),
    ("GET", "/api/v1/books/A/accounts/1002/balance", None),
    ("POST", "/api/v1/books/A/accounts/5001/close", None),
    ("GET", "/api/v1/books/A/entries", None),
    ("POST", "/api/v1/books/A/entries", fee("1.00")),
    ("GET", "/api/v1/books/A/entries/{entry}", None),
    ("POST", "/api/v1/books/A/entries/{entry}/reverse", {}),
    ("GET", "/api/v1/books/A/periods", None),
    ("POST", "/api/v1/books/A/periods", {"start": "2027-01-01", "end": "2027-01-31"}),
    ("POST", "/api/v1/books/A/periods/{period}/close", None),
    ("GET", "/api/v1/books/A/trial-balance", None),
    ("GET", "/api/v1/books/A/chain", None),
    ("GET", "/api/v1/users", None),
    ("POST", "/api/v1/users", {"email": "new@test.kehou", "role": "parent"}),
    ("POST", "/api/v1/users/{user}/tokens", None),
    ("POST", "/api/v1/users/{user}/revoke", None),
    ("GET", "/api/v1/audit-log", None),
]

WRITES_MONEY_OR_BOOKS = {
    ("POST", p)
    for p in (
        "/api/v1/books",
        "/api/v1/books/A/accounts",
        "/api/v1/books/A/accounts/5001/close",
        "/api/v1/books/A/entries",
        "/api/v1/books/A/entries/{entry}/reverse",
        "/api/v1/books/A/periods",
        "/api/v1/books/A/periods/{period}/close",
    )
}
BOOK_READS = {(m, p) for m, p, _ in ROUTES if m == "GET" and p.startswith("/api/v1/books")}
ADMIN_ONLY = {(m, p) for m, p, _ in ROUTES if p.startswith("/api/v1/users")}


def allowed(role: str, method: str, path: str) -> bool:
    """The contract's table of who may call what."""
    if path == "/api/v1/me":
        return True
    if (method, path) in WRITES_MONEY_OR_BOOKS:
        return role == "finance"
    if (method, path) in BOOK_READS:
        return role in ("finance", "auditor", "admin")
    if (method, path) in ADMIN_ONLY:
        return role == "admin"
    if path == "/api/v1/audit-log":
        return role in ("auditor", "admin")
    raise AssertionError(f"no rule for {method} {path}")


def _fill(api: Any, tokens: dict[str, str], path: str) -> str:
    if "{entry}" in path:
        path = path.replace("{entry}", str(_entry_id(api)))
    if "{period}" in path:
        path = path.replace("{period}", str(_period_id(api)))
    if "{user}" in path:
        user = api.as_(tokens["teacher"]).get("/api/v1/me").json["id"]
        path = path.replace("{user}", str(user))
    return path


# --------------------------------------------------------------------------- 401


@pytest.mark.parametrize(("method", "path", "payload"), ROUTES)
def test_no_token_is_a_401_on_every_route(api, tokens, book, method, path, payload):
    r = _call(api.as_(None), method, _fill(api, tokens, path), payload, key="k")
    assert_problem(r, 401, "unauthenticated")
    assert r.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize(
    "header",
    [
        "",
        "Bearer",
        "Bearer ",
        "Basic dXNlcjpwYXNz",
        "Token kh_abc",
        "Bearer not-a-kehou-token",
        "Bearer kh_" + "x" * 43,
        "Bearer kh_" + "x" * 200,
    ],
)
def test_a_missing_or_malformed_token_is_a_401(client, tokens, header):
    r = client.get("/api/v1/me", headers={"Authorization": header} if header else {})
    assert_problem(r, 401, "unauthenticated")
    # A real token in the same request still works, so the refusal is about the header.
    r = client.get("/api/v1/me", headers={"Authorization": f"Bearer {tokens['auditor']}"})
    assert r.status_code == 200


def test_the_scheme_is_case_insensitive_and_the_token_exact(client, tokens):
    token = tokens["finance"]
    assert client.get("/api/v1/me", headers={"Authorization": f"bearer {token}"}).status_code == 200
    r = client.get("/api/v1/me", headers={"Authorization": f"Bearer {token[:-1]}"})
    assert_problem(r, 401, "unauthenticated")
    r = client.get("/api/v1/me", headers={"Authorization": f"Bearer {token.upper()}"})
    assert_problem(r, 401, "unauthenticated")


def test_no_token_on_a_missing_book_is_a_401_not_a_404(client):
    r = client.post("/api/v1/books/NOPE/entries", json={"junk": True})
    assert_problem(r, 401, "unauthenticated")


def test_a_token_revoked_by_an_admin_is_a_401(api, tokens, make_token):
    victim = make_token("finance")
    other = make_token("finance")
    as_victim = api.as_(victim)
    me = as_victim.get("/api/v1/me")
    assert me.status_code == 200
    # A second token of the same user, issued by an admin.
    admin = api.as_(tokens["admin"])
    second = admin.post(f"/api/v1/users/{me.json['id']}/tokens")
    assert second.status_code == 201
    assert api.as_(second.json["token"]).get("/api/v1/me").json["id"] == me.json["id"]

    r = admin.post(f"/api/v1/users/{me.json['id']}/revoke")
    assert r.status_code == 200, r.json
    assert r.json["revoked"] == 2
    assert r.json["user"]["email"] == me.json["email"]

    for token in (victim, second.json["token"]):
        r = api.as_(token).get("/api/v1/me")
        assert_problem(r, 401, "unauthenticated")
        assert "invalid_token" in r.headers["WWW-Authenticate"]
        assert_problem(
            api.as_(token).post("/api/v1/books", json={"code": "V", "name": "v"}),
            401,
            "unauthenticated",
        )
    # Nobody else's token was touched.
    assert api.as_(other).get("/api/v1/me").status_code == 200
    assert admin.get("/api/v1/me").status_code == 200
    # A fresh token for the revoked user works again.
    fresh = admin.post(f"/api/v1/users/{me.json['id']}/tokens").json["token"]
    assert api.as_(fresh).get("/api/v1/me").json["email"] == me.json["email"]


def test_a_token_revoked_with_the_cli_is_a_401(app, api, make_token):
    victim = make_token("auditor", "victim@test.kehou")
    other = make_token("auditor", "bystander@test.kehou")
    assert api.as_(victim).get("/api/v1/books").status_code == 200
    result = app.test_cli_runner().invoke(args=["users", "revoke", "Victim@Test.Kehou"])
    assert result.exit_code == 0, result.output
    assert "revoked 1 token(s) of victim@test.kehou" in result.output
    assert_problem(api.as_(victim).get("/api/v1/books"), 401, "unauthenticated")
    assert api.as_(other).get("/api/v1/books").status_code == 200


def test_revoking_an_unknown_user_is_a_404_or_an_error(app, api, tokens):
    r = api.as_(tokens["admin"]).post("/api/v1/users/999999999/revoke")
    assert_problem(r, 404, "not_found")
    result = app.test_cli_runner().invoke(args=["users", "revoke", "nobody@test.kehou"])
    assert result.exit_code != 0
    assert "no user nobody@test.kehou" in result.output


# --------------------------------------------------------------------------- 403 / allowed


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(("method", "path", "payload"), ROUTES)
def test_each_role_may_call_only_its_routes(api, tokens, book, role, method, path, payload):
    caller = api.as_(tokens[role])
    r = _call(caller, method, _fill(api, tokens, path), payload, key=f"{role}-key")
    if allowed(role, method, path):
        assert r.status_code in (200, 201), (role, method, path, r.json)
    else:
        assert_problem(r, 403, "forbidden")
        assert role in r.json["detail"]


@pytest.mark.parametrize("role", ["parent", "teacher"])
def test_parents_and_teachers_cannot_list_books(api, tokens, book, role):
    assert_problem(api.as_(tokens[role]).get("/api/v1/books"), 403, "forbidden")


@pytest.mark.parametrize("role", ["admin", "auditor"])
def test_admins_and_auditors_read_every_book_but_write_none(api, tokens, book, role):
    caller = api.as_(tokens[role])
    listed = caller.get("/api/v1/books").json["items"]
    assert [b["code"] for b in listed] == ["A"]
    assert caller.get("/api/v1/books/A/entries").json["items"][0]["number"] == 1
    before = caller.get("/api/v1/books/A").json["entries"]
    assert_problem(caller.post("/api/v1/books/A/entries", json=fee(), key="x"), 403, "forbidden")
    assert_problem(caller.post("/api/v1/books", json={"code": "B", "name": "b"}), 403, "forbidden")
    assert caller.get("/api/v1/books/A").json["entries"] == before
    assert [b["code"] for b in caller.get("/api/v1/books").json["items"]] == ["A"]


@pytest.mark.parametrize("role", ["finance", "auditor", "parent", "teacher"])
def test_only_admins_manage_users(api, tokens, role):
    caller = api.as_(tokens[role])
    assert_problem(caller.get("/api/v1/users"), 403, "forbidden")
    r = caller.post("/api/v1/users", json={"email": "x@test.kehou", "role": "admin"})
    assert_problem(r, 403, "forbidden")
    emails = [u["email"] for u in api.as_(tokens["admin"]).get("/api/v1/users").json["items"]]
    assert "x@test.kehou" not in emails


@pytest.mark.parametrize("role", ["finance", "parent", "teacher"])
def test_the_audit_log_is_for_auditors_and_admins(api, tokens, role):
    assert_problem(api.as_(tokens[role]).get("/api/v1/audit-log"), 403, "forbidden")


def test_an_admin_creates_a_user_whose_token_works(api, tokens):
    admin = api.as_(tokens["admin"])
    r = admin.post("/api/v1/users", json={"email": "New.Clerk@Test.Kehou", "role": "finance"})
    assert r.status_code == 201, r.json
    assert r.json["user"]["email"] == "new.clerk@test.kehou"
    me = api.as_(r.json["token"]).get("/api/v1/me").json
    assert (me["email"], me["role"]) == ("new.clerk@test.kehou", "finance")
    again = admin.post("/api/v1/users", json={"email": "new.clerk@test.kehou", "role": "parent"})
    assert_problem(again, 409, "user_exists", "email")
    bad = admin.post("/api/v1/users", json={"email": "not-an-email", "role": "parent"})
    assert_problem(bad, 422, "invalid_user", "email")
    bad = admin.post("/api/v1/users", json={"email": "a@b.cn", "role": "root"})
    assert_problem(bad, 422, "invalid_input", "role")


# --------------------------------------------------------------------------- 404 scope


def test_a_book_of_another_finance_user_is_a_404(api, book, make_token):
    stranger = api.as_(make_token("finance"))
    entry = _entry_id(api)
    for path in (
        "/api/v1/books/A",
        "/api/v1/books/A/accounts",
        "/api/v1/books/A/accounts/1002",
        "/api/v1/books/A/accounts/1002/balance",
        "/api/v1/books/A/entries",
        f"/api/v1/books/A/entries/{entry}",
        "/api/v1/books/A/periods",
        "/api/v1/books/A/trial-balance",
        "/api/v1/books/A/chain",
    ):
        assert_problem(stranger.get(path), 404, "not_found")
    before = api.get("/api/v1/books/A").json["entries"]
    assert_problem(stranger.post("/api/v1/books/A/entries", json=fee(), key="s"), 404, "not_found")
    r = stranger.post(f"/api/v1/books/A/entries/{entry}/reverse", json={})
    assert_problem(r, 404, "not_found")
    assert api.get("/api/v1/books/A").json["entries"] == before
    # The stranger's list does not show it; a book of their own works.
    assert stranger.get("/api/v1/books").json["items"] == []
    make_book(stranger, "S", [("1002", "asset", None), ("4001", "revenue", None)])
    assert [b["code"] for b in stranger.get("/api/v1/books").json["items"]] == ["S"]
    assert [b["code"] for b in api.get("/api/v1/books").json["items"]] == ["A"]


def test_a_missing_book_or_entry_is_a_404(api, book):
    assert_problem(api.get("/api/v1/books/NOPE"), 404, "not_found")
    assert_problem(api.get("/api/v1/books/NOPE/entries"), 404, "not_found")
    assert_problem(api.post("/api/v1/books/NOPE/entries", json=fee(), key="k"), 404, "not_found")
    assert_problem(api.get("/api/v1/books/A/entries/999999999"), 404, "not_found")
    assert_problem(api.get("/api/v1/books/A/accounts/9999"), 404, "not_found")
    assert_problem(api.get("/api/v1/books/A/accounts/9999/balance"), 404, "not_found")
    assert_problem(api.post("/api/v1/books/A/periods/999999999/close"), 404, "not_found")


def test_a_missing_book_and_a_foreign_book_answer_alike(api, book, make_token):
    stranger = api.as_(make_token("finance"))
    foreign = stranger.get("/api/v1/books/A/entries")
    missing = stranger.get("/api/v1/books/ZZ/entries")
    assert foreign.status_code == missing.status_code == 404
    assert foreign.json["code"] == missing.json["code"]
    assert foreign.json["detail"].replace("'A'", "'ZZ'") == missing.json["detail"]


# --------------------------------------------------------------------------- order of checks

INVALID_ENTRY = {"effective_date": "not a date", "postings": "nope", "junk": 1}


def test_authorization_is_checked_before_validation(api, tokens, book, make_token):
    parent = api.as_(tokens["parent"])
    assert_problem(parent.post("/api/v1/books/A/entries", json=INVALID_ENTRY), 403, "forbidden")
    assert_problem(parent.post("/api/v1/books", json={"code": ""}), 403, "forbidden")
    assert_problem(parent.get("/api/v1/books?limit=5000"), 403, "forbidden")
    assert_problem(parent.post("/api/v1/books/NOPE/entries", json=INVALID_ENTRY), 403, "forbidden")
    admin = api.as_(tokens["admin"])
    assert_problem(admin.post("/api/v1/books/A/entries", json=INVALID_ENTRY), 403, "forbidden")
    auditor = api.as_(tokens["auditor"])
    assert_problem(auditor.post("/api/v1/books/A/periods", json={"start": 1}), 403, "forbidden")

    stranger = api.as_(make_token("finance"))
    r = stranger.post("/api/v1/books/A/entries", json=INVALID_ENTRY)
    assert_problem(r, 404, "not_found")
    assert r.json["errors"] == {}
    assert_problem(stranger.get("/api/v1/books/A/entries?limit=0"), 404, "not_found")
    # The owner, sending the same body, is told what is wrong with it.
    r = api.post("/api/v1/books/A/entries", json=INVALID_ENTRY, key="k")
    p = assert_problem(r, 422, "invalid_input")
    assert {"effective_date", "postings", "junk", "memo"} <= set(p["errors"])


def test_the_docs_are_public(client):
    assert client.get("/api/openapi.json").status_code == 200
    assert client.get("/api/docs").status_code == 200
