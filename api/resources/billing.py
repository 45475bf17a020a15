"""Billing runs, invoices and household payments."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import g, jsonify
from flask.views import MethodView
from flask_smorest import abort
from redis.exceptions import RedisError
from sqlalchemy import select

from ledger.books.errors import NotFound
from ledger.school import billing, payments
from ledger.school.credits import invoice_outstanding
from ledger.school.models import Invoice, Payment, PaymentAllocation, School, Term

from .. import audit, queue
from ..auth import actor, roles
from ..database import session
from ..models import Role
from ..schemas import ListArgs
from ..school_schemas import (
    BillingRunIn,
    BillingRunOut,
    InvoiceOut,
    InvoicePage,
    PaymentIn,
    PaymentOut,
    PaymentPage,
)
from ..scope import household_in_scope, school_ids, school_in_scope
from . import Blueprint
from .books import _idempotency_key, _page
from .jobs import JobOut, job_out

blp = Blueprint(
    "billing", __name__, url_prefix="/api/v1", description="Billing runs, invoices, payments"
)


def _run_view(result: billing.BillingResult) -> dict[str, Any]:
    return {
        "run": result.run_id,
        "school": result.school,
        "period_kind": result.period_kind,
        "period_start": result.period_start,
        "period_end": result.period_end,
        "dry_run": result.dry_run,
        "already_billed": result.already_billed,
        "totals": result.totals,
        "charges": [
            {
                "enrolment": p.enrolment_id,
                "student": p.student_name,
                "household": p.household_id,
                "programme": p.programme_name,
                "unit": p.charge.unit.value,
                "period_days": p.charge.period_days,
                "enrolled_days": p.charge.enrolled_days,
                "cost": p.charge.cost,
                "government": p.charge.government_total,
                "school": p.charge.school_total,
                "parent": p.charge.parent,
                "waiver": p.charge.waiver,
                "household_due": p.charge.household,
                "waiver_reasons": p.waiver_reasons,
            }
            for p in result.charges
        ],
        "invoices": [{"household": h, "number": n, "amount": a} for h, n, a in result.invoices],
    }


@blp.route("/schools/<school>/billing-runs")
class BillingRuns(MethodView):
    @roles(Role.FINANCE)
    @blp.arguments(BillingRunIn)
    @blp.response(201, BillingRunOut)
    @blp.alt_response(200, schema=BillingRunOut, description="Dry run: nothing written")
    @blp.alt_response(202, schema=JobOut, description="Queued: follow the job's href")
    def post(self, data: dict[str, Any], school: str) -> Any:
        """Bill a term or one month of it. Idempotent: a period is never billed twice.

        Requires an ``Idempotency-Key`` header unless ``dry_run`` is true. With a
        queue (``KEHOU_QUEUE_URL``) the run goes to a worker and the answer is 202
        with the job (``GET /api/v1/jobs/<id>``); the same key returns the same job.
        """
        s = school_in_scope(session(), school)
        key = _idempotency_key(required=not data["dry_run"])
        term = session().get(Term, data["term"])
        if term is None or term.school_id != s.id:
            raise NotFound(f"no term {data['term']} at school {school}")
        month = None
        if data["month"]:
            year, mon = data["month"].split("-")
            month = (int(year), int(mon))
        use_queue = queue.is_configured() if data["queue"] is None else data["queue"]
        if use_queue and not data["dry_run"]:
            return _enqueue_run(data, school, key)
        result = billing.run_billing(
            session(),
            s,
            term,
            actor=actor(),
            month=month,
            issued_on=data["issued_on"] or dt.date.today(),
            due_days=data["due_days"],
            dry_run=data["dry_run"],
        )
        if data["dry_run"]:
            session().rollback()
            return _run_view(result), 200
        audit.commit(
            "billing.run",
            f"school:{school}/run:{result.run_id}",
            {"key": key, "charges": len(result.charges), "period": str(result.period_start)},
        )
        return _run_view(result)


def _enqueue_run(data: dict[str, Any], school: str, key: str | None) -> Any:
    """Send the run to the queue: 202 with the job, the same job for the same key."""
    if not queue.is_configured():
        abort(
            422,
            message="this server has no queue (KEHOU_QUEUE_URL): send queue false or leave it out",
            errors={"queue": ["no queue configured"]},
            code="queue_not_configured",
        )
    params = {
        "school": school,
        "term": data["term"],
        "month": data["month"],
        "issued_on": (data["issued_on"] or dt.date.today()).isoformat(),
        "due_days": data["due_days"],
        "key": key,
    }
    try:
        job, new = queue.enqueue(
            "billing.run",
            params,
            school=school,
            actor=actor(),
            job_id=queue.idempotent_job_id("billing.run", school, key or ""),
        )
    except RedisError:
        abort(
            503,
            message="the task queue (KEHOU_QUEUE_URL) does not answer; nothing was queued",
            code="queue_unavailable",
        )
    if new:
        audit.commit("billing.enqueue", f"school:{school}/job:{job.id}", {"key": key})
    body = job_out(job)
    # A Response of its own: flask-smorest would serialise a tuple with the 201 schema.
    response = jsonify(JobOut().dump(body))
    response.status_code = 202
    response.headers["Location"] = body["href"]
    return response


def _invoice_view(invoice: Invoice) -> dict[str, Any]:
    return {
        "number": invoice.number,
        "household_id": invoice.household_id,
        "period_start": invoice.period_start,
        "period_end": invoice.period_end,
        "issued_on": invoice.issued_on,
        "due_date": invoice.due_date,
        "amount": invoice.amount,
        "outstanding": max(0, invoice_outstanding(session(), invoice))
        if invoice.status != "cancelled"
        else 0,
        "status": invoice.status,
    }


def _invoice_page(q: Any, args: dict[str, Any]) -> dict[str, Any]:
    if args["cursor"] is not None:
        q = q.where(Invoice.id > int(args["cursor"]))
    rows = list(session().scalars(q.order_by(Invoice.id).limit(args["limit"] + 1)))
    return _page(rows, args["limit"], lambda i: i.id, lambda rs: [_invoice_view(i) for i in rs])


@blp.route("/schools/<school>/invoices")
class SchoolInvoices(MethodView):
    @roles(Role.FINANCE, Role.AUDITOR, Role.ADMIN)
    @blp.arguments(ListArgs, location="query")
    @blp.response(200, InvoicePage)
    def get(self, args: dict[str, Any], school: str) -> dict[str, Any]:
        s = school_in_scope(session(), school)
        return _invoice_page(select(Invoice).where(Invoice.school_id == s.id), args)


@blp.route("/schools/<school>/invoices/<number>")
class OneInvoice(MethodView):
    @roles(Role.FINANCE, Role.AUDITOR, Role.ADMIN, Role.PARENT)
    @blp.response(200, InvoiceOut)
    def get(self, school: str, number: str) -> dict[str, Any]:
        s = session().scalar(select(School).where(School.code == school))
        invoice = (
            session().scalar(
                select(Invoice).where(Invoice.school_id == s.id, Invoice.number == number)
            )
            if s
            else None
        )
        if invoice is None:
            raise NotFound(f"no invoice {number}")
        if g.user.role == Role.PARENT:
            household_in_scope(session(), invoice.household_id)
        else:
            school_in_scope(session(), school)
        return _invoice_view(invoice)


def _at_own_schools(q: Any, school_id: Any) -> Any:
    """A household is its district's, so finance of any of the district's schools may read it;
    its invoices and payments, though, only those at the caller's own schools."""
    if g.user.role == Role.FINANCE:
        q = q.where(school_id.in_(school_ids(session(), g.user) or set()))
    return q


@blp.route("/households/<int:household_id>/invoices")
class HouseholdInvoices(MethodView):
    @roles(Role.PARENT, Role.FINANCE, Role.AUDITOR, Role.ADMIN)
    @blp.arguments(ListArgs, location="query")
    @blp.response(200, InvoicePage)
    def get(self, args: dict[str, Any], household_id: int) -> dict[str, Any]:
        """A household's invoices: parents see only their own households; finance users only
        the invoices of their own schools."""
        h = household_in_scope(session(), household_id)
        q = select(Invoice).where(Invoice.household_id == h.id)
        return _invoice_page(_at_own_schools(q, Invoice.school_id), args)


@blp.route("/households/<int:household_id>/payments")
class HouseholdPayments(MethodView):
    @roles(Role.PARENT, Role.FINANCE, Role.AUDITOR, Role.ADMIN)
    @blp.arguments(ListArgs, location="query")
    @blp.response(200, PaymentPage)
    def get(self, args: dict[str, Any], household_id: int) -> dict[str, Any]:
        """A household's payments, oldest first, with the invoices each settled.

        Parents see only their own households, finance users only the payments
        at their own schools; a returned (bounced) payment
        shows ``returned: true`` and its allocations as they were.
        """
        h = household_in_scope(session(), household_id)
        q = _at_own_schools(select(Payment).where(Payment.household_id == h.id), Payment.school_id)
        if args["cursor"] is not None:
            q = q.where(Payment.id > int(args["cursor"]))
        rows = list(session().scalars(q.order_by(Payment.id).limit(args["limit"] + 1)))
        return _page(rows, args["limit"], lambda p: p.id, lambda rs: [_payment_row(p) for p in rs])


def _payment_row(p: Any) -> dict[str, Any]:
    allocations = (
        session()
        .execute(
            select(Invoice.number, PaymentAllocation.amount)
            .join(Invoice, Invoice.id == PaymentAllocation.invoice_id)
            .where(PaymentAllocation.payment_id == p.id)
            .order_by(Invoice.id)
        )
        .all()
    )
    return _payment_view(p, allocations)


@blp.route("/schools/<school>/payments")
class Payments(MethodView):
    @roles(Role.FINANCE)
    @blp.arguments(PaymentIn)
    @blp.response(201, PaymentOut)
    @blp.alt_response(200, schema=PaymentOut, description="Replay of an earlier request")
    def post(self, data: dict[str, Any], school: str) -> Any:
        """Record a household payment into the school's bank account.

        It settles the invoice its reference names, then the oldest open
        invoices; the rest is household credit. Requires ``Idempotency-Key``.
        """
        s = school_in_scope(session(), school)
        key = _idempotency_key(required=True)
        household = household_in_scope(session(), data["household"])
        if data["received_into"] != payments.SCHOOL_BANK:
            abort(
                422,
                message=(
                    "household payments are received only into the school's bank account "
                    f"{payments.SCHOOL_BANK}: no vendor or third party collects fees"
                ),
                errors={"received_into": ["must be 1002, the school's bank account"]},
                code="payment_not_to_school_account",
            )
        replay = _payment_replay(s, f"payment:{key}", data)
        if replay is not None:
            return replay, 200
        result = payments.record_payment(
            session(),
            s,
            household,
            amount=data["amount"],
            received_on=data["received_on"],
            method=data["method"],
            reference=data["reference"],
            actor=actor(),
            idempotency_key=f"payment:{key}",
        )
        p = result.payment
        view = _payment_view(p, result.allocations)
        if result.replayed:
            session().rollback()
            return view, 200
        audit.commit("payment.record", f"payment:{p.id}", {"key": key})
        return view


def _payment_replay(school: Any, key: str, data: dict[str, Any]) -> dict[str, Any] | None:
    """The payment an Idempotency-Key recorded before, or 409 if it was for other content."""
    from ledger.books import Entry
    from ledger.books.errors import IdempotencyConflict

    entry_id = session().scalar(
        select(Entry.id).where(Entry.book_id == school.book_id, Entry.idempotency_key == key)
    )
    if entry_id is None:
        return None
    p = session().scalar(select(Payment).where(Payment.entry_id == entry_id))
    same = p is not None and (
        p.household_id,
        p.amount,
        p.received_on,
        p.method,
        p.reference,
    ) == (data["household"], data["amount"], data["received_on"], data["method"], data["reference"])
    if not same:
        raise IdempotencyConflict(
            "this Idempotency-Key recorded a different payment", field="Idempotency-Key"
        )
    return _payment_row(p)


def _payment_view(p: Any, allocations: list[tuple[str, int]]) -> dict[str, Any]:
    """A payment as the API shows it; what no invoice took went to household credit."""
    return {
        "id": p.id,
        "household": p.household_id,
        "amount": p.amount,
        "received_on": p.received_on,
        "method": p.method,
        "reference": p.reference,
        "entry": p.entry_id,
        "allocations": [{"invoice": n, "amount": a} for n, a in allocations],
        "to_credit": p.amount - sum(a for _, a in allocations),
        "returned": p.returned_entry_id is not None,
    }
