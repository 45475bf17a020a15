"""Individual income tax pre-withheld on labour remuneration (劳务报酬所得预扣预缴).

The official table, per payment (one 次). For external after-school staff all
approved hours of one person in one month count as one payment:

- taxable income = income − 800 when income ≤ 4,000 (never below zero),
  otherwise income × 80 %;
- tax = taxable × 20 % up to 20,000 of taxable income;
  × 30 % − 2,000 above 20,000 up to 50,000; × 40 % − 7,000 above 50,000.

Everything is computed exactly (fen times fractions); only the final tax is
rounded, half up, to the fen. Taxable income can therefore carry a tenth of a
fen (income × 80 %); it is reported as an exact decimal of yuan.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

from ledger.money import round_fen_half_up

__all__ = ["LabourTax", "labour_tax", "extra_tax"]

_YUAN = 100  # fen per yuan
_THRESHOLD = 4_000 * _YUAN
_ALLOWANCE = 800 * _YUAN
_BRACKETS = (  # (taxable income up to, in fen; rate; quick deduction in fen)
    (20_000 * _YUAN, Fraction(20, 100), 0),
    (50_000 * _YUAN, Fraction(30, 100), 2_000 * _YUAN),
    (None, Fraction(40, 100), 7_000 * _YUAN),
)


@dataclass(frozen=True)
class LabourTax:
    """One payment's withholding: every figure of the calculation, in fen."""

    income: int
    taxable: Fraction  # fen, exact (may carry a tenth of a fen)
    rate: Fraction
    quick_deduction: int
    tax: int  # fen, rounded half up once

    @property
    def net(self) -> int:
        return self.income - self.tax

    @property
    def taxable_yuan(self) -> Decimal:
        """Taxable income as an exact decimal of yuan, e.g. ``Decimal("3200.008")``."""
        return Decimal(self.taxable.numerator) / Decimal(self.taxable.denominator) / _YUAN


def labour_tax(income: int) -> LabourTax:
    """The tax withheld on one payment of ``income`` fen of labour remuneration."""
    if not isinstance(income, int) or isinstance(income, bool) or income < 0:
        raise ValueError(f"income must be a non-negative integer of fen, not {income!r}")
    if income <= _THRESHOLD:
        taxable = Fraction(max(0, income - _ALLOWANCE))
    else:
        taxable = Fraction(income) * Fraction(80, 100)
    rate, deduction = next(
        (r, d) for ceiling, r, d in _BRACKETS if ceiling is None or taxable <= ceiling
    )
    exact = max(Fraction(0), taxable * rate - deduction)
    tax = round_fen_half_up(exact.numerator, exact.denominator)
    return LabourTax(income, taxable, rate, deduction, tax)


def extra_tax(month_total_before: int, added: int, withheld_before: int) -> int:
    """Tax to withhold on ``added`` fen approved late for a month already paid.

    The month is still one payment: the tax on the new monthly total minus
    what was already withheld for that month.
    """
    if added < 0:
        raise ValueError("added income must not be negative")
    return labour_tax(month_total_before + added).tax - withheld_before
