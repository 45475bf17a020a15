"""The labour-remuneration withholding table at its edges, and unified social credit codes."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.school.labour_tax import extra_tax, labour_tax
from ledger.school.uscc import ALPHABET, check_character, uscc_problem


def yuan(text: str) -> int:
    whole, _, frac = text.partition(".")
    return int(whole) * 100 + int((frac + "00")[:2])


# income, taxable (exact yuan), tax (yuan): each computed by hand from the table.
TABLE = [
    ("0.00", "0", "0.00"),
    ("800.00", "0", "0.00"),  # 800 − 800
    ("800.01", "0.01", "0.00"),  # 0.01 × 20 % = 0.002 → 0.00
    ("800.03", "0.03", "0.01"),  # 0.006 → 0.01 (half up)
    ("1000.00", "200", "40.00"),
    ("4000.00", "3200", "640.00"),  # the last income that deducts 800
    ("4000.01", "3200.008", "640.00"),  # × 80 % from here: 640.0016 → 640.00
    ("4003.13", "3202.504", "640.50"),  # 640.5008 → 640.50
    ("25000.00", "20000", "4000.00"),  # the top of the 20 % band
    ("25000.01", "20000.008", "4000.00"),  # 30 % − 2,000 = 4000.0024
    ("62500.00", "50000", "13000.00"),  # 50,000 × 30 % − 2,000
    ("62500.01", "50000.008", "13000.00"),  # 40 % − 7,000 = 13000.0032
    ("1000000.00", "800000", "313000.00"),  # 800,000 × 40 % − 7,000
]


@pytest.mark.parametrize(("income", "taxable", "tax"), TABLE)
def test_the_table_at_its_edges(income, taxable, tax):
    t = labour_tax(yuan(income))
    assert t.taxable_yuan == Decimal(taxable)
    assert t.tax == yuan(tax)
    assert t.net == yuan(income) - yuan(tax)


def test_a_month_of_small_sessions_is_taxed_as_one_payment():
    # Twenty sessions of 300.00: each alone is under 800 and would be taxed nothing.
    sessions = [yuan("300.00")] * 20
    assert all(labour_tax(s).tax == 0 for s in sessions)
    month = labour_tax(sum(sessions))  # 6,000.00 × 80 % × 20 %
    assert month.tax == yuan("960.00")


def test_late_hours_are_taxed_as_part_of_the_months_payment():
    # 3,000.00 paid (tax 440.00), then 2,000.00 approved late: 5,000.00 → 800.00.
    assert labour_tax(yuan("3000.00")).tax == yuan("440.00")
    assert extra_tax(yuan("3000.00"), yuan("2000.00"), yuan("440.00")) == yuan("360.00")


@given(st.integers(0, 10**11), st.integers(0, 10**8))
def test_tax_never_falls_and_never_takes_more_than_forty_percent_of_a_rise(income, rise):
    low, high = labour_tax(income).tax, labour_tax(income + rise).tax
    assert 0 <= high - low <= (rise * 40 + 99) // 100 + 1
    assert 0 <= labour_tax(income).tax <= income


@pytest.mark.parametrize("bad", [-1, 1.5, "100", True])
def test_income_must_be_whole_fen(bad):
    with pytest.raises(ValueError):
        labour_tax(bad)


# --------------------------------------------------------------------------- USCC

REAL = ["914403001922038216", "91330100716105852F", "9144030071526726XG", "91110000100010433L"]


@pytest.mark.parametrize("code", REAL)
def test_real_codes_pass(code):
    assert uscc_problem(code) is None


@pytest.mark.parametrize(
    ("code", "why"),
    [
        ("914403001922038217", "check character is 7"),
        ("91440300192203821", "17 characters"),
        ("9144030019220382161", "19 characters"),
        ("91440300192203821I", "outside the code alphabet: I"),
        ("9144O3001922038216", "outside the code alphabet: O"),
        ("91A403001922038216", "administrative division"),
        ("", "0 characters"),
    ],
)
def test_invalid_codes_say_why(code, why):
    assert why in uscc_problem(code)


@given(st.text(alphabet=ALPHABET, min_size=17, max_size=17), st.sampled_from(ALPHABET))
def test_exactly_one_check_character_fits(first17, last):
    code = first17[:2] + "110105" + first17[8:] + last
    assert (uscc_problem(code) is None) == (last == check_character(code[:17]))
