"""Paying out of the school's bank account (1002): stipends, net labour fees, income tax
withheld and vendor bills, in batches.

A batch is drafted (``draft``) with the payables it will settle, then paid
(``paid``: one entry ``Dr 2211.S… / 2221 / 2202.V… , Cr 1002``) or cancelled
(``cancelled``, only while a draft). A payable is in at most one live batch —
the database refuses a second (``payout_items`` unique on source and ``live``)
— so nothing is paid twice. Stipends may instead go to the school's payroll
(``payroll_transfer``), with an export file for the payroll system; tax is
remitted in a ``tax_remittance`` batch.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger import books
from ledger.money import format_fen

from .errors import Conflict, NotFound, RuleBroken
from .models import PayLine, PayoutBatch, PayoutItem, School, StaffMember, Vendor, VendorBill
from .payroll import TAX_PAYABLE, staff_account
from .vendors import vendor_account

__all__ = ["cancel_batch", "create_batch", "pay_batch", "payroll_export"]

BANK = "1002"
METHODS = {
    "bank_transfer": ("pay_line", "vendor_bill"),
    "payroll_transfer": ("pay_line",),
    "tax_remittance": ("tax",),
}


@dataclass(frozen=True)
class _Payable:
    source: str
    source_id: int
    account: str
    payee: str
    amount: int


#: Payables looked up per query when checking a batch against the live ones.
_CHUNK = 500


def _in_live_batches(
    db: Session, payables: list[_Payable]
) -> dict[tuple[str, int], tuple[int, str]]:
    """The payables already in a live batch, with that batch's id and status: one query per
    source and 500 payables, not one per payable (a month's payroll has hundreds)."""
    by_source: dict[str, list[int]] = {}
    for p in payables:
        by_source.setdefault(p.source, []).append(p.source_id)
    taken: dict[tuple[str, int], tuple[int, str]] = {}
    for source, ids in by_source.items():
        for i in range(0, len(ids), _CHUNK):
            rows = db.execute(
                select(PayoutItem.source_id, PayoutBatch.id, PayoutBatch.status)
                .join(PayoutBatch, PayoutItem.batch_id == PayoutBatch.id)
                .where(
                    PayoutItem.source == source,
                    PayoutItem.source_id.in_(ids[i : i + _CHUNK]),
                    PayoutItem.live == 1,
                )
            )
            for source_id, batch_id, status in rows:
                taken[source, source_id] = (batch_id, status)
    return taken


def _payable(db: Session, school: School, source: str, source_id: int, method: str) -> _Payable:
    if source in ("pay_line", "tax"):
        line = db.get(PayLine, source_id)
        if line is None or line.school_id != school.id:
            raise NotFound(f"no pay line {source_id} at school {school.code}")
        staff = db.get(StaffMember, line.staff_id)
        if source == "tax":
            if line.tax <= 0:
                raise RuleBroken(
                    "nothing_to_pay", f"pay line {line.id} withheld no tax", field="items"
                )
            return _Payable(
                source, line.id, TAX_PAYABLE, f"税务机关 (tax of {staff.name})", line.tax
            )
        if method == "payroll_transfer" and line.kind != "stipend":
            raise RuleBroken(
                "not_payroll",
                f"pay line {line.id} is a labour fee: external staff are not on the payroll",
                field="items",
            )
        if line.net <= 0:
            raise RuleBroken("nothing_to_pay", f"pay line {line.id} owes nothing", field="items")
        return _Payable(source, line.id, staff_account(staff.id), staff.name, line.net)
    if source == "vendor_bill":
        bill = db.get(VendorBill, source_id)
        if bill is None or bill.school_id != school.id:
            raise NotFound(f"no vendor bill {source_id} at school {school.code}")
        vendor = db.get(Vendor, bill.vendor_id)
        return _Payable(source, bill.id, vendor_account(vendor.id), vendor.name, bill.amount)
    raise RuleBroken("invalid_source", f"cannot pay a {source!r}", field="items")


def create_batch(
    db: Session,
    school: School,
    *,
    method: str,
    items: list[tuple[str, int]],
    actor: str,
    reference: str | None = None,
) -> PayoutBatch:
    """Draft a batch of payables. Refused: an empty batch, a payable named twice, a
    payable already in another live batch (``already_paid`` when that batch was
    paid, ``already_in_batch`` while it is a draft), a source the method cannot
    pay."""
    if method not in METHODS:
        raise RuleBroken(
            "invalid_method", f"method must be one of {', '.join(METHODS)}", field="method"
        )
    if not items:
        raise RuleBroken("empty_batch", "a batch pays at least one payable", field="items")
    if len(set(items)) != len(items):
        raise RuleBroken("duplicate_item", "a payable is named twice", field="items")
    payables = []
    for source, source_id in items:
        if source not in METHODS[method]:
            raise RuleBroken(
                "invalid_source",
                f"a {method} batch pays {' and '.join(METHODS[method])}, not {source}",
                field="items",
            )
        payables.append(_payable(db, school, source, source_id, method))
    taken = _in_live_batches(db, payables)
    for p in payables:
        if (p.source, p.source_id) in taken:
            batch_id, status = taken[p.source, p.source_id]
            code = "already_paid" if status == "paid" else "already_in_batch"
            raise Conflict(
                code,
                f"{p.source} {p.source_id} ({p.payee}) is in batch {batch_id}, {status}",
                field="items",
            )
    batch = PayoutBatch(
        school_id=school.id,
        method=method,
        reference=reference,
        status="draft",
        total=sum(p.amount for p in payables),
        created_by=actor,
    )
    db.add(batch)
    db.flush()
    for p in payables:
        db.add(
            PayoutItem(
                batch_id=batch.id,
                source=p.source,
                source_id=p.source_id,
                account=p.account,
                payee=p.payee,
                amount=p.amount,
                live=1,
            )
        )
    db.flush()
    return batch


def batch_items(db: Session, batch: PayoutBatch) -> list[PayoutItem]:
    return list(
        db.scalars(
            select(PayoutItem).where(PayoutItem.batch_id == batch.id).order_by(PayoutItem.id)
        )
    )


def pay_batch(db: Session, batch: PayoutBatch, *, paid_on: dt.date, actor: str) -> PayoutBatch:
    """Pay a draft batch from the bank account: one entry, every payable settled.

    Refused: a batch already paid (``batch_already_paid``) or cancelled
    (``batch_cancelled``); more than the bank account holds
    (``insufficient_funds``).
    """
    if batch.status == "paid":
        raise Conflict("batch_already_paid", f"batch {batch.id} was paid on {batch.paid_on}")
    if batch.status == "cancelled":
        raise Conflict("batch_cancelled", f"batch {batch.id} was cancelled")
    school = db.get(School, batch.school_id)
    book = db.get(books.Book, school.book_id)
    books.hold_book(db, book.id)
    held = books.account_balance(db, books.get_account(db, book, BANK)).balance
    if held < batch.total:
        raise RuleBroken(
            "insufficient_funds",
            f"the bank account holds {held} fen; the batch pays {batch.total} fen",
        )
    items = batch_items(db, batch)
    memo = {
        "bank_transfer": "支付 payout",
        "payroll_transfer": "转工资账户 transfer to payroll",
        "tax_remittance": "缴纳代扣个税 tax remittance",
    }[batch.method]
    posted = books.post_entry(
        db,
        book.id,
        books.EntryDraft(
            effective_date=paid_on,
            memo=f"{memo} batch {batch.id}" + (f" ({batch.reference})" if batch.reference else ""),
            kind="payout",
            source_ref=f"payout_batch:{batch.id}",
            idempotency_key=f"payout_batch:{batch.id}",
            postings=[books.PostingDraft(i.account, i.amount) for i in items]
            + [books.PostingDraft(BANK, -batch.total)],
        ),
        actor=actor,
    )
    batch.status = "paid"
    batch.paid_on = paid_on
    batch.paid_by = actor
    batch.entry_id = posted.entry_id
    db.flush()
    return batch


def cancel_batch(db: Session, batch: PayoutBatch, *, actor: str) -> PayoutBatch:
    """Cancel a draft: its payables may be batched again. A paid batch is never cancelled."""
    if batch.status != "draft":
        raise Conflict("batch_not_draft", f"batch {batch.id} is {batch.status}")
    for item in batch_items(db, batch):
        item.live = None
    batch.status = "cancelled"
    db.flush()
    return batch


def payroll_export(db: Session, batch: PayoutBatch) -> str:
    """The CSV a payroll system imports for a payroll transfer: one row per teacher."""
    if batch.method != "payroll_transfer":
        raise RuleBroken("not_payroll", f"batch {batch.id} is a {batch.method}")
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["batch", "staff_id", "name", "pay_line", "year_month", "amount"])
    for item in batch_items(db, batch):
        line = db.get(PayLine, item.source_id)
        writer.writerow(
            [
                batch.id,
                line.staff_id,
                item.payee,
                line.id,
                f"{line.year}-{line.month:02d}",
                format_fen(item.amount),
            ]
        )
    return out.getvalue()
