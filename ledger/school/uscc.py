"""Unified social credit codes (统一社会信用代码, GB 32100-2015).

Eighteen characters from a 31-character alphabet (digits and capital letters
without I, O, Z, S and V): registration authority, entity type, the 6-digit
administrative division, the 9-character organisation code, and a check
character. The check character is 31 − (Σ value × weight mod 31), with
weights 3^(i) mod 31 for positions 0…16, and 31 written as 0.
"""

from __future__ import annotations

__all__ = ["ALPHABET", "check_character", "uscc_problem"]

ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_VALUE = {ch: i for i, ch in enumerate(ALPHABET)}
_WEIGHTS = [pow(3, i, 31) for i in range(17)]


def check_character(first17: str) -> str:
    """The check character for the first 17 characters of a code."""
    total = sum(_VALUE[ch] * w for ch, w in zip(first17, _WEIGHTS, strict=True))
    return ALPHABET[(31 - total % 31) % 31]


def uscc_problem(code: object) -> str | None:
    """Why ``code`` is not a valid unified social credit code, or ``None`` if it is."""
    if not isinstance(code, str):
        return "the code must be a string"
    if len(code) != 18:
        return f"the code has {len(code)} characters, not 18"
    bad = sorted({ch for ch in code if ch not in _VALUE})
    if bad:
        return f"the code holds characters outside the code alphabet: {''.join(bad)}"
    if not code[2:8].isdigit():
        return "characters 3–8 (the administrative division) must be digits"
    expected = check_character(code[:17])
    if code[17] != expected:
        return f"the check character is {code[17]}, but the first 17 characters give {expected}"
    return None
