"""Credits: withdrawals and long absences, split back across the payers as they were charged.

Under the ``daily`` rule a withdrawal credits what was charged × unused billed
service days ÷ billed service days. Under ``half_month``, a continuous
absence (or the rest of the period after a withdrawal) of ``d`` calendar days
credits ``d // 30`` months, plus half a month when ``d % 30 >= 15``, of the
monthly charge. Either way the credit is split in the proportions the charge
was made (government, school, household, absorbed waiver), and all credits of
a charge together never exceed it.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ledger import books

from .errors import RuleBroken
from .fees import BillingPeriodKind, RefundRule, daily_credit, half_month_credit, split_credit
from .models import (
    ChargeRecord,
    CostPolicy,
    CreditRecord,
    District,
    Enrolment,
    Invoice,
    PaymentAllocation,
    Programme,
    School,
    Term,
)
from .structure import calendar_of, funder_account, household_account, household_credit_account


def invoice_outstanding(db: Session, invoice: Invoice) -> int:
    paid = db.scalar(
        select(func.coalesce(func.sum(PaymentAllocation.amount), 0)).where(
            PaymentAllocation.invoice_id == invoice.id
        )
    )
    credited = db.scalar(
        select(func.coalesce(func.sum(CreditRecord.to_invoice), 0))
        .join(ChargeRecord, ChargeRecord.id == CreditRecord.charge_id)
        .where(ChargeRecord.invoice_id == invoice.id)
    )
    return invoice.amount - int(paid) - int(credited)


def _credited_so_far(db: Session, charge: ChargeRecord) -> int:
    return int(
        db.scalar(
            select(func.coalesce(func.sum(CreditRecord.total), 0)).where(
                CreditRecord.charge_id == charge.id
            )
        )
    )


def post_credit(
    db: Session,
    charge: ChargeRecord,
    amount: int,
    *,
    reason: str,
    detail: str,
    actor: str,
    effective: dt.date,
) -> CreditRecord | None:
    """Credit ``amount`` of a charge, capped so that credits never exceed the charge."""
    remaining = charge.cost - _credited_so_far(db, charge)
    amount = min(amount, remaining)
    if amount <= 0:
        return None
    charged = {
        "government": charge.government
        + (charge.waiver if charge.waiver_cover == "government" else 0),
        "school": charge.school + (charge.waiver if charge.waiver_cover == "school" else 0),
        "household": charge.household,
        "absorbed": charge.waiver if charge.waiver_cover == "absorbed" else 0,
    }
    split = split_credit(amount, charged)
    school = db.get(School, charge.school_id)
    district = db.get(District, school.district_id)
    enrolment = db.get(Enrolment, charge.enrolment_id)
    programme = db.get(Programme, enrolment.programme_id)
    invoice = db.get(Invoice, charge.invoice_id) if charge.invoice_id else None
    to_invoice = 0
    if invoice is not None and invoice.status != "cancelled":
        to_invoice = max(0, min(split.household, invoice_outstanding(db, invoice)))
    to_credit = split.household - to_invoice
    lines = [
        (f"4001.{programme.kind}", split.total),
        (funder_account(district), -split.government),
        ("1124", -split.school),
        (household_account(charge.household_id), -to_invoice),
        (household_credit_account(charge.household_id), -to_credit),
        ("4901", -split.absorbed),
    ]
    posted = books.post_entry(
        db,
        school.book_id,
        books.EntryDraft(
            effective_date=effective,
            memo=f"退费 credit ({reason}: {detail}) for charge {charge.id}",
            kind="credit",
            source_ref=f"charge:{charge.id}",
            postings=[books.PostingDraft(code, fen) for code, fen in lines if fen != 0],
        ),
        actor=actor,
    )
    record = CreditRecord(
        charge_id=charge.id,
        reason=reason,
        detail=detail,
        entry_id=posted.entry_id,
        total=split.total,
        government=split.government,
        school=split.school,
        household=split.household,
        absorbed=split.absorbed,
        to_invoice=to_invoice,
        to_credit_account=to_credit,
        created_by=actor,
    )
    db.add(record)
    db.flush()
    if (
        invoice is not None
        and invoice_outstanding(db, invoice) == 0
        and invoice.status in ("issued", "partially_paid", "overdue")
    ):
        invoice.status = "paid"
        db.flush()
    return record


def _charge_days(db: Session, charge: ChargeRecord, enrolment: Enrolment) -> list[dt.date]:
    """The service days a charge billed for (the enrolment's days in its period)."""
    programme = db.get(Programme, enrolment.programme_id)
    term = db.get(Term, programme.term_id)
    days = calendar_of(db, term).service_days(
        charge.period_start,
        charge.period_end,
        programme_weekdays=[int(ch) for ch in programme.weekdays],
    )
    return [d for d in days if d >= enrolment.start_date][: charge.enrolled_days]


def credit_withdrawal(db: Session, enrolment: Enrolment, *, actor: str) -> list[CreditRecord]:
    """Credits for every charge that billed days on or after the withdrawal date."""
    if enrolment.end_date is None:
        raise RuleBroken("not_withdrawn", "the enrolment has not been withdrawn", field="enrolment")
    effective = enrolment.end_date
    out = []
    for charge in db.scalars(
        select(ChargeRecord)
        .where(ChargeRecord.enrolment_id == enrolment.id, ChargeRecord.period_end >= effective)
        .order_by(ChargeRecord.period_start)
    ):
        policy = db.get(CostPolicy, charge.policy_id)
        if policy.refund_rule == RefundRule.DAILY:
            billed = _charge_days(db, charge, enrolment)
            unused = sum(1 for d in billed if d >= effective)
            amount = daily_credit(charge.cost, len(billed), unused)
        else:
            start = max(effective, charge.period_start)
            days = (charge.period_end - start).days + 1
            amount, _ = half_month_credit(
                charge.cost, days, months_in_charge=_months_in(db, charge, enrolment)
            )
        record = post_credit(
            db,
            charge,
            amount,
            reason="withdrawal",
            detail=f"from {effective}",
            actor=actor,
            effective=max(effective, charge.period_start),
        )
        if record is not None:
            out.append(record)
    return out


def _months_in(db: Session, charge: ChargeRecord, enrolment: Enrolment) -> int:
    from .models import BillingRun

    run = db.get(BillingRun, charge.billing_run_id)
    if run.period_kind == BillingPeriodKind.MONTH:
        return 1
    programme = db.get(Programme, enrolment.programme_id)
    return db.get(Term, programme.term_id).billing_months


def credit_absence(
    db: Session, enrolment: Enrolment, *, start: dt.date, end: dt.date, actor: str
) -> CreditRecord | None:
    """A continuous absence under the ``half_month`` rule, against the charge covering it."""
    charge = db.scalar(
        select(ChargeRecord).where(
            ChargeRecord.enrolment_id == enrolment.id,
            ChargeRecord.period_start <= start,
            ChargeRecord.period_end >= start,
        )
    )
    if charge is None:
        raise RuleBroken("nothing_charged", "no charge covers the absence", field="start")
    policy = db.get(CostPolicy, charge.policy_id)
    if policy.refund_rule != RefundRule.HALF_MONTH:
        raise RuleBroken(
            "refund_rule_mismatch",
            "this programme's policy refunds by day; absences are credited only under half_month",
            field="start",
        )
    days = (end - start).days + 1
    amount, halves = half_month_credit(
        charge.cost, days, months_in_charge=_months_in(db, charge, enrolment)
    )
    return post_credit(
        db,
        charge,
        amount,
        reason="absence",
        detail=f"{start}–{end} ({days} days, {halves}/2 months)",
        actor=actor,
        effective=start,
    )
