"""Closing months, terms and the school year; the district's roll-up of its schools' books."""

from __future__ import annotations

import pytest
from household_checks import bill_month, monthly_school
from school_setup import (
    D,
    assert_books_sound,
    balance,
    enrolled_student,
    entries_count,
    programme,
    school_with_term,
    standard_and_policy,
)
from sqlalchemy import func, select

from ledger import books
from ledger.books.errors import DomainError
from ledger.books.models import Period
from ledger.school import billing, closing, payments, structure, writeoffs
from ledger.school.errors import Conflict, RuleBroken
from ledger.school.models import YearClosing


def periods(db, school) -> list[tuple]:
    return [
        (p.start, p.end, p.is_closed)
        for p in db.scalars(
            select(Period).where(Period.book_id == school.book_id).order_by(Period.start)
        )
    ]


def test_a_closed_month_takes_no_more_entries_and_no_more_billing(db):
    district, school, term, prog = monthly_school(db)
    _, home, _ = enrolled_student(db, district, school, term, prog, "林九月")
    bill_month(db, school, term, 2026, 9)

    closed = closing.close_billing_period(db, school, term, actor="fin@test", month=(2026, 9))

    assert [(p.start, p.end) for p in closed] == [(D(2026, 9, 1), D(2026, 9, 30))]
    before = entries_count(db, school)
    with pytest.raises(DomainError) as err:
        payments.record_payment(
            db,
            school,
            home,
            amount=30000,
            received_on=D(2026, 9, 20),
            method="cash",
            actor="fin@test",
        )
    assert err.value.code == "period_closed"
    with pytest.raises(RuleBroken) as err:
        bill_month(db, school, term, 2026, 9)
    assert err.value.code == "period_closed"
    assert entries_count(db, school) == before
    # October is open.
    payments.record_payment(
        db, school, home, amount=30000, received_on=D(2026, 10, 2), method="cash", actor="fin@test"
    )
    assert bill_month(db, school, term, 2026, 10).charges
    assert term.is_closed is False
    assert_books_sound(db, school)


def test_closing_the_term_fills_the_dates_around_a_closed_month_and_stops_billing(db):
    district, school, term, prog = monthly_school(db)
    enrolled_student(db, district, school, term, prog, "王学期")
    bill_month(db, school, term, 2026, 9)
    closing.close_billing_period(db, school, term, actor="fin@test", month=(2026, 9))

    closed = closing.close_billing_period(db, school, term, actor="fin@test")

    assert [(p.start, p.end) for p in closed] == [(D(2026, 10, 1), D(2027, 1, 15))]
    assert periods(db, school) == [
        (D(2026, 9, 1), D(2026, 9, 30), True),
        (D(2026, 10, 1), D(2027, 1, 15), True),
    ]
    assert term.is_closed is True
    with pytest.raises(RuleBroken) as err:
        bill_month(db, school, term, 2026, 10)
    assert err.value.code == "term_closed"
    with pytest.raises(Conflict) as err:
        closing.close_billing_period(db, school, term, actor="fin@test")
    assert err.value.code == "term_closed"
    assert_books_sound(db, school)


def test_an_open_period_reaching_past_the_term_is_not_closed_silently(db):
    district, school, term = school_with_term(db)  # ends 15 January 2027
    book = db.get(books.Book, school.book_id)
    books.create_period(db, book, start=D(2027, 1, 1), end=D(2027, 1, 31))
    with pytest.raises(Conflict) as err:
        closing.close_billing_period(db, school, term, actor="fin@test")
    assert err.value.code == "period_straddles_span"
    assert periods(db, school) == [(D(2027, 1, 1), D(2027, 1, 31), False)]
    assert term.is_closed is False


def test_closing_the_year_moves_revenue_and_expense_to_net_assets(db):
    # One term, cost 1200.00 (government 600.00, school 200.00, parents 400.00), waivers
    # absorbed. 甲 pays 399.50 and 0.50 is written off; 乙 is a hardship student (400.00
    # absorbed to 4901). Teachers are paid 1500.00 in stipends. The year's result:
    #   fees 2400.00 − waivers 400.00 − stipends 1500.00 − written off 0.50 = 499.50.
    district, school, term = school_with_term(db)
    standard_and_policy(db, district, waiver_cover="absorbed")
    prog = programme(db, school, term)
    _, jia_home, _ = enrolled_student(db, district, school, term, prog, "甲")
    yi, _, _ = enrolled_student(db, district, school, term, prog, "乙")
    structure.verify_hardship(
        db,
        yi,
        evidence_ref="民政 2026-5",
        verified_by="fin@test",
        valid_from=D(2026, 8, 1),
        valid_to=D(2027, 7, 31),
    )
    billing.run_billing(db, school, term, actor="fin@test", issued_on=D(2026, 9, 1))
    payments.record_payment(
        db, school, jia_home, amount=39950, received_on=D(2026, 9, 5), method="cash", actor="f@t"
    )
    w = writeoffs.request_write_off(db, school, jia_home, reason="少不补", actor="clerk@test")
    writeoffs.decide_write_off(db, w, approve=True, actor="head@test", on=D(2026, 9, 30))
    books.post_entry(
        db,
        school.book_id,
        books.EntryDraft(
            effective_date=D(2026, 12, 31),
            memo="教师补助 stipends, autumn term",
            kind="stipend",
            postings=[books.PostingDraft("5001", 150000), books.PostingDraft("1002", -150000)],
        ),
        actor="fin@test",
    )

    result = closing.close_year(
        db, school, year_start=D(2026, 9, 1), year_end=D(2027, 8, 31), actor="fin@test"
    )

    assert sorted(result.moved) == [
        ("4001.basic_care", -240000),
        ("4901", 40000),
        ("5001", 150000),
        ("5901", 50),
    ]
    assert result.closing.net_result == 49950
    entry = db.get(books.Entry, result.closing.entry_id)
    assert (entry.kind, entry.effective_date) == ("closing", D(2027, 8, 31))
    for code in ("4001", "4901", "5001", "5002", "5003", "5901"):
        assert balance(db, school, code) == 0, code
    assert balance(db, school, "3001") == -49950
    assert term.is_closed is True
    assert periods(db, school) == [(D(2026, 9, 1), D(2027, 8, 31), True)]
    before = entries_count(db, school)
    with pytest.raises(DomainError) as err:
        books.post_entry(
            db,
            school.book_id,
            books.EntryDraft(
                effective_date=D(2027, 3, 1),
                memo="late",
                kind="stipend",
                postings=[books.PostingDraft("5001", 100), books.PostingDraft("1002", -100)],
            ),
            actor="fin@test",
        )
    assert err.value.code == "period_closed"
    with pytest.raises(Conflict) as err:
        closing.close_year(
            db, school, year_start=D(2026, 9, 1), year_end=D(2027, 8, 31), actor="fin@test"
        )
    assert err.value.code == "year_already_closed"
    assert entries_count(db, school) == before
    assert_books_sound(db, school)


def test_a_year_whose_last_day_is_already_closed_cannot_be_closed(db):
    district, school, term = school_with_term(db)
    closing.close_span(db, school, start=D(2027, 8, 1), end=D(2027, 8, 31), actor="fin@test")
    before = entries_count(db, school)
    with pytest.raises(RuleBroken) as err:
        closing.close_year(
            db, school, year_start=D(2026, 9, 1), year_end=D(2027, 8, 31), actor="fin@test"
        )
    assert err.value.code == "period_closed"
    assert entries_count(db, school) == before
    assert db.scalar(select(func.count()).select_from(YearClosing)) == 0
    assert periods(db, school) == [(D(2027, 8, 1), D(2027, 8, 31), True)]


def test_the_district_rolls_up_every_schools_trial_balance(db):
    # Two schools of one district under the district's policy (1200.00: 600 / 200 / 400).
    # East has one student, West two; one West family has paid its 400.00.
    district = structure.create_district(db, code="DX", name="西城区", funder_name="西城区财政局")
    standard_and_policy(db, district)
    homes = {}
    for code, names in (("EAST", ["东一"]), ("WEST", ["西一", "西二"])):
        school = structure.create_school(db, district, code=code, name=code, actor="admin@test")
        term = structure.create_term(
            db, school, name="2026秋", start=D(2026, 9, 1), end=D(2027, 1, 15), billing_months=4
        )
        prog = programme(db, school, term)
        for name in names:
            homes[name] = (school, enrolled_student(db, district, school, term, prog, name)[1])
        billing.run_billing(db, school, term, actor="fin@test", issued_on=D(2026, 9, 1))
    west, west_home = homes["西一"]
    payments.record_payment(
        db, west, west_home, amount=40000, received_on=D(2026, 9, 8), method="cash", actor="f@t"
    )

    rollup = closing.district_rollup(db, district)

    assert [s.school_code for s in rollup.schools] == ["EAST", "WEST"]
    for school_tb in rollup.schools:
        assert school_tb.total_debit == school_tb.total_credit
    east_summary = {line.code: (line.debit, line.credit) for line in rollup.schools[0].summary}
    assert east_summary["1122"] == (40000, 0) and east_summary["4001"] == (0, 120000)
    total = {line.code: (line.debit, line.credit) for line in rollup.total}
    assert total["4001"] == (0, 360000)
    assert total["1123"] == (180000, 0)
    assert total["1124"] == (60000, 0)
    assert total["1122"] == (80000, 0)
    assert total["1002"] == (40000, 0)
    assert rollup.total_debit == rollup.total_credit == 360000

    before_payment = closing.district_rollup(db, district, as_of=D(2026, 9, 1))
    total = {line.code: (line.debit, line.credit) for line in before_payment.total}
    assert total["1002"] == (0, 0) and total["1122"] == (120000, 0)
    for school, _ in homes.values():
        assert_books_sound(db, school)
