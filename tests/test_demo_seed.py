"""``kehou demo seed`` and ``kehou demo report``: a seeded district that runs a whole term.

The big district (3 schools, 2,000 students) is seeded once, through the CLI,
and must come out with a clean audit, a zero trial balance and a verified
hash chain in every school's book; the report's figures must be the books'.
Smaller districts show determinism and the shape of the population.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api.demo_seed import district_report, seed_district, uscc_for
from ledger import books
from ledger.audit import reconcile
from ledger.school.models import (
    District,
    Guardian,
    HardshipStatus,
    Household,
    School,
    Student,
    Vendor,
)
from ledger.school.uscc import uscc_problem


def _cli(app: Any, *args: str) -> Any:
    return app.test_cli_runner().invoke(args=list(args))


def _ledger_sum(db: Session, book_id: int, prefix: str, kind: str | None, sign: int) -> int:
    """Sum of the postings (debits with ``sign=1``, credits with ``-1``) on accounts under
    ``prefix`` in the book's entries of ``kind`` (any kind with ``None``)."""
    q = (
        select(func.coalesce(func.sum(books.Posting.amount), 0))
        .join(books.Account, books.Account.id == books.Posting.account_id)
        .join(books.Entry, books.Entry.id == books.Posting.entry_id)
        .where(
            books.Posting.book_id == book_id,
            (books.Account.code == prefix) | books.Account.code.like(prefix + ".%"),
            books.Posting.amount > 0 if sign > 0 else books.Posting.amount < 0,
        )
    )
    if kind is not None:
        q = q.where(books.Entry.kind == kind)
    return sign * int(db.scalar(q))


def _balance(db: Session, book_id: int, prefix: str) -> int:
    return _ledger_sum(db, book_id, prefix, None, 1) - _ledger_sum(db, book_id, prefix, None, -1)


def _figures_from_the_books(db: Session, school: School) -> dict[str, int]:
    b = school.book_id
    return {
        "billed": _ledger_sum(db, b, "1122", "charge", 1),
        "collected": _ledger_sum(db, b, "1002", "payment", 1),
        "refunded": _ledger_sum(db, b, "1002", "refund", -1),
        "outstanding": _balance(db, b, "1122"),
        "household_credit": -_balance(db, b, "2241"),
        "subsidy_received": _ledger_sum(db, b, "1002", "subsidy_receipt", 1),
        "stipends": _balance(db, b, "5001"),
        "labour_fees": _balance(db, b, "5002"),
        "labour_tax": _ledger_sum(db, b, "2221", None, -1),
        "vendor_bills": _balance(db, b, "5003"),
    }


@pytest.mark.db
def test_seed_3_schools_2000_students_runs_a_clean_term_and_the_report_is_the_books(app, db):
    seeded = _cli(app, "demo", "seed", "--schools", "3", "--students", "2000", "--seed", "11")
    assert seeded.exit_code == 0, seeded.output
    assert "district SD11: 3 school(s)" in seeded.output
    assert "2000 students" in seeded.output
    assert seeded.output.strip().splitlines()[-1] == "audit: 0 finding(s)"

    schools = list(
        db.scalars(
            select(School)
            .join(District, District.id == School.district_id)
            .where(District.code == "SD11")
            .order_by(School.code)
        )
    )
    assert len(schools) == 3
    for school in schools:
        book = db.get(books.Book, school.book_id)
        tb = books.trial_balance(db, book)
        assert tb.total_debit == tb.total_credit
        assert books.balance_mismatches(db, book) == []
        chain = books.verify_chain(db, book.id)
        assert chain.ok, chain
        assert chain.entries_checked > 1000

    report = _cli(app, "demo", "report", "--district", "SD11", "--json")
    assert report.exit_code == 0, report.output
    (block,) = json.loads(report.output)
    assert block["district"] == "SD11"
    rows = {row["school"]: row for row in block["schools"]}
    assert sorted(rows) == [s.code for s in schools]
    for school in schools:
        row = rows[school.code]
        assert {k: row[k] for k in _figures_from_the_books(db, school)} == (
            _figures_from_the_books(db, school)
        )
        assert row["findings"] == 0
        assert row["trial_balance_zero"] is True and row["chain_verified"] is True
        assert row["billed"] > 0 and row["collected"] > 0 and row["outstanding"] > 0
        assert Decimal("80") < Decimal(row["collection_rate"]) < Decimal("100")
        due = row["billed"] - row["credited"]
        assert row["collection_rate"] == reconcile.percent(due - row["outstanding"], due)
        assert row["subsidy_received"] < row["subsidy_claimed"]
        assert row["stipends"] > 0 and row["labour_fees"] > 0 and row["labour_tax"] > 0
        assert row["vendor_bills"] > 0 and row["waivers"] > 0 and row["credited"] > 0
    total = block["total"]
    assert total["students"] == 2000
    assert total["billed"] == sum(r["billed"] for r in rows.values())
    assert total["findings"] == 0

    text = _cli(app, "demo", "report", "--district", "SD11")
    assert text.exit_code == 0, text.output
    assert "Collection rate" in text.output and "total" in text.output


def _figures(db: Session, code: str) -> list[dict[str, Any]]:
    (block,) = district_report(db, code)
    return [{k: v for k, v in r.items() if k != "school"} for r in block["schools"]]


@pytest.mark.db
def test_the_same_seed_gives_the_same_figures(db):
    first = seed_district(db, schools=2, students=100, seed=5, district_code="DETA")
    again = seed_district(db, schools=2, students=100, seed=5, district_code="DETB")
    other = seed_district(db, schools=2, students=100, seed=6, district_code="DETC")
    assert first.findings == again.findings == other.findings == []
    assert _figures(db, "DETA") == _figures(db, "DETB")
    assert _figures(db, "DETA") != _figures(db, "DETC")
    names = lambda code: list(  # noqa: E731
        db.scalars(
            select(Student.name)
            .join(School, School.id == Student.school_id)
            .join(District, District.id == School.district_id)
            .where(District.code == code)
            .order_by(Student.id)
        )
    )
    assert names("DETA") == names("DETB") != names("DETC")


@pytest.mark.db
def test_a_seeded_district_looks_like_a_district(db):
    result = seed_district(db, schools=2, students=400, seed=3, district_code="LOOK")
    assert result.students == 400 and result.findings == []
    district = db.scalar(select(District).where(District.code == "LOOK"))
    homes = list(db.scalars(select(Household).where(Household.district_id == district.id)))
    sizes = [
        db.scalar(select(func.count()).select_from(Student).where(Student.household_id == h.id))
        for h in homes
    ]
    assert set(sizes) == {1, 2, 3}
    students = list(
        db.scalars(select(Student).where(Student.household_id.in_([h.id for h in homes])))
    )
    assert all(re.fullmatch(r"[\u4e00-\u9fff]{2,4}", s.name) for s in students)
    assert any(s.left_behind for s in students) and any(s.migrant for s in students)
    hardship = db.scalar(
        select(func.count(func.distinct(HardshipStatus.student_id))).where(
            HardshipStatus.student_id.in_([s.id for s in students])
        )
    )
    assert 0.02 * len(students) <= hardship <= 0.1 * len(students)
    assert db.scalar(
        select(func.count()).select_from(Guardian).where(Guardian.household_id == homes[0].id)
    )
    listed = list(db.scalars(select(Vendor).where(Vendor.district_id == district.id)))
    assert 2 <= len(listed) <= 3
    assert all(uscc_problem(v.uscc) is None for v in listed)


def test_uscc_for_makes_valid_codes():
    import random

    rng = random.Random(1)
    assert all(uscc_problem(uscc_for(rng)) is None for _ in range(200))


def test_long_steps_refresh_the_planner_statistics_every_few_thousand_items(monkeypatch):
    # The seed runs in one transaction that autovacuum never sees: on PostgreSQL it
    # runs ANALYZE every ANALYZE_EVERY items of a long step (and after each step).
    from api import demo_seed

    calls = []
    monkeypatch.setattr(demo_seed, "ANALYZE_EVERY", 10)
    monkeypatch.setattr(demo_seed, "analyze", lambda db: calls.append(db))
    bar = demo_seed._analysing("the-session", demo_seed._no_bar)
    with bar("step", range(25), 25) as items:
        assert list(items) == list(range(25))
    assert calls == ["the-session", "the-session"]
