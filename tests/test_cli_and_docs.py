"""The ``kehou`` command, OpenAPI, the offline docs page, and a start-up that runs no query."""

from __future__ import annotations

import re
import stat
from pathlib import Path
from typing import Any

import pytest
from http_helpers import assert_problem, fee, make_book, post
from openapi_spec_validator import validate
from portal_setup import login as portal_login
from sqlalchemy import func, select

from api import create_app
from ledger.books import Book


def _cli(app: Any, *args: str) -> Any:
    return app.test_cli_runner().invoke(args=list(args))


def _last_line(output: str) -> str:
    return output.strip().splitlines()[-1].strip()


# --------------------------------------------------------------------------- users


def test_users_create_prints_a_token_that_works_as_its_last_line(app, api, tokens):
    result = _cli(app, "users", "create", "Clerk@School.Example", "--role", "finance")
    assert result.exit_code == 0, result.output
    token = _last_line(result.output)
    assert token.startswith("kh_")
    clerk = api.as_(token)
    me = clerk.get("/api/v1/me")
    assert me.status_code == 200
    assert (me.json["email"], me.json["role"]) == ("clerk@school.example", "finance")
    # The token is a finance user's: it creates a book and posts into it.
    make_book(clerk, "CLI", [("1002", "asset", None), ("4001", "revenue", None)])
    assert post(clerk, "CLI", fee(), key="cli-1")["posted_by"] == "clerk@school.example"
    # The CLI's write is in the audit log, by the shell user rather than an API user.
    log = api.as_(tokens["auditor"]).get("/api/v1/audit-log?limit=1000").json["items"]
    created = [
        a for a in log if a["action"] == "user.create" and a["target"] == f"user:{me.json['id']}"
    ]
    assert len(created) == 1
    assert created[0]["actor"].startswith("cli")
    assert created[0]["request_id"] is None


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["users", "create", "x@test.kehou", "--role", "root"], "root"),
        (["users", "create", "x@test.kehou"], "--role"),
        (["users", "create", "not-an-email", "--role", "parent"], "invalid_user"),
    ],
)
def test_users_create_refuses_bad_input(app, args, message):
    result = _cli(app, *args)
    assert result.exit_code != 0
    assert message in result.output


def test_users_create_refuses_a_second_user_with_the_same_email(app, api):
    first = _cli(app, "users", "create", "twice@test.kehou", "--role", "auditor")
    assert first.exit_code == 0
    second = _cli(app, "users", "create", "TWICE@test.kehou", "--role", "admin")
    assert second.exit_code != 0
    assert "user_exists" in second.output
    # The first token still belongs to an auditor: the refused command changed nothing.
    me = api.as_(_last_line(first.output)).get("/api/v1/me").json
    assert me["role"] == "auditor"


def test_users_token_and_revoke(app, api):
    created = _cli(app, "users", "create", "t@test.kehou", "--role", "auditor")
    first = _last_line(created.output)
    issued = _cli(app, "users", "token", "t@test.kehou")
    assert issued.exit_code == 0, issued.output
    second = _last_line(issued.output)
    assert second != first
    for token in (first, second):
        assert api.as_(token).get("/api/v1/books").status_code == 200
    revoked = _cli(app, "users", "revoke", "t@test.kehou")
    assert revoked.exit_code == 0, revoked.output
    assert "revoked 2 token(s)" in revoked.output
    for token in (first, second):
        assert_problem(api.as_(token).get("/api/v1/books"), 401, "unauthenticated")
    listed = _cli(app, "users", "list")
    assert re.search(r"^\d+\tt@test\.kehou\tauditor\tactive$", listed.output, re.M)


# --------------------------------------------------------------------------- demo


DEMO_USERS = {
    "admin@demo.kehou",
    "finance@demo.kehou",
    "auditor@demo.kehou",
    "school-finance@demo.kehou",
    "teacher@demo.kehou",
    "parent.wang@demo.kehou",
}


def _demo_tokens(output: str) -> dict[str, str]:
    """Email -> token of the ``email<TAB>role<TAB>token`` lines that ``demo load`` prints."""
    tokens = {}
    for line in output.splitlines():
        parts = line.strip().split("\t")
        if len(parts) == 3 and parts[2].startswith("kh_"):
            tokens[parts[0]] = parts[2]
    return tokens


def _demo_portal_password(output: str) -> tuple[str, str]:
    [(email, password)] = [
        (parts[0], parts[2])
        for parts in (line.strip().split("\t") for line in output.splitlines())
        if len(parts) == 3 and parts[1] == "portal-password"
    ]
    return email, password


def test_demo_load_if_empty_loads_once_and_balances(app, api, db, tmp_path):
    assert db.scalar(select(func.count()).select_from(Book)) == 0
    tokens_file = tmp_path / "instance" / "demo-tokens.txt"
    first = _cli(app, "demo", "load", "--if-empty", "--tokens-file", str(tokens_file))
    assert first.exit_code == 0, first.output
    assert "demo book DEMO loaded" in first.output
    tokens = _demo_tokens(first.output)
    assert set(tokens) == DEMO_USERS
    assert stat.S_IMODE(tokens_file.stat().st_mode) == 0o600
    assert _demo_tokens(tokens_file.read_text()) == tokens
    # The demo parent's /portal password is printed and kept with the tokens, and it works.
    email, password = _demo_portal_password(first.output)
    assert _demo_portal_password(tokens_file.read_text()) == (email, password)
    browser = app.test_client()
    signed_in = portal_login(browser, email, password)
    assert signed_in.status_code == 302, signed_in.status_code
    overview = browser.get(signed_in.headers["Location"], follow_redirects=True)
    assert overview.status_code == 200
    assert "王小明" in overview.get_data(as_text=True)

    second = _cli(app, "demo", "load", "--if-empty")
    assert second.exit_code == 0, second.output
    assert "nothing loaded" in second.output
    assert _demo_tokens(second.output) == {}
    assert db.scalar(select(func.count()).select_from(Book)) == 2  # DEMO and school DEMO1

    finance = api.as_(tokens["finance@demo.kehou"])
    assert [b["code"] for b in finance.get("/api/v1/books").json["items"]] == ["DEMO"]
    school_finance = api.as_(tokens["school-finance@demo.kehou"])
    assert [b["code"] for b in school_finance.get("/api/v1/books").json["items"]] == ["DEMO1"]
    assert finance.get("/api/v1/books/DEMO").json["entries"] == 5
    tb = finance.get("/api/v1/books/DEMO/trial-balance").json
    assert tb["total_debit"] == tb["total_credit"] == "960.00"
    for line in tb["items"]:
        assert "0.00" in (line["debit"], line["credit"])
    auditor = api.as_(tokens["auditor@demo.kehou"])
    assert auditor.get("/api/v1/books/DEMO/chain").json == {
        "ok": True,
        "entries_checked": 5,
        "first_bad_entry": None,
        "problem": None,
    }
    # The demo's closed September refuses a new entry; an open date takes one.
    r = finance.post("/api/v1/books/DEMO/entries", json=_demo_fee("2026-09-15"), key="late")
    assert_problem(r, 422, "period_closed")
    assert (
        finance.post(
            "/api/v1/books/DEMO/entries", json=_demo_fee("2026-10-15"), key="ok"
        ).status_code
        == 201
    )
    # Without --if-empty a second load is refused by the database's own rules, not doubled.
    third = _cli(app, "demo", "load")
    assert third.exit_code != 0
    assert db.scalar(select(func.count()).select_from(Book)) == 2


def _demo_fee(day: str) -> dict[str, Any]:
    return {
        "effective_date": day,
        "memo": "fee",
        "postings": [
            {"account": "1002", "direction": "debit", "amount": "1.00"},
            {"account": "4001", "direction": "credit", "amount": "1.00"},
        ],
    }


def test_a_fresh_database_is_migrated_and_loaded_by_the_cli(tmp_path):
    """What ``make run`` does, on a new SQLite file in a folder that does not exist yet."""
    path = tmp_path / "instance" / "kehou.sqlite"
    app = create_app({"DATABASE_URL": f"sqlite:///{path}", "TESTING": True})
    try:
        upgraded = _cli(app, "db", "upgrade")
        assert upgraded.exit_code == 0, upgraded.output
        assert path.exists()
        loaded = _cli(app, "demo", "load", "--if-empty")
        assert loaded.exit_code == 0, loaded.output
        again = _cli(app, "demo", "load", "--if-empty")
        assert "nothing loaded" in again.output
        client = app.test_client()
        auth = {"Authorization": f"Bearer {_demo_tokens(loaded.output)['auditor@demo.kehou']}"}
        assert client.get("/api/v1/books/DEMO/chain", headers=auth).json["ok"] is True
        assert client.get("/api/v1/books/DEMO", headers=auth).json["entries"] == 5
    finally:
        app.extensions["kehou_db"].dispose()


# --------------------------------------------------------------------------- OpenAPI and docs


def test_openapi_json_is_valid_openapi_3_and_public(client):
    r = client.get("/api/openapi.json")
    assert r.status_code == 200
    spec = r.json
    assert spec["openapi"].startswith("3.")
    validate(spec)
    paths = spec["paths"]
    for path in (
        "/api/v1/books",
        "/api/v1/books/{book}/accounts",
        "/api/v1/books/{book}/accounts/{code}/balance",
        "/api/v1/books/{book}/entries",
        "/api/v1/books/{book}/entries/{entry_id}/reverse",
        "/api/v1/books/{book}/periods",
        "/api/v1/books/{book}/trial-balance",
        "/api/v1/books/{book}/chain",
        "/api/v1/users/{user_id}/revoke",
        "/api/v1/audit-log",
    ):
        assert path in paths, path
    assert spec["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    assert spec["security"] == [{"bearer": []}]
    # Money is a string in the contract, never a number.
    posting = spec["components"]["schemas"]["PostingIn"]["properties"]["amount"]
    assert posting["type"] == "string"


def test_the_docs_page_loads_nothing_from_the_internet(client):
    r = client.get("/api/docs")
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    assert not re.search(r"https?://", html), re.findall(r"https?://\S+", html)
    assert not re.search(r"""(src|href)\s*=\s*["']//""", html)
    assets = re.findall(r"""(?:src|href)\s*=\s*["']([^"']+)["']""", html)
    assert any(a.endswith("swagger-ui-bundle.js") for a in assets)
    for asset in assets:
        assert asset.startswith("/api/docs/static/"), asset
        served = client.get(asset)
        assert served.status_code == 200, asset
        assert len(served.data) > 1000
        served.close()


def test_the_swagger_ui_bundle_is_served_from_the_package(client):
    r = client.get("/api/docs/static/swagger-ui-bundle.js")
    assert r.status_code == 200
    assert "javascript" in r.mimetype
    assert b"SwaggerUIBundle" in r.data
    r.close()
    missing = client.get("/api/docs/static/no-such-file.js")
    assert missing.status_code == 404
    assert client.get("/api/docs/static/../../../etc/passwd").status_code == 404


# --------------------------------------------------------------------------- start-up


@pytest.mark.parametrize(
    "url",
    [
        "sqlite:///{tmp}/missing/dir/kehou.sqlite",
        "postgresql+psycopg://nobody@127.0.0.1:1/nowhere",
    ],
)
def test_create_app_runs_no_query_at_start_up(tmp_path, url):
    url = url.format(tmp=tmp_path)
    app = create_app({"DATABASE_URL": url, "TESTING": True})
    try:
        assert app.extensions["kehou_db"].engine is None
        client = app.test_client()
        # The public pages need no database either.
        assert client.get("/api/openapi.json").status_code == 200
        assert client.get("/api/docs").status_code == 200
        assert app.extensions["kehou_db"].engine is None
        assert not (tmp_path / "missing").exists()
        # The first request that needs the database says it is unavailable, as problem+json.
        r = client.get("/api/v1/me", headers={"Authorization": "Bearer kh_whatever"})
        assert_problem(r, 503, "database_unavailable")
        assert "nothing was written" in r.json["detail"]
    finally:
        app.extensions["kehou_db"].dispose()


def test_the_database_url_comes_from_the_environment(monkeypatch, tmp_path):
    url = f"sqlite:///{tmp_path / 'from-env.sqlite'}"
    monkeypatch.setenv("KEHOU_DATABASE_URL", url)
    assert create_app().config["DATABASE_URL"] == url
    assert create_app({"DATABASE_URL": "sqlite://"}).config["DATABASE_URL"] == "sqlite://"
    assert not Path(tmp_path / "from-env.sqlite").exists()
