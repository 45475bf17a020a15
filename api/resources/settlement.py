"""Settling invoices: refunds, returned payments, cancel and reissue, late-waiver credits,
small-balance write-offs, and marking invoices overdue.

Every route that posts money requires an ``Idempotency-Key``; a retry with the
same key answers 200 with the first result instead of being refused or
posting twice.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import current_app
from flask.views import MethodView
from sqlalchemy import select

from ledger.books.errors import NotFound
from ledger.school import cancellations, credits, payments, receivables, writeoffs
from ledger.school.models import (
    CreditApplication,
    Invoice,
    InvoiceCancellation,
    Payment,
    PaymentReturn,
    Student,
    WaiverGrant,
    WriteOff,
)

from .. import audit, replay
from ..auth import actor, roles
from ..config import write_off_limit_fen
from ..database import session
from ..models import Role
from ..school_schemas import CreditList
from ..scope import household_in_scope, school_by_id_in_scope, school_in_scope
from ..settlement_schemas import (
    CancelIn,
    CancelOut,
    CreditApplyIn,
    CreditApplyOut,
    LateWaiverIn,
    OverdueIn,
    OverdueOut,
    RefundIn,
    RefundOut,
    ReissueIn,
    ReissueOut,
    ReturnIn,
    ReturnOut,
    WriteOffDecisionIn,
    WriteOffIn,
    WriteOffOut,
)
from . import Blueprint
from .billing import _invoice_view
from .books import _idempotency_key

blp = Blueprint(
    "settlement",
    __name__,
    url_prefix="/api/v1",
    description="Refunds, returned payments, cancel and reissue, late waivers, write-offs, overdue",
)

REPLAYED = "Replay of an earlier request with the same Idempotency-Key"


# --------------------------------------------------------------------------- refunds


@blp.route("/schools/<school>/refunds")
class Refunds(MethodView):
    @roles(Role.FINANCE)
    @blp.arguments(RefundIn)
    @blp.response(201, RefundOut)
    @blp.alt_response(200, schema=RefundOut, description=REPLAYED)
    def post(self, data: dict[str, Any], school: str) -> Any:
        """Refund household credit on request (多退): ``Dr 2241.H / Cr 1002``.

        Never more than the credit the household holds at the school
        (``refund_exceeds_credit``), only from the school's bank account
        (``refund_not_from_school_account``); naming an ``invoice`` limits it
        to the unspent credit that invoice created (``refund_exceeds_invoice_credit``).
        Requires ``Idempotency-Key``.
        """
        s = school_in_scope(session(), school)
        key = _idempotency_key(required=True)
        household = household_in_scope(session(), data["household"])
        invoice = (
            cancellations.get_invoice(session(), s, data["invoice"]) if data["invoice"] else None
        )
        entry_key = f"refund:{key}"
        replayed = replay.entry_exists(s.book_id, entry_key)
        refund = payments.refund_credit(
            session(),
            s,
            household,
            amount=data["amount"],
            paid_on=data["paid_on"],
            method=data["method"],
            reference=data["reference"],
            invoice=invoice,
            paid_from=data["paid_from"],
            actor=actor(),
            idempotency_key=entry_key,
        )
        view = {
            "id": refund.id,
            "household": refund.household_id,
            "amount": refund.amount,
            "paid_on": refund.paid_on,
            "method": refund.method,
            "reference": refund.reference,
            "invoice": session().get(Invoice, refund.invoice_id).number
            if refund.invoice_id
            else None,
            "entry": refund.entry_id,
            "credit_left": payments.credit_balance(session(), s, household.id),
        }
        if replayed:
            session().rollback()
            return view, 200
        audit.commit("refund.record", f"school:{school}/refund:{refund.id}", {"key": key})
        return view


# --------------------------------------------------------------------------- credit applied


def _applications_view(s: Any, household_id: int, ids: list[int]) -> dict[str, Any]:
    rows = [session().get(CreditApplication, i) for i in ids]
    items = [
        {
            "id": a.id,
            "invoice": session().get(Invoice, a.invoice_id).number,
            "amount": a.amount,
            "entry": a.entry_id,
        }
        for a in rows
    ]
    return {
        "household": household_id,
        "items": items,
        "applied": sum(a.amount for a in rows),
        "credit_left": payments.credit_balance(session(), s, household_id),
    }


@blp.route("/schools/<school>/credit-applications")
class ApplyCredit(MethodView):
    @roles(Role.FINANCE)
    @blp.arguments(CreditApplyIn)
    @blp.response(201, CreditApplyOut)
    @blp.alt_response(200, schema=CreditApplyOut, description=REPLAYED)
    def post(self, data: dict[str, Any], school: str) -> Any:
        """Apply household credit (2241) to open invoices (预收抵缴): ``Dr 2241.H / Cr 1122.H``.

        The named ``invoice`` first, then the oldest open ones; at most
        ``amount`` (default: all the credit held) and never more than the
        household holds (``credit_exceeds_balance``) or its invoices still ask
        for. An empty list when there is nothing to apply. Requires
        ``Idempotency-Key``; a retry answers 200 with the first result.
        """
        s = school_in_scope(session(), school)
        key = _idempotency_key(required=True)
        household = household_in_scope(session(), data["household"])
        target = f"school:{school}/household:{household.id}"
        for detail in replay.details("credit.apply", target, key):
            return _applications_view(s, household.id, detail.get("applications", [])), 200
        invoice = (
            cancellations.get_invoice(session(), s, data["invoice"]) if data["invoice"] else None
        )
        applied = payments.apply_household_credit(
            session(),
            s,
            household,
            on=data["on"],
            actor=actor(),
            amount=data["amount"],
            invoice=invoice,
        )
        ids = [a.id for a in applied]
        view = _applications_view(s, household.id, ids)
        audit.commit("credit.apply", target, {"key": key, "applications": ids})
        return view


# --------------------------------------------------------------------------- returned payments


def _payment_in_scope(payment_id: int) -> Payment:
    payment = session().get(Payment, payment_id)
    if payment is None:
        raise NotFound(f"no payment {payment_id}")
    try:
        school_by_id_in_scope(session(), payment.school_id)
    except NotFound:
        raise NotFound(f"no payment {payment_id}") from None
    return payment


@blp.route("/payments/<int:payment_id>/return")
class ReturnPayment(MethodView):
    @roles(Role.FINANCE)
    @blp.arguments(ReturnIn)
    @blp.response(201, ReturnOut)
    @blp.alt_response(200, schema=ReturnOut, description=REPLAYED)
    def post(self, data: dict[str, Any], payment_id: int) -> Any:
        """A bounced or returned payment (退票): its entry is reversed and its invoices reopen.

        Household credit the payment created is taken back (undoing later
        applications of it, newest first). Requires ``Idempotency-Key``.
        Refused: ``payment_already_returned``, ``reason_required``,
        ``returned_payment_credit_refunded`` (its credit was refunded in cash).
        """
        payment = _payment_in_scope(payment_id)
        key = _idempotency_key(required=True)
        result = payments.return_payment(
            session(),
            payment,
            returned_on=data["returned_on"],
            reason=data["reason"],
            actor=actor(),
            idempotency_key=f"return:{key}",
        )
        if result.replayed:
            view = _return_view(payment, result.returned)
            session().rollback()
            return view, 200
        view = _return_view(payment, result.returned, result)
        audit.commit("payment.return", f"payment:{payment.id}", {"key": key})
        return view


def _return_view(
    payment: Payment, returned: PaymentReturn, result: payments.ReturnResult | None = None
) -> dict[str, Any]:
    from ledger.school.models import PaymentAllocation

    if result is not None:
        reopened = result.reopened
        undone = [a.id for a in result.undone]
        taken_back = sum(a.amount for a in result.taken_back)
    else:  # a replay: the invoices as they stand now
        invoices = session().scalars(
            select(Invoice)
            .join(PaymentAllocation, PaymentAllocation.invoice_id == Invoice.id)
            .where(PaymentAllocation.payment_id == payment.id)
            .order_by(Invoice.issued_on, Invoice.seq)
        )
        reopened = [
            (i.number, i.status, receivables.invoice_outstanding(session(), i)) for i in invoices
        ]
        undone, taken_back = [], 0
    return {
        "payment": payment.id,
        "amount": payment.amount,
        "returned_on": returned.returned_on,
        "reason": returned.reason,
        "entry": returned.entry_id,
        "reopened": [{"invoice": n, "status": st, "outstanding": o} for n, st, o in reopened],
        "undone": undone,
        "taken_back": taken_back,
    }


# --------------------------------------------------------------------------- cancel, reissue


def _cancel_view(invoice: Invoice) -> dict[str, Any]:
    c = session().scalar(
        select(InvoiceCancellation).where(InvoiceCancellation.invoice_id == invoice.id)
    )
    return {
        "invoice": _invoice_view(invoice),
        "cancelled_on": c.cancelled_on,
        "reason": c.reason,
        "cancelled_by": c.cancelled_by,
    }


@blp.route("/schools/<school>/invoices/<number>/cancel")
class CancelInvoice(MethodView):
    @roles(Role.FINANCE)
    @blp.arguments(CancelIn)
    @blp.response(201, CancelOut)
    @blp.alt_response(200, schema=CancelOut, description=REPLAYED)
    def post(self, data: dict[str, Any], school: str, number: str) -> Any:
        """Cancel an invoice (作废): every charge on it is credited in full, dated ``on``.

        Revenue and the government's and school's receivables go back as
        charged; what the household had paid becomes household credit. The
        invoice keeps its number, status ``cancelled``. Requires
        ``Idempotency-Key``. Refused: ``invoice_already_cancelled``,
        ``reason_required``, ``period_closed``.
        """
        s = school_in_scope(session(), school)
        key = _idempotency_key(required=True)
        invoice = cancellations.get_invoice(session(), s, number)
        target = f"school:{school}/invoice:{number}"
        if replay.seen("invoice.cancel", target, key):
            return _cancel_view(invoice), 200
        cancellations.cancel_invoice(
            session(), invoice, on=data["on"], reason=data["reason"], actor=actor()
        )
        view = _cancel_view(invoice)
        audit.commit("invoice.cancel", target, {"key": key, "on": data["on"].isoformat()})
        return view


def _reissue_view(cancelled: Invoice) -> dict[str, Any]:
    from ledger.school.models import ChargeRecord

    c = session().scalar(
        select(InvoiceCancellation).where(InvoiceCancellation.invoice_id == cancelled.id)
    )
    new = session().get(Invoice, c.reissued_as_id)
    carried = sum(a.amount for a in cancellations.carried_to(session(), cancelled))
    charges = len(
        list(session().scalars(select(ChargeRecord.id).where(ChargeRecord.invoice_id == new.id)))
    )
    return {
        "cancelled": cancelled.number,
        "invoice": _invoice_view(new),
        "charges": charges,
        "carried": carried,
    }


@blp.route("/schools/<school>/invoices/<number>/reissue")
class ReissueInvoice(MethodView):
    @roles(Role.FINANCE)
    @blp.arguments(ReissueIn)
    @blp.response(201, ReissueOut)
    @blp.alt_response(200, schema=ReissueOut, description=REPLAYED)
    def post(self, data: dict[str, Any], school: str, number: str) -> Any:
        """Reissue a cancelled invoice (重开): its enrolments billed afresh on a new invoice.

        The charges are computed with what is known today (a waiver approved
        since, a corrected start date); what the household had paid on the
        cancelled invoice is carried to the new one. Requires
        ``Idempotency-Key``. Refused: ``invoice_not_cancelled``,
        ``invoice_already_reissued``, ``term_closed``, ``period_closed``,
        ``nothing_to_reissue``, ``household_changed``.
        """
        s = school_in_scope(session(), school)
        key = _idempotency_key(required=True)
        invoice = cancellations.get_invoice(session(), s, number)
        target = f"school:{school}/invoice:{number}"
        if replay.seen("invoice.reissue", target, key):
            return _reissue_view(invoice), 200
        result = cancellations.reissue_invoice(
            session(),
            invoice,
            issued_on=data["issued_on"],
            due_days=data["due_days"],
            actor=actor(),
        )
        view = {
            "cancelled": invoice.number,
            "invoice": _invoice_view(result.invoice),
            "charges": len(result.charges),
            "carried": result.carried,
        }
        audit.commit("invoice.reissue", target, {"key": key, "reissued_as": result.invoice.number})
        return view


# --------------------------------------------------------------------------- late waivers


@blp.route("/waivers/<int:waiver_id>/credit")
class CreditLateWaiver(MethodView):
    @roles(Role.FINANCE)
    @blp.arguments(LateWaiverIn)
    @blp.response(201, CreditList)
    @blp.alt_response(200, schema=CreditList, description=REPLAYED)
    def post(self, data: dict[str, Any], waiver_id: int) -> Any:
        """Credit an approved waiver for the periods already billed that it covers.

        For each of the student's charges overlapping the waiver's dates, the
        waived parent share not yet given moves from the household to whoever
        the policy says covers it. Running it again credits nothing new.
        Requires ``Idempotency-Key``. Refused: ``waiver_not_approved``,
        ``period_closed``.
        """
        waiver = session().get(WaiverGrant, waiver_id)
        if waiver is None:
            raise NotFound(f"no waiver {waiver_id}")
        student = session().get(Student, waiver.student_id)
        try:
            school_by_id_in_scope(session(), student.school_id)
        except NotFound:
            raise NotFound(f"no waiver {waiver_id}") from None
        key = _idempotency_key(required=True)
        target = f"waiver:{waiver.id}"
        if replay.seen("waiver.credit", target, key):
            return {"items": _waiver_credits(waiver)}, 200
        records = credits.credit_late_waiver(
            session(), waiver, actor=actor(), effective=data["effective"]
        )
        view = {"items": records}
        audit.commit("waiver.credit", target, {"key": key, "credits": len(records)})
        return view


def _waiver_credits(waiver: WaiverGrant) -> list[Any]:
    from ledger.school.models import CreditRecord

    return list(
        session().scalars(
            select(CreditRecord)
            .where(
                CreditRecord.reason == "waiver",
                CreditRecord.detail.like(f"waiver {waiver.id} %"),
            )
            .order_by(CreditRecord.id)
        )
    )


# --------------------------------------------------------------------------- write-offs


def _write_off_view(w: WriteOff) -> dict[str, Any]:
    return {
        "id": w.id,
        "household": w.household_id,
        "amount": w.amount,
        "limit": w.limit_amount,
        "reason": w.reason,
        "status": w.status,
        "requested_by": w.requested_by,
        "decided_by": w.decided_by,
        "written_off_on": w.written_off_on,
        "entry": w.entry_id,
        "lines": [
            {"invoice": session().get(Invoice, line.invoice_id).number, "amount": line.amount}
            for line in writeoffs.write_off_lines(session(), w)
        ],
    }


@blp.route("/schools/<school>/write-offs")
class WriteOffs(MethodView):
    @roles(Role.FINANCE)
    @blp.arguments(WriteOffIn)
    @blp.response(201, WriteOffOut)
    def post(self, data: dict[str, Any], school: str) -> Any:
        """Ask to write off a small balance a household still owes (少不补), to 5901.

        Nothing is posted until another finance user approves it. At most
        the configured limit (``KEHOU_WRITE_OFF_LIMIT``, 10.00 unless set),
        never more than is owed. Refused: ``nothing_to_write_off``,
        ``write_off_exceeds_receivable``, ``write_off_above_limit``,
        ``reason_required``.
        """
        s = school_in_scope(session(), school)
        household = household_in_scope(session(), data["household"])
        w = writeoffs.request_write_off(
            session(),
            s,
            household,
            reason=data["reason"],
            amount=data["amount"],
            actor=actor(),
            limit=write_off_limit_fen(current_app.config),
        )
        view = _write_off_view(w)
        audit.commit("write_off.request", f"school:{school}/write-off:{w.id}")
        return view


def _write_off_in_scope(write_off_id: int) -> WriteOff:
    w = session().get(WriteOff, write_off_id)
    if w is None:
        raise NotFound(f"no write-off {write_off_id}")
    try:
        school_by_id_in_scope(session(), w.school_id)
    except NotFound:
        raise NotFound(f"no write-off {write_off_id}") from None
    return w


@blp.route("/write-offs/<int:write_off_id>")
class OneWriteOff(MethodView):
    @roles(Role.FINANCE, Role.AUDITOR, Role.ADMIN)
    @blp.response(200, WriteOffOut)
    def get(self, write_off_id: int) -> Any:
        """A write-off: who asked, who decided, and the invoices it settled.

        Finance of the school, auditors and admins may read it.
        """
        return _write_off_view(_write_off_in_scope(write_off_id))


@blp.route("/write-offs/<int:write_off_id>/decide")
class DecideWriteOff(MethodView):
    @roles(Role.FINANCE)
    @blp.arguments(WriteOffDecisionIn)
    @blp.response(200, WriteOffOut)
    def post(self, data: dict[str, Any], write_off_id: int) -> Any:
        """Approve (posting ``Dr 5901 / Cr 1122.H``) or reject a write-off.

        The approver must not be the requester (``same_approver``); the rules
        are checked again against what is owed now. Requires
        ``Idempotency-Key``; a retry with the same key answers the decision as
        made. Refused: ``write_off_decided`` and the rules of the request.
        """
        w = _write_off_in_scope(write_off_id)
        key = _idempotency_key(required=True)
        target = f"write-off:{w.id}"
        if replay.seen("write_off.decide", target, key):
            return _write_off_view(w)
        writeoffs.decide_write_off(
            session(),
            w,
            approve=data["approve"],
            actor=actor(),
            on=data["on"] or dt.date.today(),
            limit=write_off_limit_fen(current_app.config),
        )
        view = _write_off_view(w)
        audit.commit("write_off.decide", target, {"key": key, "approve": data["approve"]})
        return view


# --------------------------------------------------------------------------- overdue


@blp.route("/schools/<school>/overdue")
class Overdue(MethodView):
    @roles(Role.FINANCE)
    @blp.arguments(OverdueIn)
    @blp.response(200, OverdueOut)
    def post(self, data: dict[str, Any], school: str) -> Any:
        """Mark the school's open invoices due before ``as_of`` with something owed as overdue.

        Returns the invoices marked now; running it again marks nothing new.
        """
        s = school_in_scope(session(), school)
        marked = receivables.mark_overdue(session(), s, as_of=data["as_of"])
        view = {"as_of": data["as_of"], "items": [_invoice_view(i) for i in marked]}
        audit.commit(
            "invoice.overdue",
            f"school:{school}",
            {"as_of": data["as_of"].isoformat(), "marked": [i.number for i in marked]},
        )
        return view
