"""The journal's HTTP contract: books, accounts, entries, balances, lists and the audit log."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from http_helpers import all_items, assert_problem, body, fee, make_book, post

from api.schemas import encode_cursor

HEX64 = re.compile(r"^[0-9a-f]{64}$")
GENESIS = "0" * 64
ENTRY_FIELDS = {
    "id",
    "number",
    "kind",
    "effective_date",
    "recorded_at",
    "posted_by",
    "memo",
    "reverses",
    "reversed_by",
    "prev_hash",
    "hash",
    "postings",
}


@pytest.fixture
def me(api) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    return api.get("/api/v1/me").json


@pytest.fixture
def journal(api) -> dict[str, dict[str, Any]]:  # type: ignore[no-untyped-def]
    """Book J with four entries over September and October.

    e1 09-01 Dr 1122.H1 100.00 / Cr 4001 100.00   (charge)
    e2 09-05 Dr 1122.H2  50.00 / Cr 4001  50.00   (charge)
    e3 09-10 Dr 1002     30.00 / Cr 1122.H1 30.00 (payment)
    e4 10-01 Dr 1122      7.00 / Cr 4001   7.00   (adjustment, on the parent itself)
    """
    make_book(api, "J")
    return {
        "e1": post(
            api,
            "J",
            body(("1122.H1", "debit", "100.00"), ("4001", "credit", "100.00"), kind="charge"),
            "e1",
        ),
        "e2": post(
            api,
            "J",
            body(
                ("1122.H2", "debit", "50.00"),
                ("4001", "credit", "50.00"),
                date="2026-09-05",
                kind="charge",
            ),
            "e2",
        ),
        "e3": post(
            api,
            "J",
            body(
                ("1002", "debit", "30.00"),
                ("1122.H1", "credit", "30.00"),
                date="2026-09-10",
                kind="payment",
            ),
            "e3",
        ),
        "e4": post(
            api,
            "J",
            body(("1122", "debit", "7.00"), ("4001", "credit", "7.00"), date="2026-10-01"),
            "e4",
        ),
    }


# --------------------------------------------------------------------------- books


def test_a_book_is_created_with_no_accounts_and_listed(api):
    r = api.post("/api/v1/books", json={"code": "S-01", "name": "示范小学"})
    assert r.status_code == 201
    assert r.mimetype == "application/json"
    assert r.json["code"] == "S-01"
    assert r.json["name"] == "示范小学"
    assert r.json["entries"] == 0
    assert api.get("/api/v1/books/S-01/accounts").json == {"items": [], "next_cursor": None}
    listed = api.get("/api/v1/books").json
    assert set(listed) == {"items", "next_cursor"}
    assert listed["next_cursor"] is None
    assert [(b["code"], b["name"]) for b in listed["items"]] == [("S-01", "示范小学")]
    assert api.get("/api/v1/books/S-01").json == r.json


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"name": "no code"}, "code"),
        ({"code": "X"}, "name"),
        ({"code": "", "name": "n"}, "code"),
        ({"code": "X" * 33, "name": "n"}, "code"),
        ({"code": "X", "name": "n", "extra": 1}, "extra"),
        ({"code": "X", "name": "a\x00b"}, "name"),
    ],
)
def test_an_invalid_book_is_a_422(api, payload, field):
    assert_problem(api.post("/api/v1/books", json=payload), 422, "invalid_input", field)
    assert api.get("/api/v1/books").json["items"] == []


# --------------------------------------------------------------------------- lists


def _pages(api: Any, path: str, limit: int) -> list[list[Any]]:
    pages = []
    sep = "&" if "?" in path else "?"
    url = f"{path}{sep}limit={limit}"
    while True:
        r = api.get(url)
        assert r.status_code == 200, r.json
        assert set(r.json) == {"items", "next_cursor"}
        assert len(r.json["items"]) <= limit
        pages.append(r.json["items"])
        if r.json["next_cursor"] is None:
            return pages
        assert len(pages) < 50, "pagination does not end"
        url = f"{path}{sep}limit={limit}&cursor={r.json['next_cursor']}"


def test_books_page_by_limit_and_cursor_with_none_missing_or_repeated(api):
    codes = [f"B{i:02d}" for i in range(7)]
    for code in reversed(codes):
        assert api.post("/api/v1/books", json={"code": code, "name": code}).status_code == 201
    pages = _pages(api, "/api/v1/books", 3)
    assert [len(p) for p in pages] == [3, 3, 1]
    assert [b["code"] for p in pages for b in p] == codes
    # An exact multiple of the limit ends with no cursor, not an empty page.
    assert [len(p) for p in _pages(api, "/api/v1/books", 7)] == [7]


def test_entries_accounts_users_and_audit_log_page_alike(api, tokens, journal):
    entries = [e for p in _pages(api, "/api/v1/books/J/entries", 3) for e in p]
    assert [e["number"] for e in entries] == [1, 2, 3, 4]
    assert [len(p) for p in _pages(api, "/api/v1/books/J/entries", 1)] == [1, 1, 1, 1]

    accounts = [a["code"] for p in _pages(api, "/api/v1/books/J/accounts", 3) for a in p]
    assert accounts == sorted(a["code"] for a in all_items(api, "/api/v1/books/J/accounts"))
    assert len(accounts) == len(set(accounts)) == 8

    admin = api.as_(tokens["admin"])
    users = [u["id"] for p in _pages(admin, "/api/v1/users", 2) for u in p]
    assert users == sorted(users)
    assert len(users) == len(set(users)) == len(admin.get("/api/v1/users?limit=1000").json["items"])
    assert len(users) >= 5

    audit = [a["id"] for p in _pages(admin, "/api/v1/audit-log", 4) for a in p]
    assert audit == sorted(audit, reverse=True)
    whole = [a["id"] for a in admin.get("/api/v1/audit-log?limit=1000").json["items"]]
    assert audit == whole
    assert len(audit) == 1 + 8 + 4  # the book, its accounts, the entries


def test_a_filtered_entry_list_pages_within_the_filter(api, journal):
    pages = _pages(api, "/api/v1/books/J/entries?account=4001", 1)
    assert [e["number"] for p in pages for e in p] == [1, 2, 4]


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/books",
        "/api/v1/books/J/accounts",
        "/api/v1/books/J/entries",
        "/api/v1/users",
        "/api/v1/audit-log",
    ],
)
def test_list_limits_are_between_1_and_1000(api, tokens, journal, path):
    caller = api.as_(tokens["admin"])
    assert caller.get(f"{path}?limit=1000").status_code == 200
    assert caller.get(f"{path}?limit=1").status_code == 200
    for bad in ("1001", "0", "-1", "ten"):
        assert_problem(caller.get(f"{path}?limit={bad}"), 422, "invalid_input", "limit")


#: Each list and the type of the key it pages by.
LISTS = [
    ("/api/v1/books", str),
    ("/api/v1/books/J/accounts", str),
    ("/api/v1/books/J/entries", int),
    ("/api/v1/users", int),
    ("/api/v1/audit-log", int),
]


@pytest.mark.parametrize(("path", "key_type"), LISTS)
@pytest.mark.parametrize(
    "cursor",
    [
        "%%%",
        "bm90IGpzb24",
        encode_cursor({"a": 1}),
        encode_cursor([1]),
        encode_cursor(True),
        encode_cursor(10**30),
        "wrong-type",
    ],
)
def test_a_cursor_the_api_did_not_return_is_a_422(api, tokens, journal, path, key_type, cursor):
    if cursor == "wrong-type":
        cursor = encode_cursor(5 if key_type is str else "5")
    r = api.as_(tokens["admin"]).get(f"{path}?cursor={cursor}")
    assert_problem(r, 422, "invalid_cursor", "cursor")


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/api/v1/books/J/entries?acount=4001", "acount"),
        ("/api/v1/books/J/entries?date_from=2026-09-05", "date_from"),
        ("/api/v1/books?limit=2&page=2", "page"),
        ("/api/v1/books/J/accounts/1122/balance?asof=2026-09-01", "asof"),
        ("/api/v1/books/J/trial-balance?date=2026-09-01", "date"),
    ],
)
def test_a_mistyped_query_parameter_is_refused_not_ignored(api, journal, path, field):
    assert_problem(api.get(path), 422, "invalid_input", field)


# --------------------------------------------------------------------------- accounts, balances


def test_accounts_have_a_parent_and_a_type(api, journal):
    r = api.get("/api/v1/books/J/accounts/1122.H1")
    assert r.status_code == 200
    assert r.json == {
        "code": "1122.H1",
        "name": "Account 1122.H1",
        "type": "asset",
        "parent": "1122",
        "owner": None,
        "is_closed": False,
        "closed_at": None,
    }
    listed = {a["code"]: a for a in all_items(api, "/api/v1/books/J/accounts")}
    assert listed["1122.H2"]["parent"] == "1122"
    assert listed["1122"]["parent"] is None
    assert {a["type"] for a in listed.values()} == {
        "asset",
        "liability",
        "net_assets",
        "revenue",
        "expense",
    }
    created = api.post(
        "/api/v1/books/J/accounts",
        json={"code": "1122.H3", "name": "Household 3", "type": "asset", "parent": "1122.H2"},
    )
    assert created.status_code == 201
    assert created.json["parent"] == "1122.H2"


@pytest.mark.parametrize(
    ("account", "as_of", "debit", "credit", "balance"),
    [
        ("1122", None, "157.00", "30.00", "127.00"),
        ("1122", "2026-08-31", "0.00", "0.00", "0.00"),
        ("1122", "2026-09-01", "100.00", "0.00", "100.00"),
        ("1122", "2026-09-04", "100.00", "0.00", "100.00"),
        ("1122", "2026-09-05", "150.00", "0.00", "150.00"),
        ("1122", "2026-09-10", "150.00", "30.00", "120.00"),
        ("1122", "2026-09-30", "150.00", "30.00", "120.00"),
        ("1122", "2026-10-01", "157.00", "30.00", "127.00"),
        ("1122.H1", None, "100.00", "30.00", "70.00"),
        ("1122.H1", "2026-09-09", "100.00", "0.00", "100.00"),
        ("1122.H2", None, "50.00", "0.00", "50.00"),
        ("4001", None, "0.00", "157.00", "-157.00"),
        ("4001", "2026-09-05", "0.00", "150.00", "-150.00"),
        ("1002", None, "30.00", "0.00", "30.00"),
        ("5001", None, "0.00", "0.00", "0.00"),
    ],
)
def test_an_account_balance_counts_its_children_up_to_as_of(
    api, journal, account, as_of, debit, credit, balance
):
    query = f"?as_of={as_of}" if as_of else ""
    r = api.get(f"/api/v1/books/J/accounts/{account}/balance{query}")
    assert r.status_code == 200, r.json
    assert r.json == {
        "account": account,
        "as_of": as_of,
        "debit": debit,
        "credit": credit,
        "balance": balance,
    }


def test_a_balance_as_of_a_bad_date_is_a_422(api, journal):
    r = api.get("/api/v1/books/J/accounts/1122/balance?as_of=2026-02-30")
    assert_problem(r, 422, "invalid_input", "as_of")


def test_balances_follow_a_reversal_by_its_own_date(api, journal):
    e1 = journal["e1"]["id"]
    r = api.post(f"/api/v1/books/J/entries/{e1}/reverse", json={"effective_date": "2026-10-15"})
    assert r.status_code == 201
    now = api.get("/api/v1/books/J/accounts/1122/balance").json
    assert (now["debit"], now["credit"], now["balance"]) == ("157.00", "130.00", "27.00")
    then = api.get("/api/v1/books/J/accounts/1122/balance?as_of=2026-10-14").json
    assert then["balance"] == "127.00"


def test_a_closed_account_keeps_its_history_and_says_so(api, journal):
    r = api.post("/api/v1/books/J/accounts/5001/close")
    assert r.status_code == 200
    assert r.json["is_closed"] is True
    assert r.json["closed_at"]
    assert api.get("/api/v1/books/J/accounts/5001").json["is_closed"] is True
    assert api.get("/api/v1/books/J/accounts/1002").json["is_closed"] is False


# --------------------------------------------------------------------------- entries


def test_an_entry_has_the_contract_fields(api, me, journal):
    r = api.post(
        "/api/v1/books/J/entries",
        json=body(
            ("1002", "debit", "5.5"),
            ("2211", "credit", "2.25"),
            ("3001", "credit", "3.25"),
            date="2026-09-20",
            memo="王家缴费 / payment",
            kind="payment",
        ),
        key="fields",
    )
    assert r.status_code == 201
    e = r.json
    assert set(e) >= ENTRY_FIELDS
    assert e["number"] == 5
    assert e["kind"] == "payment"
    assert e["effective_date"] == "2026-09-20"
    assert dt.datetime.fromisoformat(e["recorded_at"])
    assert e["posted_by"] == me["email"]
    assert e["memo"] == "王家缴费 / payment"
    assert e["reverses"] is None
    assert e["reversed_by"] is None
    assert HEX64.match(e["hash"])
    assert e["prev_hash"] == journal["e4"]["hash"]
    assert e["postings"] == [
        {"account": "1002", "direction": "debit", "amount": "5.50"},
        {"account": "2211", "direction": "credit", "amount": "2.25"},
        {"account": "3001", "direction": "credit", "amount": "3.25"},
    ]
    # The answer is built from what the engine wrote, not read back: it must be
    # exactly what a later read (and a replay of the request) shows.
    assert api.get(f"/api/v1/books/J/entries/{e['id']}").json == e
    assert api.get("/api/v1/books/J").json["entries"] == 5
    replay = api.post(
        "/api/v1/books/J/entries",
        json=body(
            ("1002", "debit", "5.5"),
            ("2211", "credit", "2.25"),
            ("3001", "credit", "3.25"),
            date="2026-09-20",
            memo="王家缴费 / payment",
            kind="payment",
        ),
        key="fields",
    )
    assert (replay.status_code, replay.json) == (200, e)


def test_the_kind_defaults_to_adjustment(api, journal):
    assert journal["e4"]["kind"] == "adjustment"
    assert journal["e1"]["kind"] == "charge"


def test_numbers_are_gap_free_per_book_and_hashes_chain(api, journal):
    make_book(api, "K")
    for i in range(3):
        post(api, "K", fee(f"{i + 1}.00"), key=f"k-{i}")
        post(api, "J", fee(f"{i + 1}.00"), key=f"j-{i}")
    for book, count in (("J", 7), ("K", 3)):
        entries = all_items(api, f"/api/v1/books/{book}/entries")
        assert [e["number"] for e in entries] == list(range(1, count + 1))
        assert entries[0]["prev_hash"] == GENESIS
        for before, after in zip(entries, entries[1:], strict=False):
            assert after["prev_hash"] == before["hash"]
        assert len({e["hash"] for e in entries}) == count
        assert api.get(f"/api/v1/books/{book}").json["entries"] == count
        assert api.get(f"/api/v1/books/{book}/chain").json == {
            "ok": True,
            "entries_checked": count,
            "first_bad_entry": None,
            "problem": None,
        }


def test_an_empty_book_has_a_verified_empty_chain(api):
    make_book(api, "E", [("1002", "asset", None)])
    chain = api.get("/api/v1/books/E/chain").json
    assert (chain["ok"], chain["entries_checked"], chain["first_bad_entry"]) == (True, 0, None)


@pytest.mark.parametrize(
    ("query", "numbers"),
    [
        ("", [1, 2, 3, 4]),
        ("account=1122.H1", [1, 3]),
        ("account=4001", [1, 2, 4]),
        ("account=5001", []),
        ("from=2026-09-05", [2, 3, 4]),
        ("to=2026-09-05", [1, 2]),
        ("from=2026-09-02&to=2026-09-10", [2, 3]),
        ("from=2026-09-11&to=2026-09-30", []),
        ("kind=charge", [1, 2]),
        ("kind=payment", [3]),
        ("kind=adjustment", [4]),
        ("kind=charge&account=1122.H2", [2]),
        ("kind=charge&from=2026-09-02", [2]),
    ],
)
def test_entries_filter_by_account_dates_and_kind(api, journal, query, numbers):
    r = api.get(f"/api/v1/books/J/entries?{query}")
    assert r.status_code == 200, r.json
    assert [e["number"] for e in r.json["items"]] == numbers


def test_an_unknown_kind_filter_is_a_422(api, journal):
    assert_problem(api.get("/api/v1/books/J/entries?kind=gift"), 422, "invalid_input", "kind")
    assert_problem(api.get("/api/v1/books/J/entries?from=yesterday"), 422, "invalid_input", "from")


def test_a_reversal_mirrors_the_entry_and_links_both_ways(api, me, journal):
    e3 = journal["e3"]
    before = dt.date.today()
    r = api.post(f"/api/v1/books/J/entries/{e3['id']}/reverse", json={})
    after = dt.date.today()
    assert r.status_code == 201, r.json
    rev = r.json
    assert rev["kind"] == "reversal"
    assert rev["reverses"] == e3["id"]
    assert rev["reversed_by"] is None
    assert rev["number"] == 5
    assert rev["prev_hash"] == journal["e4"]["hash"]
    assert rev["posted_by"] == me["email"]
    assert rev["memo"] == "Reversal of entry #3"
    assert rev["effective_date"] in {before.isoformat(), after.isoformat()}
    assert rev["postings"] == [
        {"account": "1002", "direction": "credit", "amount": "30.00"},
        {"account": "1122.H1", "direction": "debit", "amount": "30.00"},
    ]
    original = api.get(f"/api/v1/books/J/entries/{e3['id']}").json
    assert original["reversed_by"] == rev["id"]
    assert {k: v for k, v in original.items() if k != "reversed_by"} == {
        k: v for k, v in e3.items() if k != "reversed_by"
    }
    listed = {e["id"]: e for e in all_items(api, "/api/v1/books/J/entries")}
    assert listed[e3["id"]]["reversed_by"] == rev["id"]
    assert listed[rev["id"]]["reverses"] == e3["id"]
    assert [e["number"] for e in all_items(api, "/api/v1/books/J/entries?kind=reversal")] == [5]
    assert api.get("/api/v1/books/J/chain").json["ok"] is True


def test_a_reversal_takes_a_date_and_a_memo(api, journal):
    e1 = journal["e1"]["id"]
    r = api.post(
        f"/api/v1/books/J/entries/{e1}/reverse",
        json={"effective_date": "2026-11-02", "memo": "wrong household"},
    )
    assert r.status_code == 201
    assert (r.json["effective_date"], r.json["memo"]) == ("2026-11-02", "wrong household")
    assert_problem(
        api.post(f"/api/v1/books/J/entries/{journal['e2']['id']}/reverse", json={"memo": ""}),
        422,
        "invalid_input",
        "memo",
    )


# --------------------------------------------------------------------------- trial balance


def test_the_trial_balance_puts_each_net_in_one_column_and_balances(api, journal):
    r = api.get("/api/v1/books/J/trial-balance")
    assert r.status_code == 200
    tb = r.json
    assert set(tb) == {"as_of", "items", "total_debit", "total_credit"}
    assert tb["as_of"] is None
    lines = {line["code"]: line for line in tb["items"]}
    assert [line["code"] for line in tb["items"]] == sorted(lines)
    assert set(lines) == {"1002", "1122", "1122.H1", "1122.H2", "2211", "3001", "4001", "5001"}
    assert lines["1122.H1"] == {
        "code": "1122.H1",
        "name": "Account 1122.H1",
        "type": "asset",
        "debit": "70.00",
        "credit": "0.00",
    }
    net = {c: (line["debit"], line["credit"]) for c, line in lines.items()}
    assert net == {
        "1002": ("30.00", "0.00"),
        "1122": ("7.00", "0.00"),
        "1122.H1": ("70.00", "0.00"),
        "1122.H2": ("50.00", "0.00"),
        "2211": ("0.00", "0.00"),
        "3001": ("0.00", "0.00"),
        "4001": ("0.00", "157.00"),
        "5001": ("0.00", "0.00"),
    }
    assert tb["total_debit"] == tb["total_credit"] == "157.00"


@pytest.mark.parametrize(
    ("as_of", "total", "fees"),
    [
        ("2026-08-31", "0.00", "0.00"),
        ("2026-09-05", "150.00", "150.00"),
        ("2026-09-30", "150.00", "150.00"),
    ],
)
def test_the_trial_balance_as_of_a_date(api, journal, as_of, total, fees):
    tb = api.get(f"/api/v1/books/J/trial-balance?as_of={as_of}").json
    assert tb["as_of"] == as_of
    assert tb["total_debit"] == tb["total_credit"] == total
    assert {line["code"]: line["credit"] for line in tb["items"]}["4001"] == fees


def test_after_a_reversal_the_nets_are_back(api, journal):
    e3 = journal["e3"]["id"]
    assert api.post(f"/api/v1/books/J/entries/{e3}/reverse", json={}).status_code == 201
    lines = {line["code"]: line for line in api.get("/api/v1/books/J/trial-balance").json["items"]}
    assert (lines["1002"]["debit"], lines["1002"]["credit"]) == ("0.00", "0.00")
    assert lines["1122.H1"]["debit"] == "100.00"


# --------------------------------------------------------------------------- periods


def test_periods_are_listed_and_closed(api, me, journal):
    r = api.post("/api/v1/books/J/periods", json={"start": "2026-09-01", "end": "2026-09-30"})
    assert r.status_code == 201
    assert r.json["is_closed"] is False
    assert (r.json["start"], r.json["end"]) == ("2026-09-01", "2026-09-30")
    closed = api.post(f"/api/v1/books/J/periods/{r.json['id']}/close")
    assert closed.status_code == 200
    assert closed.json["is_closed"] is True
    assert closed.json["closed_by"] == me["email"]
    listed = api.get("/api/v1/books/J/periods").json
    assert [(p["id"], p["is_closed"]) for p in listed["items"]] == [(r.json["id"], True)]
    # Outside every period is allowed; inside the closed one is not.
    assert post(api, "J", fee(date="2026-12-31"), key="after")["number"] == 5
    r = api.post("/api/v1/books/J/entries", json=fee(date="2026-09-15"), key="inside")
    assert_problem(r, 422, "period_closed")


# --------------------------------------------------------------------------- audit log


def _audit(caller: Any) -> list[dict[str, Any]]:
    return caller.get("/api/v1/audit-log?limit=1000").json["items"]


def test_every_write_is_in_the_audit_log_with_its_request_id(api, tokens, me):
    admin = api.as_(tokens["admin"])
    admin_email = admin.get("/api/v1/me").json["email"]
    start = len(_audit(admin))
    calls = [
        (api, "/api/v1/books", {"code": "AU", "name": "Audit"}, None, "book.create", "book:AU"),
        (
            api,
            "/api/v1/books/AU/accounts",
            {"code": "1002", "name": "Bank", "type": "asset"},
            None,
            "account.create",
            "book:AU/account:1002",
        ),
        (
            api,
            "/api/v1/books/AU/accounts",
            {"code": "4001", "name": "Fees", "type": "revenue"},
            None,
            "account.create",
            "book:AU/account:4001",
        ),
        (
            api,
            "/api/v1/books/AU/accounts",
            {"code": "5001", "name": "Stipends", "type": "expense"},
            None,
            "account.create",
            "book:AU/account:5001",
        ),
        (api, "/api/v1/books/AU/accounts/5001/close", None, None, "account.close", None),
        (api, "/api/v1/books/AU/entries", fee(), "audit-1", "entry.post", None),
        (
            api,
            "/api/v1/books/AU/periods",
            {"start": "2026-01-01", "end": "2026-01-31"},
            None,
            "period.create",
            None,
        ),
    ]
    expected = []
    for n, (caller, path, payload, key, action, target) in enumerate(calls):
        request_id = f"req-{n}"
        r = caller.client.post(
            path, json=payload, headers=caller.headers(key, **{"X-Request-Id": request_id})
        )
        assert r.status_code in (200, 201), r.json
        assert r.headers["X-Request-Id"] == request_id
        expected.append((me["email"], action, request_id, "POST", path, target))

    entry_id = api.get("/api/v1/books/AU/entries").json["items"][0]["id"]
    period_id = api.get("/api/v1/books/AU/periods").json["items"][0]["id"]
    more = [
        (api, f"/api/v1/books/AU/entries/{entry_id}/reverse", {}, "entry.reverse"),
        (api, f"/api/v1/books/AU/periods/{period_id}/close", None, "period.close"),
        (admin, "/api/v1/users", {"email": "new@test.kehou", "role": "teacher"}, "user.create"),
    ]
    for caller, path, payload, action in more:
        r = caller.post(path, json=payload)
        assert r.status_code in (200, 201), r.json
        # Without an incoming id the server makes one and echoes it.
        assert re.match(r"^[0-9a-f]{32}$", r.headers["X-Request-Id"])
        actor = admin_email if caller is admin else me["email"]
        expected.append((actor, action, r.headers["X-Request-Id"], "POST", path, None))
    new_user = admin.get("/api/v1/users?limit=1000").json["items"][-1]["id"]
    for path, action in (
        (f"/api/v1/users/{new_user}/tokens", "token.issue"),
        (f"/api/v1/users/{new_user}/revoke", "token.revoke"),
    ):
        r = admin.post(path)
        assert r.status_code in (200, 201)
        expected.append((admin_email, action, r.headers["X-Request-Id"], "POST", path, None))

    log = _audit(admin)
    assert log == _audit(api.as_(tokens["auditor"]))
    added = list(reversed(log[: len(log) - start]))
    got = [
        (a["actor"], a["action"], a["request_id"], a["method"], a["path"], a["target"])
        for a in added
    ]
    assert [g[:5] for g in got] == [e[:5] for e in expected]
    for g, e in zip(got, expected, strict=True):
        if e[5] is not None:
            assert g[5] == e[5]
    assert all(a["at"] for a in added)
    assert added[-1]["target"] == f"user:{new_user}"


def test_reads_refusals_and_replays_are_not_audited(api, tokens):
    auditor = api.as_(tokens["auditor"])
    make_book(api, "AR", [("1002", "asset", None), ("4001", "revenue", None)])
    post(api, "AR", fee(), key="once")
    before = _audit(auditor)
    api.get("/api/v1/books/AR/entries")
    api.get("/api/v1/books/AR/trial-balance")
    assert api.post("/api/v1/books/AR/entries", json=fee(), key="once").status_code == 200
    assert api.post("/api/v1/books/AR/entries", json=fee("1.00"), key="once").status_code == 409
    assert api.post("/api/v1/books/AR/entries", json=fee("0.00"), key="z").status_code == 422
    assert api.as_(tokens["parent"]).get("/api/v1/books").status_code == 403
    assert _audit(auditor) == before


def test_a_request_id_is_echoed_on_every_answer_and_a_bad_one_replaced(api, client):
    r = client.get("/api/v1/me", headers={"X-Request-Id": "abc-123"})
    assert r.status_code == 401
    assert r.headers["X-Request-Id"] == "abc-123"
    assert r.json["request_id"] == "abc-123"
    r = api.client.get("/api/v1/me", headers=api.headers(**{"X-Request-Id": "bad id; drop"}))
    assert r.status_code == 200
    assert re.match(r"^[0-9a-f]{32}$", r.headers["X-Request-Id"])


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/v1/books/J/entries/9223372036854775808"),
        ("GET", "/api/v1/books/J/entries/99999999999999999999999999"),
        ("POST", "/api/v1/books/J/entries/9223372036854775808/reverse"),
        ("POST", "/api/v1/books/J/periods/9223372036854775808/close"),
        ("GET", "/api/v1/books/J%00/entries"),
        ("GET", "/api/v1/books/J/accounts/1002%00"),
        ("GET", "/api/v1/books/J/accounts/%00/balance"),
    ],
)
def test_a_path_naming_no_possible_row_is_a_404(api, journal, method, path):
    r = api.get(path) if method == "GET" else api.post(path, json={})
    assert_problem(r, 404, "not_found")
    assert api.get("/api/v1/books/J").json["entries"] == 4


@pytest.mark.parametrize(
    "path",
    ["/api/v1/users/9223372036854775808/tokens", "/api/v1/users/9223372036854775808/revoke"],
)
def test_a_user_id_past_any_possible_row_is_a_404(api, tokens, path):
    assert_problem(api.as_(tokens["admin"]).post(path), 404, "not_found")
