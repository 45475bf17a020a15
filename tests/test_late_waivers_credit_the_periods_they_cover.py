"""A waiver approved after billing moves the waived parent share to whoever covers waivers.

Revenue does not change (unless the policy absorbs waivers as contra-revenue 4901):
the service cost the same; who pays for it changed.
"""

from __future__ import annotations

import pytest
from household_checks import assert_household_settled, bill_month, invoices_of, monthly_school
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
from sqlalchemy import select

from ledger.school import billing, credits, enrolment, payments, structure, waivers
from ledger.school.errors import RuleBroken
from ledger.school.models import ChargeRecord
from ledger.school.receivables import invoice_outstanding
from ledger.school.structure import household_account, household_credit_account


def approved_waiver(db, student, percent, valid_from, valid_to):
    w = waivers.request_waiver(
        db,
        student,
        percent=percent,
        reason="家庭变故",
        evidence_ref="村委证明 2026-17",
        valid_from=valid_from,
        valid_to=valid_to,
        actor="clerk@test",
    )
    return waivers.decide_waiver(db, w, approve=True, actor="head@test")


def test_a_late_half_waiver_moves_200_to_the_government(db):
    # Term: cost 1200.00, government 600.00, school 200.00, parents 400.00; the
    # government covers waivers. A 50 % waiver for the whole term is approved after
    # billing: 200.00 moves from the household to the government. Revenue stays 1200.00.
    district, school, term = school_with_term(db)
    standard_and_policy(db, district)
    prog = programme(db, school, term)
    student, home, _ = enrolled_student(db, district, school, term, prog, "赵晚批")
    billing.run_billing(db, school, term, actor="fin@test", issued_on=D(2026, 9, 1))
    waiver = approved_waiver(db, student, 5000, D(2026, 9, 1), D(2027, 1, 31))

    [credit] = credits.credit_late_waiver(db, waiver, actor="fin@test", effective=D(2026, 9, 20))

    assert (credit.reason, credit.household, credit.to_invoice) == ("waiver", 20000, 20000)
    assert balance(db, school, "1123.DS1") == 80000
    assert balance(db, school, "1124") == 20000
    assert balance(db, school, household_account(home.id)) == 20000
    assert balance(db, school, "4001.basic_care") == -120000
    [invoice] = invoices_of(db, school, home)
    assert (invoice.status, invoice_outstanding(db, invoice)) == ("issued", 20000)

    before = entries_count(db, school)
    assert credits.credit_late_waiver(db, waiver, actor="fin@test", effective=D(2026, 9, 21)) == []
    assert entries_count(db, school) == before
    assert_household_settled(db, school, home)
    assert_books_sound(db, school)


def test_a_late_waiver_after_payment_becomes_household_credit_then_a_refund(db):
    district, school, term = school_with_term(db)
    standard_and_policy(db, district)
    prog = programme(db, school, term)
    student, home, _ = enrolled_student(db, district, school, term, prog, "钱已缴")
    billing.run_billing(db, school, term, actor="fin@test", issued_on=D(2026, 9, 1))
    payments.record_payment(
        db, school, home, amount=40000, received_on=D(2026, 9, 3), method="cash", actor="fin@test"
    )
    waiver = approved_waiver(db, student, 5000, D(2026, 9, 1), D(2027, 1, 31))
    [credit] = credits.credit_late_waiver(db, waiver, actor="fin@test", effective=D(2026, 9, 20))
    assert (credit.to_invoice, credit.to_credit_account) == (0, 20000)
    [invoice] = invoices_of(db, school, home)
    payments.refund_credit(
        db,
        school,
        home,
        amount=20000,
        paid_on=D(2026, 9, 22),
        method="cash",
        actor="fin@test",
        invoice=invoice,
    )
    assert invoice.status == "paid"  # still half charged and paid: not refunded
    assert balance(db, school, "1002") == 20000
    assert balance(db, school, household_credit_account(home.id)) == 0
    assert_household_settled(db, school, home)
    assert_books_sound(db, school)


def test_hardship_verified_after_payment_absorbed_then_refunded_in_full(db):
    # The policy absorbs waivers (4901). The family paid 400.00; hardship is verified
    # afterwards for the whole year: 400.00 to 4901, the 400.00 paid becomes credit and
    # is refunded. The invoice, credited back in full and refunded, is "refunded".
    district, school, term = school_with_term(db)
    standard_and_policy(db, district, waiver_cover="absorbed")
    prog = programme(db, school, term)
    student, home, _ = enrolled_student(db, district, school, term, prog, "李困难")
    billing.run_billing(db, school, term, actor="fin@test", issued_on=D(2026, 9, 1))
    payments.record_payment(
        db, school, home, amount=40000, received_on=D(2026, 9, 3), method="cash", actor="fin@test"
    )
    hardship = structure.verify_hardship(
        db,
        student,
        evidence_ref="民政困难证明 2026-088",
        verified_by="fin@test",
        valid_from=D(2026, 9, 1),
        valid_to=D(2027, 8, 31),
    )
    [credit] = credits.credit_late_waiver(db, hardship, actor="fin@test", effective=D(2026, 9, 20))
    assert credit.household == 40000
    assert balance(db, school, "4901") == 40000
    assert balance(db, school, "1123.DS1") == 60000  # unchanged: the waiver is absorbed
    [invoice] = invoices_of(db, school, home)
    payments.refund_credit(
        db,
        school,
        home,
        amount=40000,
        paid_on=D(2026, 9, 22),
        method="cash",
        actor="fin@test",
        invoice=invoice,
    )
    assert invoice.status == "refunded"
    assert balance(db, school, "1002") == 0
    assert_household_settled(db, school, home)
    assert_books_sound(db, school)


def test_a_waiver_from_the_21st_credits_the_days_it_covers(db):
    # September 300.00 for 22 service days; a full waiver from Monday 21st covers 8 of
    # them: 300.00 × 8 / 22 = 109.0909… → 109.09 moves to the government.
    district, school, term, prog = monthly_school(db)
    student, home, _ = enrolled_student(db, district, school, term, prog, "孙后半")
    bill_month(db, school, term, 2026, 9)
    waiver = approved_waiver(db, student, 10000, D(2026, 9, 21), D(2026, 12, 31))
    [credit] = credits.credit_late_waiver(db, waiver, actor="fin@test", effective=D(2026, 9, 25))
    assert credit.household == 10909
    assert balance(db, school, "1123.DS1") == 10909
    assert balance(db, school, household_account(home.id)) == 19091
    assert_household_settled(db, school, home)
    assert_books_sound(db, school)


@pytest.mark.parametrize(
    ("valid_from", "moved"),
    [
        # Withdrawn from the 21st: 14 days attended. A full waiver for the month moves
        # what is left of the household's part, 300.00 × 14 / 22 = 190.909… → 190.91.
        (D(2026, 9, 1), 19091),
        # A waiver only for days after the withdrawal moves nothing: they were credited.
        (D(2026, 9, 21), 0),
    ],
)
def test_a_late_waiver_after_a_withdrawal_covers_only_days_attended(db, valid_from, moved):
    district, school, term, prog = monthly_school(db)
    student, home, enr = enrolled_student(db, district, school, term, prog, "周退学")
    bill_month(db, school, term, 2026, 9)
    enrolment.withdraw(db, enr, effective=D(2026, 9, 21), actor="parent@test")
    credits.credit_withdrawal(db, enr, actor="fin@test")  # 300.00 × 8 / 22 = 109.09 back
    assert balance(db, school, household_account(home.id)) == 19091

    waiver = approved_waiver(db, student, 10000, valid_from, D(2026, 9, 30))
    records = credits.credit_late_waiver(db, waiver, actor="fin@test", effective=D(2026, 9, 28))

    assert sum(r.household for r in records) == moved
    assert balance(db, school, "1123.DS1") == moved
    assert balance(db, school, household_account(home.id)) == 19091 - moved
    assert balance(db, school, "4001.basic_care") == -19091
    assert_household_settled(db, school, home)
    assert_books_sound(db, school)


def test_a_withdrawal_after_a_late_waiver_splits_as_the_payers_now_carry_it(db):
    # Term 1200.00 (600 / 200 / 400); a late 50 % waiver moves 200.00 to the government
    # (800 / 200 / 200). A credit of half the charge is then split 400 / 100 / 100.
    district, school, term = school_with_term(
        db, start=D(2026, 9, 1), end=D(2026, 9, 30), billing_months=1
    )
    standard_and_policy(db, district)
    prog = programme(db, school, term)
    student, home, enr = enrolled_student(db, district, school, term, prog, "吴先减后退")
    billing.run_billing(db, school, term, actor="fin@test", issued_on=D(2026, 9, 1))
    waiver = approved_waiver(db, student, 5000, D(2026, 9, 1), D(2026, 9, 30))
    credits.credit_late_waiver(db, waiver, actor="fin@test", effective=D(2026, 9, 2))
    charge = db.scalars(select(ChargeRecord)).one()
    record = credits.post_credit(
        db,
        charge,
        60000,
        reason="withdrawal",
        detail="half the month",
        actor="fin@test",
        effective=D(2026, 9, 16),
    )
    assert (record.government, record.school, record.household) == (40000, 10000, 10000)
    assert credits.charge_parts(db, charge) == {
        "government": 40000,
        "school": 10000,
        "household": 10000,
        "absorbed": 0,
    }
    assert balance(db, school, household_account(home.id)) == 10000
    assert_household_settled(db, school, home)
    assert_books_sound(db, school)


def test_a_requested_waiver_is_not_credited(db):
    district, school, term = school_with_term(db)
    standard_and_policy(db, district)
    prog = programme(db, school, term)
    student, _, _ = enrolled_student(db, district, school, term, prog, "郑未批")
    billing.run_billing(db, school, term, actor="fin@test", issued_on=D(2026, 9, 1))
    w = waivers.request_waiver(
        db,
        student,
        percent=10000,
        reason="r",
        evidence_ref="e",
        valid_from=D(2026, 9, 1),
        valid_to=D(2026, 12, 31),
        actor="clerk@test",
    )
    before = entries_count(db, school)
    with pytest.raises(RuleBroken) as err:
        credits.credit_late_waiver(db, w, actor="fin@test", effective=D(2026, 9, 20))
    assert err.value.code == "waiver_not_approved"
    assert entries_count(db, school) == before
