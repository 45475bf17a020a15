"""The demo term, end to end: ``load_demo`` builds a whole autumn term at school DEMO1 through
the domain functions; the audit finds nothing wrong with it; and its book, exported as
Beancount, passes the real ``bean-check`` and sums — account by account, in beanquery — to
Kehou's own trial balance. The same holds for the small hand-made DEMO book.

The proof can fail: a posting changed in the exported text (keeping its transaction
balanced) is caught by the export's closing balance assertions.
"""

from __future__ import annotations

import re
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import beanquery
import pytest
from sqlalchemy import func, select

from api.demo import PARENT, SCHOOL, SCHOOL_FINANCE, TEACHER, demo_school, load_demo
from api.links import links_of
from api.models import PortalLogin, User
from ledger import books
from ledger.audit.exports import beancount_names, beancount_text, trial_balance_rows
from ledger.audit.rules import run_audit, scope_for
from ledger.school import payments, subsidies
from ledger.school.models import (
    Application,
    ChargeRecord,
    Household,
    Invoice,
    PayLine,
    PayoutBatch,
    StaffMember,
    Student,
    SubsidyClaim,
    VendorBill,
)
from ledger.school.structure import household_account

BEAN_CHECK = Path(sys.executable).with_name("bean-check")
POSTING = re.compile(r"^  (?P<account>[A-Z][^ ]*)  (?P<amount>-?\d+\.\d\d) CNY$")


@pytest.fixture
def demo(db):  # type: ignore[no-untyped-def]
    loaded = load_demo(db, actor="test")
    db.flush()
    return loaded


def _book(db, code: str) -> books.Book:  # type: ignore[no-untyped-def]
    return books.get_book(db, code)


def _export(db, code: str, tmp_path: Path) -> Path:  # type: ignore[no-untyped-def]
    path = tmp_path / f"{code}.beancount"
    path.write_text(beancount_text(db, _book(db, code)), encoding="utf-8")
    return path


def _bean_check(path: Path) -> subprocess.CompletedProcess[str]:
    assert BEAN_CHECK.exists(), f"bean-check not installed next to {sys.executable}"
    return subprocess.run(
        [str(BEAN_CHECK), str(path)], capture_output=True, text=True, timeout=120, check=False
    )


def _fen(amount: Decimal) -> int:
    fen = amount * 100
    assert fen == fen.to_integral_value(), amount
    return int(fen)


def _beanquery_balances(path: Path, *, clean: bool = True) -> dict[str, int]:
    """Each Beancount account's own postings summed by beanquery, in fen."""
    conn = beanquery.connect("beancount:" + str(path))
    assert (conn.errors == []) is clean, conn.errors
    cursor = conn.execute(
        "SELECT account, currency, sum(number) AS total GROUP BY account, currency ORDER BY account"
    )
    assert [c.name for c in cursor.description] == ["account", "currency", "total"]
    rows = cursor.fetchall()
    assert {currency for _, currency, _ in rows} <= {"CNY"}
    return {account: _fen(total) for account, _, total in rows}


def _kehou_balances(db, code: str) -> dict[str, int]:  # type: ignore[no-untyped-def]
    """Kehou's trial balance as signed fen (debit positive) per Beancount account name."""
    tb = trial_balance_rows(db, _book(db, code))
    names = beancount_names((line.code, line.type) for line in tb.lines)
    assert tb.total_debit == tb.total_credit
    return {names[line.code]: line.debit - line.credit for line in tb.lines}


def _assert_export_matches_trial_balance(db, code: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = _export(db, code, tmp_path)
    checked = _bean_check(path)
    assert (checked.returncode, checked.stdout, checked.stderr) == (0, "", "")

    kehou = _kehou_balances(db, code)
    queried = _beanquery_balances(path)
    # Every account beanquery saw is one of the book's; every account of the book agrees
    # (an account without postings is absent from beanquery's answer: zero).
    assert set(queried) <= set(kehou)
    assert {name: queried.get(name, 0) for name in kehou} == kehou
    assert sum(queried.values()) == 0
    # Not a vacuous match: the book has money on many accounts.
    assert sum(1 for fen in kehou.values() if fen) >= 5


# --------------------------------------------------------------------------- the demo term


def test_the_demo_term_is_a_whole_term_of_the_schools_money(db, demo):
    school, term = demo_school(db)
    assert (school.code, term.start.isoformat(), term.end.isoformat()) == (
        SCHOOL,
        "2026-09-01",
        "2026-12-31",
    )
    assert demo.term_id == term.id
    book = _book(db, SCHOOL)
    tb = {line.code: line.debit - line.credit for line in books.trial_balance(db, book).lines}
    homes = {
        h.name.split()[0]: h
        for h in db.scalars(
            select(Household).where(
                Household.id.in_(select(Student.household_id).where(Student.school_id == school.id))
            )
        )
    }
    # Fees: basic care 5 × 400.00 × 4 months, football 2 × 150.00 × 4 months.
    assert (tb["4001.basic_care"], tb["4001.enrichment"]) == (-800000, -120000)
    assert db.scalar(select(func.count()).select_from(ChargeRecord)) == 7 * 4
    # 李 is a verified hardship student: her household is never charged.
    assert tb.get(household_account(homes["李家"].id), 0) == 0
    # 王 paid three months of four (250.00 each), 张 paid part of September, then caught up.
    assert tb[household_account(homes["王家"].id)] == 25000
    assert tb[household_account(homes["张家"].id)] == 30000
    assert len(payments.open_invoices(db, school, homes["张家"].id)) == 2  # November, December
    # The subsidy for September–October was claimed and received in full.
    [claim] = db.scalars(select(SubsidyClaim).where(SubsidyClaim.school_id == school.id))
    assert (claim.status, subsidies.received_on_claim(db, claim)) == ("received", claim.amount)
    assert tb["1123.DEMOD"] == claim.amount == 265000
    # Money out: stipends 1,400.00, the coach's labour fee 2,700.00 (tax withheld and
    # remitted), the vendor's 600.00 — all paid, so nothing is left payable.
    assert (tb["5001"], tb["5002"], tb["5003"]) == (140000, 270000, 60000)
    labour = db.scalar(select(PayLine).where(PayLine.kind == "labour_fee"))
    assert (labour.gross, labour.tax, labour.net) == (270000, 38000, 232000)
    assert all(
        fen == 0 for code, fen in tb.items() if code.split(".")[0] in ("2202", "2211", "2221")
    )
    assert db.scalar(select(func.count()).select_from(VendorBill)) == 1
    assert set(db.scalars(select(PayoutBatch.status))) == {"paid"}
    # Applications were made, reviewed and approved in August, before the term.
    assert all(
        a.status == "approved" and a.decided_at.date().isoformat() < "2026-09-01"
        for a in db.scalars(select(Application))
    )
    assert db.scalar(select(func.count()).select_from(Invoice)) > 0
    # September is closed in the school's book.
    assert [p.is_closed for p in books.list_periods(db, book)] == [True, False, False, False]


def test_the_demo_users_reach_the_school_and_the_portal(db, demo):
    school, _ = demo_school(db)
    by_email = {email: (role, token) for email, role, token in demo.tokens}
    assert by_email[SCHOOL_FINANCE][0] == "finance"
    finance = db.scalar(select(User).where(User.email == SCHOOL_FINANCE))
    assert links_of(db, finance)["schools"] == [school.code]
    teacher = db.scalar(select(User).where(User.email == TEACHER))
    [staff_id] = links_of(db, teacher)["staff"]
    assert db.get(StaffMember, staff_id).name == "王老师"
    email, password = demo.portal_login
    assert email == PARENT
    parent = db.scalar(select(User).where(User.email == PARENT))
    assert db.get(PortalLogin, parent.id) is not None
    [home] = links_of(db, parent)["households"]
    assert db.get(Household, home).name.startswith("王家")
    assert len(password) >= 10


def test_the_demo_term_has_no_audit_findings(db, demo):
    school, term = demo_school(db)
    findings = run_audit(db, scope_for(db, [school], term.start, term.end))
    assert [(f.rule, f.subject, f.summary) for f in findings] == []


def test_the_demo_schools_book_passes_bean_check_and_sums_to_the_trial_balance(db, demo, tmp_path):
    _assert_export_matches_trial_balance(db, SCHOOL, tmp_path)


def test_the_demo_book_passes_bean_check_and_sums_to_the_trial_balance(db, demo, tmp_path):
    _assert_export_matches_trial_balance(db, "DEMO", tmp_path)


# --------------------------------------------------------------------------- the proof can fail


def _tamper(text: str, kind: str) -> str:
    """Add 0.01 to the first posting of the first ``kind`` entry and take it off the second,
    so the transaction still balances and only the closing balance assertions can tell."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line == f'  kehou_kind: "{kind}"')
    first, second = [
        i for i in range(start, len(lines)) if POSTING.match(lines[i]) and lines[i].strip()
    ][:2]
    for i, delta in ((first, Decimal("0.01")), (second, Decimal("-0.01"))):
        m = POSTING.match(lines[i])
        assert m is not None
        lines[i] = f"  {m['account']}  {Decimal(m['amount']) + delta} CNY"
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("code,kind", [(SCHOOL, "payment"), ("DEMO", "charge")])
def test_bean_check_catches_a_posting_changed_in_the_export(db, demo, tmp_path, code, kind):
    path = _export(db, code, tmp_path)
    assert _bean_check(path).returncode == 0
    tampered = _tamper(path.read_text(encoding="utf-8"), kind)
    assert tampered != path.read_text(encoding="utf-8")
    path.write_text(tampered, encoding="utf-8")
    checked = _bean_check(path)
    assert checked.returncode != 0
    out = checked.stdout + checked.stderr
    assert "Balance failed" in out, out
    # …and beanquery, loading the same file, sees the failed assertions and per-account sums
    # that no longer equal Kehou's trial balance.
    queried = _beanquery_balances(path, clean=False)
    kehou = _kehou_balances(db, code)
    assert {name: queried.get(name, 0) for name in kehou} != kehou


def test_bean_check_catches_an_entry_left_out_of_the_export(db, demo, tmp_path):
    path = _export(db, SCHOOL, tmp_path)
    blocks = path.read_text(encoding="utf-8").split("\n\n")
    dropped = next(b for b in blocks if '  kehou_kind: "subsidy_receipt"' in b)
    path.write_text("\n\n".join(b for b in blocks if b is not dropped), encoding="utf-8")
    checked = _bean_check(path)
    assert checked.returncode != 0
    assert "Balance failed" in checked.stdout + checked.stderr
