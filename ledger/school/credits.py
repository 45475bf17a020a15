"""Credits: withdrawals and long absences, split back across the payers as they were charged.

Under the ``daily`` rule a withdrawal credits what was charged × unused billed
service days ÷ billed service days. Under ``half_month``, a continuous
absence (or the rest of the period after a withdrawal) of ``d`` calendar days
credits ``d // 30`` months, plus half a month when ``d % 30 >= 15``, of the
monthly charge. Either way the credit is split in the proportions the charge
was made (government, school, household, absorbed waiver), and all credits of
a charge together never exceed it.

A waiver approved after billing (:func:`credit_late_waiver`) is a different
kind of credit: the service cost and the revenue stay as they were, and the
waived part of the parent share moves from the household to whoever covers
waivers under the charge's policy, exactly as if the waiver had been known
when billing ran::

    Dr 1123.<district> Receivable: government   m   (the government covers waivers)
    Dr 1124            Receivable: school       m   (the school covers waivers)
    Dr 4901            Waivers absorbed         m   (absorbed as contra-revenue)
    Cr 1122.H<id>      Receivable: household    what the unpaid invoice still asked for
    Cr 2241.H<id>      Household credit         the rest (what had already been paid)

(one of the three debit lines, per the policy). Its credit record has
``reason = "waiver"`` and carries ``m`` as ``total`` and ``household``; the
party it moved to is the charge's ``waiver_cover``. Because of such moves,
later credits are split in the proportions each payer *now* carries
(:func:`charge_parts`), not those first charged.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ledger import books
from ledger.money import round_fen_half_up

from .errors import RuleBroken
from .fees import (
    BASIS,
    BillingPeriodKind,
    RefundRule,
    daily_credit,
    half_month_credit,
    split_credit,
)
from .models import (
    ChargeRecord,
    CostPolicy,
    CreditRecord,
    District,
    Enrolment,
    HardshipStatus,
    Invoice,
    Programme,
    School,
    Term,
    WaiverGrant,
)
from .receivables import FINAL, invoice_outstanding, refresh_status
from .structure import calendar_of, funder_account, household_account, household_credit_account
from .waivers import waiver_windows

__all__ = [
    "charge_parts",
    "credit_absence",
    "credit_late_waiver",
    "credit_withdrawal",
    "invoice_outstanding",
    "post_credit",
    "post_waiver_credit",
    "waiver_due",
]

#: Credits that give back part of the cost (and of the revenue).
REDUCING_REASONS = ("withdrawal", "absence", "cancel")


def _credited_so_far(db: Session, charge: ChargeRecord) -> int:
    """What credits have given back of the charge's cost (waiver moves give nothing back)."""
    return int(
        db.scalar(
            select(func.coalesce(func.sum(CreditRecord.total), 0)).where(
                CreditRecord.charge_id == charge.id, CreditRecord.reason != "waiver"
            )
        )
    )


def charge_parts(db: Session, charge: ChargeRecord) -> dict[str, int]:
    """What each payer carries of the charge now: as charged, less credits, after waiver moves.

    Keys ``government``, ``school``, ``household`` and ``absorbed``; they sum
    to the cost less every credit that gave part of it back.
    """
    parts = {
        "government": charge.government
        + (charge.waiver if charge.waiver_cover == "government" else 0),
        "school": charge.school + (charge.waiver if charge.waiver_cover == "school" else 0),
        "household": charge.household,
        "absorbed": charge.waiver if charge.waiver_cover == "absorbed" else 0,
    }
    for credit in db.scalars(select(CreditRecord).where(CreditRecord.charge_id == charge.id)):
        if credit.reason == "waiver":
            parts["household"] -= credit.household
            parts[charge.waiver_cover] += credit.household
        else:
            parts["government"] -= credit.government
            parts["school"] -= credit.school
            parts["household"] -= credit.household
            parts["absorbed"] -= credit.absorbed
    return parts


def _household_split(db: Session, charge: ChargeRecord, household_part: int) -> tuple[int, int]:
    """``(to_invoice, to_credit)``: what reduces the unpaid invoice, and what goes to 2241."""
    invoice = db.get(Invoice, charge.invoice_id) if charge.invoice_id else None
    to_invoice = 0
    if invoice is not None and invoice.status not in FINAL:
        to_invoice = max(0, min(household_part, invoice_outstanding(db, invoice)))
    return to_invoice, household_part - to_invoice


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
    """Credit ``amount`` of a charge, capped so that credits never exceed the charge.

    ``reason`` is ``withdrawal``, ``absence`` or ``cancel``: the credit gives
    back part of the cost, split across the payers in the proportions they
    now carry (:func:`charge_parts`); the household's part reduces its
    unpaid invoice first and goes to household credit (2241) beyond that.
    """
    if reason not in REDUCING_REASONS:
        raise RuleBroken(
            "invalid_credit_reason",
            f"reason must be one of {', '.join(REDUCING_REASONS)}; a late waiver is credited "
            "with credit_late_waiver",
            field="reason",
        )
    remaining = charge.cost - _credited_so_far(db, charge)
    amount = min(amount, remaining)
    if amount <= 0:
        return None
    split = split_credit(amount, charge_parts(db, charge))
    school = db.get(School, charge.school_id)
    district = db.get(District, school.district_id)
    enrolment = db.get(Enrolment, charge.enrolment_id)
    programme = db.get(Programme, enrolment.programme_id)
    invoice = db.get(Invoice, charge.invoice_id) if charge.invoice_id else None
    to_invoice, to_credit = _household_split(db, charge, split.household)
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
    if invoice is not None:
        refresh_status(db, invoice)
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
    # The latest generation: a reissued invoice's charge, not the cancelled one it replaced.
    charge = db.scalar(
        select(ChargeRecord)
        .where(
            ChargeRecord.enrolment_id == enrolment.id,
            ChargeRecord.period_start <= start,
            ChargeRecord.period_end >= start,
        )
        .order_by(ChargeRecord.generation.desc())
        .limit(1)
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


# --------------------------------------------------------------------------- late waivers


def waiver_due(db: Session, charge: ChargeRecord) -> int:
    """The waiver of the parent share the charge would carry with every waiver known today.

    Billing's rule (``fees.compute_charge``): for each hardship status or
    approved waiver, ``parent × covered days × percent ÷ enrolled days``,
    rounded half-up once; the largest one counts, never above the parent
    share. Days on or after a withdrawal are not counted: their part of the
    charge was (or will be) given back by the withdrawal credit.
    """
    if charge.parent <= 0 or charge.enrolled_days <= 0:
        return 0
    enrolment = db.get(Enrolment, charge.enrolment_id)
    days = _charge_days(db, charge, enrolment)
    if not days:
        return 0
    used = [d for d in days if enrolment.end_date is None or d < enrolment.end_date]
    due = 0
    for percent, w_from, w_to, _ in waiver_windows(db, enrolment.student_id, days[0], days[-1]):
        covered = sum(1 for d in used if w_from <= d <= w_to)
        if covered:
            amount = round_fen_half_up(
                charge.parent * covered * percent, charge.enrolled_days * BASIS
            )
            due = max(due, min(amount, charge.parent))
    return due


def _waiver_given(db: Session, charge: ChargeRecord) -> int:
    """The waiver the charge still carries, to compare with :func:`waiver_due`.

    What billing waived plus late-waiver moves, less the part of it that withdrawal
    credits gave back: they return the unused days' share of what each payer carries,
    the waiver's cover party included, just as :func:`waiver_due` leaves those days out.
    """
    carried = charge.waiver
    cover = charge.waiver_cover
    # What the cover party carries of the charge: its own share and the waiver.
    own = {"government": charge.government, "school": charge.school, "absorbed": 0}
    part = own[cover] + charge.waiver
    for credit in db.scalars(
        select(CreditRecord).where(CreditRecord.charge_id == charge.id).order_by(CreditRecord.id)
    ):
        if credit.reason == "waiver":
            carried += credit.household
            part += credit.household
            continue
        share = getattr(credit, cover)
        if credit.reason == "withdrawal" and part > 0:
            carried -= round_fen_half_up(share * carried, part)
        part -= share
    return carried


def post_waiver_credit(
    db: Session,
    charge: ChargeRecord,
    amount: int,
    *,
    detail: str,
    actor: str,
    effective: dt.date,
) -> CreditRecord | None:
    """Move ``amount`` of the household's part of a charge to whoever covers waivers.

    Capped at what the household still carries of the charge. The postings
    are in the module docstring; the revenue (4001) does not change.
    """
    amount = min(amount, charge_parts(db, charge)["household"])
    if amount <= 0:
        return None
    school = db.get(School, charge.school_id)
    district = db.get(District, school.district_id)
    cover_account = {
        "government": funder_account(district),
        "school": "1124",
        "absorbed": "4901",
    }[charge.waiver_cover]
    to_invoice, to_credit = _household_split(db, charge, amount)
    lines = [
        (cover_account, amount),
        (household_account(charge.household_id), -to_invoice),
        (household_credit_account(charge.household_id), -to_credit),
    ]
    posted = books.post_entry(
        db,
        school.book_id,
        books.EntryDraft(
            effective_date=effective,
            memo=f"减免 late waiver ({detail}) for charge {charge.id}, "
            f"covered by {charge.waiver_cover}",
            kind="credit",
            source_ref=f"charge:{charge.id}",
            postings=[books.PostingDraft(code, fen) for code, fen in lines if fen != 0],
        ),
        actor=actor,
    )
    record = CreditRecord(
        charge_id=charge.id,
        reason="waiver",
        detail=detail[:200],
        entry_id=posted.entry_id,
        total=amount,
        government=0,
        school=0,
        household=amount,
        absorbed=0,
        to_invoice=to_invoice,
        to_credit_account=to_credit,
        created_by=actor,
    )
    db.add(record)
    db.flush()
    if charge.invoice_id is not None:
        refresh_status(db, db.get(Invoice, charge.invoice_id))
    return record


def credit_late_waiver(
    db: Session,
    grant: WaiverGrant | HardshipStatus,
    *,
    actor: str,
    effective: dt.date,
) -> list[CreditRecord]:
    """Credit a waiver (or verified hardship) that became known after billing.

    For every charge of the student whose period overlaps the grant's
    validity, the waiver now due (:func:`waiver_due`) less what the charge
    already carries (its waiver at billing plus earlier waiver credits) is
    moved from the household to the government, the school or contra-revenue
    4901, as the charge's policy says — the postings are in the module
    docstring. Running it again credits nothing new. Charges of cancelled
    invoices are skipped: their reissue is billed with the waiver known.
    """
    if isinstance(grant, WaiverGrant) and grant.status != "approved":
        raise RuleBroken(
            "waiver_not_approved",
            f"waiver {grant.id} is {grant.status}; only an approved waiver is credited",
            field="waiver",
        )
    label = (
        f"waiver {grant.id}" if isinstance(grant, WaiverGrant) else f"hardship {grant.evidence_ref}"
    )
    charges = db.scalars(
        select(ChargeRecord)
        .join(Enrolment, Enrolment.id == ChargeRecord.enrolment_id)
        .outerjoin(Invoice, Invoice.id == ChargeRecord.invoice_id)
        .where(
            Enrolment.student_id == grant.student_id,
            ChargeRecord.period_start <= grant.valid_to,
            ChargeRecord.period_end >= grant.valid_from,
            (Invoice.id.is_(None)) | (Invoice.status != "cancelled"),
        )
        .order_by(ChargeRecord.period_start, ChargeRecord.id)
    ).all()
    out = []
    for charge in charges:
        extra = waiver_due(db, charge) - _waiver_given(db, charge)
        if extra <= 0:
            continue
        record = post_waiver_credit(
            db,
            charge,
            extra,
            detail=f"{label} {grant.valid_from}–{grant.valid_to}",
            actor=actor,
            effective=effective,
        )
        if record is not None:
            out.append(record)
    return out
