"""Every broken rule of the journal is refused with a problem+json naming it; nothing is written.

Each refusal compares the book before and after: the entries list, the trial
balance, the book's entry count, its periods and accounts, and the audit log.
"""

from __future__ import annotations

from typing import Any

import pytest
from http_helpers import all_items, assert_problem, body, fee, make_book, post, snapshot

BOOK = "R"
OTHER = "X"


@pytest.fixture
def ledger(api, tokens) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """Book R with one entry, a closed August, an open September and a closed account 2299.

    Book X (same finance user) has an account 7777 that R does not.
    """
    make_book(api, BOOK)
    r = api.post(
        f"/api/v1/books/{BOOK}/accounts", json={"code": "2299", "name": "c", "type": "liability"}
    )
    assert r.status_code == 201
    assert api.post(f"/api/v1/books/{BOOK}/accounts/2299/close").status_code == 200
    august = api.post(
        f"/api/v1/books/{BOOK}/periods", json={"start": "2026-08-01", "end": "2026-08-31"}
    )
    assert august.status_code == 201
    first = post(api, BOOK, fee("50.00", date="2026-08-20"), key="first")
    assert api.post(f"/api/v1/books/{BOOK}/periods/{august.json['id']}/close").status_code == 200
    r = api.post(f"/api/v1/books/{BOOK}/periods", json={"start": "2026-09-01", "end": "2026-09-30"})
    assert r.status_code == 201
    make_book(api, OTHER, [("7777", "asset", None), ("1002", "asset", None)])
    return {"first": first, "auditor": api.as_(tokens["auditor"])}


def _audit_ids(auditor: Any) -> list[int]:
    return [row["id"] for row in all_items(auditor, "/api/v1/audit-log")]


def _state(api: Any, ledger: dict[str, Any]) -> dict[str, Any]:
    return {
        BOOK: snapshot(api, BOOK),
        OTHER: snapshot(api, OTHER),
        "audit": _audit_ids(ledger["auditor"]),
    }


REFUSED_ENTRIES = [
    pytest.param(
        body(("1002", "debit", "10.00"), ("4001", "credit", "9.99")),
        "unbalanced_entry",
        "postings",
        id="unbalanced",
    ),
    pytest.param(
        body(("1002", "debit", "10.00"), ("4001", "credit", "5.00"), ("4001", "credit", "5.01")),
        "unbalanced_entry",
        "postings",
        id="unbalanced-three-lines",
    ),
    pytest.param(body(("1002", "debit", "10.00")), "too_few_postings", "postings", id="single"),
    pytest.param(body(), "too_few_postings", "postings", id="no-postings"),
    pytest.param(
        body(("1002", "debit", "0.00"), ("4001", "credit", "0.00")),
        "zero_amount",
        "postings.0.amount",
        id="zero",
    ),
    pytest.param(
        body(("1002", "debit", "10.00"), ("4001", "credit", "10.00"), ("5001", "debit", "0")),
        "zero_amount",
        "postings.2.amount",
        id="zero-third-line",
    ),
    pytest.param(
        body(("1002", "debit", "10.00"), ("4001", "debit", "-10.00")),
        "negative_amount",
        "postings.1.amount",
        id="negative",
    ),
    pytest.param(
        body(("1002", "debit", 10), ("4001", "credit", 10)),
        "amount_not_string",
        "postings.0.amount",
        id="json-int",
    ),
    pytest.param(
        body(("1002", "debit", 10.5), ("4001", "credit", 10.5)),
        "amount_is_float",
        "postings.0.amount",
        id="json-float",
    ),
    pytest.param(
        body(("1002", "debit", "10.00"), ("4001", "credit", 10.0)),
        "amount_is_float",
        "postings.1.amount",
        id="json-float-second-line",
    ),
    pytest.param(
        body(("1002", "debit", "10.000"), ("4001", "credit", "10.000")),
        "too_many_decimals",
        "postings.0.amount",
        id="three-decimals",
    ),
    pytest.param(
        body(("1002", "debit", "1e3"), ("4001", "credit", "1e3")),
        "malformed_amount",
        "postings.0.amount",
        id="exponent",
    ),
    pytest.param(
        body(("1002", "debit", "9999"), ("9999", "credit", "9999")),
        "unknown_account",
        "postings.1.account",
        id="unknown-account",
    ),
    pytest.param(
        body(("1002", "debit", "10.00"), ("7777", "credit", "10.00")),
        "unknown_account",
        "postings.1.account",
        id="account-of-another-book",
    ),
    pytest.param(
        fee("10.00", date="2026-08-15"), "period_closed", "effective_date", id="closed-period"
    ),
    pytest.param(
        fee("10.00", date="2026-08-01"),
        "period_closed",
        "effective_date",
        id="closed-period-first-day",
    ),
    pytest.param(
        fee("10.00", date="2026-08-31"),
        "period_closed",
        "effective_date",
        id="closed-period-last-day",
    ),
    pytest.param(
        body(("1002", "debit", "10.00"), ("2299", "credit", "10.00")),
        "account_closed",
        "postings.1.account",
        id="closed-account",
    ),
]


@pytest.mark.parametrize(("entry", "code", "field"), REFUSED_ENTRIES)
def test_a_broken_rule_is_a_422_naming_it_and_writes_nothing(api, ledger, entry, code, field):
    before = _state(api, ledger)
    r = api.post(f"/api/v1/books/{BOOK}/entries", json=entry, key=f"refused-{code}")
    assert_problem(r, 422, code, field)
    assert _state(api, ledger) == before
    # The refused key was not spent: a valid entry may use it afterwards.
    assert post(api, BOOK, fee("1.00"), key=f"refused-{code}")["number"] == 2


def test_a_missing_idempotency_key_is_a_422_and_writes_nothing(api, ledger):
    before = _state(api, ledger)
    r = api.post(f"/api/v1/books/{BOOK}/entries", json=fee("10.00"))
    assert_problem(r, 422, "idempotency_key_required", "Idempotency-Key")
    r = api.client.post(
        f"/api/v1/books/{BOOK}/entries",
        json=fee("10.00"),
        headers={**api.headers(), "Idempotency-Key": "   "},
    )
    assert_problem(r, 422, "idempotency_key_required", "Idempotency-Key")
    assert _state(api, ledger) == before


@pytest.mark.parametrize(
    ("entry", "field"),
    [
        pytest.param({**fee(), "memo": ""}, "memo", id="blank-memo"),
        pytest.param({k: v for k, v in fee().items() if k != "memo"}, "memo", id="no-memo"),
        pytest.param({**fee(), "effective_date": "2026-13-01"}, "effective_date", id="bad-date"),
        pytest.param({**fee(), "kind": "reversal"}, "kind", id="posted-reversal"),
        pytest.param({**fee(), "kind": "gift"}, "kind", id="unknown-kind"),
        pytest.param({**fee(), "colour": "red"}, "colour", id="unknown-field"),
        pytest.param(fee(memo="a\x00b"), "memo", id="nul-in-memo"),
        pytest.param({**fee(), "source_ref": "\x00"}, "source_ref", id="nul-in-source-ref"),
        pytest.param(
            body(("1002\x00", "debit", "1.00"), ("4001", "credit", "1.00")),
            "postings.0.account",
            id="nul-in-account",
        ),
        pytest.param(
            body(("1002", "up", "1.00"), ("4001", "credit", "1.00")),
            "postings.0.direction",
            id="bad-direction",
        ),
    ],
)
def test_malformed_entries_are_422_with_the_field_and_write_nothing(api, ledger, entry, field):
    before = _state(api, ledger)
    r = api.post(f"/api/v1/books/{BOOK}/entries", json=entry, key="malformed")
    assert_problem(r, 422, "invalid_input", field)
    assert _state(api, ledger) == before


@pytest.mark.parametrize("key", ["k" * 201, "a\x00b"])
def test_an_unusable_idempotency_key_is_a_422_and_writes_nothing(api, ledger, key):
    before = _state(api, ledger)
    r = api.client.post(
        f"/api/v1/books/{BOOK}/entries",
        json=fee("10.00"),
        headers={**api.headers(), "Idempotency-Key": key},
    )
    assert_problem(r, 422, "idempotency_key_invalid", "Idempotency-Key")
    assert _state(api, ledger) == before
    assert post(api, BOOK, fee("10.00"), key="k" * 200)["number"] == 2


def test_a_refused_entry_leaves_no_gap_in_the_numbers(api, ledger):
    bad = body(("1002", "debit", "10.00"), ("4001", "credit", "9.00"))
    assert api.post(f"/api/v1/books/{BOOK}/entries", json=bad, key="gap-1").status_code == 422
    assert post(api, BOOK, fee(), key="gap-2")["number"] == 2
    closed = fee(date="2026-08-02")
    assert api.post(f"/api/v1/books/{BOOK}/entries", json=closed, key="gap-3").status_code == 422
    assert post(api, BOOK, fee(), key="gap-4")["number"] == 3


# --------------------------------------------------------------------------- idempotency

ORIGINAL = fee("10.00", date="2026-09-02", memo="September fee")


@pytest.mark.parametrize(
    "other",
    [
        pytest.param(fee("10.01", date="2026-09-02", memo="September fee"), id="amount"),
        pytest.param(fee("10.00", date="2026-09-03", memo="September fee"), id="date"),
        pytest.param(fee("10.00", date="2026-09-02", memo="September fees"), id="memo"),
        pytest.param({**ORIGINAL, "kind": "charge"}, id="kind"),
        pytest.param({**ORIGINAL, "source_ref": "enrolment:1"}, id="source-ref"),
        pytest.param(
            body(
                ("1122", "debit", "10.00"),
                ("4001", "credit", "10.00"),
                date="2026-09-02",
                memo="September fee",
            ),
            id="account",
        ),
        pytest.param(
            body(
                ("4001", "credit", "10.00"),
                ("1002", "debit", "10.00"),
                date="2026-09-02",
                memo="September fee",
            ),
            id="posting-order",
        ),
    ],
)
def test_a_reused_key_with_other_content_is_a_409_and_writes_nothing(api, ledger, other):
    first = post(api, BOOK, ORIGINAL, key="reused")
    before = _state(api, ledger)
    r = api.post(f"/api/v1/books/{BOOK}/entries", json=other, key="reused")
    p = assert_problem(r, 409, "idempotency_key_reused", "Idempotency-Key")
    assert f"#{first['number']}" in p["detail"]
    assert _state(api, ledger) == before


@pytest.mark.parametrize(
    "same",
    [
        pytest.param(ORIGINAL, id="identical"),
        pytest.param(fee("10.0", date="2026-09-02", memo="September fee"), id="one-decimal"),
        pytest.param(fee("10", date="2026-09-02", memo="September fee"), id="no-decimals"),
        pytest.param({**ORIGINAL, "kind": "adjustment"}, id="default-kind-spelled-out"),
    ],
)
def test_a_reused_key_with_the_same_content_returns_the_first_entry(api, ledger, same):
    first = post(api, BOOK, ORIGINAL, key="replayed")
    before = _state(api, ledger)
    r = api.post(f"/api/v1/books/{BOOK}/entries", json=same, key="replayed")
    assert r.status_code == 200, r.json
    assert r.json == first
    assert _state(api, ledger) == before


def test_idempotency_keys_are_scoped_per_book(api, ledger):
    a = post(api, BOOK, ORIGINAL, key="shared-key")
    b = post(api, OTHER, body(("1002", "debit", "3.00"), ("7777", "credit", "3.00")), "shared-key")
    assert a["id"] != b["id"]
    assert b["number"] == 1


# --------------------------------------------------------------------------- reversals


def test_reversing_an_entry_twice_is_a_409_and_writes_nothing(api, ledger):
    entry = post(api, BOOK, fee("20.00"), key="to-reverse")
    r = api.post(f"/api/v1/books/{BOOK}/entries/{entry['id']}/reverse", json={})
    assert r.status_code == 201, r.json
    before = _state(api, ledger)
    r = api.post(f"/api/v1/books/{BOOK}/entries/{entry['id']}/reverse", json={})
    p = assert_problem(r, 409, "already_reversed")
    assert f"#{entry['number']}" in p["detail"]
    # A new key does not make a second reversal possible either.
    r = api.post(
        f"/api/v1/books/{BOOK}/entries/{entry['id']}/reverse",
        json={"memo": "again"},
        key="second-reversal",
    )
    assert_problem(r, 409, "already_reversed")
    assert _state(api, ledger) == before


def test_reversing_a_reversal_is_a_422_and_writes_nothing(api, ledger):
    entry = post(api, BOOK, fee("20.00"), key="to-reverse")
    reversal = api.post(f"/api/v1/books/{BOOK}/entries/{entry['id']}/reverse", json={}).json
    before = _state(api, ledger)
    r = api.post(f"/api/v1/books/{BOOK}/entries/{reversal['id']}/reverse", json={})
    assert_problem(r, 422, "cannot_reverse_reversal")
    assert _state(api, ledger) == before


def test_a_reversal_dated_in_a_closed_period_is_a_422_and_writes_nothing(api, ledger):
    before = _state(api, ledger)
    r = api.post(
        f"/api/v1/books/{BOOK}/entries/{ledger['first']['id']}/reverse",
        json={"effective_date": "2026-08-21"},
    )
    assert_problem(r, 422, "period_closed", "effective_date")
    assert _state(api, ledger) == before


def test_a_reversal_replayed_with_its_key_returns_it_and_other_content_is_a_409(api, ledger):
    entry = post(api, BOOK, fee("20.00"), key="to-reverse")
    path = f"/api/v1/books/{BOOK}/entries/{entry['id']}/reverse"
    first = api.post(path, json={"memo": "wrong amount"}, key="rev-1")
    assert first.status_code == 201, first.json
    before = _state(api, ledger)
    again = api.post(path, json={"memo": "wrong amount"}, key="rev-1")
    assert again.status_code == 200
    assert again.json == first.json
    other = api.post(path, json={"memo": "another reason"}, key="rev-1")
    assert_problem(other, 409, "idempotency_key_reused")
    # A key already spent on a posted entry cannot name a reversal.
    entry2 = post(api, BOOK, fee("30.00"), key="posted-key")
    before = _state(api, ledger)
    r = api.post(f"/api/v1/books/{BOOK}/entries/{entry2['id']}/reverse", json={}, key="posted-key")
    assert_problem(r, 409, "idempotency_key_reused")
    assert _state(api, ledger) == before


@pytest.mark.parametrize("entry_id", ["missing", "other-book"])
def test_reversing_an_entry_outside_the_book_is_a_404_and_writes_nothing(api, ledger, entry_id):
    if entry_id == "missing":
        target = 10**9
    else:
        target = post(api, OTHER, body(("1002", "debit", "3.00"), ("7777", "credit", "3.00")), "o")[
            "id"
        ]
    before = _state(api, ledger)
    r = api.post(f"/api/v1/books/{BOOK}/entries/{target}/reverse", json={})
    assert_problem(r, 404, "not_found")
    assert _state(api, ledger) == before


# --------------------------------------------------------------------------- periods, accounts


@pytest.mark.parametrize(
    ("start", "end"),
    [
        ("2026-09-15", "2026-10-15"),  # overlaps the end of September
        ("2026-07-15", "2026-08-01"),  # touches the first day of August
        ("2026-09-30", "2026-09-30"),  # a single day inside September
        ("2026-07-01", "2026-12-31"),  # covers both
    ],
)
def test_an_overlapping_period_is_a_409_and_writes_nothing(api, ledger, start, end):
    before = _state(api, ledger)
    r = api.post(f"/api/v1/books/{BOOK}/periods", json={"start": start, "end": end})
    assert_problem(r, 409, "period_overlap")
    assert _state(api, ledger) == before
    # The same dates are free in another book.
    assert (
        api.post(f"/api/v1/books/{OTHER}/periods", json={"start": start, "end": end}).status_code
        == 201
    )


def test_a_period_ending_before_it_starts_is_a_422(api, ledger):
    before = _state(api, ledger)
    r = api.post(f"/api/v1/books/{BOOK}/periods", json={"start": "2026-11-30", "end": "2026-11-01"})
    assert_problem(r, 422, "invalid_period", "end")
    assert _state(api, ledger) == before


def test_closing_a_closed_period_is_a_409(api, ledger):
    august = api.get(f"/api/v1/books/{BOOK}/periods").json["items"][0]
    assert august["is_closed"] is True
    before = _state(api, ledger)
    r = api.post(f"/api/v1/books/{BOOK}/periods/{august['id']}/close")
    assert_problem(r, 409, "period_already_closed")
    assert _state(api, ledger) == before


def test_an_account_with_a_balance_cannot_close(api, ledger):
    before = _state(api, ledger)
    r = api.post(f"/api/v1/books/{BOOK}/accounts/1002/close")
    assert_problem(r, 422, "account_not_zero")
    assert _state(api, ledger) == before


@pytest.mark.parametrize(
    ("account", "status", "code", "field"),
    [
        ({"code": "1002", "name": "again", "type": "asset"}, 409, "account_exists", "code"),
        ({"code": "1003", "name": "n", "type": "cash"}, 422, "invalid_input", "type"),
        (
            {"code": "1003", "name": "n", "type": "asset", "parent": "9"},
            422,
            "invalid_account",
            "parent",
        ),
        (
            {"code": "1003", "name": "n", "type": "asset", "parent": "4001"},
            422,
            "invalid_account",
            "parent",
        ),
        ({"code": "bad code", "name": "n", "type": "asset"}, 422, "invalid_account", "code"),
    ],
)
def test_invalid_accounts_are_refused_and_write_nothing(api, ledger, account, status, code, field):
    before = _state(api, ledger)
    r = api.post(f"/api/v1/books/{BOOK}/accounts", json=account)
    assert_problem(r, status, code, field)
    assert _state(api, ledger) == before


def test_a_second_book_with_the_same_code_is_a_409(api, ledger):
    before = _state(api, ledger)
    r = api.post("/api/v1/books", json={"code": BOOK, "name": "again"})
    assert_problem(r, 409, "book_exists", "code")
    assert _state(api, ledger) == before
