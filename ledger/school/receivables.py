"""What a household owes, invoice by invoice: outstanding amounts and invoice statuses.

An invoice asks a household for ``amount`` (the household lines of its
charges). What is still owed on it is

    amount − payments allocated to it (of payments not returned)
           − credit notes that reduced it (``credits.to_invoice``)
           − household credit applied to it (applications not undone)
           − write-offs settled on it

and the household's receivable account ``1122.H<id>`` always equals the sum
of that over the household's invoices at the school: every entry that moves
the receivable records which invoice it moved.

Statuses:

* ``issued`` — nothing paid yet;
* ``partially_paid`` — the household paid (or had credit applied) part of it;
* ``paid`` — nothing is owed (paid, credited or written off to zero);
* ``overdue`` — still owed after its due date, as marked by
  :func:`mark_overdue` on a date; it stays overdue until nothing is owed;
* ``cancelled`` — cancelled (作废): its charges credited in full;
* ``refunded`` — credited back in full after it was paid (cancelled, or
  waived late), and the money paid returned to the household by refunds
  naming it; a cancelled invoice that was reissued stays ``cancelled``.
"""

from __future__ import annotations

import datetime as dt
from typing import NamedTuple

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from .models import (
    ChargeRecord,
    CreditApplication,
    CreditRecord,
    Invoice,
    Payment,
    PaymentAllocation,
    Refund,
    School,
    WriteOff,
    WriteOffLine,
)

OPEN = ("issued", "partially_paid", "overdue")
FINAL = ("cancelled", "refunded")


def _sum(db: Session, stmt) -> int:  # type: ignore[no-untyped-def]
    return int(db.scalar(stmt) or 0)


def paid_on_invoice(db: Session, invoice: Invoice) -> int:
    """Payments allocated to the invoice, leaving out payments that were returned."""
    return _sum(
        db,
        select(func.coalesce(func.sum(PaymentAllocation.amount), 0))
        .join(Payment, Payment.id == PaymentAllocation.payment_id)
        .where(PaymentAllocation.invoice_id == invoice.id, Payment.returned_entry_id.is_(None)),
    )


def credit_applied_to(
    db: Session, invoice: Invoice, *, reasons: tuple[str, ...] | None = None
) -> int:
    """Household credit applied to the invoice (applications not undone)."""
    stmt = select(func.coalesce(func.sum(CreditApplication.amount), 0)).where(
        CreditApplication.invoice_id == invoice.id, CreditApplication.undone_entry_id.is_(None)
    )
    if reasons is not None:
        stmt = stmt.where(CreditApplication.reason.in_(reasons))
    return _sum(db, stmt)


def credited_to_invoice(db: Session, invoice: Invoice) -> int:
    """Credit notes on the invoice's charges that reduced what it asks for."""
    return _sum(
        db,
        select(func.coalesce(func.sum(CreditRecord.to_invoice), 0))
        .join(ChargeRecord, ChargeRecord.id == CreditRecord.charge_id)
        .where(ChargeRecord.invoice_id == invoice.id),
    )


def put_on_household_credit(db: Session, invoice: Invoice) -> int:
    """Credit notes on the invoice's charges that went to household credit (2241).

    A credit note goes there, instead of reducing the invoice, when the
    invoice had already been settled.
    """
    return _sum(
        db,
        select(func.coalesce(func.sum(CreditRecord.to_credit_account), 0))
        .join(ChargeRecord, ChargeRecord.id == CreditRecord.charge_id)
        .where(ChargeRecord.invoice_id == invoice.id),
    )


def household_part_credited(db: Session, invoice: Invoice) -> int:
    """Every credit note's household part on the invoice's charges (to the invoice or to 2241)."""
    return _sum(
        db,
        select(func.coalesce(func.sum(CreditRecord.household), 0))
        .join(ChargeRecord, ChargeRecord.id == CreditRecord.charge_id)
        .where(ChargeRecord.invoice_id == invoice.id),
    )


def written_off_on(db: Session, invoice: Invoice) -> int:
    return _sum(
        db,
        select(func.coalesce(func.sum(WriteOffLine.amount), 0))
        .join(WriteOff, WriteOff.id == WriteOffLine.write_off_id)
        .where(WriteOffLine.invoice_id == invoice.id, WriteOff.status == "approved"),
    )


class Settled(NamedTuple):
    """What has settled an invoice so far, in fen, each as its own function sums it."""

    paid: int  #: :func:`paid_on_invoice`
    credited: int  #: :func:`credited_to_invoice`
    applied: int  #: :func:`credit_applied_to`, every reason
    applied_by_household: int  #: :func:`credit_applied_to` for ``apply`` and ``reissue``
    written_off: int  #: :func:`written_off_on`


def settled_on(db: Session, invoice: Invoice) -> Settled:
    """Every amount that settled the invoice, in one query (one round trip, not five).

    Recording a payment and refreshing an invoice's status read these for each
    invoice they touch; the sums are the ones the functions above compute.
    """

    def total(column, *where, join=None):  # type: ignore[no-untyped-def]
        q = select(func.coalesce(func.sum(column), 0))
        if join is not None:
            q = q.join(*join)
        return q.where(*where).scalar_subquery()

    # Joins, not ``IN (SELECT …)``: PostgreSQL runs an uncorrelated IN as a scan of
    # the whole payments table per invoice, which made recording payments quadratic.
    applied = (
        CreditApplication.invoice_id == invoice.id,
        CreditApplication.undone_entry_id.is_(None),
    )
    row = db.execute(
        select(
            total(
                PaymentAllocation.amount,
                PaymentAllocation.invoice_id == invoice.id,
                Payment.returned_entry_id.is_(None),
                join=(Payment, Payment.id == PaymentAllocation.payment_id),
            ),
            total(
                CreditRecord.to_invoice,
                ChargeRecord.invoice_id == invoice.id,
                join=(ChargeRecord, ChargeRecord.id == CreditRecord.charge_id),
            ),
            total(CreditApplication.amount, *applied),
            total(
                CreditApplication.amount,
                *applied,
                CreditApplication.reason.in_(("apply", "reissue")),
            ),
            total(
                WriteOffLine.amount,
                WriteOffLine.invoice_id == invoice.id,
                WriteOff.status == "approved",
                join=(WriteOff, WriteOff.id == WriteOffLine.write_off_id),
            ),
        )
    ).one()
    return Settled(*(int(v) for v in row))


def _owed(invoice: Invoice, settled: Settled) -> int:
    return invoice.amount - settled.paid - settled.credited - settled.applied - settled.written_off


def invoice_outstanding(db: Session, invoice: Invoice) -> int:
    """What is still owed on the invoice, in fen (see the module docstring)."""
    return _owed(invoice, settled_on(db, invoice))


def refundable_from(db: Session, invoice: Invoice) -> int:
    """Household credit that credit notes on this invoice created and that is still unspent.

    What went to 2241 from the invoice, less what a returned payment took
    back, what was carried to its reissue and what was refunded against it.
    """
    carried = _sum(
        db,
        select(func.coalesce(func.sum(CreditApplication.amount), 0)).where(
            CreditApplication.source_invoice_id == invoice.id,
            CreditApplication.undone_entry_id.is_(None),
        ),
    )
    refunded = _sum(
        db,
        select(func.coalesce(func.sum(Refund.amount), 0)).where(Refund.invoice_id == invoice.id),
    )
    return (
        put_on_household_credit(db, invoice)
        - credit_applied_to(db, invoice, reasons=("return",))
        - carried
        - refunded
    )


def refresh_status(db: Session, invoice: Invoice) -> str:
    """Set the invoice's status from what is owed on it; cancelled and refunded ones stay."""
    if invoice.status in FINAL:
        return invoice.status
    settled = settled_on(db, invoice)
    if _owed(invoice, settled) <= 0:
        status = "paid"
    elif invoice.status == "overdue":
        status = "overdue"
    elif settled.paid + settled.applied_by_household:
        status = "partially_paid"
    else:
        status = "issued"
    if status != invoice.status:
        invoice.status = status
        db.flush()
    return status


def open_invoices(db: Session, school: School, household_id: int) -> list[Invoice]:
    """The household's invoices at the school that are not settled, oldest first."""
    return list(
        db.scalars(
            select(Invoice)
            .where(
                Invoice.school_id == school.id,
                Invoice.household_id == household_id,
                Invoice.status.in_(OPEN),
            )
            .order_by(Invoice.issued_on, Invoice.seq)
        )
    )


def mark_overdue(db: Session, school: School, *, as_of: dt.date) -> list[Invoice]:
    """Mark the school's open invoices whose due date is before ``as_of`` as ``overdue``.

    Only invoices on which something is still owed; returns those newly marked.
    """
    marked = []
    for invoice in db.scalars(
        select(Invoice)
        .where(
            Invoice.school_id == school.id,
            Invoice.status.in_(("issued", "partially_paid")),
            Invoice.due_date < as_of,
        )
        .order_by(Invoice.id)
    ):
        if invoice_outstanding(db, invoice) > 0:
            invoice.status = "overdue"
            marked.append(invoice)
    db.flush()
    return marked
