"""Explain a charge over HTTP (issue 6): the figures of the charge, the consent behind it and
the entry it posted, for finance, auditors, admins and the parent of the household — and
nobody else.

The term of ``term_over_http``: a 1,200.00 term cost split 600.00 government,
200.00 school and 400.00 parents; households A (the ``parent`` caller's) and
B. Each child applied (``parent@test``), was reviewed by the class
(``class-teacher@test``) and approved by the school (``school@test``).
"""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from http_helpers import assert_problem
from portal_setup import login, portal_term, text
from sqlalchemy import select
from term_over_http import billed_term, ok

from ledger.books import Entry
from ledger.money import format_fen
from ledger.school.models import Application, ChargeRecord, Enrolment, Guardian


@pytest.fixture
def term(client, db, tokens, make_token):  # type: ignore[no-untyped-def]
    return billed_term(client, db, tokens, make_token)


def _charge(db, household_id: int) -> ChargeRecord:  # type: ignore[no-untyped-def]
    return db.scalar(select(ChargeRecord).where(ChargeRecord.household_id == household_id))


def _path(charge_id: int, school: str = "S1") -> str:
    return f"/api/v1/schools/{school}/charges/{charge_id}/explanation"


def test_the_explanation_matches_the_charge_its_consent_and_its_entry(term, db):
    charge = _charge(db, term.home_a)
    why = ok(term.finance.get(_path(charge.id)), 200)

    # The numbers are the charge's own, as strings of yuan.
    assert why["charge"] == charge.id and why["household_id"] == term.home_a
    assert why["invoice"] == term.invoice_a
    assert why["calculation"]["cost"] == format_fen(charge.cost) == "1200.00"
    assert why["shares"] == {"government": "600.00", "school": "200.00", "parent": "400.00"}
    assert why["household"] == format_fen(charge.household) == "400.00"
    assert why["standard"]["document_no"] == "示发改价〔2026〕12号"
    assert why["standard"]["amount"] == "500.00"
    assert why["waiver"]["amount"] == "0.00" and why["credits"] == []

    # The consent: who applied, who reviewed, who approved, and when.
    enrolment = db.get(Enrolment, charge.enrolment_id)
    application = db.get(Application, enrolment.application_id)
    consent = why["application"]
    assert consent["id"] == application.id and consent["status"] == "approved"
    assert consent["applied"]["by"] == "parent@test" and consent["applied"]["at"]
    assert consent["applied"]["written_ref"] is None
    assert consent["review"]["by"] == "class-teacher@test" and consent["review"]["at"]
    assert consent["approval"]["by"] == "school@test"
    assert consent["approval"]["decision"] == "approved"
    assert consent["approval"]["at"].startswith(application.decided_at.date().isoformat())
    assert why["enrolment"]["id"] == enrolment.id

    # The postings: the charge's entry, summing to zero, as the journal holds it.
    entry = db.get(Entry, charge.entry_id)
    posted = why["entry"]
    assert (posted["id"], posted["number"], posted["date"]) == (
        entry.id,
        entry.number,
        entry.effective_date.isoformat(),
    )
    assert posted["kind"] == "charge" and posted["book"] == "S1"
    assert sum(Decimal(p["amount"]) for p in posted["postings"]) == 0
    journal = ok(term.auditor.get(f"/api/v1/books/S1/entries/{entry.id}"), 200)
    assert [(p["account"], p["direction"], p["amount"]) for p in journal["postings"]] == [
        (p["account"], p["direction"], p["amount"].lstrip("-")) for p in posted["postings"]
    ]
    by_account = {p["account"]: Decimal(p["amount"]) for p in posted["postings"]}
    assert by_account[f"1122.H{term.home_a}"] == Decimal("400.00")
    assert sum(a for a in by_account.values() if a < 0) == Decimal("-1200.00")

    # Auditors and admins read the same explanation.
    assert ok(term.auditor.get(_path(charge.id)), 200) == why
    assert ok(term.admin.get(_path(charge.id)), 200)["entry"] == posted


def test_a_parent_reads_only_their_own_households_charges(term, db):
    db.add(Guardian(household_id=term.home_a, name="甲妈妈", relation="mother"))
    db.add(Guardian(household_id=term.home_b, name="乙爸爸", relation="father"))
    db.commit()
    mine, theirs = _charge(db, term.home_a), _charge(db, term.home_b)
    why = ok(term.parent.get(_path(mine.id)), 200)
    assert why["household"] == "400.00"
    assert why["application"]["approval"]["by"] == "school@test"
    # Their own household's guardians, never another family's.
    assert [g["name"] for g in why["guardians"]] == ["甲妈妈"]
    assert "乙" not in json.dumps(why, ensure_ascii=False)
    # Another household's charge is as absent as a charge that does not exist.
    assert_problem(term.parent.get(_path(theirs.id)), 404, "not_found")
    assert_problem(term.parent.get(_path(theirs.id + 1000)), 404, "not_found")
    # Finance of another school, and a school that is not the charge's, answer 404 too.
    assert_problem(term.outsider.get(_path(mine.id)), 404, "not_found")
    assert_problem(term.auditor.get(_path(mine.id, "S2")), 404, "not_found")
    assert_problem(term.parent.get(_path(mine.id, "S2")), 404, "not_found")


def test_a_charge_entry_is_explained_and_any_other_entry_is_refused(term, db):
    charge = _charge(db, term.home_b)
    path = f"/api/v1/books/S1/entries/{charge.entry_id}/explanation"
    out = ok(term.auditor.get(path), 200)
    assert out["entry"]["id"] == charge.entry_id
    assert [c["charge"] for c in out["charges"]] == [charge.id]
    assert out["charges"][0]["entry"] == out["entry"]
    assert out["charges"][0]["application"]["applied"]["by"] == "parent@test"
    assert ok(term.finance.get(path), 200) == out

    adjustment = ok(
        term.finance.post(
            "/api/v1/books/S1/entries",
            json={
                "effective_date": "2026-09-05",
                "memo": "opening cash",
                "postings": [
                    {"account": "1002", "direction": "debit", "amount": "1.00"},
                    {"account": "3001", "direction": "credit", "amount": "1.00"},
                ],
            },
            key="explain-adjustment",
        )
    )
    refused = term.auditor.get(f"/api/v1/books/S1/entries/{adjustment['id']}/explanation")
    problem = assert_problem(refused, 422, "not_a_charge_entry")
    assert "adjustment" in problem["detail"]
    missing = term.auditor.get(f"/api/v1/books/S1/entries/{adjustment['id'] + 1000}/explanation")
    assert_problem(missing, 404, "not_found")
    # An entry of another book is not found in this one; outsiders do not see the book.
    assert_problem(
        term.auditor.get(f"/api/v1/books/S2/entries/{charge.entry_id}/explanation"),
        404,
        "not_found",
    )
    assert_problem(term.outsider.get(path), 404, "not_found")
    assert_problem(term.parent.get(path), 403, "forbidden")


def test_the_portal_page_shows_the_consent_behind_the_charge(client, db, tokens, make_token):
    term, email = portal_term(client, db, tokens, make_token)
    assert login(client, email).status_code == 302
    mine, theirs = _charge(db, term.home_a), _charge(db, term.home_b)
    page = " ".join(text(client.get(f"/portal/charges/{mine.id}")).split())
    approved = db.get(Application, db.get(Enrolment, mine.enrolment_id).application_id)
    day = approved.decided_at.date().isoformat()
    assert "报名申请与审批" in page
    assert f"{day} 由 parent@test 提交申请。" in page
    assert "经班级审核（class-teacher@test）" in page
    assert f"{day} 经学校审批同意（school@test）。" in page
    assert client.get(f"/portal/charges/{theirs.id}").status_code == 404
