"""Amounts in Chinese capitals (大写金额), as fee notices and receipts print them.

Written once, here, following the rules for writing amounts on financial
documents (《会计基础工作规范》第五十二条; 《支付结算办法》附件一):

* digits 零壹贰叁肆伍陆柒捌玖, places 拾佰仟, sections 万 and 亿, then 元角分;
* a leading 1 is written out in full: 10 yuan is 壹拾元, never 拾元;
* an amount that ends at 元 or 角 takes 整 (壹佰元整, 伍角整); one with 分 does
  not (壹元伍角叁分). The settlement rules allow leaving 整 off after 角; the
  accounting rules ask for it, so it is written;
* one 零 stands for a run of zeros between two written digits inside the
  amount: 陆仟零柒元, 壹佰万零壹元, 壹亿零壹佰万;
* a zero 角 before a non-zero 分 is always written as 零: 壹拾元零伍分;
* where a run of zeros ends on the 万 or 元 place and that unit word is written
  (¥107,000.53, ¥1,680.32), the rules allow either form; this module writes
  the shorter one, as the amount is read aloud: 壹拾万柒仟元伍角叁分,
  壹仟陆佰捌拾元叁角贰分;
* nothing is written for a zero integer part: 伍角整, 叁分; zero itself is 零元整.

Negative amounts are refused rather than prefixed 负: a fee notice or a
receipt never asks for or acknowledges a negative sum, and a minus sign in
capitals is exactly the kind of alteration the capitals exist to prevent.
A credit balance is printed in figures with a word (结余), not in capitals.
"""

from __future__ import annotations

__all__ = ["DIGITS", "capitals"]

DIGITS = "零壹贰叁肆伍陆柒捌玖"
_PLACES = ("", "拾", "佰", "仟")
_WAN = 10_000
_YI = 100_000_000


def _section(n: int) -> str:
    """1–9999 in capitals, with one 零 for each run of zeros between written digits."""
    out: list[str] = []
    gap = False
    for place in range(3, -1, -1):
        digit = n // 10**place % 10
        if digit == 0:
            gap = bool(out)
            continue
        if gap:
            out.append("零")
            gap = False
        out.append(DIGITS[digit] + _PLACES[place])
    return "".join(out)


def _integer(n: int) -> str:
    """A positive integer in capitals, split at 亿 and then at 万."""
    if n >= _YI:
        high, low = divmod(n, _YI)
        text = _integer(high) + "亿"
        if low:
            # Zeros at the top of the lower eight digits sit between written digits.
            text += ("零" if low < _YI // 10 else "") + _integer(low)
        return text
    if n >= _WAN:
        high, low = divmod(n, _WAN)
        text = _section(high) + "万"
        if low:
            text += ("零" if low < _WAN // 10 else "") + _section(low)
        return text
    return _section(n)


def capitals(fen: int) -> str:
    """An amount of integer fen in Chinese capitals, e.g. ``12345 -> "壹佰贰拾叁元肆角伍分"``.

    Refuses floats, booleans and negative amounts with ``ValueError`` (see the
    module docstring for why there is no 负).
    """
    if not isinstance(fen, int) or isinstance(fen, bool):
        raise ValueError(f"{fen!r} is not an integer of fen")
    if fen < 0:
        raise ValueError("amounts in capitals are never negative")
    if fen == 0:
        return "零元整"
    yuan, cents = divmod(fen, 100)
    jiao, fen_digit = divmod(cents, 10)
    text = _integer(yuan) + "元" if yuan else ""
    if jiao:
        text += DIGITS[jiao] + "角"
    if fen_digit:
        if yuan and not jiao:
            text += "零"
        text += DIGITS[fen_digit] + "分"
    else:
        text += "整"
    return text
