"""Documents: PDFs of invoices, receipts, statements, subsidy claims and fee disclosures,
and the household statement as JSON.

Each PDF route has the same role rules as the JSON route beside it. Scope is
checked before the query is validated (:func:`scope_first`), so nobody
learns from a validation message anything about a household or school they
may not see. A PDF is issued once (:mod:`invoices.archive`) and every later
download is the same bytes; issuing is a write, so it ends with the
request's one commit and an audit record.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable
from typing import Any

from flask import Response, g
from flask.views import MethodView
from sqlalchemy import select

from invoices import archive, data
from invoices.models import IssuedDocument
from ledger.books.errors import NotFound
from ledger.school.errors import Conflict
from ledger.school.models import (
    Invoice,
    Payment,
    PayoutBatch,
    PayoutItem,
    School,
    Student,
    SubsidyClaim,
    Term,
    Vendor,
    VendorBill,
)

from .. import audit
from ..auth import actor, roles
from ..database import session
from ..document_schemas import (
    PayoutSheetPdfArgs,
    PdfArgs,
    StatementArgs,
    StatementOut,
    StatementPdfArgs,
)
from ..models import Role
from ..scope import ALL, household_ids, household_in_scope, school_ids, school_in_scope
from . import Blueprint

blp = Blueprint(
    "documents",
    __name__,
    url_prefix="/api/v1",
    description="Documents: fee notices, receipts, statements, subsidy claims, fee disclosures",
)


def scope_first(check: Callable[..., Any]) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Run ``check(**path_args)`` (which raises 404) before the query is parsed and validated.

    What the check found is kept in ``g.scoped`` for the view.
    """

    def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            g.scoped = check(**kwargs)
            return view(*args, **kwargs)

        return wrapper

    return decorate


def _pdf(document: IssuedDocument, filename: str) -> Response:
    response = Response(document.pdf, mimetype="application/pdf")
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["X-Content-SHA256"] = document.sha256
    response.headers["Cache-Control"] = "private, no-store"
    return response


def _issue(school: School, kind: str, source: str, lang: str, build: Any, **kw: Any) -> Any:
    """Issue (or find) the document; commit once with an audit record when newly issued."""
    found = archive.find_issued(session(), school, kind, source, lang)
    if found is not None:
        return found
    document = archive.issue(session(), school, kind, source, lang, build, actor=actor(), **kw)
    audit.commit(
        "document.issue",
        f"school:{school.code}/{kind}:{document.number or document.id}",
        {"source": source, "language": lang, "sha256": document.sha256},
    )
    return document


# --------------------------------------------------------------------------- scope checks


def _invoice_in_scope(school: str, number: str) -> Invoice:
    """The invoice as ``GET …/invoices/<number>`` finds it: parents by household, others by
    school."""
    s = session().scalar(select(School).where(School.code == school))
    invoice = (
        session().scalar(select(Invoice).where(Invoice.school_id == s.id, Invoice.number == number))
        if s is not None
        else None
    )
    if invoice is None:
        raise NotFound(f"no invoice {number}")
    if g.user.role == Role.PARENT:
        household_in_scope(session(), invoice.household_id)
    else:
        school_in_scope(session(), school)
    return invoice


def _payment_in_scope(school: str, payment_id: int) -> Payment:
    s = session().scalar(select(School).where(School.code == school))
    payment = session().get(Payment, payment_id) if s is not None else None
    if payment is None or payment.school_id != s.id:
        raise NotFound(f"no payment {payment_id} at school {school}")
    if g.user.role == Role.PARENT:
        household_in_scope(session(), payment.household_id)
    else:
        school_in_scope(session(), school)
    return payment


def _claim_in_scope(school: str, claim_id: int) -> SubsidyClaim:
    s = school_in_scope(session(), school)
    claim = session().get(SubsidyClaim, claim_id)
    if claim is None or claim.school_id != s.id:
        raise NotFound(f"no subsidy claim {claim_id} at school {school}")
    return claim


def _term_in_scope(school: str, term_id: int) -> tuple[School, Term]:
    """A fee disclosure is public to the families of the school: parents whose household has a
    child there may read it, as may everyone whose scope holds the school."""
    if g.user.role == Role.PARENT:
        s = session().scalar(select(School).where(School.code == school))
        homes = household_ids(session(), g.user) or set()
        attends = (
            s is not None
            and session().scalar(
                select(Student.id)
                .where(Student.school_id == s.id, Student.household_id.in_(homes))
                .limit(1)
            )
            is not None
        )
        if not attends:
            raise NotFound(f"no school {school!r}")
    else:
        s = school_in_scope(session(), school)
    term = session().get(Term, term_id)
    if term is None or term.school_id != s.id:
        raise NotFound(f"no term {term_id} at school {school}")
    return s, term


def _statement_scope(household_id: int) -> Any:
    return household_in_scope(session(), household_id)


def _statement(household_id: int, start: dt.date, end: dt.date) -> dict[str, Any]:
    """The statement as the caller may see it: finance only over their own schools."""
    ids = school_ids(session(), g.user) if g.user.role == Role.FINANCE else ALL
    return data.statement(session(), household_id, start, end, school_ids=ids)


# --------------------------------------------------------------------------- routes


@blp.route("/schools/<school>/invoices/<number>.pdf")
class InvoicePdf(MethodView):
    @roles(Role.FINANCE, Role.AUDITOR, Role.ADMIN, Role.PARENT)
    @scope_first(_invoice_in_scope)
    @blp.arguments(PdfArgs, location="query")
    @blp.response(200, content_type="application/pdf", description="The fee notice as issued")
    def get(self, args: dict[str, Any], school: str, number: str) -> Response:
        """The fee notice (缴费通知单) of an invoice as PDF; the same bytes on every download.

        A cancelled invoice keeps its number; its notice is the one issued before.
        """
        invoice: Invoice = g.scoped
        s = session().get(School, invoice.school_id)
        document = _issue(
            s,
            "invoice",
            f"invoice:{invoice.id}",
            args["lang"],
            lambda: data.invoice_data(session(), invoice),
            household_id=invoice.household_id,
        )
        return _pdf(document, f"{invoice.number}.pdf")


@blp.route("/schools/<school>/payments/<int:payment_id>/receipt.pdf")
class ReceiptPdf(MethodView):
    @roles(Role.FINANCE, Role.AUDITOR, Role.ADMIN, Role.PARENT)
    @scope_first(_payment_in_scope)
    @blp.arguments(PdfArgs, location="query")
    @blp.response(200, content_type="application/pdf", description="The receipt as issued")
    def get(self, args: dict[str, Any], school: str, payment_id: int) -> Response:
        """The receipt (收据) of a household payment, numbered gap-free per school and year
        when first issued (in each language the same number)."""
        payment: Payment = g.scoped
        s = session().get(School, payment.school_id)
        document = _issue(
            s,
            "receipt",
            f"payment:{payment.id}",
            args["lang"],
            lambda: data.receipt_data(session(), payment),
            household_id=payment.household_id,
        )
        return _pdf(document, f"{document.number}.pdf")


@blp.route("/households/<int:household_id>/statement")
class StatementJson(MethodView):
    @roles(Role.PARENT, Role.FINANCE, Role.AUDITOR, Role.ADMIN)
    @scope_first(_statement_scope)
    @blp.arguments(StatementArgs, location="query")
    @blp.response(200, StatementOut)
    def get(self, args: dict[str, Any], household_id: int) -> dict[str, Any]:
        """A household's statement of account (对账单) for ``from``–``to``: opening balance,
        every charge, waiver, credit, payment, refund and write-off with a running balance,
        closing balance. Parents see only their own households; finance users see the
        household's accounts at their own schools. The PDF prints the same figures."""
        st = _statement(household_id, args["start"], args["end"])
        return {**st, "household": household_id, "household_name": st["household"]["name"]}


@blp.route("/households/<int:household_id>/statement.pdf")
class StatementPdf(MethodView):
    @roles(Role.PARENT, Role.FINANCE, Role.AUDITOR, Role.ADMIN)
    @scope_first(_statement_scope)
    @blp.arguments(StatementPdfArgs, location="query")
    @blp.response(200, content_type="application/pdf", description="The statement as PDF")
    def get(self, args: dict[str, Any], household_id: int) -> Response:
        """The statement as PDF, with the same figures as the JSON statement.

        Issued once per distinct content: the same figures download as the same bytes.
        """
        st = _statement(household_id, args["start"], args["end"])
        if st["school"] is None:
            raise NotFound(f"household {household_id} has no accounts to state")
        s = session().get(School, st["school"]["id"])
        schools = "-".join(str(x["id"]) for x in st["schools"])
        source = archive.content_source(
            f"statement:household:{household_id}:{st['start']}:{st['end']}:{schools}", st
        )
        document = _issue(s, "statement", source, args["lang"], st, household_id=household_id)
        return _pdf(document, f"statement-{household_id}-{st['start']}-{st['end']}.pdf")


@blp.route("/schools/<school>/subsidy-claims/<int:claim_id>.pdf")
class SubsidyClaimPdf(MethodView):
    @roles(Role.FINANCE, Role.AUDITOR, Role.ADMIN)
    @scope_first(_claim_in_scope)
    @blp.arguments(PdfArgs, location="query")
    @blp.response(200, content_type="application/pdf", description="The claim form as issued")
    def get(self, args: dict[str, Any], school: str, claim_id: int) -> Response:
        """The government subsidy claim form (财政补贴申报表) as submitted."""
        claim: SubsidyClaim = g.scoped
        s = session().get(School, claim.school_id)
        document = _issue(
            s,
            "subsidy_claim",
            f"subsidy-claim:{claim.id}",
            args["lang"],
            lambda: data.subsidy_claim_data(session(), claim),
        )
        return _pdf(document, f"{claim.number}.pdf")


@blp.route("/schools/<school>/terms/<int:term_id>/disclosure.pdf")
class DisclosurePdf(MethodView):
    @roles(Role.FINANCE, Role.AUDITOR, Role.ADMIN, Role.PARENT)
    @scope_first(_term_in_scope)
    @blp.arguments(PdfArgs, location="query")
    @blp.response(200, content_type="application/pdf", description="The fee disclosure notice")
    def get(self, args: dict[str, Any], school: str, term_id: int) -> Response:
        """The fee disclosure notice (收费公示) of a term: items, approved standards and their
        documents, cost sharing, waiver and refund rules, complaints telephone.

        Parents may read the notices of schools their children attend.
        """
        s, term = g.scoped
        values = data.disclosure_data(session(), s, term)
        source = archive.content_source(f"disclosure:term:{term.id}", values)
        document = _issue(s, "disclosure", source, args["lang"], values)
        return _pdf(document, f"disclosure-{s.code}-{term.id}.pdf")


# --------------------------------------------------------------------------- money out


def _staff_scope(staff_id: int) -> Any:
    from .outflow import _staff_in_scope

    return _staff_in_scope(staff_id)


def _remittance_scope(batch_id: int, vendor_id: int) -> tuple[PayoutBatch, Vendor]:
    """A paid batch the caller may read and a vendor it paid; anything else is 404."""
    from .outflow import _batch_in_scope

    batch = _batch_in_scope(batch_id)
    vendor = session().get(Vendor, vendor_id)
    paid_vendor = (
        vendor is not None
        and session().scalar(
            select(VendorBill.id)
            .join(
                PayoutItem,
                (PayoutItem.source == "vendor_bill") & (PayoutItem.source_id == VendorBill.id),
            )
            .where(PayoutItem.batch_id == batch.id, VendorBill.vendor_id == vendor.id)
            .limit(1)
        )
        is not None
    )
    if not paid_vendor:
        raise NotFound(f"payout batch {batch_id} pays no vendor {vendor_id}")
    return batch, vendor


@blp.route("/staff/<int:staff_id>/payout-sheet.pdf")
class PayoutSheetPdf(MethodView):
    @roles(Role.FINANCE, Role.AUDITOR, Role.ADMIN, Role.TEACHER)
    @scope_first(_staff_scope)
    @blp.arguments(PayoutSheetPdfArgs, location="query")
    @blp.response(200, content_type="application/pdf", description="The payout sheet")
    def get(self, args: dict[str, Any], staff_id: int) -> Response:
        """One person's stipend or labour-fee sheet for a month (补助及劳务费发放表): sessions,
        gross, income tax withheld and net, as ``GET …/payout-sheet`` shows them. A teacher
        reads only their own. Issued once per distinct content."""
        staff = g.scoped
        year, month = (int(x) for x in args["month"].split("-"))
        values = data.payout_sheet_data(session(), staff, year, month)
        s = session().get(School, staff.school_id)
        source = archive.content_source(f"payout-sheet:staff:{staff.id}:{args['month']}", values)
        document = _issue(s, "payout_sheet", source, args["lang"], values)
        return _pdf(document, f"payout-{s.code}-{staff.id}-{args['month']}.pdf")


@blp.route("/payout-batches/<int:batch_id>/remittance/<int:vendor_id>.pdf")
class RemittancePdf(MethodView):
    @roles(Role.FINANCE, Role.AUDITOR, Role.ADMIN)
    @scope_first(_remittance_scope)
    @blp.arguments(PdfArgs, location="query")
    @blp.response(200, content_type="application/pdf", description="The remittance advice")
    def get(self, args: dict[str, Any], batch_id: int, vendor_id: int) -> Response:
        """The remittance advice (付款通知) of a paid batch to one vendor: the bills it
        settled. Refused while the batch is not paid (``batch_not_paid``)."""
        batch, vendor = g.scoped
        if batch.status != "paid":
            raise Conflict("batch_not_paid", f"payout batch {batch.id} is {batch.status}, not paid")
        s = session().get(School, batch.school_id)
        document = _issue(
            s,
            "remittance",
            f"remittance:batch:{batch.id}:vendor:{vendor.id}",
            args["lang"],
            lambda: data.remittance_data(session(), batch, vendor),
        )
        return _pdf(document, f"{s.code}-remittance-{batch.id}-{vendor.id}.pdf")
