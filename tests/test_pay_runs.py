"""The monthly pay run in the domain: rounding once per person and month, per-课时 rates,
monthly caps, a missing rate, volunteers, and reruns that pay nothing twice."""

from __future__ import annotations

import datetime as dt

import pytest
from school_setup import D, assert_books_sound, balance, entries_count, programme, school_with_term

from ledger.school import payroll
from ledger.school.errors import RuleBroken
from ledger.school.models import PayLine, ServiceHours

T = dt.time


@pytest.fixture
def month(db):  # type: ignore[no-untyped-def]
    _, school, term = school_with_term(db)
    prog = programme(db, school, term, lessons=2, start=T(15, 30), end=T(17, 30))
    return school, prog


def _worked(db, school, prog, staff, days, start=T(15, 30), end=T(17, 30), lessons=None):  # type: ignore[no-untyped-def]
    for day in days:
        h = payroll.log_hours(
            db, school, staff, prog, day=day, start=start, end=end, lessons=lessons, actor="fin"
        )
        payroll.approve_hours(db, h, approve=True, actor="fin")


def _rate(db, school, staff_kind, unit, amount, cap=None):  # type: ignore[no-untyped-def]
    return payroll.create_pay_rate(
        db,
        school,
        staff_kind=staff_kind,
        programme_kind="basic_care",
        unit=unit,
        amount=amount,
        monthly_cap=cap,
        valid_from=D(2026, 9, 1),
        valid_to=D(2027, 1, 15),
        actor="fin",
    )


def test_a_month_is_rounded_once_not_per_session(db, month):
    school, prog = month
    teacher = payroll.create_staff(db, school, name="钱老师", kind="teacher", actor="fin")
    _rate(db, school, "teacher", "hour", 3333)  # 33.33 an hour
    # Three 50-minute sessions: 27.775 each. Rounded per session: 3 × 27.78 = 83.34;
    # once for the month: 83.325 → 83.33.
    _worked(db, school, prog, teacher, [D(2026, 9, d) for d in (1, 2, 3)], end=T(16, 20))
    [line] = payroll.run_pay(db, school, 2026, 9, on=D(2026, 9, 30), actor="fin").lines
    assert (line.minutes, line.gross, line.net) == (150, 8333, 8333)
    assert balance(db, school, "5001") == 8333
    assert balance(db, school, f"2211.S{teacher.id}") == -8333
    assert_books_sound(db, school)


def test_per_lesson_rates_and_a_monthly_cap(db, month):
    school, prog = month
    coach = payroll.create_staff(
        db,
        school,
        name="孙教练",
        kind="external",
        id_type="passport",
        id_number="E1234567",
        actor="fin",
    )
    _rate(db, school, "external", "lesson", 15000, cap=100000)  # 150.00 a 课时, 1,000.00 a month
    # Three sessions of 2 课时: 900.00, under the cap: taxable 100.00, tax 20.00.
    _worked(db, school, prog, coach, [D(2026, 9, d) for d in (1, 2, 3)])
    [first] = payroll.run_pay(db, school, 2026, 9, on=D(2026, 9, 30), actor="fin").lines
    assert (first.lessons, first.gross, first.tax, first.net, first.capped) == (
        6,
        90000,
        2000,
        88000,
        0,
    )
    # Two more sessions (600.00) approved late: the month stops at the cap, 1,000.00:
    # 100.00 more, tax on 1,000.00 is 40.00, so 20.00 more is withheld.
    _worked(db, school, prog, coach, [D(2026, 9, d) for d in (7, 8)])
    [more] = payroll.run_pay(db, school, 2026, 9, on=D(2026, 10, 5), actor="fin").lines
    assert (more.gross, more.tax, more.net, more.month_gross, more.capped) == (
        10000,
        2000,
        8000,
        100000,
        50000,
    )
    # Past the cap, new hours are recorded as paid by a zero line and post nothing.
    _worked(db, school, prog, coach, [D(2026, 9, 9)])
    entries = entries_count(db, school)
    [capped] = payroll.run_pay(db, school, 2026, 9, on=D(2026, 10, 6), actor="fin").lines
    assert (capped.gross, capped.tax, capped.entry_id) == (0, 0, None)
    assert entries_count(db, school) == entries
    assert balance(db, school, "5002") == 100000
    assert balance(db, school, "2221") == -4000
    sheet = payroll.payout_sheet(db, coach, 2026, 9)
    assert (sheet["gross"], sheet["tax"], sheet["net"]) == (100000, 4000, 96000)
    assert_books_sound(db, school)


def test_a_missing_rate_refuses_the_run_and_writes_nothing(db, month):
    school, prog = month
    teacher = payroll.create_staff(db, school, name="周老师", kind="teacher", actor="fin")
    _worked(db, school, prog, teacher, [D(2026, 9, 1)])
    entries = entries_count(db, school)
    with pytest.raises(RuleBroken) as refused:
        payroll.run_pay(db, school, 2026, 9, on=D(2026, 9, 30), actor="fin")
    assert refused.value.code == "no_pay_rate"
    db.rollback()
    assert entries_count(db, school) == entries
    assert db.query(PayLine).count() == 0


def test_volunteers_unapproved_and_rejected_hours_are_never_paid(db, month):
    school, prog = month
    volunteer = payroll.create_staff(db, school, name="吴阿姨", kind="volunteer", actor="fin")
    teacher = payroll.create_staff(db, school, name="郑老师", kind="teacher", actor="fin")
    _rate(db, school, "teacher", "hour", 5000)
    _worked(db, school, prog, volunteer, [D(2026, 9, 1)])
    logged = payroll.log_hours(
        db, school, teacher, prog, day=D(2026, 9, 2), start=T(15, 30), end=T(17, 30), actor="fin"
    )
    rejected = payroll.log_hours(
        db, school, teacher, prog, day=D(2026, 9, 3), start=T(15, 30), end=T(17, 30), actor="fin"
    )
    payroll.approve_hours(db, rejected, approve=False, actor="fin")
    result = payroll.run_pay(db, school, 2026, 9, on=D(2026, 9, 30), actor="fin")
    assert (result.run, result.lines) == (None, [])
    assert db.get(ServiceHours, logged.id).pay_line_id is None
    # A rejected session frees its slot: the same time can be logged again.
    payroll.log_hours(
        db, school, teacher, prog, day=D(2026, 9, 3), start=T(15, 30), end=T(17, 30), actor="fin"
    )


def test_external_staff_need_an_id_and_teachers_see_it_masked(db, month):
    school, _ = month
    with pytest.raises(RuleBroken) as refused:
        payroll.create_staff(db, school, name="外聘", kind="external", actor="fin")
    assert (refused.value.code, refused.value.field) == ("id_required", "id_type")
    assert payroll.mask_id("110101199001011234") == "110***********1234"
    assert payroll.mask_id("E123") == "****"
