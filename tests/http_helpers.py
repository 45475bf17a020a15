"""Builders shared by the HTTP API tests: a book with a chart, entry bodies, snapshots."""

from __future__ import annotations

from typing import Any

PROBLEM = "application/problem+json"

#: (code, type, parent) of a small chart; 1122 has two children.
CHART = [
    ("1002", "asset", None),
    ("1122", "asset", None),
    ("1122.H1", "asset", "1122"),
    ("1122.H2", "asset", "1122"),
    ("2211", "liability", None),
    ("3001", "net_assets", None),
    ("4001", "revenue", None),
    ("5001", "expense", None),
]


def make_book(api: Any, code: str, chart: list[tuple[str, str, str | None]] = CHART) -> str:
    r = api.post("/api/v1/books", json={"code": code, "name": f"Book {code}"})
    assert r.status_code == 201, r.json
    for account, type_, parent in chart:
        body = {"code": account, "name": f"Account {account}", "type": type_}
        if parent is not None:
            body["parent"] = parent
        r = api.post(f"/api/v1/books/{code}/accounts", json=body)
        assert r.status_code == 201, r.json
    return code


def body(
    *lines: tuple[str, str, Any],
    date: str = "2026-09-01",
    memo: str = "test entry",
    **extra: Any,
) -> dict[str, Any]:
    """An entry body from ``(account, "debit"|"credit", amount)`` lines."""
    return {
        "effective_date": date,
        "memo": memo,
        "postings": [{"account": a, "direction": d, "amount": m} for a, d, m in lines],
        **extra,
    }


def fee(amount: str = "12.34", **kw: Any) -> dict[str, Any]:
    """A balanced charge: debit the bank, credit fees."""
    return body(("1002", "debit", amount), ("4001", "credit", amount), **kw)


def post(api: Any, book: str, entry: dict[str, Any], key: str) -> dict[str, Any]:
    r = api.post(f"/api/v1/books/{book}/entries", json=entry, key=key)
    assert r.status_code == 201, r.json
    return r.json


def all_items(api: Any, path: str, limit: int = 1000) -> list[dict[str, Any]]:
    """Every item of a list endpoint, following ``next_cursor``."""
    items: list[dict[str, Any]] = []
    sep = "&" if "?" in path else "?"
    url = f"{path}{sep}limit={limit}"
    while True:
        r = api.get(url)
        assert r.status_code == 200, r.json
        items.extend(r.json["items"])
        cursor = r.json["next_cursor"]
        if cursor is None:
            return items
        url = f"{path}{sep}limit={limit}&cursor={cursor}"


def snapshot(api: Any, book: str) -> dict[str, Any]:
    """What a refused request must leave unchanged: entries, trial balance, entry count."""
    return {
        "entries": all_items(api, f"/api/v1/books/{book}/entries"),
        "trial_balance": api.get(f"/api/v1/books/{book}/trial-balance").json,
        "count": api.get(f"/api/v1/books/{book}").json["entries"],
        "periods": api.get(f"/api/v1/books/{book}/periods").json["items"],
        "accounts": all_items(api, f"/api/v1/books/{book}/accounts"),
    }


def flat_fields(errors: Any, prefix: str = "") -> set[str]:
    """Field paths named in a problem's ``errors``: nested or dotted, both read as ``a.0.b``."""
    out: set[str] = set()
    if isinstance(errors, dict):
        for k, v in errors.items():
            path = f"{prefix}{k}"
            if isinstance(v, dict):
                out |= flat_fields(v, path + ".")
            else:
                out.add(path)
    return out


def assert_problem(r: Any, status: int, code: str, field: str | None = None) -> dict[str, Any]:
    """``r`` is a problem+json with this status and rule code (and names ``field``)."""
    assert r.status_code == status, r.get_data(as_text=True)
    assert r.mimetype == PROBLEM
    p = r.json
    assert p["status"] == status
    assert p["code"] == code, p
    assert {"type", "title", "detail", "errors"} <= set(p)
    assert p["detail"]
    if field is not None:
        assert field in flat_fields(p["errors"]), p["errors"]
    return p
