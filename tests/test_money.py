"""Money: strict parsing, fen <-> Money, half-up rounding, and the one allocation function."""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st
from moneyed import Money

from ledger.money import (
    CNY,
    MAX_FEN,
    InvalidAmount,
    allocate,
    format_fen,
    from_fen,
    parse_amount,
    round_fen_half_up,
    round_half_up,
    to_fen,
)

fen_values = st.integers(min_value=-MAX_FEN, max_value=MAX_FEN)


def refused(code: str, value: object, **kwargs: bool) -> None:
    with pytest.raises(InvalidAmount) as info:
        parse_amount(value, **kwargs)
    assert info.value.code == code, (value, info.value.code)


# --------------------------------------------------------------------------- parse_amount


@pytest.mark.parametrize(
    ("text", "fen"),
    [
        ("10.5", 1050),
        ("10.50", 1050),
        ("10", 1000),
        ("10.0", 1000),
        ("0.01", 1),
        ("0.1", 10),
        ("123.45", 12345),
        ("92233720368547758.07", MAX_FEN),
    ],
)
def test_well_formed_amounts_parse_to_exact_fen(text: str, fen: int) -> None:
    assert parse_amount(text) == fen


@pytest.mark.parametrize("value", [1.0, 12.34, 0.1, float("nan"), float("inf")])
def test_floats_are_refused_even_when_they_look_exact(value: float) -> None:
    refused("amount_is_float", value)


@pytest.mark.parametrize("value", [1, 1234, 0, True, Decimal("1.00"), None, b"1.00", ["1.00"]])
def test_non_strings_are_refused(value: object) -> None:
    refused("amount_not_string", value)


@pytest.mark.parametrize("text", ["10.000", "0.001", "1.999", "-1.005"])
def test_more_than_two_decimals_is_refused_by_name(text: str) -> None:
    refused("too_many_decimals", text, allow_negative=True)


@pytest.mark.parametrize(
    "text",
    [
        "",
        " ",
        " 1.00",
        "1.00 ",
        "1.00\n",
        "\n1.00",
        "+1",
        "+1.00",
        "1e3",
        "1E3",
        "1.5e1",
        "01.00",
        "00",
        "1.",
        ".5",
        "-.5",
        "1,00",
        "1,000.00",
        "1_000",
        "¥1.00",
        "1.00元",
        "NaN",
        "Infinity",
        "-",
        "--1",
        "0x10",
        "١٢",  # Arabic-Indic digits: Decimal would accept them
        "１２",  # fullwidth digits
    ],
)
def test_malformed_strings_are_refused(text: str) -> None:
    refused("malformed_amount", text, allow_negative=True, allow_zero=True)


def test_negative_amounts_are_refused_unless_allowed() -> None:
    refused("negative_amount", "-0.01")
    refused("negative_amount", "-10")
    assert parse_amount("-0.01", allow_negative=True) == -1
    assert parse_amount("-10.5", allow_negative=True) == -1050


@pytest.mark.parametrize("text", ["0", "0.0", "0.00", "-0", "-0.00"])
def test_zero_is_refused_unless_allowed(text: str) -> None:
    refused("zero_amount", text, allow_negative=True)
    assert parse_amount(text, allow_zero=True, allow_negative=True) == 0


def test_negative_zero_is_zero_not_a_negative_amount() -> None:
    assert parse_amount("-0.00", allow_zero=True) == 0


@pytest.mark.parametrize(
    "text",
    [
        "92233720368547758.08",
        "100000000000000000",
        "9" * 30,
        "9" * 40 + ".99",
        "-92233720368547758.08",
    ],
)
def test_amounts_beyond_the_database_column_are_refused(text: str) -> None:
    refused("amount_too_large", text, allow_negative=True)


def test_the_largest_amounts_that_fit_are_accepted() -> None:
    assert parse_amount("92233720368547758.07") == MAX_FEN
    assert parse_amount("-92233720368547758.07", allow_negative=True) == -MAX_FEN


def test_invalid_amount_is_a_value_error_with_a_message() -> None:
    with pytest.raises(ValueError, match="more than two decimals"):
        parse_amount("10.000")


# --------------------------------------------------------------------------- fen <-> text, Money


@given(fen_values)
def test_format_then_parse_is_the_identity(fen: int) -> None:
    text = format_fen(fen)
    assert parse_amount(text, allow_negative=True, allow_zero=True) == fen


@given(fen_values)
def test_formatted_amounts_always_have_two_decimals(fen: int) -> None:
    text = format_fen(fen)
    whole, _, cents = text.lstrip("-").partition(".")
    assert len(cents) == 2
    assert text.startswith("-") == (fen < 0)
    assert Decimal(text) * 100 == fen
    assert whole == "0" or not whole.startswith("0")


@pytest.mark.parametrize(
    ("fen", "text"),
    [(0, "0.00"), (1, "0.01"), (-1, "-0.01"), (10, "0.10"), (12345, "123.45"), (-100, "-1.00")],
)
def test_format_fen_examples(fen: int, text: str) -> None:
    assert format_fen(fen) == text


@given(fen_values)
def test_from_fen_then_to_fen_is_the_identity(fen: int) -> None:
    money = from_fen(fen)
    assert money.currency == CNY
    assert to_fen(money) == fen


@given(fen_values)
def test_from_fen_is_exact(fen: int) -> None:
    assert from_fen(fen).amount == Decimal(fen) / 100
    assert from_fen(fen).amount * 100 == fen


@pytest.mark.parametrize("bad", [1.0, True, Decimal("1"), "1", None])
def test_fen_must_be_an_integer(bad: object) -> None:
    for fn in (format_fen, from_fen):
        with pytest.raises(InvalidAmount) as info:
            fn(bad)  # type: ignore[arg-type]
        assert info.value.code == "amount_not_integer_fen"


@pytest.mark.parametrize("amount", ["0.001", "1.005", "-0.009", "123.456", "0.0000001"])
def test_to_fen_refuses_sub_fen_money_instead_of_truncating(amount: str) -> None:
    with pytest.raises(InvalidAmount) as info:
        to_fen(Money(amount, "CNY"))
    assert info.value.code == "not_whole_fen"


@pytest.mark.parametrize(
    ("amount", "fen"),
    [("1.10", 110), ("1.1", 110), ("1.000", 100), ("-0.01", -1), ("1E+2", 10000), ("0", 0)],
)
def test_to_fen_accepts_any_representation_of_whole_fen(amount: str, fen: int) -> None:
    assert to_fen(Money(Decimal(amount), "CNY")) == fen


def test_to_fen_refuses_other_currencies_and_non_money() -> None:
    with pytest.raises(InvalidAmount) as info:
        to_fen(Money("1.00", "USD"))
    assert info.value.code == "wrong_currency"
    for bad in (100, Decimal("1.00"), "1.00", 1.0):
        with pytest.raises(InvalidAmount) as info:
            to_fen(bad)  # type: ignore[arg-type]
        assert info.value.code == "not_money"


# --------------------------------------------------------------------------- rounding


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("0.005", "0.01"),
        ("0.015", "0.02"),
        ("0.025", "0.03"),
        ("0.035", "0.04"),
        ("2.675", "2.68"),
        ("-0.005", "-0.01"),
        ("-0.015", "-0.02"),
        ("-0.025", "-0.03"),
        ("0.004", "0.00"),
        ("0.0049999", "0.00"),
        ("-0.004", "0.00"),
        ("1.23", "1.23"),
        ("7", "7.00"),
    ],
)
def test_round_half_up_rounds_halves_away_from_zero(value: str, expected: str) -> None:
    result = round_half_up(Decimal(value))
    assert result == Money(expected, "CNY")
    assert result.currency == CNY
    assert result.amount == Decimal(expected)


@pytest.mark.parametrize("value", ["0.005", "0.025", "-0.005", "10.125"])
def test_round_half_up_differs_from_bankers_rounding_on_even_halves(value: str) -> None:
    bankers = Decimal(value).quantize(Decimal("0.01"), rounding=ROUND_HALF_EVEN)
    ours = round_half_up(Decimal(value)).amount
    assert abs(ours) > abs(bankers)
    assert abs(ours - Decimal(value)) == Decimal("0.005")


def test_round_half_up_takes_money_too() -> None:
    assert round_half_up(Money("1.005", "CNY")) == Money("1.01", "CNY")


@pytest.mark.parametrize("bad", [0.005, 1, "0.005", None])
def test_round_half_up_refuses_floats_and_non_decimals(bad: object) -> None:
    with pytest.raises(InvalidAmount) as info:
        round_half_up(bad)  # type: ignore[arg-type]
    assert info.value.code in {"amount_is_float", "not_decimal"}
    assert (info.value.code == "amount_is_float") == isinstance(bad, float)


@given(st.integers(min_value=-(10**15), max_value=10**15))
def test_round_half_up_matches_the_definition_on_thousandths(thousandths: int) -> None:
    value = Decimal(thousandths) / 1000
    sign = -1 if thousandths < 0 else 1
    # Half-up away from zero: add half a fen to the magnitude and drop the rest.
    expected_fen = sign * ((abs(thousandths) + 5) // 10)
    assert to_fen(round_half_up(value)) == expected_fen


@pytest.mark.parametrize(
    ("numerator", "denominator", "fen"),
    [
        (1, 2, 1),
        (-1, 2, -1),
        (3, 2, 2),
        (-3, 2, -2),
        (5, 2, 3),
        (1, 3, 0),
        (2, 3, 1),
        (-2, 3, -1),
        (4, 3, 1),
        (5, 3, 2),
        (0, 7, 0),
        (10_000 * 17, 21, 8095),  # 8095.238...
        (99, 100, 1),
        (49, 100, 0),
        (50, 100, 1),
    ],
)
def test_round_fen_half_up_examples(numerator: int, denominator: int, fen: int) -> None:
    assert round_fen_half_up(numerator, denominator) == fen


@given(st.integers(min_value=-(10**30), max_value=10**30), st.integers(1, 10**12))
def test_round_fen_half_up_is_the_nearest_fen_halves_away_from_zero(n: int, d: int) -> None:
    exact = Fraction(n, d)
    result = round_fen_half_up(n, d)
    assert abs(exact - result) <= Fraction(1, 2)
    if abs(exact - result) == Fraction(1, 2):
        assert abs(result) > abs(exact)
    assert round_fen_half_up(-n, d) == -result


@pytest.mark.parametrize("denominator", [0, -1, -100])
def test_round_fen_half_up_refuses_non_positive_denominators(denominator: int) -> None:
    with pytest.raises(ValueError, match="denominator"):
        round_fen_half_up(10, denominator)


# --------------------------------------------------------------------------- allocate

weights_lists = st.lists(st.integers(min_value=0, max_value=10**9), min_size=1, max_size=12).filter(
    lambda ws: sum(ws) > 0
)
totals = st.integers(min_value=-(10**15), max_value=10**15)


@given(totals, weights_lists)
def test_allocated_shares_always_add_up_to_the_total(total: int, weights: list[int]) -> None:
    shares = allocate(total, weights)
    assert len(shares) == len(weights)
    assert sum(shares) == total
    assert all(type(s) is int for s in shares)


@given(totals, weights_lists)
def test_allocation_is_deterministic(total: int, weights: list[int]) -> None:
    assert allocate(total, weights) == allocate(total, list(weights)) == allocate(total, weights)


@given(totals, weights_lists)
def test_each_share_is_within_one_fen_of_its_exact_share(total: int, weights: list[int]) -> None:
    shares = allocate(total, weights)
    weight_sum = sum(weights)
    for share, w in zip(shares, weights, strict=True):
        exact = Fraction(total * w, weight_sum)
        assert abs(share - exact) < 1
        # Largest remainder rounds each share down or up, never further.
        assert share in (exact.__floor__(), exact.__ceil__())


@given(totals, weights_lists)
def test_zero_weights_get_zero(total: int, weights: list[int]) -> None:
    for share, w in zip(allocate(total, weights), weights, strict=True):
        if w == 0:
            assert share == 0


@given(totals, weights_lists)
def test_negative_totals_mirror_positive_ones(total: int, weights: list[int]) -> None:
    assert allocate(-total, weights) == [-s for s in allocate(total, weights)]


@given(st.integers(min_value=0, max_value=10**12), weights_lists)
def test_leftover_fen_go_to_the_largest_remainders_first(total: int, weights: list[int]) -> None:
    shares = allocate(total, weights)
    weight_sum = sum(weights)
    remainders = [(total * w) % weight_sum for w in weights]
    bumped = [s * weight_sum > total * w for s, w in zip(shares, weights, strict=True)]
    for i in range(len(weights)):
        for j in range(len(weights)):
            if bumped[i] and not bumped[j]:
                # i got an extra fen and j did not: i's remainder is larger, or equal and earlier.
                assert remainders[i] > remainders[j] or (remainders[i] == remainders[j] and i < j)


@given(st.integers(min_value=0, max_value=10**9), st.integers(1, 20), st.integers(1, 10**6))
def test_equal_weights_differ_by_at_most_one_fen_earlier_first(
    total: int, parts: int, weight: int
) -> None:
    shares = allocate(total, [weight] * parts)
    assert max(shares) - min(shares) <= 1
    assert shares == sorted(shares, reverse=True)


@pytest.mark.parametrize(
    ("total", "weights", "shares"),
    [
        (100, [1, 1, 1], [34, 33, 33]),
        (-100, [1, 1, 1], [-34, -33, -33]),
        (200, [1, 1, 1], [67, 67, 66]),
        (1, [1, 1], [1, 0]),
        (1, [1, 2], [0, 1]),
        (7, [2, 1, 1], [3, 2, 2]),  # remainders .5, .75, .75: the larger ones get the fen
        (5, [0, 1, 1], [0, 3, 2]),
        (10, [3, 7], [3, 7]),
        (0, [1, 2, 3], [0, 0, 0]),
        (0, [0, 0], [0, 0]),
        (100, [5], [100]),
        (10000, [3333, 3333, 3334], [3333, 3333, 3334]),
        (10, [1, 1, 1, 0], [4, 3, 3, 0]),
        (101, [50, 50], [51, 50]),
    ],
)
def test_allocation_examples(total: int, weights: list[int], shares: list[int]) -> None:
    assert allocate(total, weights) == shares


@pytest.mark.parametrize("total", [100.0, 1.5, Decimal("100"), "100", True, None])
def test_allocate_refuses_a_total_that_is_not_integer_fen(total: object) -> None:
    with pytest.raises(InvalidAmount) as info:
        allocate(total, [1, 1])  # type: ignore[arg-type]
    assert info.value.code == "amount_not_integer_fen"


@pytest.mark.parametrize(
    "weights",
    [[1.0, 1.0], [1, 0.5], [Decimal("1"), 1], ["1", 1], [True, 1], [-1, 2], [1, None]],
)
def test_allocate_refuses_weights_that_are_not_non_negative_integers(weights: list) -> None:
    with pytest.raises(ValueError, match="weights must be non-negative integers"):
        allocate(100, weights)


def test_allocate_refuses_no_weights_and_a_total_over_zero_weights() -> None:
    with pytest.raises(ValueError, match="at least one weight"):
        allocate(100, [])
    with pytest.raises(ValueError, match="zero weights"):
        allocate(1, [0, 0])
