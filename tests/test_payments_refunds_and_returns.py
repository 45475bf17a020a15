"""Money back and forth with a household: refunds, returned payments, credit, overdue, write-offs.

Every scenario is a month or a term of one school, with the balances worked
out by hand; each ends with the books sound and the household's receivable
equal to what its invoices still ask for.
"""

from __future__ import annotations

import pytest
from household_checks import assert_household_settled, bill_month, invoices_of, monthly_school
from school_setup import D, assert_books_sound, balance, enrolled_student, entries_count
from sqlalchemy import func, select

from ledger.school import credits, enrolment, payments, writeoffs
from ledger.school.errors import Conflict, RuleBroken
from ledger.school.models import CreditApplication, PaymentReturn, Refund, WriteOff
from ledger.school.receivables import invoice_outstanding, mark_overdue
from ledger.school.structure import household_account, household_credit_account


def pay(db, school, home, amount, on, reference=None):
    return payments.record_payment(
        db,
        school,
        home,
        amount=amount,
        received_on=on,
        method="bank_transfer",
        actor="fin@test",
        reference=reference,
    )


def count(db, model) -> int:
    return db.scalar(select(func.count()).select_from(model))


# --------------------------------------------------------------------------- refunds


def test_overpaid_credit_is_refunded_on_request_and_never_more_than_held(db):
    # September costs 300.00; the family pays 350.00, so 50.00 is household credit.
    # Asking for 80.00 back is refused; 50.00 is refunded: the bank keeps 300.00.
    district, school, term, prog = monthly_school(db)
    _, home, _ = enrolled_student(db, district, school, term, prog, "林多付")
    bill_month(db, school, term, 2026, 9)
    paid = pay(db, school, home, 35000, D(2026, 9, 3))
    assert paid.credit == 5000
    assert payments.credit_balance(db, school, home.id) == 5000

    before = entries_count(db, school)
    with pytest.raises(RuleBroken) as err:
        payments.refund_credit(
            db, school, home, amount=8000, paid_on=D(2026, 9, 10), method="wechat", actor="fin@test"
        )
    assert err.value.code == "refund_exceeds_credit"
    assert entries_count(db, school) == before and count(db, Refund) == 0

    refund = payments.refund_credit(
        db, school, home, amount=5000, paid_on=D(2026, 9, 10), method="wechat", actor="fin@test"
    )
    assert refund.amount == 5000
    assert balance(db, school, household_credit_account(home.id)) == 0
    assert balance(db, school, "1002") == 30000
    assert balance(db, school, household_account(home.id)) == 0
    assert_household_settled(db, school, home)
    assert_books_sound(db, school)


def test_a_refund_out_of_any_account_but_the_schools_bank_is_refused(db):
    district, school, term, prog = monthly_school(db)
    _, home, _ = enrolled_student(db, district, school, term, prog, "周退")
    bill_month(db, school, term, 2026, 9)
    pay(db, school, home, 40000, D(2026, 9, 3))
    before = entries_count(db, school)
    with pytest.raises(RuleBroken) as err:
        payments.refund_credit(
            db,
            school,
            home,
            amount=10000,
            paid_on=D(2026, 9, 10),
            method="cash",
            actor="fin@test",
            paid_from="2202",
        )
    assert err.value.code == "refund_not_from_school_account"
    assert entries_count(db, school) == before


def test_a_refund_repeated_with_its_idempotency_key_refunds_once(db):
    district, school, term, prog = monthly_school(db)
    _, home, _ = enrolled_student(db, district, school, term, prog, "吴重复")
    bill_month(db, school, term, 2026, 9)
    pay(db, school, home, 40000, D(2026, 9, 3))  # 100.00 credit
    kwargs = dict(amount=10000, paid_on=D(2026, 9, 10), method="alipay", actor="fin@test")
    first = payments.refund_credit(db, school, home, idempotency_key="refund-1", **kwargs)
    again = payments.refund_credit(db, school, home, idempotency_key="refund-1", **kwargs)
    assert again.id == first.id and count(db, Refund) == 1
    assert balance(db, school, "1002") == 30000


# --------------------------------------------------------------------------- returned payments


def test_a_bounced_payment_reopens_the_invoices_it_settled(db):
    # September and October invoices, 300.00 each. Payment 1 (450.00) settles September
    # and 150.00 of October; payment 2 (100.00) brings October to 250.00 paid.
    # Payment 1 bounces: September owes 300.00 again (issued), October owes 200.00
    # (partially paid by payment 2). The bank holds 100.00; the household owes 500.00.
    district, school, term, prog = monthly_school(db)
    _, home, _ = enrolled_student(db, district, school, term, prog, "郑退票")
    sep = bill_month(db, school, term, 2026, 9)
    oct_ = bill_month(db, school, term, 2026, 10)
    first = pay(db, school, home, 45000, D(2026, 10, 8))
    pay(db, school, home, 10000, D(2026, 10, 9))
    sep_invoice, oct_invoice = invoices_of(db, school, home)
    assert (sep_invoice.status, oct_invoice.status) == ("paid", "partially_paid")

    result = payments.return_payment(
        db, first.payment, returned_on=D(2026, 10, 20), reason="退票: 余额不足", actor="fin@test"
    )

    assert result.reopened == [
        (sep.invoices[0][1], "issued", 30000),
        (oct_.invoices[0][1], "partially_paid", 20000),
    ]
    assert first.payment.returned_entry_id == result.returned.entry_id
    assert payments.paid_so_far(db, sep_invoice) == 0
    assert balance(db, school, household_account(home.id)) == 50000
    assert balance(db, school, "1002") == 10000
    assert_household_settled(db, school, home)
    assert_books_sound(db, school)


def test_a_payment_is_returned_only_once(db):
    district, school, term, prog = monthly_school(db)
    _, home, _ = enrolled_student(db, district, school, term, prog, "钱两次")
    bill_month(db, school, term, 2026, 9)
    paid = pay(db, school, home, 30000, D(2026, 9, 3))
    payments.return_payment(
        db, paid.payment, returned_on=D(2026, 9, 10), reason="bounced", actor="fin@test"
    )
    before = entries_count(db, school)
    with pytest.raises(Conflict) as err:
        payments.return_payment(
            db, paid.payment, returned_on=D(2026, 9, 11), reason="bounced", actor="fin@test"
        )
    assert err.value.code == "payment_already_returned"
    assert entries_count(db, school) == before and count(db, PaymentReturn) == 1


def test_a_returned_payment_without_a_reason_is_refused(db):
    district, school, term, prog = monthly_school(db)
    _, home, _ = enrolled_student(db, district, school, term, prog, "孙无因")
    bill_month(db, school, term, 2026, 9)
    paid = pay(db, school, home, 30000, D(2026, 9, 3))
    before = entries_count(db, school)
    with pytest.raises(RuleBroken) as err:
        payments.return_payment(
            db, paid.payment, returned_on=D(2026, 9, 10), reason=" ", actor="fin@test"
        )
    assert err.value.code == "reason_required"
    assert entries_count(db, school) == before and paid.payment.returned_entry_id is None


def test_a_returned_overpayment_takes_its_credit_back(db):
    # 350.00 paid on a 300.00 invoice: 50.00 credit. It bounces: the invoice owes 300.00
    # again and the credit is gone.
    district, school, term, prog = monthly_school(db)
    _, home, _ = enrolled_student(db, district, school, term, prog, "陈多")
    bill_month(db, school, term, 2026, 9)
    paid = pay(db, school, home, 35000, D(2026, 9, 3))
    payments.return_payment(
        db, paid.payment, returned_on=D(2026, 9, 10), reason="bounced", actor="fin@test"
    )
    assert balance(db, school, household_credit_account(home.id)) == 0
    assert balance(db, school, household_account(home.id)) == 30000
    assert balance(db, school, "1002") == 0
    assert [i.status for i in invoices_of(db, school, home)] == ["issued"]
    assert_household_settled(db, school, home)
    assert_books_sound(db, school)


def test_a_returned_payment_undoes_the_credit_it_paid_for_on_a_later_invoice(db):
    # 600.00 paid in September for a 300.00 invoice: 300.00 credit, applied to October's
    # invoice when it is issued. The payment bounces: both invoices owe 300.00 again.
    district, school, term, prog = monthly_school(db)
    _, home, _ = enrolled_student(db, district, school, term, prog, "何预付")
    bill_month(db, school, term, 2026, 9)
    paid = pay(db, school, home, 60000, D(2026, 9, 3))
    bill_month(db, school, term, 2026, 10)
    [applied] = payments.apply_household_credit(
        db, school, home, on=D(2026, 10, 1), actor="fin@test"
    )
    assert applied.amount == 30000
    assert [i.status for i in invoices_of(db, school, home)] == ["paid", "paid"]

    result = payments.return_payment(
        db, paid.payment, returned_on=D(2026, 10, 12), reason="returned", actor="fin@test"
    )

    assert [a.id for a in result.undone] == [applied.id]
    assert applied.undone_entry_id is not None
    assert [i.status for i in invoices_of(db, school, home)] == ["issued", "issued"]
    assert balance(db, school, household_account(home.id)) == 60000
    assert balance(db, school, household_credit_account(home.id)) == 0
    assert balance(db, school, "1002") == 0
    assert_household_settled(db, school, home)
    assert_books_sound(db, school)


def test_returning_a_payment_whose_credit_was_refunded_is_refused(db):
    district, school, term, prog = monthly_school(db)
    _, home, _ = enrolled_student(db, district, school, term, prog, "赵已退")
    bill_month(db, school, term, 2026, 9)
    paid = pay(db, school, home, 35000, D(2026, 9, 3))
    payments.refund_credit(
        db, school, home, amount=5000, paid_on=D(2026, 9, 5), method="cash", actor="fin@test"
    )
    before = entries_count(db, school)
    with pytest.raises(RuleBroken) as err:
        payments.return_payment(
            db, paid.payment, returned_on=D(2026, 9, 10), reason="bounced", actor="fin@test"
        )
    assert err.value.code == "returned_payment_credit_refunded"
    assert entries_count(db, school) == before
    assert paid.payment.returned_entry_id is None and count(db, PaymentReturn) == 0


def test_a_returned_payment_takes_back_credit_a_withdrawal_put_on_household_credit(db):
    # September 300.00, paid in full. The student withdraws from Monday 21st: 8 of 22
    # service days unused → 300.00 × 8 / 22 = 109.09 credited; the invoice was paid, so
    # it goes to household credit. Then the payment bounces: the invoice owes what the
    # month now costs, 300.00 − 109.09 = 190.91, and the credit is gone.
    district, school, term, prog = monthly_school(db)
    _, home, enr = enrolled_student(db, district, school, term, prog, "冯退学")
    bill_month(db, school, term, 2026, 9)
    paid = pay(db, school, home, 30000, D(2026, 9, 3))
    enrolment.withdraw(db, enr, effective=D(2026, 9, 21), actor="parent@test")
    [credit] = credits.credit_withdrawal(db, enr, actor="fin@test")
    assert (credit.total, credit.to_invoice, credit.to_credit_account) == (10909, 0, 10909)

    result = payments.return_payment(
        db, paid.payment, returned_on=D(2026, 9, 25), reason="bounced", actor="fin@test"
    )

    assert [a.amount for a in result.taken_back] == [10909]
    [invoice] = invoices_of(db, school, home)
    assert (invoice.status, invoice_outstanding(db, invoice)) == ("issued", 19091)
    assert balance(db, school, household_account(home.id)) == 19091
    assert balance(db, school, household_credit_account(home.id)) == 0
    assert balance(db, school, "4001.basic_care") == -19091
    assert_household_settled(db, school, home)
    assert_books_sound(db, school)


# --------------------------------------------------------------------------- overdue


def test_open_invoices_past_their_due_date_are_marked_overdue(db):
    # Three households billed on 1 September, due on the 16th. One pays in full, one pays
    # half, one pays nothing. On the 16th nothing is overdue yet; on the 17th the two
    # that still owe are. A part payment keeps an invoice overdue; paying the rest settles it.
    district, school, term, prog = monthly_school(db)
    homes = [enrolled_student(db, district, school, term, prog, n)[1] for n in "甲乙丙"]
    bill_month(db, school, term, 2026, 9)
    pay(db, school, homes[0], 30000, D(2026, 9, 5))
    pay(db, school, homes[1], 15000, D(2026, 9, 5))

    assert mark_overdue(db, school, as_of=D(2026, 9, 16)) == []
    marked = mark_overdue(db, school, as_of=D(2026, 9, 17))
    assert sorted(i.household_id for i in marked) == [homes[1].id, homes[2].id]
    statuses = [invoices_of(db, school, h)[0].status for h in homes]
    assert statuses == ["paid", "overdue", "overdue"]

    pay(db, school, homes[2], 10000, D(2026, 9, 20))
    assert invoices_of(db, school, homes[2])[0].status == "overdue"
    pay(db, school, homes[2], 20000, D(2026, 9, 21))
    assert invoices_of(db, school, homes[2])[0].status == "paid"
    for home in homes:
        assert_household_settled(db, school, home)
    assert_books_sound(db, school)


# --------------------------------------------------------------------------- write-offs


def _half_yuan_short(db):
    # September 300.00; the family pays 299.50 and owes 0.50.
    district, school, term, prog = monthly_school(db)
    _, home, _ = enrolled_student(db, district, school, term, prog, "马少五角")
    bill_month(db, school, term, 2026, 9)
    pay(db, school, home, 29950, D(2026, 9, 3))
    return district, school, home


def test_a_small_balance_is_written_off_with_a_second_approver(db):
    district, school, home = _half_yuan_short(db)
    request = writeoffs.request_write_off(
        db, school, home, reason="少不补: 0.50", actor="clerk@test"
    )
    assert request.amount == 50 and request.status == "requested"

    before = entries_count(db, school)
    with pytest.raises(RuleBroken) as err:
        writeoffs.decide_write_off(db, request, approve=True, actor="clerk@test", on=D(2026, 9, 30))
    assert err.value.code == "same_approver"
    assert entries_count(db, school) == before and request.status == "requested"

    writeoffs.decide_write_off(db, request, approve=True, actor="head@test", on=D(2026, 9, 30))
    assert request.status == "approved"
    assert balance(db, school, "5901") == 50
    assert balance(db, school, household_account(home.id)) == 0
    assert [i.status for i in invoices_of(db, school, home)] == ["paid"]
    assert_household_settled(db, school, home)
    assert_books_sound(db, school)


@pytest.mark.parametrize(
    ("amount", "limit", "code"),
    [
        (100, 1000, "write_off_exceeds_receivable"),  # asks 1.00; the family owes 0.50
        (50, 30, "write_off_above_limit"),  # a limit of 0.30 is configured
        (0, 1000, "invalid_amount"),
    ],
)
def test_a_write_off_outside_the_rules_is_refused(db, amount, limit, code):
    district, school, home = _half_yuan_short(db)
    before = entries_count(db, school)
    with pytest.raises(RuleBroken) as err:
        writeoffs.request_write_off(
            db, school, home, reason="r", actor="clerk@test", amount=amount, limit=limit
        )
    assert err.value.code == code
    assert entries_count(db, school) == before and count(db, WriteOff) == 0


def test_a_household_in_credit_has_nothing_to_write_off(db):
    district, school, term, prog = monthly_school(db)
    _, home, _ = enrolled_student(db, district, school, term, prog, "牛多付")
    bill_month(db, school, term, 2026, 9)
    pay(db, school, home, 30010, D(2026, 9, 3))  # 0.10 over: that is refunded, not written off
    with pytest.raises(RuleBroken) as err:
        writeoffs.request_write_off(db, school, home, reason="r", actor="clerk@test")
    assert err.value.code == "nothing_to_write_off"
    assert count(db, WriteOff) == 0


def test_a_write_off_paid_before_approval_is_refused_on_approval(db):
    district, school, home = _half_yuan_short(db)
    request = writeoffs.request_write_off(db, school, home, reason="0.50", actor="clerk@test")
    pay(db, school, home, 50, D(2026, 9, 20))  # the family paid the 0.50 after all
    before = entries_count(db, school)
    with pytest.raises(RuleBroken) as err:
        writeoffs.decide_write_off(db, request, approve=True, actor="head@test", on=D(2026, 9, 30))
    assert err.value.code == "nothing_to_write_off"
    assert entries_count(db, school) == before and request.status == "requested"


def test_applying_more_credit_than_held_is_refused(db):
    district, school, term, prog = monthly_school(db)
    _, home, _ = enrolled_student(db, district, school, term, prog, "黄抵")
    bill_month(db, school, term, 2026, 9)
    pay(db, school, home, 31000, D(2026, 9, 3))  # 10.00 credit
    bill_month(db, school, term, 2026, 10)
    before = entries_count(db, school)
    with pytest.raises(RuleBroken) as err:
        payments.apply_household_credit(
            db, school, home, on=D(2026, 10, 2), actor="fin@test", amount=2000
        )
    assert err.value.code == "credit_exceeds_balance"
    assert entries_count(db, school) == before and count(db, CreditApplication) == 0
    [applied] = payments.apply_household_credit(
        db, school, home, on=D(2026, 10, 2), actor="fin@test"
    )
    assert applied.amount == 1000
    oct_invoice = invoices_of(db, school, home)[1]
    assert (oct_invoice.status, invoice_outstanding(db, oct_invoice)) == ("partially_paid", 29000)
    assert_household_settled(db, school, home)
    assert_books_sound(db, school)
