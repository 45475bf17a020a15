"""Approved fee standards and cost-sharing policies, versioned and effective-dated.

A fee standard, once a charge has used it, is never edited: a change is a new
version. A policy is refused unless its parent share lies between zero and the
fee standard it names, for the same unit and programme kind, and the standard
is valid over the whole policy period.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from .errors import Conflict, NotFound, RuleBroken
from .fees import (
    CostSharing,
    PolicyRuleBroken,
    RefundRule,
    Share,
    ShareMode,
    Unit,
    WaiverCover,
)
from .models import PROGRAMME_KINDS, ChargeRecord, CostPolicy, District, FeeStandard, School


def _scope(district: District | None, school: School | None) -> dict[str, int | None]:
    if (district is None) == (school is None):
        raise RuleBroken("invalid_scope", "name either a district or a school", field="scope")
    return {
        "district_id": district.id if district else None,
        "school_id": school.id if school else None,
    }


def _enum(enum_cls, value: str, field: str):  # type: ignore[no-untyped-def]
    try:
        return enum_cls(value)
    except ValueError:
        allowed = ", ".join(v.value for v in enum_cls)
        raise RuleBroken(
            f"invalid_{field}", f"{field} must be one of {allowed}", field=field
        ) from None


def _kind(kind: str) -> str:
    if kind not in PROGRAMME_KINDS:
        raise RuleBroken(
            "invalid_kind", f"kind must be one of {', '.join(PROGRAMME_KINDS)}", field="kind"
        )
    return kind


def create_fee_standard(
    db: Session,
    *,
    district: District | None = None,
    school: School | None = None,
    kind: str,
    amount: int,
    unit: str,
    authority: str,
    document_no: str,
    valid_from: dt.date,
    valid_to: dt.date,
    actor: str,
) -> FeeStandard:
    scope = _scope(district, school)
    _kind(kind)
    _enum(Unit, unit, "unit")
    if amount < 0:
        raise RuleBroken("invalid_amount", "a fee standard cannot be negative", field="amount")
    if not authority.strip() or not document_no.strip():
        raise RuleBroken(
            "approval_required",
            "a fee standard names its approving authority and document number (文号)",
            field="document_no",
        )
    if valid_to < valid_from:
        raise RuleBroken("invalid_dates", "valid_to is before valid_from", field="valid_to")
    version = 1 + (
        db.scalar(
            select(func.max(FeeStandard.version)).where(
                FeeStandard.kind == kind,
                FeeStandard.district_id.is_(scope["district_id"])
                if scope["district_id"] is None
                else FeeStandard.district_id == scope["district_id"],
                FeeStandard.school_id.is_(scope["school_id"])
                if scope["school_id"] is None
                else FeeStandard.school_id == scope["school_id"],
            )
        )
        or 0
    )
    standard = FeeStandard(
        **scope,
        kind=kind,
        version=version,
        amount=amount,
        unit=unit,
        authority=authority.strip(),
        document_no=document_no.strip(),
        valid_from=valid_from,
        valid_to=valid_to,
        created_by=actor,
    )
    db.add(standard)
    db.flush()
    return standard


def standard_in_use(db: Session, standard: FeeStandard) -> bool:
    return (
        db.scalar(
            select(ChargeRecord.id).where(ChargeRecord.fee_standard_id == standard.id).limit(1)
        )
        is not None
    )


def amend_fee_standard(db: Session, standard: FeeStandard, **changes: object) -> FeeStandard:
    """Edit a standard no charge has used yet; a used one must get a new version instead."""
    if standard_in_use(db, standard):
        raise Conflict(
            "standard_in_use",
            f"fee standard {standard.document_no} v{standard.version} has been charged; "
            "create a new version instead of editing it",
        )
    allowed = {"amount", "authority", "document_no", "valid_from", "valid_to"}
    for key, value in changes.items():
        if key not in allowed:
            raise RuleBroken("invalid_field", f"{key} cannot be changed", field=key)
        setattr(standard, key, value)
    db.flush()
    return standard


def sharing_of(policy: CostPolicy) -> CostSharing:
    return CostSharing(
        unit=Unit(policy.unit),
        unit_cost=policy.unit_cost,
        government=Share(ShareMode(policy.government_mode), policy.government_value),
        school=Share(ShareMode(policy.school_mode), policy.school_value),
        waiver_cover=WaiverCover(policy.waiver_cover),
        refund_rule=RefundRule(policy.refund_rule),
    )


def create_cost_policy(
    db: Session,
    *,
    district: District | None = None,
    school: School | None = None,
    kind: str,
    fee_standard: FeeStandard,
    effective_from: dt.date,
    effective_to: dt.date,
    unit: str,
    unit_cost: int,
    government: tuple[str, int],
    school_share: tuple[str, int],
    waiver_cover: str,
    refund_rule: str,
    actor: str,
    notice_ref: str | None = None,
) -> CostPolicy:
    scope = _scope(district, school)
    _kind(kind)
    if fee_standard.kind != kind:
        raise RuleBroken(
            "item_not_in_standard",
            f"the fee standard covers {fee_standard.kind}, not {kind}",
            field="fee_standard",
        )
    if effective_to < effective_from:
        raise RuleBroken(
            "invalid_dates", "effective_to is before effective_from", field="effective_to"
        )
    if effective_from < fee_standard.valid_from or effective_to > fee_standard.valid_to:
        raise RuleBroken(
            "outside_standard_validity",
            f"the fee standard is valid {fee_standard.valid_from}–{fee_standard.valid_to}; "
            f"the policy runs {effective_from}–{effective_to}",
            field="effective_from",
        )
    sharing = CostSharing(
        unit=_enum(Unit, unit, "unit"),
        unit_cost=unit_cost,
        government=Share(_enum(ShareMode, government[0], "government_mode"), government[1]),
        school=Share(_enum(ShareMode, school_share[0], "school_mode"), school_share[1]),
        waiver_cover=_enum(WaiverCover, waiver_cover, "waiver_cover"),
        refund_rule=_enum(RefundRule, refund_rule, "refund_rule"),
    )
    try:
        sharing.check(fee_standard.amount, Unit(fee_standard.unit))
    except PolicyRuleBroken as exc:
        raise RuleBroken(exc.code, exc.message, field=exc.field) from exc
    same_scope = [
        CostPolicy.kind == kind,
        CostPolicy.district_id == scope["district_id"]
        if scope["district_id"] is not None
        else CostPolicy.district_id.is_(None),
        CostPolicy.school_id == scope["school_id"]
        if scope["school_id"] is not None
        else CostPolicy.school_id.is_(None),
    ]
    clash = db.scalar(
        select(CostPolicy).where(
            *same_scope,
            CostPolicy.effective_from <= effective_to,
            CostPolicy.effective_to >= effective_from,
        )
    )
    if clash is not None:
        raise Conflict(
            "policy_overlap",
            f"policy v{clash.version} already covers {clash.effective_from}–{clash.effective_to}",
        )
    version = 1 + (db.scalar(select(func.max(CostPolicy.version)).where(*same_scope)) or 0)
    policy = CostPolicy(
        **scope,
        kind=kind,
        version=version,
        effective_from=effective_from,
        effective_to=effective_to,
        unit=sharing.unit.value,
        unit_cost=unit_cost,
        government_mode=sharing.government.mode.value,
        government_value=sharing.government.value,
        school_mode=sharing.school.mode.value,
        school_value=sharing.school.value,
        waiver_cover=sharing.waiver_cover.value,
        refund_rule=sharing.refund_rule.value,
        fee_standard_id=fee_standard.id,
        notice_ref=notice_ref,
        created_by=actor,
    )
    db.add(policy)
    db.flush()
    return policy


def policy_for(db: Session, school: School, kind: str, day: dt.date) -> CostPolicy:
    """The school's own policy for a programme kind on a date, else the district's."""
    for where in (CostPolicy.school_id == school.id, CostPolicy.district_id == school.district_id):
        policy = db.scalar(
            select(CostPolicy).where(
                where,
                CostPolicy.kind == kind,
                CostPolicy.effective_from <= day,
                CostPolicy.effective_to >= day,
            )
        )
        if policy is not None:
            return policy
    raise RuleBroken(
        "no_policy",
        f"no cost-sharing policy for {kind} at school {school.code} on {day}",
        field="period",
    )


def check_standard_covers(standard: FeeStandard, kind: str, start: dt.date, end: dt.date) -> None:
    """The rules a charge must meet against its fee standard (严禁乱收费)."""
    if standard.kind != kind:
        raise RuleBroken(
            "item_not_in_standard", f"the fee standard does not list {kind}", field="fee_standard"
        )
    if start < standard.valid_from or end > standard.valid_to:
        raise RuleBroken(
            "outside_standard_validity",
            f"fee standard {standard.document_no} is valid {standard.valid_from}–"
            f"{standard.valid_to}, not for {start}–{end}",
            field="period",
        )


def find_standards(db: Session, school: School) -> list[FeeStandard]:
    return list(
        db.scalars(
            select(FeeStandard)
            .where(
                or_(
                    FeeStandard.school_id == school.id,
                    FeeStandard.district_id == school.district_id,
                )
            )
            .order_by(FeeStandard.kind, FeeStandard.version)
        )
    )


def get_standard(db: Session, standard_id: int) -> FeeStandard:
    standard = db.get(FeeStandard, standard_id)
    if standard is None:
        raise NotFound(f"no fee standard {standard_id}")
    return standard
