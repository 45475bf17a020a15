"""Money in CNY: integer fen in storage, ``moneyed.Money`` in code, ``"123.45"`` in JSON.

Every conversion, rounding and split of an amount lives here, once:

* :func:`parse_amount` reads a decimal string strictly (no floats, at most two
  decimals) and refuses anything else with a :class:`InvalidAmount` that names
  the broken rule;
* :func:`to_fen` / :func:`from_fen` move between ``Money`` and integer fen
  without ever truncating a fen away;
* :func:`round_half_up` is the only rounding (py-moneyed's ``round()`` is
  banker's rounding, which a fee notice must not use);
* :func:`allocate` splits a whole into shares by largest remainder, so the
  shares always add up to the whole.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from moneyed import Currency, Money, get_currency

CNY: Currency = get_currency("CNY")
CURRENCY_CODE = "CNY"
FEN_PER_YUAN = 100
_CENT = Decimal("0.01")
_AMOUNT_RE = re.compile(r"-?(0|[1-9][0-9]*)(\.[0-9]{1,2})?")
#: The largest amount the database column (BigInteger of fen) can hold.
MAX_FEN = 2**63 - 1


class InvalidAmount(ValueError):
    """An amount that is not an exact, well-formed sum of money.

    ``code`` names the broken rule so that callers can report it.
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _refuse_float(value: object) -> None:
    if isinstance(value, float):
        raise InvalidAmount(
            "amount_is_float",
            'amounts must be exact decimal strings such as "12.34", never floats',
        )


def parse_amount(text: object, *, allow_negative: bool = False, allow_zero: bool = False) -> int:
    """Parse a string such as ``"123.45"`` into integer fen.

    Refuses numbers (JSON or Python), more than two decimals, exponents,
    signs and blanks, and (unless allowed) zero or negative amounts.
    """
    _refuse_float(text)
    if not isinstance(text, str):
        raise InvalidAmount(
            "amount_not_string",
            f'amount must be a string such as "12.34", not {type(text).__name__}',
        )
    # fullmatch, not match with "$": "$" also matches before a trailing newline.
    if not _AMOUNT_RE.fullmatch(text):
        if re.fullmatch(r"-?[0-9]+\.[0-9]{3,}", text):
            raise InvalidAmount("too_many_decimals", f"amount {text!r} has more than two decimals")
        raise InvalidAmount("malformed_amount", f'amount {text!r} is not a decimal such as "12.34"')
    fen = int((Decimal(text) * FEN_PER_YUAN).to_integral_exact())
    if fen < 0 and not allow_negative:
        raise InvalidAmount("negative_amount", f"amount {text} must not be negative")
    if fen == 0 and not allow_zero:
        raise InvalidAmount("zero_amount", "amount must not be zero")
    if abs(fen) > MAX_FEN:
        raise InvalidAmount("amount_too_large", f"amount {text} is too large")
    return fen


def format_fen(fen: int) -> str:
    """Integer fen as the JSON string form, e.g. ``12345 -> "123.45"``."""
    if not isinstance(fen, int) or isinstance(fen, bool):
        raise InvalidAmount("amount_not_integer_fen", f"{fen!r} is not an integer of fen")
    sign = "-" if fen < 0 else ""
    yuan, cents = divmod(abs(fen), FEN_PER_YUAN)
    return f"{sign}{yuan}.{cents:02d}"


def from_fen(fen: int) -> Money:
    """Integer fen to ``Money`` in CNY."""
    if not isinstance(fen, int) or isinstance(fen, bool):
        raise InvalidAmount("amount_not_integer_fen", f"{fen!r} is not an integer of fen")
    return Money(Decimal(fen) / FEN_PER_YUAN, CNY)


def to_fen(money: Money) -> int:
    """``Money`` in CNY to integer fen; refuses anything finer than a fen.

    (py-moneyed's ``get_amount_in_sub_unit()`` truncates, which would lose
    money silently.)
    """
    if not isinstance(money, Money):
        raise InvalidAmount("not_money", f"{money!r} is not Money")
    if money.currency != CNY:
        raise InvalidAmount("wrong_currency", f"only CNY is kept, not {money.currency}")
    scaled = money.amount * FEN_PER_YUAN
    try:
        fen = scaled.to_integral_exact()
    except InvalidOperation as exc:  # pragma: no cover - Decimal traps are off by default
        raise InvalidAmount("not_whole_fen", f"{money} is not a whole number of fen") from exc
    if fen != scaled:
        raise InvalidAmount(
            "not_whole_fen", f"{money.amount} is not a whole number of fen; round it first"
        )
    return int(fen)


def round_half_up(value: Decimal | Money) -> Money:
    """Round a Decimal amount in yuan (or Money) to the fen, halves away from zero."""
    _refuse_float(value)
    amount = value.amount if isinstance(value, Money) else value
    if not isinstance(amount, Decimal):
        raise InvalidAmount("not_decimal", f"{value!r} is not a Decimal")
    return Money(amount.quantize(_CENT, rounding=ROUND_HALF_UP), CNY)


def round_fen_half_up(numerator: int, denominator: int) -> int:
    """``numerator / denominator`` fen rounded half-up (away from zero) to whole fen.

    Pure integer arithmetic: used where a cost is prorated (``F × days ÷ total``).
    """
    if denominator <= 0:
        raise ValueError("denominator must be positive")
    sign = -1 if numerator < 0 else 1
    q, r = divmod(abs(numerator), denominator)
    if 2 * r >= denominator:
        q += 1
    return sign * q


def allocate(
    total: int, weights: Sequence[int], *, remainder_order: Sequence[int] | None = None
) -> list[int]:
    """Split ``total`` fen in proportion to ``weights`` by largest remainder.

    Each share is first rounded down; the fen left over go one each to the
    shares with the largest remainders, ties broken by position (earlier
    first). The result always sums to ``total``; it is deterministic; a zero
    weight always gets zero. Weights are non-negative integers (fen, days or
    basis points), so no float ever enters.

    With ``remainder_order`` (indices), the leftover fen go one each to those
    parts in that order instead, skipping zero weights, cycling if needed:
    billing uses it so that a remainder goes to the government, then the
    school, and never to the parent.
    """
    if not isinstance(total, int) or isinstance(total, bool):
        raise InvalidAmount("amount_not_integer_fen", f"{total!r} is not an integer of fen")
    if not weights:
        raise ValueError("allocate needs at least one weight")
    for w in weights:
        if not isinstance(w, int) or isinstance(w, bool) or w < 0:
            raise ValueError(f"weights must be non-negative integers, got {w!r}")
    weight_sum = sum(weights)
    if weight_sum == 0:
        if total == 0:
            return [0] * len(weights)
        raise ValueError("cannot allocate a non-zero total over zero weights")
    sign = -1 if total < 0 else 1
    magnitude = abs(total)
    shares = []
    remainders = []
    for i, w in enumerate(weights):
        q, r = divmod(magnitude * w, weight_sum)
        shares.append(q)
        remainders.append((-r, i))
    left = magnitude - sum(shares)
    if remainder_order is None:
        order = [i for _, i in sorted(remainders)]
    else:
        order = [i for i in remainder_order if 0 <= i < len(weights) and weights[i] > 0]
        if left and not order:
            raise ValueError("no part named in remainder_order can take the remainder")
    k = 0
    while left:
        shares[order[k % len(order)]] += 1
        left -= 1
        k += 1
    return [sign * s for s in shares]
