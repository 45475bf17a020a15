"""Builders for school scenarios, written so a test reads like the term it narrates."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger import books
from ledger.school import enrolment, standards, structure

D = dt.date


def school_with_term(
    db: Session,
    code: str = "S1",
    *,
    start=D(2026, 9, 1),
    end=D(2027, 1, 15),
    billing_months: int = 4,
):
    district = structure.create_district(
        db, code=f"D{code}", name="示范区", funder_name="示范区财政局"
    )
    school = structure.create_school(
        db,
        district,
        code=code,
        name=f"第{code}小学",
        actor="admin@test",
        bank_name="示范银行",
        bank_account="6222000011112222",
        complaints_phone="12345",
    )
    term = structure.create_term(
        db, school, name="2026秋季学期", start=start, end=end, billing_months=billing_months
    )
    return district, school, term


def standard_and_policy(
    db,
    district,
    *,
    kind="basic_care",
    standard=50000,
    unit="term",
    unit_cost=120000,
    government=("percent", 5000),
    school_share=("amount", 20000),
    waiver_cover="government",
    refund_rule="daily",
    valid_from=D(2026, 1, 1),
    valid_to=D(2027, 12, 31),
):
    fee = standards.create_fee_standard(
        db,
        district=district,
        kind=kind,
        amount=standard,
        unit=unit,
        authority="示范区发改委",
        document_no="示发改价〔2026〕12号",
        valid_from=valid_from,
        valid_to=valid_to,
        actor="fin@test",
    )
    policy = standards.create_cost_policy(
        db,
        district=district,
        kind=kind,
        fee_standard=fee,
        effective_from=valid_from,
        effective_to=valid_to,
        unit=unit,
        unit_cost=unit_cost,
        government=government,
        school_share=school_share,
        waiver_cover=waiver_cover,
        refund_rule=refund_rule,
        actor="fin@test",
    )
    return fee, policy


def programme(
    db,
    school,
    term,
    *,
    kind="basic_care",
    capacity=100,
    lessons=1,
    weekdays="12345",
    start=dt.time(15, 30),
    end=dt.time(17, 30),
):
    from ledger.school.models import Programme

    p = Programme(
        school_id=school.id,
        term_id=term.id,
        kind=kind,
        name=f"{kind} 班",
        weekdays=weekdays,
        start_time=start,
        end_time=end,
        capacity=capacity,
        lessons_per_session=lessons,
    )
    db.add(p)
    db.flush()
    return p


def enrolled_student(
    db, district, school, term, prog, name, *, household=None, start=None, **flags
):
    household = household or structure.create_household(db, district, f"{name}家")
    student = structure.create_student(db, school, household, name=name, **flags)
    app = enrolment.apply(db, student, prog, applied_by="parent@test", start_date=start)
    enrolment.review(db, app, approve=True, actor="class-teacher@test")
    enr = enrolment.decide(db, app, approve=True, actor="school@test")
    return student, household, enr


def balance(db: Session, school, code: str) -> int:
    book = db.get(books.Book, school.book_id)
    return books.account_balance(db, books.get_account(db, book, code)).balance


def assert_books_sound(db: Session, school) -> None:
    book = db.get(books.Book, school.book_id)
    tb = books.trial_balance(db, book)
    assert tb.total_debit == tb.total_credit
    assert books.balance_mismatches(db, book) == []
    report = books.verify_chain(db, book.id)
    assert report.ok, report


def entries_count(db: Session, school) -> int:
    return len(
        list(db.scalars(select(books.Entry.id).where(books.Entry.book_id == school.book_id)))
    )
