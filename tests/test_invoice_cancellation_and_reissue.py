"""Cancelling an invoice credits its charges in full; a reissue bills them again, rightly.

The school's term policy throughout: cost 1200.00, government 50 % (600.00), school
200.00, parents 400.00 (standard 500.00); the government covers waivers.
"""

from __future__ import annotations

import pytest
from household_checks import assert_household_settled, invoices_of
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

from ledger.school import billing, cancellations, payments, waivers
from ledger.school.errors import Conflict, RuleBroken
from ledger.school.models import ChargeRecord, CreditRecord, Invoice, InvoiceCancellation
from ledger.school.receivables import invoice_outstanding
from ledger.school.structure import household_account, household_credit_account


def billed_term(db):
    district, school, term = school_with_term(db)
    standard_and_policy(db, district)
    prog = programme(db, school, term)
    student, home, _ = enrolled_student(db, district, school, term, prog, "王小明")
    billing.run_billing(db, school, term, actor="fin@test", issued_on=D(2026, 9, 1))
    [invoice] = invoices_of(db, school, home)
    return district, school, term, student, home, invoice


def pay(db, school, home, amount, on):
    return payments.record_payment(
        db, school, home, amount=amount, received_on=on, method="wechat", actor="fin@test"
    )


def test_cancelling_an_unpaid_invoice_credits_every_share_and_keeps_its_number(db):
    district, school, term, _, home, invoice = billed_term(db)
    number = invoice.number

    cancellation = cancellations.cancel_invoice(
        db, invoice, on=D(2026, 9, 10), reason="开错家庭", actor="fin@test"
    )

    assert (invoice.status, invoice.number) == ("cancelled", number)
    assert cancellation.reason == "开错家庭"
    [credit] = db.scalars(select(CreditRecord)).all()
    assert (credit.reason, credit.total, credit.government, credit.school, credit.household) == (
        "cancel",
        120000,
        60000,
        20000,
        40000,
    )
    for code in ("4001.basic_care", "1123.DS1", "1124", household_account(home.id)):
        assert balance(db, school, code) == 0, code
    assert invoice_outstanding(db, invoice) == 0
    assert_household_settled(db, school, home)
    assert_books_sound(db, school)


def test_an_invoice_is_cancelled_only_once(db):
    _, school, _, _, _, invoice = billed_term(db)
    cancellations.cancel_invoice(db, invoice, on=D(2026, 9, 10), reason="r", actor="fin@test")
    before = entries_count(db, school)
    with pytest.raises(Conflict) as err:
        cancellations.cancel_invoice(db, invoice, on=D(2026, 9, 11), reason="r", actor="fin@test")
    assert err.value.code == "invoice_already_cancelled"
    assert entries_count(db, school) == before


def test_reissuing_a_paid_invoice_carries_the_payment_to_the_new_one(db):
    # 400.00 paid; the invoice is cancelled (the 400.00 goes to household credit) and
    # reissued with the next number: the household owes nothing and holds no credit,
    # revenue and the government's and school's receivables are as first billed.
    district, school, term, _, home, invoice = billed_term(db)
    pay(db, school, home, 40000, D(2026, 9, 5))
    cancellations.cancel_invoice(db, invoice, on=D(2026, 9, 10), reason="抬头错", actor="fin@test")
    assert balance(db, school, household_credit_account(home.id)) == -40000

    result = cancellations.reissue_invoice(db, invoice, issued_on=D(2026, 9, 15), actor="fin@test")

    new = result.invoice
    assert invoice.number == "S1-2026-000001" and new.number == "S1-2026-000002"
    assert (new.amount, new.status, result.carried) == (40000, "paid", 40000)
    assert (invoice.status, cancellations.reissued_from(db, new).id) == ("cancelled", invoice.id)
    [charge] = result.charges
    old_charge = db.scalar(select(ChargeRecord).where(ChargeRecord.invoice_id == invoice.id))
    assert (charge.generation, charge.replaces_id) == (1, old_charge.id)
    assert balance(db, school, "4001.basic_care") == -120000
    assert balance(db, school, "1123.DS1") == 60000
    assert balance(db, school, "1124") == 20000
    assert balance(db, school, household_account(home.id)) == 0
    assert balance(db, school, household_credit_account(home.id)) == 0
    assert balance(db, school, "1002") == 40000
    assert_household_settled(db, school, home)
    assert_books_sound(db, school)


def test_a_reissue_bills_with_a_waiver_approved_meanwhile_and_the_rest_is_refunded(db):
    # 400.00 paid. The family should have had a 50 % waiver: the invoice is cancelled,
    # the waiver approved, the invoice reissued for 200.00 (the government now carries
    # 600.00 + 200.00). 200.00 of the payment settles it; the other 200.00 is refunded.
    district, school, term, student, home, invoice = billed_term(db)
    pay(db, school, home, 40000, D(2026, 9, 5))
    cancellations.cancel_invoice(db, invoice, on=D(2026, 9, 10), reason="漏减免", actor="fin@test")
    waiver = waivers.request_waiver(
        db,
        student,
        percent=5000,
        reason="家庭变故",
        evidence_ref="村委证明",
        valid_from=D(2026, 9, 1),
        valid_to=D(2027, 1, 31),
        actor="clerk@test",
    )
    waivers.decide_waiver(db, waiver, approve=True, actor="head@test")

    result = cancellations.reissue_invoice(db, invoice, issued_on=D(2026, 9, 15), actor="fin@test")

    assert (result.invoice.amount, result.carried, result.invoice.status) == (20000, 20000, "paid")
    assert balance(db, school, "1123.DS1") == 80000
    assert balance(db, school, household_credit_account(home.id)) == -20000
    payments.refund_credit(
        db,
        school,
        home,
        amount=20000,
        paid_on=D(2026, 9, 16),
        method="bank_transfer",
        actor="fin@test",
        invoice=invoice,
    )
    assert balance(db, school, "1002") == 20000
    assert balance(db, school, household_credit_account(home.id)) == 0
    assert invoice.status == "cancelled"  # reissued, so not "refunded"
    assert_household_settled(db, school, home)
    assert_books_sound(db, school)


def test_reissuing_a_partly_paid_invoice_leaves_the_rest_owed(db):
    # 150.00 of 400.00 paid; cancelled and reissued: the new invoice is partly paid, 250.00 owed.
    _, school, _, _, home, invoice = billed_term(db)
    pay(db, school, home, 15000, D(2026, 9, 5))
    cancellations.cancel_invoice(db, invoice, on=D(2026, 9, 10), reason="r", actor="fin@test")
    assert balance(db, school, household_account(home.id)) == 0
    assert balance(db, school, household_credit_account(home.id)) == -15000
    new = cancellations.reissue_invoice(
        db, invoice, issued_on=D(2026, 9, 15), actor="fin@test"
    ).invoice
    assert (new.status, invoice_outstanding(db, new)) == ("partially_paid", 25000)
    assert balance(db, school, household_account(home.id)) == 25000
    assert balance(db, school, household_credit_account(home.id)) == 0
    assert_household_settled(db, school, home)
    assert_books_sound(db, school)


def test_a_bounced_payment_on_a_cancelled_and_reissued_invoice_reopens_the_reissue(db):
    # 400.00 paid, cancelled, reissued (the 400.00 carried over), then the payment
    # bounces: the carry is undone, the new invoice owes 400.00, the cancelled one
    # still owes nothing, and the household holds no credit.
    _, school, _, _, home, invoice = billed_term(db)
    paid = pay(db, school, home, 40000, D(2026, 9, 5))
    cancellations.cancel_invoice(db, invoice, on=D(2026, 9, 10), reason="r", actor="fin@test")
    new = cancellations.reissue_invoice(
        db, invoice, issued_on=D(2026, 9, 15), actor="fin@test"
    ).invoice

    result = payments.return_payment(
        db, paid.payment, returned_on=D(2026, 9, 20), reason="退票", actor="fin@test"
    )

    assert len(result.undone) == 1 and result.undone[0].reason == "reissue"
    assert (invoice.status, invoice_outstanding(db, invoice)) == ("cancelled", 0)
    assert (new.status, invoice_outstanding(db, new)) == ("issued", 40000)
    assert balance(db, school, household_account(home.id)) == 40000
    assert balance(db, school, household_credit_account(home.id)) == 0
    assert balance(db, school, "1002") == 0
    assert_household_settled(db, school, home)
    assert_books_sound(db, school)


def test_a_cancelled_invoice_whose_payment_is_refunded_is_marked_refunded(db):
    _, school, _, _, home, invoice = billed_term(db)
    pay(db, school, home, 40000, D(2026, 9, 5))
    cancellations.cancel_invoice(db, invoice, on=D(2026, 9, 10), reason="停办", actor="fin@test")
    refund = dict(paid_on=D(2026, 9, 12), method="bank_transfer", actor="fin@test", invoice=invoice)
    payments.refund_credit(db, school, home, amount=30000, **refund)
    assert invoice.status == "cancelled"
    payments.refund_credit(db, school, home, amount=10000, **refund)
    assert invoice.status == "refunded"
    assert balance(db, school, "1002") == 0
    assert_household_settled(db, school, home)
    assert_books_sound(db, school)


def test_refunding_more_than_an_invoice_put_on_credit_is_refused(db):
    # The household holds 400.00 from the cancelled invoice and 50.00 of overpayment on
    # another school matter; a refund naming the invoice may return 400.00, not 450.00.
    _, school, _, _, home, invoice = billed_term(db)
    pay(db, school, home, 45000, D(2026, 9, 5))
    cancellations.cancel_invoice(db, invoice, on=D(2026, 9, 10), reason="r", actor="fin@test")
    assert payments.credit_balance(db, school, home.id) == 45000
    before = entries_count(db, school)
    with pytest.raises(RuleBroken) as err:
        payments.refund_credit(
            db,
            school,
            home,
            amount=45000,
            paid_on=D(2026, 9, 12),
            method="cash",
            actor="fin@test",
            invoice=invoice,
        )
    assert err.value.code == "refund_exceeds_invoice_credit"
    assert entries_count(db, school) == before


def test_only_a_cancelled_invoice_is_reissued_and_only_once(db):
    _, school, _, _, _, invoice = billed_term(db)
    before = entries_count(db, school)
    with pytest.raises(RuleBroken) as err:
        cancellations.reissue_invoice(db, invoice, issued_on=D(2026, 9, 15), actor="fin@test")
    assert err.value.code == "invoice_not_cancelled"
    assert entries_count(db, school) == before

    cancellations.cancel_invoice(db, invoice, on=D(2026, 9, 10), reason="r", actor="fin@test")
    cancellations.reissue_invoice(db, invoice, issued_on=D(2026, 9, 15), actor="fin@test")
    before = entries_count(db, school)
    invoices = db.scalar(select(func.count()).select_from(Invoice))
    with pytest.raises(Conflict) as err:
        cancellations.reissue_invoice(db, invoice, issued_on=D(2026, 9, 16), actor="fin@test")
    assert err.value.code == "invoice_already_reissued"
    assert entries_count(db, school) == before
    assert db.scalar(select(func.count()).select_from(Invoice)) == invoices


def test_a_reissued_invoice_can_itself_be_cancelled_and_reissued(db):
    _, school, _, _, home, invoice = billed_term(db)
    cancellations.cancel_invoice(db, invoice, on=D(2026, 9, 10), reason="r", actor="fin@test")
    second = cancellations.reissue_invoice(
        db, invoice, issued_on=D(2026, 9, 15), actor="fin@test"
    ).invoice
    cancellations.cancel_invoice(db, second, on=D(2026, 9, 16), reason="r", actor="fin@test")
    third = cancellations.reissue_invoice(db, second, issued_on=D(2026, 9, 17), actor="fin@test")
    assert third.invoice.number == "S1-2026-000003"
    assert [c.generation for c in third.charges] == [2]
    assert balance(db, school, "4001.basic_care") == -120000
    assert balance(db, school, household_account(home.id)) == 40000
    assert db.scalar(select(func.count()).select_from(InvoiceCancellation)) == 2
    assert_household_settled(db, school, home)
    assert_books_sound(db, school)


def test_billing_the_period_again_does_not_rebill_a_cancelled_invoice(db):
    _, school, term, _, _, invoice = billed_term(db)
    cancellations.cancel_invoice(db, invoice, on=D(2026, 9, 10), reason="r", actor="fin@test")
    before = entries_count(db, school)
    again = billing.run_billing(db, school, term, actor="fin@test", issued_on=D(2026, 9, 11))
    assert again.charges == [] and again.already_billed == 1
    assert entries_count(db, school) == before
