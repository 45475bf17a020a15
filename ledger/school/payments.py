"""Household payments, household credit, refunds and returned payments.

Fees are collected by the school: a payment is received only into the
school's bank account 1002 — into any other account (a vendor's, a third
party's) it is refused (不得由第三方代收费). A payment settles the invoice its
reference names, then the oldest open invoices; whatever is left is household
credit (2241)::

    Dr 1002           Bank                        amount
    Cr 1122.H<id>     Receivable: household       what settled invoices
    Cr 2241.H<id>     Household credit            the rest

Household credit can be applied to open invoices (``Dr 2241.H / Cr 1122.H``,
:func:`apply_household_credit`) or refunded on request, never more than the
household holds (``Dr 2241.H / Cr 1002``, :func:`refund_credit`).

A bounced or returned payment (:func:`return_payment`) is undone by reversing
its entry: its allocations stop counting, so the invoices it settled reopen
(``issued`` or ``partially_paid``). Where a credit note had since sent part
of such an invoice to household credit because the invoice looked paid, that
credit is taken back onto the invoice (``Dr 2241.H / Cr 1122.H``); where the
household credit the payment created has meanwhile been applied to other
invoices, those applications are undone (reversed) first, newest first. If
it has been refunded in cash, the return is refused: the household then owes
the school money outside any invoice, which finance settles by hand.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger import books

from .errors import Conflict, NotFound, RuleBroken
from .models import (
    CreditApplication,
    Household,
    Invoice,
    InvoiceCancellation,
    Payment,
    PaymentAllocation,
    PaymentReturn,
    Refund,
    School,
    SubsidyReceipt,
)
from .receivables import (
    credit_applied_to,
    household_part_credited,
    invoice_outstanding,
    mark_overdue,
    paid_on_invoice,
    put_on_household_credit,
    refresh_status,
    refundable_from,
)
from .receivables import open_invoices as _open_invoices
from .structure import ensure_household_accounts_bulk, household_account, household_credit_account

__all__ = [
    "METHODS",
    "SCHOOL_BANK",
    "PaymentResult",
    "ReturnResult",
    "apply_household_credit",
    "credit_balance",
    "get_payment",
    "mark_overdue",
    "open_invoices",
    "paid_so_far",
    "receivable_balance",
    "record_payment",
    "post_credit_application",
    "refund_credit",
    "replayed_row",
    "return_payment",
]

#: Rows that record the entry they posted (``entry_id``), found again on a replay.
_Row = TypeVar("_Row", Refund, SubsidyReceipt)

SCHOOL_BANK = "1002"
#: Unidentified receipts (suspense): bank lines not yet matched to a household.
UNIDENTIFIED = "2299"
METHODS = ("bank_transfer", "wechat", "alipay", "cash", "card", "other")


@dataclass
class PaymentResult:
    payment: Payment
    allocations: list[tuple[str, int]]
    credit: int
    replayed: bool


def open_invoices(db: Session, school: School, household_id: int) -> list[Invoice]:
    """The household's invoices at the school that are not settled, oldest first."""
    return _open_invoices(db, school, household_id)


def paid_so_far(db: Session, invoice: Invoice) -> int:
    """Payments allocated to the invoice (returned payments no longer count)."""
    return paid_on_invoice(db, invoice)


def _balance(db: Session, school: School, code: str) -> int:
    account = db.scalar(
        select(books.Account).where(
            books.Account.book_id == school.book_id, books.Account.code == code
        )
    )
    return 0 if account is None else books.account_balance(db, account).balance


def credit_balance(db: Session, school: School, household_id: int) -> int:
    """Household credit held at the school (2241.H), as a positive number of fen."""
    return -_balance(db, school, household_credit_account(household_id))


def receivable_balance(db: Session, school: School, household_id: int) -> int:
    """What the household owes the school (1122.H), in fen."""
    return _balance(db, school, household_account(household_id))


def _check_household(school: School, household: Household) -> None:
    if household.district_id != school.district_id:
        raise NotFound(f"no household {household.id} at school {school.code}")


def _check_method(method: str) -> None:
    if method not in METHODS:
        raise RuleBroken(
            "invalid_method", f"method must be one of {', '.join(METHODS)}", field="method"
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
    from_suspense_on: dt.date | None = None,
) -> PaymentResult:
    """Record a household payment into the school's bank account and settle invoices with it.

    The invoice numbered ``reference`` first, then the oldest open invoices;
    the rest becomes household credit. Refused: any account but 1002
    (``payment_not_to_school_account``), a non-positive amount
    (``invalid_amount``), an unknown method (``invalid_method``).

    With ``from_suspense_on``, the money reached the bank earlier and has been
    waiting in unidentified receipts (2299, posted ``Dr 1002 / Cr 2299`` when
    the bank line was imported): the entry, dated ``from_suspense_on``, moves
    it from there (``Dr 2299``) instead of debiting the bank a second time;
    the payment keeps ``received_on`` as the day the bank received it.
    """
    if received_into != SCHOOL_BANK:
        raise RuleBroken(
            "payment_not_to_school_account",
            f"household payments are received only into the school's bank account "
            f"{SCHOOL_BANK}, not {received_into!r}: no vendor or third party collects fees",
            field="received_into",
        )
    if amount <= 0:
        raise RuleBroken("invalid_amount", "a payment must be positive", field="amount")
    _check_method(method)
    _check_household(school, household)
    # Lock the book before reading what is owed: two payments of one household at once
    # would otherwise both settle the same invoice (and both open its accounts).
    books.hold_book(db, school.book_id)
    if idempotency_key is not None:
        # The same request sent again while the first held the lock: its payment, not a
        # second one (allocations read now differ, so the engine would see other content).
        earlier = db.scalar(
            select(Payment)
            .join(books.Entry, books.Entry.id == Payment.entry_id)
            .where(
                books.Entry.book_id == school.book_id,
                books.Entry.idempotency_key == idempotency_key,
            )
        )
        if earlier is not None and (
            earlier.household_id,
            earlier.amount,
            earlier.received_on,
            earlier.method,
            earlier.reference,
        ) == (household.id, amount, received_on, method, reference):
            return PaymentResult(earlier, [], 0, True)
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
        due = invoice_outstanding(db, invoice)
        if due <= 0:
            continue
        part = min(due, left)
        allocations.append((invoice, part))
        left -= part
    settled = amount - left
    debit = SCHOOL_BANK if from_suspense_on is None else UNIDENTIFIED
    postings = [books.PostingDraft(debit, amount)]
    if settled:
        postings.append(books.PostingDraft(household_account(household.id), -settled))
    if left:
        postings.append(books.PostingDraft(household_credit_account(household.id), -left))
    posted = books.post_entry(
        db,
        school.book_id,
        books.EntryDraft(
            effective_date=received_on if from_suspense_on is None else from_suspense_on,
            memo=f"缴费 {household.name} payment ({method}{', ' + reference if reference else ''})"
            + ("" if from_suspense_on is None else f", 认领 received {received_on} via 2299"),
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
        refresh_status(db, invoice)
    db.flush()
    return PaymentResult(payment, [(i.number, part) for i, part in allocations], left, False)


def get_payment(db: Session, school: School, payment_id: int) -> Payment:
    payment = db.get(Payment, payment_id)
    if payment is None or payment.school_id != school.id:
        raise NotFound(f"no payment {payment_id} at school {school.code}")
    return payment


# --------------------------------------------------------------------------- household credit


def post_credit_application(
    db: Session,
    school: School,
    invoice: Invoice,
    amount: int,
    *,
    reason: str,
    on: dt.date,
    actor: str,
    source_invoice: Invoice | None = None,
    payment: Payment | None = None,
) -> CreditApplication:
    """Apply ``amount`` of household credit to one invoice: ``Dr 2241.H / Cr 1122.H``.

    The building block of :func:`apply_household_credit`, of carrying what was
    paid on a cancelled invoice to its reissue and of returned payments; it
    checks nothing but the amount, so callers check what may be applied.
    """
    if amount <= 0:
        raise RuleBroken("invalid_amount", "credit applied must be positive", field="amount")
    household_id = invoice.household_id
    memo = {
        "apply": f"预收抵缴 household credit applied to invoice {invoice.number}",
        "reissue": f"预收抵缴 paid on cancelled invoice "
        f"{source_invoice.number if source_invoice else '?'} carried to {invoice.number}",
        "return": f"退票冲回 credit taken back onto invoice {invoice.number} "
        f"(payment {payment.id if payment else '?'} returned)",
    }[reason]
    posted = books.post_entry(
        db,
        school.book_id,
        books.EntryDraft(
            effective_date=on,
            memo=memo,
            kind="adjustment",
            source_ref=f"invoice:{invoice.id}",
            postings=[
                books.PostingDraft(household_credit_account(household_id), amount),
                books.PostingDraft(household_account(household_id), -amount),
            ],
        ),
        actor=actor,
    )
    application = CreditApplication(
        school_id=school.id,
        household_id=household_id,
        invoice_id=invoice.id,
        amount=amount,
        reason=reason,
        source_invoice_id=source_invoice.id if source_invoice else None,
        payment_id=payment.id if payment else None,
        entry_id=posted.entry_id,
        applied_by=actor,
    )
    db.add(application)
    db.flush()
    refresh_status(db, invoice)
    return application


def apply_household_credit(
    db: Session,
    school: School,
    household: Household,
    *,
    on: dt.date,
    actor: str,
    amount: int | None = None,
    invoice: Invoice | None = None,
) -> list[CreditApplication]:
    """Apply the household's credit (2241) to its open invoices: the named one, then oldest first.

    At most ``amount`` (default: all the credit held), never more than the
    credit held (``credit_exceeds_balance``) or than the invoices still ask
    for. Returns one application per invoice settled; none when there is no
    credit or nothing is owed.
    """
    _check_household(school, household)
    held = credit_balance(db, school, household.id)
    if amount is None:
        amount = held
    elif amount <= 0:
        raise RuleBroken("invalid_amount", "credit applied must be positive", field="amount")
    elif amount > held:
        raise RuleBroken(
            "credit_exceeds_balance",
            f"the household holds {held} fen of credit, not {amount}",
            field="amount",
        )
    invoices = open_invoices(db, school, household.id)
    if invoice is not None:
        if invoice.household_id != household.id or invoice.school_id != school.id:
            raise NotFound(f"no invoice {invoice.number} for household {household.id}")
        if invoice.status not in ("issued", "partially_paid", "overdue"):
            raise Conflict(
                "invoice_not_open", f"invoice {invoice.number} is {invoice.status}", field="invoice"
            )
        invoices = [invoice] + [i for i in invoices if i.id != invoice.id]
    out = []
    left = amount
    for target in invoices:
        if left <= 0:
            break
        part = min(left, invoice_outstanding(db, target))
        if part <= 0:
            continue
        out.append(
            post_credit_application(db, school, target, part, reason="apply", on=on, actor=actor)
        )
        left -= part
    return out


def refund_credit(
    db: Session,
    school: School,
    household: Household,
    *,
    amount: int,
    paid_on: dt.date,
    method: str,
    actor: str,
    reference: str | None = None,
    invoice: Invoice | None = None,
    paid_from: str = SCHOOL_BANK,
    idempotency_key: str | None = None,
) -> Refund:
    """Pay household credit back on request (多退): ``Dr 2241.H / Cr 1002``.

    Never more than the credit the household holds at the school
    (``refund_exceeds_credit``); only out of the school's bank account
    (``refund_not_from_school_account``). A refund may name the invoice whose
    credit it returns, and then may not exceed what that invoice put on
    household credit and is still unspent (``refund_exceeds_invoice_credit``);
    once an invoice that was credited back in full has all its credit
    refunded, its status becomes ``refunded``. With an idempotency key a
    repeat returns the first refund.
    """
    if paid_from != SCHOOL_BANK:
        raise RuleBroken(
            "refund_not_from_school_account",
            f"refunds are paid only from the school's bank account {SCHOOL_BANK}",
            field="paid_from",
        )
    if amount <= 0:
        raise RuleBroken("invalid_amount", "a refund must be positive", field="amount")
    _check_method(method)
    _check_household(school, household)
    draft = books.EntryDraft(
        effective_date=paid_on,
        memo=f"退费 refund to {household.name} ({method}{', ' + reference if reference else ''})",
        kind="refund",
        source_ref=f"household:{household.id}",
        idempotency_key=idempotency_key,
        postings=[
            books.PostingDraft(household_credit_account(household.id), amount),
            books.PostingDraft(SCHOOL_BANK, -amount),
        ],
    )
    earlier = replayed_row(db, school, draft, Refund, actor)
    if earlier is not None:
        return earlier
    held = credit_balance(db, school, household.id)
    if amount > held:
        raise RuleBroken(
            "refund_exceeds_credit",
            f"the household holds {held} fen of credit; {amount} fen cannot be refunded",
            field="amount",
        )
    if invoice is not None:
        if invoice.household_id != household.id or invoice.school_id != school.id:
            raise NotFound(f"no invoice {invoice.number} for household {household.id}")
        unspent = refundable_from(db, invoice)
        if amount > unspent:
            raise RuleBroken(
                "refund_exceeds_invoice_credit",
                f"invoice {invoice.number} put {max(unspent, 0)} fen of unspent credit on the "
                f"household's account; {amount} fen cannot be refunded against it",
                field="amount",
            )
    posted = books.post_entry(db, school.book_id, draft, actor=actor)
    refund = Refund(
        school_id=school.id,
        household_id=household.id,
        amount=amount,
        paid_on=paid_on,
        method=method,
        reference=reference,
        invoice_id=invoice.id if invoice else None,
        paid_from=paid_from,
        entry_id=posted.entry_id,
        recorded_by=actor,
    )
    db.add(refund)
    db.flush()
    if invoice is not None:
        _mark_refunded(db, invoice)
    return refund


def _mark_refunded(db: Session, invoice: Invoice) -> None:
    reissued = db.scalar(
        select(InvoiceCancellation.id).where(
            InvoiceCancellation.invoice_id == invoice.id,
            InvoiceCancellation.reissued_as_id.is_not(None),
        )
    )
    if (
        reissued is None
        and invoice.status != "refunded"
        and put_on_household_credit(db, invoice) > 0
        and household_part_credited(db, invoice) >= invoice.amount
        and refundable_from(db, invoice) == 0
    ):
        invoice.status = "refunded"
        db.flush()


def replayed_row(
    db: Session, school: School, draft: books.EntryDraft, model: type[_Row], actor: str
) -> _Row | None:
    """The row recorded for ``draft`` when its idempotency key was posted before, else None.

    The engine compares the content: the same key with other content is
    refused (``idempotency_key_reused``).
    """
    if draft.idempotency_key is None:
        return None
    known = db.scalar(
        select(books.Entry.id).where(
            books.Entry.book_id == school.book_id,
            books.Entry.idempotency_key == draft.idempotency_key,
        )
    )
    if known is None:
        return None
    posted = books.post_entry(db, school.book_id, draft, actor=actor)  # a replay: writes nothing
    row = db.scalar(select(model).where(model.entry_id == posted.entry_id))
    if row is None:
        raise Conflict(
            "idempotency_key_reused",
            f"idempotency key {draft.idempotency_key!r} was used for another kind of entry",
            field="Idempotency-Key",
        )
    return row


# --------------------------------------------------------------------------- returned payments


@dataclass
class ReturnResult:
    payment: Payment
    returned: PaymentReturn
    #: ``(invoice number, status, outstanding)`` of every invoice the return touched.
    reopened: list[tuple[str, str, int]] = field(default_factory=list)
    #: Applications of household credit undone because the returned money had paid for them.
    undone: list[CreditApplication] = field(default_factory=list)
    #: Credit taken back onto invoices that credit notes had settled into 2241.
    taken_back: list[CreditApplication] = field(default_factory=list)
    replayed: bool = False


def return_payment(
    db: Session,
    payment: Payment,
    *,
    returned_on: dt.date,
    reason: str,
    actor: str,
    idempotency_key: str | None = None,
) -> ReturnResult:
    """A bounced or returned payment: reverse its entry and reopen what it settled.

    ``books.reverse_entry`` mirrors the payment (``Dr 1122.H`` what settled
    invoices, ``Dr 2241.H`` what became credit, ``Cr 1002``); the payment is
    marked returned and its allocations no longer count, so each invoice it
    settled goes back to ``issued`` or ``partially_paid`` (an overdue one
    stays overdue). Two corrections keep every invoice and the household's
    accounts right (see the module docstring): credit that a later credit
    note put on 2241 because an invoice looked paid is taken back onto that
    invoice, and applications of household credit that the returned money had
    paid for are undone, newest first.

    Refused, with nothing written: a payment returned before
    (``payment_already_returned``), no reason (``reason_required``), and
    household credit from this payment that has been refunded since
    (``returned_payment_credit_refunded``).
    """
    school = db.get(School, payment.school_id)
    earlier = db.scalar(select(PaymentReturn).where(PaymentReturn.payment_id == payment.id))
    if earlier is not None:
        entry = db.get(books.Entry, earlier.entry_id)
        if idempotency_key is not None and entry.idempotency_key == idempotency_key:
            return ReturnResult(payment, earlier, replayed=True)
        raise Conflict(
            "payment_already_returned",
            f"payment {payment.id} was returned on {earlier.returned_on}",
        )
    if not reason or not reason.strip():
        raise RuleBroken("reason_required", "say why the payment came back", field="reason")

    # Plan everything before writing anything.
    allocations = list(
        db.execute(
            select(PaymentAllocation, Invoice)
            .join(Invoice, Invoice.id == PaymentAllocation.invoice_id)
            .where(PaymentAllocation.payment_id == payment.id)
            .order_by(Invoice.issued_on, Invoice.seq)
        ).all()
    )
    left = payment.amount - sum(a.amount for a, _ in allocations)
    take_back: list[tuple[Invoice, int]] = []
    for allocation, invoice in allocations:
        owed_after = invoice_outstanding(db, invoice) + allocation.amount
        on_credit = put_on_household_credit(db, invoice) - _taken_back(db, invoice)
        part = min(allocation.amount, owed_after, max(on_credit, 0))
        if part > 0:
            take_back.append((invoice, part))
    need = left + sum(part for _, part in take_back)
    short = need - credit_balance(db, school, payment.household_id)
    to_undo: list[CreditApplication] = []
    if short > 0:
        for application in db.scalars(
            select(CreditApplication)
            .where(
                CreditApplication.school_id == school.id,
                CreditApplication.household_id == payment.household_id,
                CreditApplication.reason.in_(("apply", "reissue")),
                CreditApplication.undone_entry_id.is_(None),
            )
            .order_by(CreditApplication.id.desc())
        ):
            if short <= 0:
                break
            to_undo.append(application)
            short -= application.amount
    if short > 0:
        raise RuleBroken(
            "returned_payment_credit_refunded",
            f"{short} fen of the household credit that payment {payment.id} created has been "
            "refunded; the household owes that outside any invoice — settle it by hand",
            field="payment",
        )

    reversal = books.reverse_entry(
        db,
        school.book_id,
        payment.entry_id,
        effective_date=returned_on,
        actor=actor,
        memo=f"退票 payment {payment.id} returned: {reason.strip()}",
        idempotency_key=idempotency_key,
    )
    payment.returned_entry_id = reversal.entry_id
    returned = PaymentReturn(
        payment_id=payment.id,
        returned_on=returned_on,
        reason=reason.strip(),
        entry_id=reversal.entry_id,
        returned_by=actor,
    )
    db.add(returned)
    db.flush()
    result = ReturnResult(payment, returned)
    touched: dict[int, Invoice] = {invoice.id: invoice for _, invoice in allocations}
    for application in to_undo:
        undo = books.reverse_entry(
            db,
            school.book_id,
            application.entry_id,
            effective_date=returned_on,
            actor=actor,
            memo=f"撤销抵缴 credit application {application.id} undone: payment {payment.id} "
            "returned",
        )
        application.undone_entry_id = undo.entry_id
        db.flush()
        result.undone.append(application)
        touched[application.invoice_id] = db.get(Invoice, application.invoice_id)
    for invoice, part in take_back:
        result.taken_back.append(
            post_credit_application(
                db,
                school,
                invoice,
                part,
                reason="return",
                on=returned_on,
                actor=actor,
                payment=payment,
            )
        )
    for invoice in sorted(touched.values(), key=lambda i: (i.issued_on, i.seq)):
        status = refresh_status(db, invoice)
        result.reopened.append((invoice.number, status, invoice_outstanding(db, invoice)))
    return result


def _taken_back(db: Session, invoice: Invoice) -> int:
    return credit_applied_to(db, invoice, reasons=("return",))
