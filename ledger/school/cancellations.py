"""Cancelling an invoice (作废) and reissuing it (重开).

Cancel: every charge on the invoice is credited in full with
``credits.post_credit(reason="cancel")`` — revenue, the government's and the
school's receivables and any absorbed waiver go back exactly as they were
charged, and the household's part reduces what the invoice still asked for;
whatever the household had already paid on it goes to household credit
(2241). The invoice keeps its number and is marked ``cancelled``.

Reissue: the same enrolments are billed again for the same period, computed
afresh by billing's rules with everything known today (a waiver approved
meanwhile, a corrected start date), posted as new charges one generation up
(each ``replaces`` the cancelled charge), and gathered into a new invoice
with the next gap-free number. What the household had paid on the cancelled
invoice is carried to the new one (``Dr 2241.H / Cr 1122.H``), so the
household's receivable ends at what the new invoice asks for less what it had
already paid — as if the first invoice had been right.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger import books

from . import billing
from .credits import post_credit
from .errors import Conflict, NotFound, RuleBroken
from .models import (
    BillingRun,
    ChargeRecord,
    CreditApplication,
    District,
    Invoice,
    InvoiceCancellation,
    School,
    Term,
)
from .payments import credit_balance, post_credit_application
from .receivables import refundable_from
from .structure import funder_account

__all__ = [
    "ReissueResult",
    "cancel_invoice",
    "carried_to",
    "get_invoice",
    "reissue_invoice",
    "reissued_from",
]


def get_invoice(db: Session, school: School, number: str) -> Invoice:
    invoice = db.scalar(
        select(Invoice).where(Invoice.school_id == school.id, Invoice.number == number)
    )
    if invoice is None:
        raise NotFound(f"no invoice {number} at school {school.code}")
    return invoice


def cancel_invoice(
    db: Session, invoice: Invoice, *, on: dt.date, reason: str, actor: str
) -> InvoiceCancellation:
    """Cancel an invoice: credit its charges in full; it keeps its number.

    The credits are dated ``on``. Refused: an invoice already cancelled or
    refunded (``invoice_already_cancelled``), no reason (``reason_required``),
    ``on`` inside a closed period (``period_closed``, from the books).
    """
    if invoice.status in ("cancelled", "refunded"):
        raise Conflict(
            "invoice_already_cancelled", f"invoice {invoice.number} is already {invoice.status}"
        )
    if not reason or not reason.strip():
        raise RuleBroken("reason_required", "say why the invoice is cancelled", field="reason")
    for charge in _charges_of(db, invoice):
        # Credit whatever is left of each charge: credits never exceed what was charged.
        post_credit(
            db,
            charge,
            charge.cost,
            reason="cancel",
            detail=f"invoice {invoice.number} cancelled",
            actor=actor,
            effective=on,
        )
    invoice.status = "cancelled"
    cancellation = InvoiceCancellation(
        invoice_id=invoice.id, cancelled_on=on, reason=reason.strip(), cancelled_by=actor
    )
    db.add(cancellation)
    db.flush()
    return cancellation


def _charges_of(db: Session, invoice: Invoice) -> list[ChargeRecord]:
    return list(
        db.scalars(
            select(ChargeRecord)
            .where(ChargeRecord.invoice_id == invoice.id)
            .order_by(ChargeRecord.id)
        )
    )


@dataclass
class ReissueResult:
    cancelled: Invoice
    invoice: Invoice
    charges: list[ChargeRecord]
    #: What the household had paid on the cancelled invoice, carried to the new one.
    carried: int


def reissue_invoice(
    db: Session,
    invoice: Invoice,
    *,
    issued_on: dt.date,
    actor: str,
    due_days: int = 15,
) -> ReissueResult:
    """Bill a cancelled invoice's enrolments again for its period, on a new invoice.

    The charges are computed afresh (billing's rules, today's waivers and
    enrolment dates), posted dated ``issued_on`` with the key
    ``reissue:<cancelled invoice id>:<enrolment>``, and the new invoice takes
    the next gap-free number of ``issued_on``'s year. Up to what it asks for,
    the household credit that the cancellation created and that has not been
    refunded or carried elsewhere is applied to it.

    Refused: an invoice that is not cancelled (``invoice_not_cancelled``),
    one reissued before (``invoice_already_reissued``), a closed term or
    period (``term_closed``, ``period_closed``), nothing left to bill
    (``nothing_to_reissue``), a student who now belongs to another household
    (``household_changed``: bill that household instead).
    """
    cancellation = db.scalar(
        select(InvoiceCancellation).where(InvoiceCancellation.invoice_id == invoice.id)
    )
    if invoice.status != "cancelled" or cancellation is None:
        raise RuleBroken(
            "invoice_not_cancelled",
            f"invoice {invoice.number} is {invoice.status}; only a cancelled invoice is reissued",
            field="invoice",
        )
    if cancellation.reissued_as_id is not None:
        again = db.get(Invoice, cancellation.reissued_as_id)
        raise Conflict(
            "invoice_already_reissued",
            f"invoice {invoice.number} was reissued as {again.number}",
        )
    old_charges = {c.enrolment_id: c for c in _charges_of(db, invoice)}
    if not old_charges:
        raise RuleBroken("nothing_to_reissue", f"invoice {invoice.number} has no charges")
    school = db.get(School, invoice.school_id)
    first = next(iter(old_charges.values()))
    run = db.get(BillingRun, first.billing_run_id)
    term = db.get(Term, run.term_id)
    month = None if run.period_kind == "term" else (run.period_start.year, run.period_start.month)
    plan = billing.plan_charges(db, school, term, month=month, rebill=set(old_charges))
    if not plan.charges:
        raise RuleBroken(
            "nothing_to_reissue",
            f"none of invoice {invoice.number}'s enrolments has anything to bill for "
            f"{plan.period_start}–{plan.period_end}",
        )
    for p in plan.charges:
        if p.household_id != invoice.household_id:
            raise RuleBroken(
                "household_changed",
                f"{p.student_name} now belongs to another household; bill that household instead",
                field="invoice",
            )

    district = db.get(District, school.district_id)
    funder = funder_account(district)
    drafts = [
        books.EntryDraft(
            effective_date=issued_on,
            memo=f"重开 reissue of {invoice.number}: {billing.KIND_LABEL.get(p.kind, p.kind)} "
            f"{p.programme_name} {p.student_name} {plan.period_start}–{plan.period_end}",
            kind="charge",
            source_ref=f"enrolment:{p.enrolment_id}",
            idempotency_key=f"reissue:{invoice.id}:{p.enrolment_id}",
            postings=[books.PostingDraft(code, fen) for code, fen in p.lines(funder)],
        )
        for p in plan.charges
    ]
    posted = books.post_entries_bulk(db, school.book_id, drafts, actor=actor)
    if posted.replayed:
        raise Conflict(
            "reissue_in_progress",
            f"invoice {invoice.number} is being reissued by someone else; look again",
        )
    new = billing.new_invoice(
        db,
        school,
        household_id=invoice.household_id,
        billing_run_id=None,
        period_start=plan.period_start,
        period_end=plan.period_end,
        issued_on=issued_on,
        due_days=due_days,
        amount=sum(p.charge.household for p in plan.charges),
    )
    records = []
    for p, entry_id in zip(plan.charges, posted.entry_ids, strict=True):
        old = old_charges[p.enrolment_id]
        record = billing.charge_record(
            school,
            p,
            billing_run_id=old.billing_run_id,
            invoice_id=new.id,
            entry_id=entry_id,
            period_start=plan.period_start,
            period_end=plan.period_end,
            generation=old.generation + 1,
            replaces_id=old.id,
        )
        db.add(record)
        records.append(record)
    cancellation.reissued_as_id = new.id
    db.flush()

    carried = max(
        0,
        min(new.amount, refundable_from(db, invoice), credit_balance(db, school, new.household_id)),
    )
    if carried:
        post_credit_application(
            db,
            school,
            new,
            carried,
            reason="reissue",
            on=issued_on,
            actor=actor,
            source_invoice=invoice,
        )
    return ReissueResult(invoice, new, records, carried)


def reissued_from(db: Session, invoice: Invoice) -> Invoice | None:
    """The cancelled invoice that ``invoice`` reissues, if any."""
    cancellation = db.scalar(
        select(InvoiceCancellation).where(InvoiceCancellation.reissued_as_id == invoice.id)
    )
    return None if cancellation is None else db.get(Invoice, cancellation.invoice_id)


def carried_to(db: Session, invoice: Invoice) -> list[CreditApplication]:
    """Applications that carried what was paid on a cancelled invoice to its reissue."""
    return list(
        db.scalars(
            select(CreditApplication).where(
                CreditApplication.source_invoice_id == invoice.id,
                CreditApplication.undone_entry_id.is_(None),
            )
        )
    )
