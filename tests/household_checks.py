"""Checks that tie a household's accounts to its invoices, for the settlement scenarios."""

from __future__ import annotations

import datetime as dt

from school_setup import D, programme, school_with_term, standard_and_policy
from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger.school import billing, payments, receivables
from ledger.school.models import Invoice
from ledger.school.receivables import invoice_outstanding


def invoices_of(db: Session, school, household) -> list[Invoice]:
    return list(
        db.scalars(
            select(Invoice)
            .where(Invoice.school_id == school.id, Invoice.household_id == household.id)
            .order_by(Invoice.seq)
        )
    )


def assert_household_settled(db: Session, school, household) -> None:
    """The receivable is exactly what the invoices still ask for; no invoice is over-settled."""
    owed = [invoice_outstanding(db, i) for i in invoices_of(db, school, household)]
    for invoice in invoices_of(db, school, household):
        # The one-query sums equal the functions that each sum one thing.
        assert receivables.settled_on(db, invoice) == (
            receivables.paid_on_invoice(db, invoice),
            receivables.credited_to_invoice(db, invoice),
            receivables.credit_applied_to(db, invoice),
            receivables.credit_applied_to(db, invoice, reasons=("apply", "reissue")),
            receivables.written_off_on(db, invoice),
        )
    assert all(o >= 0 for o in owed), owed
    assert payments.receivable_balance(db, school, household.id) == sum(owed)
    assert payments.credit_balance(db, school, household.id) >= 0


def monthly_school(db: Session, *, refund_rule: str = "daily"):
    """A school billing 300.00 a month, all of it to parents; waivers covered by the government."""
    district, school, term = school_with_term(db)
    standard_and_policy(
        db,
        district,
        unit="month",
        standard=30000,
        unit_cost=30000,
        government=("amount", 0),
        school_share=("amount", 0),
        refund_rule=refund_rule,
    )
    prog = programme(db, school, term)
    return district, school, term, prog


def bill_month(
    db: Session, school, term, year: int, month: int, *, issued_on: dt.date | None = None
):
    return billing.run_billing(
        db,
        school,
        term,
        actor="fin@test",
        month=(year, month),
        issued_on=issued_on or D(year, month, 1),
    )
