"""Amounts in Chinese capitals (大写金额): the writing rules, and a parser that inverts them.

The parser below is written independently of ``invoices.capitals``: it reads
any correctly written amount back into fen. Every amount written and read
back must be the amount itself, and the written form must keep the rules
that a reader (or a bank) checks.
"""

from __future__ import annotations

import re

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from invoices.capitals import capitals
from ledger.money import MAX_FEN

DIGIT = {c: i for i, c in enumerate("零壹贰叁肆伍陆柒捌玖")}
PLACE = {"拾": 10, "佰": 100, "仟": 1000}


def _read_section(text: str) -> int:
    """Up to 9999: digits followed by an optional 拾/佰/仟; 零 only marks a gap."""
    total, digit = 0, None
    for ch in text:
        if ch == "零":
            continue
        if ch in DIGIT:
            assert digit is None, f"two digits in a row in {text!r}"
            digit = DIGIT[ch]
        else:
            assert digit is not None, f"{ch} without a digit in {text!r}"
            total += digit * PLACE[ch]
            digit = None
    return total + (digit or 0)


def _read_integer(text: str) -> int:
    if "亿" in text:
        high, _, low = text.rpartition("亿")
        return _read_integer(high) * 10**8 + _read_integer(low)
    if "万" in text:
        high, _, low = text.partition("万")
        return _read_section(high) * 10**4 + _read_section(low)
    return _read_section(text)


def parse_capitals(text: str) -> int:
    """Read amounts in capitals back into fen."""
    if text == "零元整":
        return 0
    body = text.removesuffix("整")
    yuan_text, has_yuan, rest = body.partition("元")
    if not has_yuan:
        yuan_text, rest = "", body
    fen = _read_integer(yuan_text) * 100 if yuan_text else 0
    for value, unit in re.findall(r"零?([壹贰叁肆伍陆柒捌玖])([角分])", rest):
        fen += DIGIT[value] * (10 if unit == "角" else 1)
    return fen


# The examples of 《支付结算办法》附件一 and 《会计基础工作规范》, and the corners of the rules.
CASES = [
    (0, "零元整"),
    (1, "壹分"),
    (10, "壹角整"),
    (15, "壹角伍分"),
    (100, "壹元整"),
    (1000, "壹拾元整"),
    (1005, "壹拾元零伍分"),
    (1050, "壹拾元伍角整"),
    (10100, "壹佰零壹元整"),
    (12345, "壹佰贰拾叁元肆角伍分"),
    (32504, "叁佰贰拾伍元零肆分"),
    (140950, "壹仟肆佰零玖元伍角整"),
    (168032, "壹仟陆佰捌拾元叁角贰分"),
    (600714, "陆仟零柒元壹角肆分"),
    (1000000, "壹万元整"),
    (1000100, "壹万零壹元整"),
    (10700053, "壹拾万柒仟元伍角叁分"),
    (100000101, "壹佰万零壹元零壹分"),
    (10000000000, "壹亿元整"),
    (10000100000, "壹亿零壹仟元整"),
    (10100000000, "壹亿零壹佰万元整"),
    (100010000000, "壹拾亿零壹拾万元整"),
    (10**16, "壹佰万亿元整"),
    (10**18, "壹亿亿元整"),
]


@pytest.mark.parametrize(("fen", "text"), CASES)
def test_the_rules_examples_are_written_as_the_rules_write_them(fen: int, text: str) -> None:
    assert capitals(fen) == text
    assert parse_capitals(text) == fen


@pytest.mark.parametrize("bad", [-1, -12345, 1.5, 0.0, True, "100", None])
def test_negative_and_non_integer_amounts_are_refused(bad: object) -> None:
    with pytest.raises(ValueError):
        capitals(bad)  # type: ignore[arg-type]


amounts = st.one_of(
    st.integers(min_value=0, max_value=10**12),
    st.integers(min_value=0, max_value=MAX_FEN),
    # Amounts with many zeros, where the 零 rules bite.
    st.lists(st.sampled_from([0, 0, 0, 1, 5, 9]), min_size=1, max_size=16).map(
        lambda digits: int("".join(map(str, digits)))
    ),
)


@given(amounts)
@example(0)
@example(MAX_FEN)
def test_written_amounts_read_back_to_themselves(fen: int) -> None:
    assert parse_capitals(capitals(fen)) == fen


@given(amounts)
def test_written_amounts_keep_the_rules_a_reader_checks(fen: int) -> None:
    text = capitals(fen)
    assert set(text) <= set("零壹贰叁肆伍陆柒捌玖拾佰仟万亿元角分整")
    # Every non-zero digit of the figures is written once; zeros are never digits but 零.
    nonzero = sum(1 for d in str(fen) if d != "0")
    assert sum(1 for c in text if c in "壹贰叁肆伍陆柒捌玖") == nonzero
    # 整 exactly when there are no 分; never after 分.
    assert text.endswith("整") == (fen % 10 == 0)
    assert not text.endswith("分整")
    if fen:
        assert "零零" not in text
        assert not text.startswith("零")
        assert not re.search(r"零[元万亿整]", text), text
        # A leading 1 is written out: 壹拾, never a bare 拾 at the start.
        assert not text.startswith(("拾", "佰", "仟"))
    # 元 is written whenever there are whole yuan; a zero 角 before 分 is 零 after 元.
    assert ("元" in text) == (fen >= 100 or fen == 0)
    if fen >= 100 and fen % 100 and fen // 10 % 10 == 0:
        assert "元零" in text
