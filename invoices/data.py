"""What documents show, as plain data: the query functions behind every template.

Templates never see ORM objects (STYLE.md, "Documents"): each function here
reads the database and returns dicts of plain values — money as ``int`` fen,
dates as ``datetime.date``, codes as strings that the templates translate —
so that the HTML portal, the JSON API and the PDFs show the same figures from
the same function, and the archive can keep exactly what a PDF was made from.

The household statement is derived from the books themselves: every posting
on the household's receivable ``1122.H<id>`` and credit ``2241.H<id>`` accounts
in the chosen schools' books is a movement of what the household owes, and
the domain tables (charges, credits, payments, refunds, write-offs, credit
applications) only say what each movement was. So the statement's closing
balance is, by construction, the receivable less the credit held.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ledger import books
from ledger.school.credits import charge_parts
from ledger.school.errors import RuleBroken
from ledger.school.fees import BASIS, Unit
from ledger.school.models import (
    Application,
    ChargeRecord,
    CostPolicy,
    CreditApplication,
    CreditRecord,
    District,
    Enrolment,
    FeeStandard,
    Guardian,
    HardshipStatus,
    Household,
    Invoice,
    InvoiceCancellation,
    Payment,
    PaymentAllocation,
    PaymentReturn,
    PayoutBatch,
    PayoutItem,
    Programme,
    PurchaseAgreement,
    Refund,
    School,
    StaffMember,
    Student,
    SubsidyClaim,
    SubsidyClaimLine,
    SubsidyReceipt,
    Term,
    Vendor,
    VendorBill,
    WaiverGrant,
    WriteOff,
)
from ledger.school.receivables import invoice_outstanding
from ledger.school.structure import household_account, household_credit_account

__all__ = [
    "application_data",
    "charge_explanation",
    "disclosure_data",
    "entry_data",
    "invoice_data",
    "payout_sheet_data",
    "receipt_data",
    "remittance_data",
    "statement",
    "subsidy_claim_data",
]

#: Statement line kinds, in the order a day's lines are listed.
LINE_KINDS = (
    "charge",
    "waiver",
    "credit",
    "cancellation",
    "payment",
    "payment_returned",
    "credit_applied",
    "credit_application_undone",
    "refund",
    "write_off",
    "adjustment",
)


# --------------------------------------------------------------------------- shared pieces


def school_data(db: Session, school: School) -> dict[str, Any]:
    """The school as documents show it: name, bank account for payment, complaints phone."""
    district = db.get(District, school.district_id)
    return {
        "id": school.id,
        "code": school.code,
        "name": school.name,
        "district": district.name,
        "funder": district.funder_name,
        "bank_name": school.bank_name or "",
        "bank_account": school.bank_account or "",
        "complaints_phone": school.complaints_phone or "",
    }


def household_data(db: Session, household: Household) -> dict[str, Any]:
    guardians = db.scalars(
        select(Guardian).where(Guardian.household_id == household.id).order_by(Guardian.id)
    )
    return {
        "id": household.id,
        "name": household.name,
        "guardians": [
            {"name": g.name, "phone": g.phone or "", "relation": g.relation or ""}
            for g in guardians
        ],
    }


def standard_data(standard: FeeStandard) -> dict[str, Any]:
    return {
        "id": standard.id,
        "kind": standard.kind,
        "version": standard.version,
        "amount": standard.amount,
        "unit": standard.unit,
        "authority": standard.authority,
        "document_no": standard.document_no,
        "valid_from": standard.valid_from,
        "valid_to": standard.valid_to,
    }


def share_data(mode: str, value: int) -> dict[str, Any]:
    """A government or school share as the policy states it: an amount or a percentage.

    ``percent`` is a string of the exact percentage (basis points / 100), never a float.
    """
    if mode == "percent":
        pct = Decimal(value) / 100
        text = f"{pct.normalize():f}" if pct != pct.to_integral() else f"{int(pct)}"
        return {"mode": mode, "value": value, "percent": text}
    return {"mode": mode, "value": value, "amount": value}


def policy_data(policy: CostPolicy) -> dict[str, Any]:
    return {
        "id": policy.id,
        "kind": policy.kind,
        "version": policy.version,
        "unit": policy.unit,
        "unit_cost": policy.unit_cost,
        "government": share_data(policy.government_mode, policy.government_value),
        "school": share_data(policy.school_mode, policy.school_value),
        "waiver_cover": policy.waiver_cover,
        "refund_rule": policy.refund_rule,
        "notice_ref": policy.notice_ref or "",
        "effective_from": policy.effective_from,
        "effective_to": policy.effective_to,
    }


def _waivers_of(db: Session, student_id: int, start: dt.date, end: dt.date) -> list[dict[str, Any]]:
    """Verified hardship and approved waivers of a student overlapping a span, with reasons."""
    out: list[dict[str, Any]] = []
    for h in db.scalars(
        select(HardshipStatus)
        .where(
            HardshipStatus.student_id == student_id,
            HardshipStatus.valid_from <= end,
            HardshipStatus.valid_to >= start,
        )
        .order_by(HardshipStatus.id)
    ):
        out.append(
            {
                "kind": "hardship",
                "percent": share_data("percent", BASIS)["percent"],
                "reason": "hardship",
                "evidence_ref": h.evidence_ref,
                "valid_from": h.valid_from,
                "valid_to": h.valid_to,
            }
        )
    for w in db.scalars(
        select(WaiverGrant)
        .where(
            WaiverGrant.student_id == student_id,
            WaiverGrant.status == "approved",
            WaiverGrant.valid_from <= end,
            WaiverGrant.valid_to >= start,
        )
        .order_by(WaiverGrant.id)
    ):
        out.append(
            {
                "kind": "waiver",
                "percent": share_data("percent", w.percent)["percent"],
                "reason": w.reason,
                "evidence_ref": w.evidence_ref,
                "valid_from": w.valid_from,
                "valid_to": w.valid_to,
            }
        )
    return out


def _fraction(numerator: int, denominator: int) -> str:
    """An exact amount of fen as a decimal string (up to 4 places), for the rounding note."""
    exact = Decimal(numerator) / Decimal(denominator)
    shown = exact.quantize(Decimal("0.0001"))
    return f"{shown.normalize():f}"


# --------------------------------------------------------------------------- "why this amount"


def application_data(db: Session, application_id: int) -> dict[str, Any] | None:
    """The consent behind an enrolment (家长申请、班级审核、学校审批): who applied or the
    written application's reference, the class review and the school's decision, with when."""
    app = db.get(Application, application_id)
    if app is None:
        return None
    return {
        "id": app.id,
        "status": app.status,
        "start_date": app.start_date,
        "applied": {
            "by": app.applied_by,
            "at": app.applied_at,
            # Finance recorded a guardian's written application on their behalf.
            "written_ref": app.written_ref,
        },
        "review": None
        if app.reviewed_at is None and app.reviewed_by is None
        else {"by": app.reviewed_by, "at": app.reviewed_at, "note": app.review_note or ""},
        "approval": None
        if app.decided_at is None and app.decided_by is None
        else {
            "decision": app.status if app.status in ("approved", "rejected") else "",
            "by": app.decided_by,
            "at": app.decided_at,
            "note": app.decision_note or "",
        },
    }


def entry_data(db: Session, entry_id: int) -> dict[str, Any] | None:
    """A journal entry as its book holds it: id, number, date, kind, memo, who posted it, its
    hash and its postings (account code and name, signed fen, debit positive)."""
    entry = db.get(books.Entry, entry_id)
    if entry is None:
        return None
    book = db.get(books.Book, entry.book_id)
    reversed_by = db.scalar(select(books.Entry.id).where(books.Entry.reverses_id == entry.id))
    postings = [
        {
            "account": code,
            "account_name": name,
            "amount": amount,
            "direction": "debit" if amount > 0 else "credit",
            "currency": currency,
        }
        for code, name, amount, currency in db.execute(
            select(
                books.Account.code, books.Account.name, books.Posting.amount, books.Posting.currency
            )
            .join(books.Account, books.Account.id == books.Posting.account_id)
            .where(books.Posting.entry_id == entry.id)
            .order_by(books.Posting.id)
        )
    ]
    return {
        "id": entry.id,
        "book": book.code,
        "number": entry.number,
        "date": entry.effective_date,
        "kind": entry.kind,
        "memo": entry.memo,
        "source_ref": entry.source_ref,
        "posted_by": entry.posted_by,
        "recorded_at": entry.recorded_at,
        "hash": entry.hash,
        "reversed_by": reversed_by,
        "postings": postings,
    }


def charge_explanation(db: Session, charge: ChargeRecord | int) -> dict[str, Any]:
    """Why a charge is what it is: standard, policy, unit cost, units, proration, shares,
    waivers and their reasons, the one rounding, and what credits have given back since;
    then what an auditor asks next: the application behind the enrolment (who applied or
    the written application's reference, the class review, the school's approval, each
    with when), the household's guardians, and the journal entry the charge posted with
    its postings.

    Every figure comes from the charge's own row (what billing computed and
    posted) and the standard and policy it names; nothing is recomputed, so
    the explanation can never disagree with the books.
    """
    if isinstance(charge, int):
        found = db.get(ChargeRecord, charge)
        if found is None:
            raise LookupError(f"no charge {charge}")
        charge = found
    enrolment = db.get(Enrolment, charge.enrolment_id)
    student = db.get(Student, enrolment.student_id)
    programme = db.get(Programme, enrolment.programme_id)
    term = db.get(Term, programme.term_id)
    school = db.get(School, charge.school_id)
    standard = db.get(FeeStandard, charge.fee_standard_id)
    policy = db.get(CostPolicy, charge.policy_id)
    invoice = db.get(Invoice, charge.invoice_id) if charge.invoice_id else None
    per_day = Unit(charge.unit) in (Unit.DAY, Unit.LESSON)
    if per_day:
        numerator = charge.unit_cost * charge.units_num * charge.enrolled_days
        denominator = charge.units_den
        allowed_num = standard.amount * charge.units_num * charge.enrolled_days
        allowed_den = charge.units_den
    else:
        numerator = charge.unit_cost * charge.units_num * charge.enrolled_days
        denominator = charge.units_den * charge.period_days
        allowed_num = standard.amount * charge.units_num * charge.enrolled_days
        allowed_den = charge.units_den * charge.period_days
    waiver_cover = charge.waiver_cover
    credits = [
        {
            "reason": c.reason,
            "detail": c.detail,
            "date": db.get(books.Entry, c.entry_id).effective_date,
            "total": c.total,
            "government": c.government,
            "school": c.school,
            "household": c.household,
            "absorbed": c.absorbed,
            "to_invoice": c.to_invoice,
            "to_credit_account": c.to_credit_account,
        }
        for c in db.scalars(
            select(CreditRecord)
            .where(CreditRecord.charge_id == charge.id)
            .order_by(CreditRecord.id)
        )
    ]
    return {
        "charge": charge.id,
        "school": {"code": school.code, "name": school.name},
        "invoice": invoice.number if invoice else None,
        "household_id": charge.household_id,
        "student": {"id": student.id, "name": student.name},
        "programme": {"id": programme.id, "name": programme.name, "kind": programme.kind},
        "term": {"id": term.id, "name": term.name, "billing_months": term.billing_months},
        "period": {"start": charge.period_start, "end": charge.period_end},
        "generation": charge.generation,
        "standard": standard_data(standard),
        "policy": policy_data(policy),
        "calculation": {
            "unit": charge.unit,
            "unit_cost": charge.unit_cost,
            # Units of the whole period as a fraction (a month of a 4-month term is 1/4 term).
            "units_num": charge.units_num,
            "units_den": charge.units_den,
            "per_day": per_day,
            "lessons_per_session": programme.lessons_per_session,
            "period_days": charge.period_days,
            "enrolled_days": charge.enrolled_days,
            "prorated": (not per_day) and charge.enrolled_days != charge.period_days,
            "exact_cost_fen": _fraction(numerator, denominator),
            "cost": charge.cost,
            "rounding": "half_up_once",
            "rounding_difference_fen": _fraction(
                charge.cost * denominator - numerator, denominator
            ),
        },
        "shares": {
            "government": charge.government,
            "school": charge.school,
            "parent": charge.parent,
        },
        # The most the parent share may be for these units under the approved standard.
        "parent_ceiling": allowed_num // allowed_den,
        "waiver": {
            "amount": charge.waiver,
            "cover": waiver_cover,
            "grants": _waivers_of(db, student.id, charge.period_start, charge.period_end),
        },
        "household": charge.household,
        "payers": {
            "government": charge.government
            + (charge.waiver if waiver_cover == "government" else 0),
            "school": charge.school + (charge.waiver if waiver_cover == "school" else 0),
            "household": charge.household,
            "absorbed": charge.waiver if waiver_cover == "absorbed" else 0,
        },
        "credits": credits,
        "now": charge_parts(db, charge),
        # What an auditor asks next: the consent behind the enrolment, and what was posted.
        "enrolment": {
            "id": enrolment.id,
            "start_date": enrolment.start_date,
            "end_date": enrolment.end_date,
        },
        "application": application_data(db, enrolment.application_id),
        "guardians": household_data(db, db.get(Household, charge.household_id))["guardians"],
        "entry": entry_data(db, charge.entry_id),
    }


# --------------------------------------------------------------------------- statement


def _statement_schools(
    db: Session, household_id: int, school_ids: Iterable[int] | None
) -> list[School]:
    """Schools whose books hold an account of the household (optionally only some of them)."""
    codes = (household_account(household_id), household_credit_account(household_id))
    q = (
        select(School)
        .join(books.Account, books.Account.book_id == School.book_id)
        .where(books.Account.code.in_(codes))
        .distinct()
        .order_by(School.id)
    )
    if school_ids is not None:
        q = q.where(School.id.in_(list(school_ids)))
    return list(db.scalars(q))


def statement(
    db: Session,
    household_id: int,
    start: dt.date,
    end: dt.date,
    *,
    school_ids: Iterable[int] | None = None,
) -> dict[str, Any]:
    """The household's statement of account (对账单) for ``start``–``end`` inclusive.

    Balances are what the household owes: receivable ``1122.H`` less credit
    held on ``2241.H`` (negative when the school holds the household's money).
    Lines are every movement of those accounts dated inside the range, with a
    running balance; a charge is shown as the parent share and, beside it,
    the waiver that reduced it, so each waiver is visible. Credit applied from
    2241 to an invoice moves nothing in total and is listed with amount 0.
    ``school_ids`` limits the statement to some schools (a finance user's).
    """
    if end < start:
        raise ValueError("the statement ends before it starts")
    household = db.get(Household, household_id)
    if household is None:
        raise LookupError(f"no household {household_id}")
    schools = _statement_schools(db, household_id, school_ids)
    by_book = {s.book_id: s for s in schools}
    receivable, credit = household_account(household_id), household_credit_account(household_id)
    base = (
        select(books.Posting.entry_id, books.Account.code, books.Posting.amount)
        .join(books.Account, books.Account.id == books.Posting.account_id)
        .where(
            books.Account.book_id.in_(list(by_book)),
            books.Account.code.in_((receivable, credit)),
        )
    )
    # Opening balances from the materialized balances less what moved since ``start``: the
    # cost follows the statement's range, not the household's whole history.
    codes = dict(
        db.execute(
            select(books.Account.id, books.Account.code).where(
                books.Account.book_id.in_(list(by_book)),
                books.Account.code.in_((receivable, credit)),
            )
        ).all()
    )
    opening = {"receivable": 0, "credit": 0}
    for account_id, net in books.nets_before(db, list(codes), start).items():
        if codes[account_id] == receivable:
            opening["receivable"] += net
        else:
            opening["credit"] -= net
    moves: dict[int, dict[str, int]] = defaultdict(lambda: {"receivable": 0, "credit": 0})
    for entry_id, code, amount in db.execute(
        base.where(books.Posting.effective_date >= start, books.Posting.effective_date <= end)
    ):
        if code == receivable:
            moves[entry_id]["receivable"] += amount
        else:
            moves[entry_id]["credit"] -= amount  # credit held grows with credits to 2241
    entries = (
        {e.id: e for e in db.scalars(select(books.Entry).where(books.Entry.id.in_(list(moves))))}
        if moves
        else {}
    )
    lines: list[dict[str, Any]] = []
    for entry_id, move in moves.items():
        entry = entries[entry_id]
        net = move["receivable"] - move["credit"]
        school = by_book[entry.book_id]
        for line in _describe(db, entry, net):
            line.update(
                date=entry.effective_date,
                school=school.code,
                entry=entry.id,
                receivable_change=move["receivable"] if line.get("_main") else 0,
                credit_change=move["credit"] if line.get("_main") else 0,
            )
            line.pop("_main", None)
            lines.append(line)
    lines.sort(key=lambda ln: (ln["date"], ln["entry"], LINE_KINDS.index(ln["kind"])))
    balance = opening["receivable"] - opening["credit"]
    opening_balance = balance
    totals = {kind: 0 for kind in LINE_KINDS}
    for line in lines:
        balance += line["amount"]
        line["balance"] = balance
        totals[line["kind"]] += line["amount"]
    closing = {
        "receivable": opening["receivable"] + sum(m["receivable"] for m in moves.values()),
        "credit": opening["credit"] + sum(m["credit"] for m in moves.values()),
    }
    return {
        "number": None,
        "date": end,
        "household": household_data(db, household),
        # The first school issues the printed statement; every school's account is listed.
        "school": school_data(db, schools[0]) if schools else None,
        "schools": [school_data(db, s) for s in schools],
        "start": start,
        "end": end,
        "opening_balance": opening_balance,
        "opening_receivable": opening["receivable"],
        "opening_credit": opening["credit"],
        "lines": lines,
        "totals": totals,
        "closing_balance": balance,
        "closing_receivable": closing["receivable"],
        "closing_credit": closing["credit"],
    }


def _line(kind: str, amount: int, **fields: Any) -> dict[str, Any]:
    line = {
        "kind": kind,
        "amount": amount,
        "invoice": None,
        "student": None,
        "programme": None,
        "reason": None,
        "detail": None,
        "charge": None,
        "payment": None,
        "applied": None,
        "period_start": None,
        "period_end": None,
    }
    line.update(fields)
    return line


def _describe(db: Session, entry: books.Entry, net: int) -> list[dict[str, Any]]:
    """What one journal entry was to the household, as one or more statement lines.

    The lines of an entry always add up to ``net``, its movement of the
    household's accounts: the books decide the amounts, the domain tables
    only name them.
    """
    kind = entry.kind
    if kind == "charge":
        charge = db.scalar(select(ChargeRecord).where(ChargeRecord.entry_id == entry.id))
        if charge is not None:
            enrolment = db.get(Enrolment, charge.enrolment_id)
            student = db.get(Student, enrolment.student_id)
            programme = db.get(Programme, enrolment.programme_id)
            invoice = db.get(Invoice, charge.invoice_id) if charge.invoice_id else None
            common = {
                "invoice": invoice.number if invoice else None,
                "student": student.name,
                "programme": programme.name,
                "charge": charge.id,
                "period_start": charge.period_start,
                "period_end": charge.period_end,
            }
            out = [_line("charge", net + charge.waiver, _main=True, **common)]
            if charge.waiver:
                reasons = [
                    w["reason"]
                    for w in _waivers_of(db, student.id, charge.period_start, charge.period_end)
                ]
                out.append(
                    _line("waiver", -charge.waiver, reason="; ".join(reasons) or None, **common)
                )
            return out
    if kind == "credit":
        record = db.scalar(select(CreditRecord).where(CreditRecord.entry_id == entry.id))
        if record is not None:
            charge = db.get(ChargeRecord, record.charge_id)
            invoice = db.get(Invoice, charge.invoice_id) if charge.invoice_id else None
            enrolment = db.get(Enrolment, charge.enrolment_id)
            student = db.get(Student, enrolment.student_id)
            line_kind = "cancellation" if record.reason == "cancel" else "credit"
            return [
                _line(
                    line_kind,
                    net,
                    _main=True,
                    invoice=invoice.number if invoice else None,
                    student=student.name,
                    reason=record.reason,
                    detail=record.detail,
                    charge=charge.id,
                )
            ]
    if kind == "payment":
        payment = db.scalar(select(Payment).where(Payment.entry_id == entry.id))
        if payment is not None:
            invoices = [
                n
                for (n,) in db.execute(
                    select(Invoice.number)
                    .join(PaymentAllocation, PaymentAllocation.invoice_id == Invoice.id)
                    .where(PaymentAllocation.payment_id == payment.id)
                    .order_by(Invoice.id)
                )
            ]
            return [
                _line(
                    "payment",
                    net,
                    _main=True,
                    payment=payment.id,
                    invoice=", ".join(invoices) or None,
                    detail=payment.reference,
                    reason=payment.method,
                )
            ]
    if kind == "reversal":
        returned = db.scalar(select(PaymentReturn).where(PaymentReturn.entry_id == entry.id))
        if returned is not None:
            return [
                _line(
                    "payment_returned",
                    net,
                    _main=True,
                    payment=returned.payment_id,
                    detail=returned.reason,
                )
            ]
        undone = db.scalar(
            select(CreditApplication).where(CreditApplication.undone_entry_id == entry.id)
        )
        if undone is not None:
            invoice = db.get(Invoice, undone.invoice_id)
            return [_line("credit_application_undone", net, _main=True, invoice=invoice.number)]
    if kind == "adjustment":
        applied = db.scalar(select(CreditApplication).where(CreditApplication.entry_id == entry.id))
        if applied is not None:
            invoice = db.get(Invoice, applied.invoice_id)
            return [
                _line(
                    "credit_applied",
                    net,
                    _main=True,
                    invoice=invoice.number,
                    reason=applied.reason,
                    applied=applied.amount,
                )
            ]
    if kind == "refund":
        refund = db.scalar(select(Refund).where(Refund.entry_id == entry.id))
        if refund is not None:
            invoice = db.get(Invoice, refund.invoice_id) if refund.invoice_id else None
            return [
                _line(
                    "refund",
                    net,
                    _main=True,
                    invoice=invoice.number if invoice else None,
                    reason=refund.method,
                    detail=refund.reference,
                )
            ]
    if kind == "write_off":
        write_off = db.scalar(select(WriteOff).where(WriteOff.entry_id == entry.id))
        if write_off is not None:
            return [_line("write_off", net, _main=True, detail=write_off.reason)]
    return [_line("adjustment", net, _main=True, detail=entry.memo)]


# --------------------------------------------------------------------------- fee notice / invoice


def _charge_line(db: Session, charge: ChargeRecord) -> dict[str, Any]:
    enrolment = db.get(Enrolment, charge.enrolment_id)
    student = db.get(Student, enrolment.student_id)
    programme = db.get(Programme, enrolment.programme_id)
    cover = charge.waiver_cover
    waivers = (
        _waivers_of(db, student.id, charge.period_start, charge.period_end) if charge.waiver else []
    )
    return {
        "charge": charge.id,
        "student": student.name,
        "student_no": student.student_no or "",
        "programme": programme.name,
        "programme_kind": programme.kind,
        "period_start": charge.period_start,
        "period_end": charge.period_end,
        "unit": charge.unit,
        "unit_cost": charge.unit_cost,
        "units_num": charge.units_num,
        "units_den": charge.units_den,
        "period_days": charge.period_days,
        "enrolled_days": charge.enrolled_days,
        "cost": charge.cost,
        "government": charge.government,
        "school": charge.school,
        "parent": charge.parent,
        "waiver": charge.waiver,
        "waiver_cover": cover,
        "waiver_reasons": [w["reason"] for w in waivers],
        "household": charge.household,
        "standard_id": charge.fee_standard_id,
        "policy_id": charge.policy_id,
    }


def invoice_data(db: Session, invoice: Invoice) -> dict[str, Any]:
    """A fee notice (缴费通知单): who pays what for which service, under which approval.

    Every payer's share is an amount — the government's and the school's are
    shown, never hidden — and waivers carry their reasons; payment goes only
    to the school's own account.
    """
    school = db.get(School, invoice.school_id)
    household = db.get(Household, invoice.household_id)
    charges = list(
        db.scalars(
            select(ChargeRecord)
            .where(ChargeRecord.invoice_id == invoice.id)
            .order_by(ChargeRecord.id)
        )
    )
    lines = [_charge_line(db, c) for c in charges]
    standards = {
        c.fee_standard_id: standard_data(db.get(FeeStandard, c.fee_standard_id)) for c in charges
    }
    policies = {c.policy_id: policy_data(db.get(CostPolicy, c.policy_id)) for c in charges}
    totals = {
        key: sum(line[key] for line in lines)
        for key in ("cost", "government", "school", "parent", "waiver", "household")
    }
    cancellation = db.scalar(
        select(InvoiceCancellation).where(InvoiceCancellation.invoice_id == invoice.id)
    )
    reissue_of = db.scalar(
        select(Invoice.number)
        .join(InvoiceCancellation, InvoiceCancellation.invoice_id == Invoice.id)
        .where(InvoiceCancellation.reissued_as_id == invoice.id)
    )
    students = sorted({(line["student"], line["student_no"]) for line in lines})
    return {
        "number": invoice.number,
        "date": invoice.issued_on,
        "status": invoice.status,
        "school": school_data(db, school),
        "household": household_data(db, household),
        "students": [{"name": n, "student_no": no} for n, no in students],
        "period_start": invoice.period_start,
        "period_end": invoice.period_end,
        "issued_on": invoice.issued_on,
        "due_date": invoice.due_date,
        "lines": lines,
        "standards": [standards[k] for k in sorted(standards)],
        "policies": [policies[k] for k in sorted(policies)],
        "totals": totals,
        "amount_due": invoice.amount,
        "outstanding": max(0, invoice_outstanding(db, invoice))
        if invoice.status != "cancelled"
        else 0,
        "cancelled": None
        if cancellation is None
        else {"on": cancellation.cancelled_on, "reason": cancellation.reason},
        "reissue_of": reissue_of,
    }


# --------------------------------------------------------------------------- receipt


def receipt_data(db: Session, payment: Payment) -> dict[str, Any]:
    """A payment receipt (收据): what was received, into which account, and what it settled.

    ``number`` is left ``None``: the archive gives a receipt its gap-free
    number in the transaction that issues it.
    """
    school = db.get(School, payment.school_id)
    household = db.get(Household, payment.household_id)
    allocations = [
        {"invoice": number, "amount": amount}
        for number, amount in db.execute(
            select(Invoice.number, PaymentAllocation.amount)
            .join(Invoice, Invoice.id == PaymentAllocation.invoice_id)
            .where(PaymentAllocation.payment_id == payment.id)
            .order_by(Invoice.id)
        )
    ]
    returned = db.scalar(select(PaymentReturn).where(PaymentReturn.payment_id == payment.id))
    return {
        "number": None,
        "date": payment.received_on,
        "payment": payment.id,
        "school": school_data(db, school),
        "household": household_data(db, household),
        "amount": payment.amount,
        "received_on": payment.received_on,
        "method": payment.method,
        "reference": payment.reference or "",
        "received_into": payment.received_into,
        "allocations": allocations,
        "to_credit": payment.amount - sum(a["amount"] for a in allocations),
        "returned": None
        if returned is None
        else {"on": returned.returned_on, "reason": returned.reason},
    }


# --------------------------------------------------------------------------- subsidy claim


def subsidy_claim_data(db: Session, claim: SubsidyClaim) -> dict[str, Any]:
    """A claim of the government share (财政补贴申报表), one line per charge claimed."""
    school = db.get(School, claim.school_id)
    rows = db.execute(
        select(SubsidyClaimLine, ChargeRecord, Student, Programme)
        .join(ChargeRecord, ChargeRecord.id == SubsidyClaimLine.charge_id)
        .join(Enrolment, Enrolment.id == ChargeRecord.enrolment_id)
        .join(Student, Student.id == SubsidyClaimLine.student_id)
        .join(Programme, Programme.id == Enrolment.programme_id)
        .where(SubsidyClaimLine.claim_id == claim.id)
        .order_by(SubsidyClaimLine.id)
    ).all()
    lines = [
        {
            "student": student.name,
            "student_no": student.student_no or "",
            "programme": programme.name,
            "programme_kind": programme.kind,
            "period_start": charge.period_start,
            "period_end": charge.period_end,
            "cost": charge.cost,
            "amount": line.amount,
        }
        for line, charge, student, programme in rows
    ]
    received = int(
        db.scalar(
            select(func.coalesce(func.sum(SubsidyReceipt.amount), 0)).where(
                SubsidyReceipt.claim_id == claim.id
            )
        )
    )
    return {
        "number": claim.number,
        "date": claim.claimed_on,
        "school": school_data(db, school),
        "period_start": claim.period_start,
        "period_end": claim.period_end,
        "claimed_on": claim.claimed_on,
        "funder_account": claim.funder_account,
        "status": claim.status,
        "lines": lines,
        "students": len({(line["student"], line["student_no"]) for line in lines}),
        "total_cost": sum(line["cost"] for line in lines),
        "amount": claim.amount,
        "received": received,
    }


# --------------------------------------------------------------------------- fee disclosure


def disclosure_data(db: Session, school: School, term: Term) -> dict[str, Any]:
    """The fee disclosure notice (收费公示) of a school for a term.

    For every kind of programme the term offers: the approved standard with
    its authority and document number, the cost-sharing policy in force at
    the start of the term (unit cost and each payer's share of one unit, as
    billing would split it), the waiver and refund rules; and the complaints
    telephone. Kinds without a policy in force are listed as such, never
    silently left out.
    """
    from ledger.school.fees import split_cost
    from ledger.school.standards import policy_for, sharing_of

    programmes = list(
        db.scalars(
            select(Programme)
            .where(Programme.term_id == term.id, Programme.school_id == school.id)
            .order_by(Programme.kind, Programme.id)
        )
    )
    items = []
    for kind in sorted({p.kind for p in programmes}):
        try:
            policy = policy_for(db, school, kind, term.start)
        except RuleBroken as exc:
            if exc.code != "no_policy":
                raise
            policy = None
        item: dict[str, Any] = {
            "kind": kind,
            "programmes": [
                {
                    "name": p.name,
                    "weekdays": p.weekdays,
                    "start_time": p.start_time.strftime("%H:%M"),
                    "end_time": p.end_time.strftime("%H:%M"),
                    "capacity": p.capacity,
                    "lessons_per_session": p.lessons_per_session,
                }
                for p in programmes
                if p.kind == kind
            ],
            "standard": None,
            "policy": None,
            "per_unit": None,
        }
        if policy is not None:
            sharing = sharing_of(policy)
            government, school_part, parent = split_cost(policy.unit_cost, *sharing.weights())
            item["standard"] = standard_data(db.get(FeeStandard, policy.fee_standard_id))
            item["policy"] = policy_data(policy)
            item["per_unit"] = {
                "cost": policy.unit_cost,
                "government": government,
                "school": school_part,
                "parent": parent,
            }
        items.append(item)
    return {
        "number": None,
        "date": term.start,
        "school": school_data(db, school),
        "term": {
            "id": term.id,
            "name": term.name,
            "start": term.start,
            "end": term.end,
            "billing_months": term.billing_months,
        },
        "fees": items,
    }


def coverage_data(
    db: Session, school: School, term: Term, *, on: dt.date | None = None
) -> dict[str, Any]:
    """The coverage report to the education bureau (:mod:`ledger.audit.coverage`) of a
    school for a term, dated ``on`` (today unless given)."""
    from ledger.audit.coverage import coverage_report

    return {
        **coverage_report(db, school, term),
        "number": None,
        "date": on or dt.date.today(),
        "school": school_data(db, school),
    }


# --------------------------------------------------------------------------- money out


def payout_sheet_data(db: Session, staff: StaffMember, year: int, month: int) -> dict[str, Any]:
    """One person's stipend or labour-fee sheet for a month: every paid session, gross, the
    income tax withheld and net, as the pay runs posted them (``payroll.payout_sheet``).

    The ID number is masked: the sheet goes to the person and into files.
    """
    from ledger.school.calendar import month_bounds
    from ledger.school.payroll import mask_id, payout_sheet

    sheet = payout_sheet(db, staff, year, month)
    school = db.get(School, staff.school_id)
    lines = [
        {
            "kind": line["kind"],
            "minutes": line["minutes"],
            "lessons": line["lessons"],
            "gross": line["gross"],
            "tax": line["tax"],
            "net": line["net"],
            "capped": line["capped"],
            "sessions": [
                {
                    "date": dt.date.fromisoformat(s["date"]),
                    "programme": s["programme"],
                    "start": s["start"],
                    "end": s["end"],
                    "minutes": s["minutes"],
                    "lessons": s["lessons"],
                    "unit": s["unit"],
                    "rate": s["rate"],
                    # The exact amount before the month's one rounding, as a decimal of fen.
                    "amount_fen": s["amount"],
                }
                for s in line["sessions"]
            ],
        }
        for line in sheet["lines"]
    ]
    return {
        "number": None,
        "date": month_bounds(year, month)[1],
        "school": school_data(db, school),
        "staff": {
            "id": staff.id,
            "name": staff.name,
            "kind": staff.kind,
            "id_type": staff.id_type or "",
            "id_number": mask_id(staff.id_number) or "",
        },
        "year": year,
        "month": month,
        "lines": lines,
        "gross": sheet["gross"],
        "tax": sheet["tax"],
        "net": sheet["net"],
    }


def remittance_data(db: Session, batch: PayoutBatch, vendor: Vendor) -> dict[str, Any]:
    """A remittance advice (付款通知) to one vendor: the bills a paid batch settled for it."""
    school = db.get(School, batch.school_id)
    bills = db.execute(
        select(VendorBill, PurchaseAgreement, Programme)
        .join(
            PayoutItem,
            (PayoutItem.source == "vendor_bill") & (PayoutItem.source_id == VendorBill.id),
        )
        .join(PurchaseAgreement, PurchaseAgreement.id == VendorBill.agreement_id)
        .join(Programme, Programme.id == PurchaseAgreement.programme_id)
        .where(PayoutItem.batch_id == batch.id, VendorBill.vendor_id == vendor.id)
        .order_by(VendorBill.service_date, VendorBill.id)
    ).all()
    lines = [
        {
            "reference": bill.reference,
            "agreement": agreement.reference,
            "programme": programme.name,
            "service_date": bill.service_date,
            "quantity": bill.quantity,
            "unit": agreement.unit,
            "unit_price": bill.unit_price,
            "amount": bill.amount,
        }
        for bill, agreement, programme in bills
    ]
    return {
        "number": f"{school.code}-PB{batch.id}-V{vendor.id}",
        "date": batch.paid_on,
        "school": school_data(db, school),
        "vendor": {
            "id": vendor.id,
            "name": vendor.name,
            "uscc": vendor.uscc,
            "services": vendor.services,
        },
        "batch": batch.id,
        "reference": batch.reference or "",
        "paid_on": batch.paid_on,
        "lines": lines,
        "amount": sum(line["amount"] for line in lines),
    }
