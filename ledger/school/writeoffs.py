"""Small household balances written off (多退少不补: refund excess, don't chase shortfalls).

What a household still owes after billing, credits and payments may be a few
fen or yuan that are not worth chasing. Finance may write such a balance off
to expense 5901, under three rules:

* four eyes: one person requests, another approves (``same_approver``);
* small: never above a configured maximum, 10.00 unless the caller says
  otherwise (``write_off_above_limit``);
* owed: only the household's outstanding receivable at the school, never
  more (``write_off_exceeds_receivable``) — a household's credit is refunded,
  never written off.

On approval::

    Dr 5901           Small balances written off    amount
    Cr 1122.H<id>     Receivable: household         amount

settling the household's open invoices oldest first (one line per invoice).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger import books
from ledger.books.models import utcnow

from .errors import Conflict, NotFound, RuleBroken
from .models import Household, School, WriteOff, WriteOffLine
from .payments import receivable_balance
from .receivables import invoice_outstanding, open_invoices, refresh_status
from .structure import household_account

__all__ = ["WRITE_OFF_LIMIT", "decide_write_off", "get_write_off", "request_write_off"]

#: The default most that may be written off at once, in fen (10.00).
WRITE_OFF_LIMIT = 1000


def _owed(db: Session, school: School, household_id: int) -> int:
    """What the household owes: its receivable, and no more than its open invoices ask for."""
    on_invoices = sum(
        max(0, invoice_outstanding(db, i)) for i in open_invoices(db, school, household_id)
    )
    return min(receivable_balance(db, school, household_id), on_invoices)


def _check_amount(amount: int, owed: int, limit: int) -> None:
    if owed <= 0:
        raise RuleBroken(
            "nothing_to_write_off", "the household owes nothing at this school", field="amount"
        )
    if amount <= 0:
        raise RuleBroken("invalid_amount", "a write-off must be positive", field="amount")
    if amount > owed:
        raise RuleBroken(
            "write_off_exceeds_receivable",
            f"the household owes {owed} fen; {amount} fen cannot be written off",
            field="amount",
        )
    if amount > limit:
        raise RuleBroken(
            "write_off_above_limit",
            f"at most {limit} fen may be written off; {amount} fen must be collected or credited",
            field="amount",
        )


def request_write_off(
    db: Session,
    school: School,
    household: Household,
    *,
    reason: str,
    actor: str,
    amount: int | None = None,
    limit: int = WRITE_OFF_LIMIT,
) -> WriteOff:
    """Ask to write off a small balance (default: all the household owes at the school).

    Nothing is posted until another person approves it
    (:func:`decide_write_off`). Refused: ``nothing_to_write_off``,
    ``write_off_exceeds_receivable``, ``write_off_above_limit``,
    ``reason_required``.
    """
    if household.district_id != school.district_id:
        raise NotFound(f"no household {household.id} at school {school.code}")
    if not reason or not reason.strip():
        raise RuleBroken("reason_required", "say why the balance is written off", field="reason")
    owed = _owed(db, school, household.id)
    if amount is None:
        amount = owed
    _check_amount(amount, owed, limit)
    write_off = WriteOff(
        school_id=school.id,
        household_id=household.id,
        amount=amount,
        limit_amount=limit,
        reason=reason.strip(),
        status="requested",
        requested_by=actor,
    )
    db.add(write_off)
    db.flush()
    return write_off


def get_write_off(db: Session, school: School, write_off_id: int) -> WriteOff:
    write_off = db.get(WriteOff, write_off_id)
    if write_off is None or write_off.school_id != school.id:
        raise NotFound(f"no write-off {write_off_id} at school {school.code}")
    return write_off


def decide_write_off(
    db: Session,
    write_off: WriteOff,
    *,
    approve: bool,
    actor: str,
    on: dt.date,
    limit: int = WRITE_OFF_LIMIT,
) -> WriteOff:
    """Approve (and post) or reject a requested write-off; the approver is not the requester.

    The rules are checked again on approval, against what the household owes
    then and the lower of the limit at request and ``limit``. Refused:
    ``write_off_decided`` (conflict), ``same_approver`` and the rules of
    :func:`request_write_off`.
    """
    if write_off.status != "requested":
        raise Conflict(
            "write_off_decided", f"write-off {write_off.id} is already {write_off.status}"
        )
    if actor == write_off.requested_by:
        raise RuleBroken(
            "same_approver",
            "a write-off must be approved by someone other than the person who requested it",
            field="approver",
        )
    if not approve:
        write_off.status = "rejected"
        write_off.decided_by = actor
        write_off.decided_at = utcnow()
        db.flush()
        return write_off
    school = db.get(School, write_off.school_id)
    household = db.get(Household, write_off.household_id)
    _check_amount(
        write_off.amount,
        _owed(db, school, household.id),
        min(limit, write_off.limit_amount),
    )
    posted = books.post_entry(
        db,
        school.book_id,
        books.EntryDraft(
            effective_date=on,
            memo=f"小额核销 write-off for {household.name}: {write_off.reason}",
            kind="write_off",
            source_ref=f"write-off:{write_off.id}",
            postings=[
                books.PostingDraft("5901", write_off.amount),
                books.PostingDraft(household_account(household.id), -write_off.amount),
            ],
        ),
        actor=actor,
    )
    write_off.status = "approved"
    write_off.decided_by = actor
    write_off.decided_at = utcnow()
    write_off.written_off_on = on
    write_off.entry_id = posted.entry_id
    db.flush()
    left = write_off.amount
    for invoice in open_invoices(db, school, household.id):
        if left <= 0:
            break
        part = min(left, invoice_outstanding(db, invoice))
        if part <= 0:
            continue
        db.add(WriteOffLine(write_off_id=write_off.id, invoice_id=invoice.id, amount=part))
        db.flush()
        refresh_status(db, invoice)
        left -= part
    return write_off


def write_off_lines(db: Session, write_off: WriteOff) -> list[WriteOffLine]:
    return list(db.scalars(select(WriteOffLine).where(WriteOffLine.write_off_id == write_off.id)))
