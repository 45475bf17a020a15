"""The arithmetic of a charge: cost, proration, cost-sharing split, waivers and credits.

Pure functions over integers of fen, with every intermediate kept so that a
charge can be explained line by line (DESIGN.md, "Cost and shares" and
"Credits"):

* the cost of one enrolment for one billing period is ``F × units``,
  prorated by the enrolment's own service days, rounded half-up **once**;
* it is split ``g : c : r`` with :func:`ledger.money.allocate`; remainder fen
  go to the government first, then the school, never to the parent, so a
  parent is never charged a fen above the standard;
* a waiver ``w`` of the parent share moves to the government, the school, or
  contra-revenue 4901, as the policy says;
* a credit (withdrawal, long absence) is split back across the payers in the
  proportions they were charged and never exceeds what was charged.

Shares given as percentages are in basis points (``5000`` = 50 %), so no
float ever enters.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from decimal import Decimal

from ledger.money import allocate, round_fen_half_up

BASIS = 10_000  # basis points in 100 %


class Unit(enum.StrEnum):
    TERM = "term"
    MONTH = "month"
    DAY = "day"
    LESSON = "lesson"  # 课时


class ShareMode(enum.StrEnum):
    AMOUNT = "amount"
    PERCENT = "percent"


class WaiverCover(enum.StrEnum):
    GOVERNMENT = "government"
    SCHOOL = "school"
    ABSORBED = "absorbed"


class RefundRule(enum.StrEnum):
    DAILY = "daily"
    HALF_MONTH = "half_month"


class BillingPeriodKind(enum.StrEnum):
    TERM = "term"
    MONTH = "month"


class PolicyRuleBroken(ValueError):
    """A cost-sharing policy or fee standard that the rules refuse; ``code`` names the rule."""

    def __init__(self, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field


@dataclass(frozen=True)
class Share:
    mode: ShareMode
    #: fen when ``mode`` is amount, basis points when percent.
    value: int

    def weight(self, unit_cost: int) -> int:
        """This share of one unit, in fen × BASIS (exact for percentages)."""
        if self.mode is ShareMode.AMOUNT:
            return self.value * BASIS
        return unit_cost * self.value


@dataclass(frozen=True)
class CostSharing:
    """What a cost-sharing policy says, as numbers."""

    unit: Unit
    unit_cost: int
    government: Share
    school: Share
    waiver_cover: WaiverCover
    refund_rule: RefundRule

    def weights(self) -> tuple[int, int, int]:
        """``(g, c, r)`` of one unit in fen × BASIS; ``r`` is the rest for the parent."""
        g = self.government.weight(self.unit_cost)
        c = self.school.weight(self.unit_cost)
        return g, c, self.unit_cost * BASIS - g - c

    def check(self, standard_amount: int, standard_unit: Unit) -> None:
        """Refuse a policy whose parent share is negative or above the approved standard."""
        if self.unit_cost <= 0:
            raise PolicyRuleBroken(
                "invalid_unit_cost", "the unit cost must be positive", "unit_cost"
            )
        for name, share in (("government", self.government), ("school", self.school)):
            if share.value < 0:
                raise PolicyRuleBroken("invalid_share", f"the {name} share is negative", name)
            if share.mode is ShareMode.PERCENT and share.value > BASIS:
                raise PolicyRuleBroken("invalid_share", f"the {name} share is above 100 %", name)
        if standard_unit != self.unit:
            raise PolicyRuleBroken(
                "standard_unit_mismatch",
                f"the policy charges per {self.unit.value} but the fee standard is per "
                f"{standard_unit.value}",
                "fee_standard",
            )
        _, _, r = self.weights()
        if r < 0:
            raise PolicyRuleBroken(
                "shares_exceed_cost",
                "government and school shares exceed the unit cost: the parent share "
                "would be negative",
                "government",
            )
        if r > standard_amount * BASIS:
            raise PolicyRuleBroken(
                "parent_share_above_standard",
                f"the parent share {_fmt_weight(r)} per {self.unit.value} is above the "
                f"approved fee standard {_fmt_weight(standard_amount * BASIS)}",
                "unit_cost",
            )


def _fmt_weight(weight: int) -> str:
    """A per-unit share (fen × BASIS) in yuan, exactly: at least two decimals, more if needed."""
    yuan = Decimal(weight) / (BASIS * 100)
    return f"{yuan:.2f}" if yuan == yuan.quantize(Decimal("0.01")) else f"{yuan.normalize():f}"


@dataclass(frozen=True)
class Waiver:
    """A waiver of the parent share: ``percent`` in basis points (10000 = full)."""

    percent: int
    #: Service days of the enrolment in the period that the waiver covers.
    covered_days: int
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Charge:
    """One enrolment's charge for one billing period, with every step kept."""

    unit: Unit
    unit_cost: int
    #: Units billed for the full period, as a fraction ``units_num / units_den``.
    units_num: int
    units_den: int
    period_days: int
    enrolled_days: int
    full_cost_numerator: int
    full_cost_denominator: int
    cost: int
    government: int
    school: int
    parent: int
    waiver: int
    waiver_cover: WaiverCover

    @property
    def household(self) -> int:
        """What the household is asked to pay: the parent share less the waiver."""
        return self.parent - self.waiver

    @property
    def government_total(self) -> int:
        return self.government + (self.waiver if self.waiver_cover is WaiverCover.GOVERNMENT else 0)

    @property
    def school_total(self) -> int:
        return self.school + (self.waiver if self.waiver_cover is WaiverCover.SCHOOL else 0)

    @property
    def absorbed(self) -> int:
        return self.waiver if self.waiver_cover is WaiverCover.ABSORBED else 0

    def payer_parts(self) -> dict[str, int]:
        """Who was charged what: the proportions a credit is split back in."""
        return {
            "government": self.government_total,
            "school": self.school_total,
            "household": self.household,
            "absorbed": self.absorbed,
        }


def units_for_period(
    policy_unit: Unit,
    period: BillingPeriodKind,
    *,
    billing_months: int,
    lessons_per_session: int = 1,
) -> tuple[int, int, bool]:
    """Units of the full period as ``(numerator, denominator, per_day)``.

    ``per_day`` is true for day and lesson units: their units already count
    the enrolment's own service days, so they are not prorated again.
    """
    if billing_months <= 0:
        raise PolicyRuleBroken("invalid_term", "a term has at least one billing month")
    if policy_unit is Unit.TERM:
        return (1, 1, False) if period is BillingPeriodKind.TERM else (1, billing_months, False)
    if policy_unit is Unit.MONTH:
        return (billing_months, 1, False) if period is BillingPeriodKind.TERM else (1, 1, False)
    if policy_unit is Unit.DAY:
        return (1, 1, True)
    if lessons_per_session <= 0:
        raise PolicyRuleBroken("invalid_programme", "a session has at least one 课时")
    return (lessons_per_session, 1, True)


def compute_charge(
    sharing: CostSharing,
    period: BillingPeriodKind,
    *,
    billing_months: int,
    period_days: int,
    enrolled_days: int,
    lessons_per_session: int = 1,
    waivers: tuple[Waiver, ...] = (),
) -> Charge:
    """The charge of one enrolment for one billing period."""
    if period_days <= 0:
        raise PolicyRuleBroken("no_service_days", "the period has no service days")
    if not 0 <= enrolled_days <= period_days:
        raise PolicyRuleBroken(
            "invalid_enrolment_days",
            f"{enrolled_days} enrolled service days in a period of {period_days}",
        )
    num, den, per_day = units_for_period(
        sharing.unit, period, billing_months=billing_months, lessons_per_session=lessons_per_session
    )
    if per_day:
        numerator = sharing.unit_cost * num * enrolled_days
        denominator = den
    else:
        numerator = sharing.unit_cost * num * enrolled_days
        denominator = den * period_days
    cost = round_fen_half_up(numerator, denominator)  # the one rounding
    g, c, r = sharing.weights()
    government, school, parent = split_cost(cost, g, c, r)
    waiver = 0
    for w in waivers:
        if enrolled_days == 0 or w.covered_days <= 0:
            continue
        covered = min(w.covered_days, enrolled_days)
        amount = round_fen_half_up(parent * covered * w.percent, enrolled_days * BASIS)
        waiver = max(waiver, min(amount, parent))
    return Charge(
        unit=sharing.unit,
        unit_cost=sharing.unit_cost,
        units_num=num,
        units_den=den,
        period_days=period_days,
        enrolled_days=enrolled_days,
        full_cost_numerator=numerator,
        full_cost_denominator=denominator,
        cost=cost,
        government=government,
        school=school,
        parent=parent,
        waiver=waiver,
        waiver_cover=sharing.waiver_cover,
    )


def split_cost(cost: int, g: int, c: int, r: int) -> tuple[int, int, int]:
    """Split a cost ``g : c : r``; remainder fen to the government, then the school.

    The parent's part is rounded down and never receives a remainder fen, so
    it never exceeds ``cost × r / (g + c + r)``.
    """
    government, school, parent = allocate(cost, [g, c, r], remainder_order=[0, 1])
    return government, school, parent


@dataclass(frozen=True)
class Credit:
    total: int
    government: int
    school: int
    household: int
    absorbed: int

    def parts(self) -> dict[str, int]:
        return {
            "government": self.government,
            "school": self.school,
            "household": self.household,
            "absorbed": self.absorbed,
        }


def split_credit(total: int, charged: dict[str, int]) -> Credit:
    """Split a credit back across the payers in the proportions they were charged."""
    whole = sum(charged.values())
    if total < 0:
        raise PolicyRuleBroken("invalid_credit", "a credit cannot be negative")
    if total > whole:
        raise PolicyRuleBroken(
            "credit_exceeds_charge",
            f"a credit of {total} fen would exceed the {whole} fen charged",
        )
    order = ["government", "school", "household", "absorbed"]
    shares = allocate(total, [charged.get(k, 0) for k in order]) if whole else [0, 0, 0, 0]
    return Credit(total, *shares)


def daily_credit(charged_total: int, billed_days: int, unused_days: int) -> int:
    """``daily`` rule: what was charged × unused billed service days ÷ billed service days."""
    if billed_days <= 0:
        return 0
    unused = max(0, min(unused_days, billed_days))
    return round_fen_half_up(charged_total * unused, billed_days)


def half_month_credit(
    charged_total: int, absence_days: int, *, months_in_charge: int
) -> tuple[int, int]:
    """``half_month`` rule for a continuous absence of ``absence_days`` calendar days.

    Returns ``(credit, half_months)``: ``d // 30`` months, plus a half when
    ``d % 30 >= 15``, of the monthly charge (the charge ÷ the months it
    covers), capped at what was charged.
    """
    if months_in_charge <= 0:
        raise PolicyRuleBroken("invalid_term", "a charge covers at least one month")
    halves = 2 * (absence_days // 30) + (1 if absence_days % 30 >= 15 else 0)
    credit = round_fen_half_up(charged_total * halves, 2 * months_in_charge)
    return min(credit, charged_total), halves
