"""A billed term for the HTTP tests of settling, closing and claims.

School S1 (district DS1): a 1200.00 term cost split 600.00 government (50 %),
200.00 school, 400.00 parents, under a 500.00 fee standard; one basic-care
programme created through the API; two children 甲 and 乙 of households A and B,
billed for the whole term through the API: each invoice asks 400.00.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from conftest import Api
from school_setup import enrolled_student, school_with_term, standard_and_policy


def ok(response: Any, status: int = 201) -> Any:
    assert response.status_code == status, response.get_data(as_text=True)
    return response.json


def link(admin: Api, token: str, **scope: Any) -> None:
    user = Api(admin.client, token).get("/api/v1/me").json["id"]
    ok(admin.post(f"/api/v1/users/{user}/links", json=scope), 200)


@dataclass
class Term:
    finance: Api
    second: Api  # another finance user of the same school (the four eyes)
    outsider: Api  # finance of another school
    admin: Api
    auditor: Api
    parent: Api  # guardian of household A
    term: int
    programme: int
    home_a: int
    home_b: int
    student_a: int
    student_b: int
    invoice_a: str
    invoice_b: str


def billed_term(client: Any, db: Any, tokens: dict[str, str], make_token: Any) -> Term:
    from ledger.school.models import Programme

    district, school, term = school_with_term(db, "S1")
    standard_and_policy(db, district)
    other_district, other_school, _ = school_with_term(db, "S2")
    db.commit()
    admin = Api(client, tokens["admin"])
    finance = Api(client, tokens["finance"])
    second = Api(client, make_token("finance"))
    outsider = Api(client, make_token("finance"))
    link(admin, finance.token, school="S1")
    link(admin, second.token, school="S1")
    link(admin, outsider.token, school="S2")

    prog = ok(
        finance.post(
            "/api/v1/schools/S1/programmes",
            json={
                "term": term.id,
                "kind": "basic_care",
                "name": "基本托管",
                "start_time": "15:30",
                "end_time": "17:30",
                "capacity": 40,
            },
        )
    )
    assert prog["warnings"] == []
    programme = db.get(Programme, prog["id"])
    student_a, home_a, _ = enrolled_student(db, district, school, term, programme, "甲")
    student_b, home_b, _ = enrolled_student(db, district, school, term, programme, "乙")
    db.commit()
    link(admin, tokens["parent"], household=home_a.id)

    run = ok(
        finance.post(
            "/api/v1/schools/S1/billing-runs",
            json={"term": term.id, "issued_on": "2026-09-01"},
            key="run-1",
        )
    )
    numbers = {i["household"]: i["number"] for i in run["invoices"]}
    assert {i["amount"] for i in run["invoices"]} == {"400.00"}
    return Term(
        finance=finance,
        second=second,
        outsider=outsider,
        admin=admin,
        auditor=Api(client, tokens["auditor"]),
        parent=Api(client, tokens["parent"]),
        term=term.id,
        programme=prog["id"],
        home_a=home_a.id,
        home_b=home_b.id,
        student_a=student_a.id,
        student_b=student_b.id,
        invoice_a=numbers[home_a.id],
        invoice_b=numbers[home_b.id],
    )


def book_state(api: Api, book: str = "S1") -> tuple[int, Any]:
    """What a refusal must leave unchanged: the entry count and the trial balance."""
    return (
        api.get(f"/api/v1/books/{book}").json["entries"],
        api.get(f"/api/v1/books/{book}/trial-balance").json,
    )


def lines(api: Api, book: str = "S1") -> dict[str, dict[str, str]]:
    tb = ok(api.get(f"/api/v1/books/{book}/trial-balance"), 200)
    assert tb["total_debit"] == tb["total_credit"]
    return {line["code"]: line for line in tb["items"]}


def assert_books_sound(api: Api, book: str = "S1") -> None:
    lines(api, book)
    assert ok(api.get(f"/api/v1/books/{book}/chain"), 200)["ok"] is True


def invoice(api: Api, number: str) -> dict[str, Any]:
    return ok(api.get(f"/api/v1/schools/S1/invoices/{number}"), 200)
