"""Household payments: into the school's bank account only, settling invoices oldest first.

A payment settles the invoice its reference names, then the oldest open
invoices; whatever is left is household credit (2241). Fees are collected by
the school: a payment into any other account — a vendor's, a third party's —
is refused (不得由第三方代收费).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger import books

from .errors import NotFound, RuleBroken
from .models import Household, Invoice, Payment, PaymentAllocation, School
from .structure import ensure_household_accounts_bulk, household_account, household_credit_account

SCHOOL_BANK = "1002"
METHODS = ("bank_transfer", "wechat", "alipay", "cash", "card", "other")


@dataclass
class PaymentResult:
    payment: Payment
    allocations: list[tuple[str, int]]
    credit: int
    replayed: bool


def open_invoices(db: Session, school: School, household_id: int) -> list[Invoice]:
    return list(
        db.scalars(
            select(Invoice)
            .where(
                Invoice.school_id == school.id,
                Invoice.household_id == household_id,
                Invoice.status.in_(("issued", "partially_paid", "overdue")),
            )
            .order_by(Invoice.issued_on, Invoice.seq)
        )
    )


def paid_so_far(db: Session, invoice: Invoice) -> int:
    return sum(
        db.scalars(
            select(PaymentAllocation.amount).where(PaymentAllocation.invoice_id == invoice.id)
        )
    )


def record_payment(
    db: Session,
    school: School,
    household: Household,
    *,
    amount: int,
    received_on: dt.date,
    method: str,
    actor: str,
    reference: str | None = None,
    received_into: str = SCHOOL_BANK,
    idempotency_key: str | None = None,
) -> PaymentResult:
    if received_into != SCHOOL_BANK:
        raise RuleBroken(
            "payment_not_to_school_account",
            f"household payments are received only into the school's bank account "
            f"{SCHOOL_BANK}, not {received_into!r}: no vendor or third party collects fees",
            field="received_into",
        )
    if amount <= 0:
        raise RuleBroken("invalid_amount", "a payment must be positive", field="amount")
    if method not in METHODS:
        raise RuleBroken(
            "invalid_method", f"method must be one of {', '.join(METHODS)}", field="method"
        )
    if household.district_id != school.district_id:
        raise NotFound(f"no household {household.id} at school {school.code}")
    ensure_household_accounts_bulk(db, school, [household.id])
    invoices = open_invoices(db, school, household.id)
    if reference:
        named = [i for i in invoices if i.number == reference]
        invoices = named + [i for i in invoices if i.number != reference]
    left = amount
    allocations: list[tuple[Invoice, int]] = []
    for invoice in invoices:
        if left == 0:
            break
        due = invoice.amount - paid_so_far(db, invoice)
        if due <= 0:
            continue
        part = min(due, left)
        allocations.append((invoice, part))
        left -= part
    settled = amount - left
    postings = [books.PostingDraft(SCHOOL_BANK, amount)]
    if settled:
        postings.append(books.PostingDraft(household_account(household.id), -settled))
    if left:
        postings.append(books.PostingDraft(household_credit_account(household.id), -left))
    posted = books.post_entry(
        db,
        school.book_id,
        books.EntryDraft(
            effective_date=received_on,
            memo=f"缴费 {household.name} payment ({method}{', ' + reference if reference else ''})",
            kind="payment",
            source_ref=f"household:{household.id}",
            idempotency_key=idempotency_key,
            postings=postings,
        ),
        actor=actor,
    )
    if posted.replayed:
        payment = db.scalar(select(Payment).where(Payment.entry_id == posted.entry_id))
        return PaymentResult(payment, [], 0, True)
    payment = Payment(
        school_id=school.id,
        household_id=household.id,
        amount=amount,
        received_on=received_on,
        method=method,
        reference=reference,
        received_into=received_into,
        entry_id=posted.entry_id,
        recorded_by=actor,
    )
    db.add(payment)
    db.flush()
    for invoice, part in allocations:
        db.add(PaymentAllocation(payment_id=payment.id, invoice_id=invoice.id, amount=part))
        db.flush()
        invoice.status = "paid" if paid_so_far(db, invoice) >= invoice.amount else "partially_paid"
    db.flush()
    return PaymentResult(payment, [(i.number, part) for i, part in allocations], left, False)
