"""A Hypothesis state machine runs a school's term through the real domain operations.

One school (book ``SM1``, district ``SMD``) with a term from 1 September to 31
December of next year (always in the future, so an application decided today
precedes every service day it pays for), basic care (Mon–Fri, refunded by the
day, waivers covered by the government) and football (Tue and Thu, refunded by
half month, waivers absorbed), fee standards and cost-sharing policies per
month, five students in three households, a teacher, an external coach and a
volunteer with pay rates, a whitelisted vendor with a capped agreement and the
fund carried over; and a second district's school (``SMX1``) for requests that
name the wrong school. It is built once per test inside a transaction that is
rolled back at the end; every Hypothesis example runs in a savepoint of its
own and rolls it back, so examples never see each other's writes.

The rules are the service layer's operations, drawn with inputs that are
sometimes wrong:

* apply, review, decide (``ledger.school.enrolment``): another school's
  programme, a start outside the term, a second application, a review or
  decision out of turn, a rejection without a reason, a full programme;
* waivers: request (a percent out of range, dates backwards), decide with
  four eyes (the requester approving their own: ``same_approver``; a second
  decision) and, once approved, the late-waiver credit of what was billed;
  verified hardship and its credit;
* billing runs for a month, the term or a month outside the term, or into a
  closed period;
* payments (negative, zero, an unknown method, into a vendor's account,
  another district's household, a closed period), refunds (more than the
  household holds, from the wrong account), returned payments (twice, without
  a reason);
* withdrawals with their credits (twice, before the start) and absences with
  theirs (under the daily rule, with nothing charged, backwards);
* service hours (weekends, holidays, outside the session, overlapping another
  session) and their approval (twice); the monthly pay run of stipends and
  labour fees (hours without a rate, a closed month);
* vendor bills (above the agreed price, past the agreement's cap, the same
  reference twice, outside the whitelisting, a non-positive quantity or
  price); payout batches (empty, a payable twice, already paid or in a draft,
  a labour fee on the payroll, nothing to pay, more than the bank holds) paid
  or cancelled;
* top-ups of the fund and reversals of entries (twice, a reversal, another
  book's entry, into a closed period); closing September or October.

Each rule is one request, run in a savepoint as the API runs a request in a
transaction, and predicts its outcome from a small model: the exact error type
and code, or success (a few refusals that hang on amounts the model does not
follow, such as a returned payment whose credit was refunded since, are allowed
either way). A refused request must raise the domain's error and change nothing:
every row of every ledger table is read before and compared after. Where the
domain call checks everything before it writes, the comparison is made before
the savepoint is rolled back (the call itself wrote nothing); where it writes
first by design, after the rollback: a payment or vendor bill dated in a closed
period opens the party's sub-account before the books refuse the date, a pay run
records the run before it reads each person's rate, and a withdrawal or absence
is recorded before its credit is refused.

After every step, :func:`check_school_books` checks: debits equal credits and
every entry balances, every materialized balance equals the sum of its
postings, the hash chain verifies (the other school's book is left untouched),
the audit rules of ``ledger.audit.rules`` about charges, payments, bills and
hours find nothing, and direct SQL of its own: no household charged without an
approved application (or before it), nor by any entry but a recorded charge; no
parent share above the approved standard for the months an enrolment's charges
cover; nothing charged despite verified hardship or an approved waiver; every
charge entry posting its record's household line and cost; each household's
receivable equal to what its invoices still ask for; no payable, tax or
household credit paid beyond zero; and the bank account equal to the model's
cash.

Bounds: by default and under ``HYPOTHESIS_PROFILE=ci`` the machine runs
:data:`CI_EXAMPLES` examples of up to :data:`CI_STEPS` steps (about 20 s on
SQLite and 45 s on PostgreSQL on a 2-core machine). For a longer run::

    KEHOU_STATEFUL_EXAMPLES=500 KEHOU_STATEFUL_STEPS=60 \\
        .venv/bin/pytest tests/test_school_operations_stateful.py -q

(``KEHOU_STATEFUL_STEPS`` defaults to 50 when only the number of examples is
given; ``HYPOTHESIS_PROFILE=long`` alone runs 300 examples of 50 steps). Add
``KEHOU_STATEFUL_STATS=1`` and ``-s`` to print how often each rule succeeded
or was refused, and with which code. The self-checks at the end prove the
checks can fail: rows written behind the engine's back are found, and so is a
"refused" operation that wrote. The regression tests after them keep the
domain bugs the machine found fixed.
"""

from __future__ import annotations

import datetime as dt
import os
import sys
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import Connection, Engine, Table, func, select, text
from sqlalchemy.orm import Session

from ledger import books
from ledger.audit import rules as audit_rules
from ledger.books.errors import (
    AlreadyReversed,
    CannotReverseReversal,
    DomainError,
    NotFound,
    PeriodAlreadyClosed,
    PeriodClosed,
)
from ledger.books.orm import Base
from ledger.money import round_fen_half_up
from ledger.school import (
    billing,
    credits,
    enrolment,
    payments,
    payouts,
    payroll,
    programmes,
    standards,
    structure,
    vendors,
    waivers,
)
from ledger.school.errors import Conflict, RuleBroken
from ledger.school.models import (
    Application,
    ChargeRecord,
    CreditRecord,
    Enrolment,
    FeeStandard,
    HardshipStatus,
    Household,
    Invoice,
    Payment,
    PayoutBatch,
    Programme,
    School,
    ServiceHours,
    StaffMember,
    Student,
    Term,
    VendorBill,
    WaiverGrant,
)
from ledger.school.receivables import invoice_outstanding

D = dt.date
T = dt.time
BASIS = 10_000

#: Next year's autumn term: today is always before it, so consent always precedes service.
YEAR = dt.date.today().year + 1
TERM_START, TERM_END = D(YEAR, 9, 1), D(YEAR, 12, 31)
MONTHS = (9, 10, 11, 12)
#: Months the machine may close (the rest stay open, so late credits always have a date).
CLOSABLE = (9, 10)
HOLIDAYS = frozenset(D(YEAR, 10, d) for d in range(1, 8))  # 国庆节
LATE_CREDIT_DAY = D(YEAR, 12, 1)  # the date of late-waiver credits: never closed

FIN, HEAD, CLASS_TEACHER, REQUESTER = (
    "fin@sm.test",
    "head@sm.test",
    "class@sm.test",
    "fin-a@sm.test",
)
FUND = 100_000  # 1,000.00 carried over into the bank account: payouts can exceed it

#: (kind, weekdays, start, end, capacity) of the school's two programmes.
PROGRAMMES = (
    ("basic_care", "12345", T(15, 30), T(17, 30), 4),
    ("enrichment", "24", T(15, 30), T(17, 0), 2),
)
#: (kind, monthly standard, monthly cost, government, school, waiver cover, refund rule)
POLICIES = (
    ("basic_care", 20000, 40000, ("percent", 5000), ("amount", 5000), "government", "daily"),
    ("enrichment", 10000, 15000, ("amount", 5000), ("amount", 0), "absorbed", "half_month"),
)
#: (name, household index, left behind); the last student is at the other district's school.
STUDENTS = (("甲", 0, False), ("乙", 0, False), ("丙", 1, False), ("丁", 2, True), ("戊", 2, False))
OWN_STUDENTS = len(STUDENTS)
OWN_HOUSEHOLDS = 3
#: Pay rates: (staff kind, programme kind) -> (fen per hour, monthly cap). No others exist.
RATES = {("teacher", "basic_care"): (5000, None), ("external", "enrichment"): (20000, 100000)}
STAFF = (("王老师", "teacher"), ("李教练", "external"), ("赵阿姨", "volunteer"))
AGREED_PRICE, AGREEMENT_CAP = 7500, 7500 * 10
ACTIVE = ("applied", "reviewed", "approved", "waitlisted")

CI_EXAMPLES, CI_STEPS = 20, 35


# --------------------------------------------------------------------------- the world


@dataclass(frozen=True)
class World:
    """Ids of what every example starts from."""

    school: int
    book: int
    term: int
    other_school: int
    other_book: int
    programmes: tuple[int, ...]  # care, football, the other school's
    students: tuple[int, ...]  # five here, one at the other school
    households: tuple[int, ...]  # three here, one in the other district
    staff: tuple[int, ...]
    vendor: int
    agreement: int
    fund_entry: int
    other_entry: int


def _school(db: Session, district: Any, code: str) -> tuple[School, Term]:
    school = structure.create_school(
        db,
        district,
        code=code,
        name=f"第{code}小学",
        actor="admin@sm.test",
        bank_name="示范银行",
        bank_account="6222000011112222",
        complaints_phone="12345",
    )
    term = structure.create_term(
        db, school, name=f"{YEAR}秋季学期", start=TERM_START, end=TERM_END, billing_months=4
    )
    return school, term


def _fund(db: Session, book_id: int, key: str) -> int:
    return books.post_entry(
        db,
        book_id,
        books.EntryDraft(
            effective_date=TERM_START,
            memo="上年结余结转 fund carried over",
            kind="adjustment",
            idempotency_key=key,
            postings=[books.PostingDraft("1002", FUND), books.PostingDraft("3001", -FUND)],
        ),
        actor=FIN,
    ).entry_id


def build_world(db: Session) -> World:
    """The school, its term and everything the machine's operations need, through the domain."""
    district = structure.create_district(db, code="SMD", name="示范区", funder_name="示范区财政局")
    school, term = _school(db, district, "SM1")
    for day in sorted(HOLIDAYS):
        structure.set_calendar_day(db, term, day, "holiday", "国庆节")
    book = db.get(books.Book, school.book_id)
    for month in MONTHS:
        first, last = D(YEAR, month, 1), D(YEAR + month // 12, month % 12 + 1, 1)
        books.create_period(db, book, start=first, end=last - dt.timedelta(days=1))
    for kind, standard, cost, government, school_share, cover, refund in POLICIES:
        fee = standards.create_fee_standard(
            db,
            district=district,
            kind=kind,
            amount=standard,
            unit="month",
            authority="示范区发改委",
            document_no=f"示发改价〔{YEAR}〕{len(kind)}号",
            valid_from=D(YEAR, 1, 1),
            valid_to=D(YEAR + 1, 12, 31),
            actor=FIN,
        )
        standards.create_cost_policy(
            db,
            district=district,
            kind=kind,
            fee_standard=fee,
            effective_from=D(YEAR, 1, 1),
            effective_to=D(YEAR + 1, 12, 31),
            unit="month",
            unit_cost=cost,
            government=government,
            school_share=school_share,
            waiver_cover=cover,
            refund_rule=refund,
            actor=FIN,
        )
    progs = [
        programmes.create_programme(
            db,
            school,
            term,
            kind=kind,
            name=f"{kind} 班",
            weekdays=weekdays,
            start_time=start,
            end_time=end,
            capacity=capacity,
        ).programme
        for kind, weekdays, start, end, capacity in PROGRAMMES
    ]
    homes = [structure.create_household(db, district, f"家{i}") for i in range(OWN_HOUSEHOLDS)]
    students = [
        structure.create_student(db, school, homes[h], name=name, left_behind=lb)
        for name, h, lb in STUDENTS
    ]
    staff = [
        payroll.create_staff(
            db,
            school,
            name=name,
            kind=kind,
            actor=FIN,
            id_type="resident_id" if kind == "external" else None,
            id_number="110101199001011234" if kind == "external" else None,
        )
        for name, kind in STAFF
    ]
    for (staff_kind, programme_kind), (amount, cap) in RATES.items():
        payroll.create_pay_rate(
            db,
            school,
            staff_kind=staff_kind,
            programme_kind=programme_kind,
            unit="hour",
            amount=amount,
            monthly_cap=cap,
            valid_from=TERM_START,
            valid_to=TERM_END,
            actor=FIN,
        )
    vendor = vendors.create_vendor(
        db,
        district,
        name="绿茵体育",
        uscc="91330100716105852F",
        qualification="体育类培训资质",
        services="足球训练",
        approved_price=8000,
        price_unit="session",
        valid_from=TERM_START,
        valid_to=TERM_END,
        actor=FIN,
    )
    agreement = vendors.create_agreement(
        db,
        school,
        vendor_id=vendor.id,
        programme=progs[1],
        reference="SM1-采购-1",
        unit="session",
        price=AGREED_PRICE,
        start=TERM_START,
        end=TERM_END,
        cap=AGREEMENT_CAP,
        actor=FIN,
    )
    fund_entry = _fund(db, book.id, "sm1-fund")

    other_district = structure.create_district(
        db, code="SMX", name="邻区", funder_name="邻区财政局"
    )
    other, other_term = _school(db, other_district, "SMX1")
    other_prog = programmes.create_programme(
        db,
        other,
        other_term,
        kind="basic_care",
        name="邻校托管",
        start_time=T(15, 30),
        end_time=T(17, 30),
        capacity=5,
    ).programme
    other_home = structure.create_household(db, other_district, "邻家")
    other_student = structure.create_student(db, other, other_home, name="己")
    other_entry = _fund(db, other.book_id, "smx1-fund")
    db.flush()
    return World(
        school=school.id,
        book=school.book_id,
        term=term.id,
        other_school=other.id,
        other_book=other.book_id,
        programmes=(*(p.id for p in progs), other_prog.id),
        students=(*(s.id for s in students), other_student.id),
        households=(*(h.id for h in homes), other_home.id),
        staff=tuple(s.id for s in staff),
        vendor=vendor.id,
        agreement=agreement.id,
        fund_entry=fund_entry,
        other_entry=other_entry,
    )


# --------------------------------------------------------------------------- the checks


class InvariantBroken(AssertionError):
    """An invariant of the books or of the school's rules does not hold."""


def _fail(what: str, detail: object) -> None:
    raise InvariantBroken(f"{what}: {detail!r}")


def _net(db: Session, book_id: int, like: str) -> dict[str, int]:
    """Materialized debit minus credit of the accounts whose code is LIKE ``like``."""
    return {
        code: int(d) - int(c)
        for code, d, c in db.execute(
            select(books.Account.code, books.Balance.debit, books.Balance.credit)
            .join(books.Balance, books.Balance.account_id == books.Account.id)
            .where(books.Account.book_id == book_id, books.Account.code.like(like))
        )
    }


def _months(start: dt.date, end: dt.date) -> set[tuple[int, int]]:
    out, day = set(), start
    while day <= end:
        out.add((day.year, day.month))
        day = D(day.year + day.month // 12, day.month % 12 + 1, 1)
    return out


def book_head(db: Session, book_id: int) -> tuple[int, str]:
    number, last_hash = db.execute(
        select(books.Book.last_number, books.Book.last_hash).where(books.Book.id == book_id)
    ).one()
    return int(number), last_hash


def check_books(db: Session, book_ids: list[int]) -> None:
    """Trial balance zero, materialized balances = sum of postings, chain verifies."""
    for book_id in book_ids:
        book = db.get(books.Book, book_id)
        tb = books.trial_balance(db, book)
        if tb.total_debit != tb.total_credit:
            _fail(f"trial balance of {book.code}", (tb.total_debit, tb.total_credit))
        mismatches = books.balance_mismatches(db, book)
        if mismatches:
            _fail(f"materialized balances of {book.code}", mismatches)
        # An independent sum: every entry's postings add up to zero.
        unbalanced = db.execute(
            select(books.Posting.entry_id, func.sum(books.Posting.amount))
            .where(books.Posting.book_id == book_id)
            .group_by(books.Posting.entry_id)
            .having(func.sum(books.Posting.amount) != 0)
        ).all()
        if unbalanced:
            _fail(f"unbalanced entries in {book.code}", unbalanced)
        report = books.verify_chain(db, book_id)
        if not report.ok:
            _fail(f"hash chain of {book.code}", report)


def check_consent(db: Session, school_id: int, book_id: int) -> None:
    """No household charged without an approved application, or by anything but a charge."""
    rows = db.execute(
        select(ChargeRecord.id, Application.status, Application.decided_at)
        .join(Enrolment, Enrolment.id == ChargeRecord.enrolment_id)
        .join(Application, Application.id == Enrolment.application_id)
        .where(
            ChargeRecord.school_id == school_id,
            ChargeRecord.household > 0,
            (Application.status != "approved")
            | Application.decided_at.is_(None)
            | Application.reviewed_by.is_(None)
            | (Application.student_id != Enrolment.student_id)
            | (Application.programme_id != Enrolment.programme_id),
        )
    ).all()
    if rows:
        _fail("charges without an approved application", rows)
    # Service before the approval: the first day charged precedes the decision.
    early = [
        (cid, max(period_start, start), decided)
        for cid, period_start, start, decided in db.execute(
            select(
                ChargeRecord.id,
                ChargeRecord.period_start,
                Enrolment.start_date,
                Application.decided_at,
            )
            .join(Enrolment, Enrolment.id == ChargeRecord.enrolment_id)
            .join(Application, Application.id == Enrolment.application_id)
            .where(ChargeRecord.school_id == school_id, ChargeRecord.household > 0)
        )
        if decided is not None and decided.date() > max(period_start, start)
    ]
    if early:
        _fail("charges for service before the approval", early)
    # Ledger side: a household receivable is debited only by a charge with its record, or by
    # a reversal (a returned payment, an undone credit application).
    debits = db.execute(
        select(books.Entry.id, books.Entry.kind, books.Account.code, books.Posting.amount)
        .join(books.Posting, books.Posting.entry_id == books.Entry.id)
        .join(books.Account, books.Account.id == books.Posting.account_id)
        .where(
            books.Entry.book_id == book_id,
            books.Account.code.like("1122.H%"),
            books.Posting.amount > 0,
        )
    ).all()
    recorded = set(
        db.scalars(select(ChargeRecord.entry_id).where(ChargeRecord.school_id == school_id))
    )
    stray = [
        row
        for row in debits
        if row[1] not in ("charge", "reversal") or (row[1] == "charge" and row[0] not in recorded)
    ]
    if stray:
        _fail("household receivables debited without a charge record", stray)


def _live_charges(db: Session, school_id: int) -> list[Any]:
    return db.execute(
        select(
            ChargeRecord.id,
            ChargeRecord.enrolment_id,
            ChargeRecord.period_start,
            ChargeRecord.period_end,
            ChargeRecord.parent,
            ChargeRecord.household,
            ChargeRecord.cost,
            ChargeRecord.household_id,
            ChargeRecord.entry_id,
            ChargeRecord.fee_standard_id,
            Enrolment.student_id,
            Programme.kind,
        )
        .join(Enrolment, Enrolment.id == ChargeRecord.enrolment_id)
        .join(Programme, Programme.id == Enrolment.programme_id)
        .outerjoin(Invoice, Invoice.id == ChargeRecord.invoice_id)
        .where(
            ChargeRecord.school_id == school_id,
            Invoice.id.is_(None) | (Invoice.status != "cancelled"),
        )
        .order_by(ChargeRecord.id)
    ).all()


def check_fees(db: Session, school_id: int, book_id: int) -> None:
    """No parent share above the approved standard, nothing despite hardship or a waiver,
    and every charge entry posts what its record says."""
    charges = _live_charges(db, school_id)
    standards_ = {
        s.id: s
        for s in db.scalars(
            select(FeeStandard).where(FeeStandard.id.in_({c.fee_standard_id for c in charges}))
        )
    }
    credited: dict[int, int] = defaultdict(int)
    for charge_id, household in db.execute(
        select(CreditRecord.charge_id, CreditRecord.household).where(
            CreditRecord.charge_id.in_([c.id for c in charges])
        )
    ):
        credited[charge_id] += household
    by_enrolment = defaultdict(list)
    for c in charges:
        by_enrolment[c.enrolment_id].append(c)
        std = standards_[c.fee_standard_id]
        if std.kind != c.kind or std.unit != "month":
            _fail("charge under a standard that does not list it", (c.id, std.kind, c.kind))
        if not std.valid_from <= c.period_start <= c.period_end <= std.valid_to:
            _fail("charge outside the standard's validity", (c.id, c.period_start))
        if not 0 <= c.household <= c.parent:
            _fail("household line outside 0..parent share", (c.id, c.household, c.parent))
    # Per enrolment: what parents were asked for, over every month any charge covers.
    for enrolment_id, group in by_enrolment.items():
        months: set[tuple[int, int]] = set()
        for c in group:
            months |= _months(c.period_start, c.period_end)
        allowed = standards_[group[0].fee_standard_id].amount * len(months)
        asked = sum(c.parent for c in group)
        if asked > allowed:
            _fail(
                "parent share above the approved standard",
                {"enrolment": enrolment_id, "asked": asked, "allowed": allowed, "months": months},
            )
    # Hardship and approved waivers covering a charge's whole period.
    students = {c.student_id for c in charges}
    windows: dict[int, list[tuple[int, dt.date, dt.date, str]]] = defaultdict(list)
    for sid, start, end, hid in db.execute(
        select(
            HardshipStatus.student_id,
            HardshipStatus.valid_from,
            HardshipStatus.valid_to,
            HardshipStatus.id,
        ).where(HardshipStatus.student_id.in_(students))
    ):
        windows[sid].append((BASIS, start, end, f"hardship:{hid}"))
    for sid, percent, start, end, wid in db.execute(
        select(
            WaiverGrant.student_id,
            WaiverGrant.percent,
            WaiverGrant.valid_from,
            WaiverGrant.valid_to,
            WaiverGrant.id,
        ).where(WaiverGrant.student_id.in_(students), WaiverGrant.status == "approved")
    ):
        windows[sid].append((percent, start, end, f"waiver:{wid}"))
    for c in charges:
        net = c.household - credited[c.id]
        for percent, start, end, ref in windows[c.student_id]:
            if start <= c.period_start and c.period_end <= end:
                most = -((-c.parent * (BASIS - percent)) // BASIS)
                if net > most:
                    _fail(
                        "charged despite a waiver",
                        {"charge": c.id, "net": net, "most": most, ref: percent},
                    )
    # Each charge entry posts the charge record's household line and its cost.
    lines: dict[int, list[tuple[str, int]]] = defaultdict(list)
    for entry_id, code, amount in db.execute(
        select(books.Posting.entry_id, books.Account.code, books.Posting.amount)
        .join(books.Account, books.Account.id == books.Posting.account_id)
        .where(books.Posting.entry_id.in_([c.entry_id for c in charges]))
    ):
        lines[entry_id].append((code, int(amount)))
    for c in charges:
        posted = lines[c.entry_id]
        household = sum(a for code, a in posted if code == f"1122.H{c.household_id}")
        revenue = sum(a for code, a in posted if code.startswith("4001"))
        if (household, revenue) != (c.household, -c.cost):
            _fail("charge entry differs from its record", (c.id, posted, c.household, c.cost))


def check_settlement(db: Session, school_id: int, book_id: int) -> None:
    """Receivables equal what invoices still ask; nothing paid or refunded beyond zero."""
    receivable = _net(db, book_id, "1122.H%")
    owed: dict[str, int] = defaultdict(int)
    for invoice in db.scalars(select(Invoice).where(Invoice.school_id == school_id)):
        if invoice.status != "cancelled":
            owed[f"1122.H{invoice.household_id}"] += invoice_outstanding(db, invoice)
    for code in set(receivable) | set(owed):
        if receivable.get(code, 0) != owed.get(code, 0):
            _fail(
                "receivable differs from the invoices", (code, receivable.get(code), owed.get(code))
            )
        if receivable.get(code, 0) < 0:
            _fail("a household receivable in credit", (code, receivable[code]))
    for like in ("2241.H%", "2211.S%", "2202.V%", "2221"):
        debit = {code: n for code, n in _net(db, book_id, like).items() if n > 0}
        if debit:
            _fail("paid or refunded beyond what was owed", debit)


#: The audit rules about the school's documents; the rules about the books themselves
#: (unbalanced entries, balances, the chain) are what :func:`check_books` checks directly.
AUDIT_CHECKS = [
    audit_rules.charge_without_consent,
    audit_rules.household_adjustment,
    audit_rules.charge_above_standard,
    audit_rules.charged_despite_waiver,
    audit_rules.duplicate_or_stray_charge,
    audit_rules.payment_not_to_school_bank,
    audit_rules.vendor_bill_not_allowed,
    audit_rules.pay_for_invalid_hours,
    audit_rules.entry_in_closed_period,
]


def check_audit(db: Session, world: World) -> None:
    """The audit rules of :data:`AUDIT_CHECKS` find nothing at the school."""
    scope = audit_rules.scope_for(
        db, [db.get(School, world.school)], D(YEAR, 1, 1), D(YEAR + 1, 12, 31)
    )
    findings = [f for check in AUDIT_CHECKS for f in check(db, scope)]
    if findings:
        _fail("audit findings", [(f.rule, f.subject, f.summary) for f in findings])


def check_school_books(
    db: Session,
    world: World,
    *,
    bank: int | None = None,
    other_head: tuple[int, str] | None = None,
) -> None:
    """Every invariant the machine checks after each step; raises :class:`InvariantBroken`.

    With ``other_head`` (the other school's book's entry count and last hash when the
    example began) that book is only checked to be untouched; else it is checked in full.
    """
    if other_head is None:
        check_books(db, [world.book, world.other_book])
    else:
        check_books(db, [world.book])
        if book_head(db, world.other_book) != other_head:
            _fail("the other school's book changed", book_head(db, world.other_book))
    check_audit(db, world)
    check_consent(db, world.school, world.book)
    check_fees(db, world.school, world.book)
    check_settlement(db, world.school, world.book)
    if bank is not None:
        held = _net(db, world.book, "1002")["1002"]
        if held != bank:
            _fail("bank account differs from the model's cash", (held, bank))


def _snapshot_queries() -> list[tuple[str, str]]:
    """``(table, SELECT every row in key order)`` for every table of the ledger's models."""
    tables: dict[str, Table] = {
        m.local_table.name: m.local_table
        for m in Base.registry.mappers
        if m.class_.__module__.startswith("ledger.")
    }
    out = []
    for name in sorted(tables):
        table = tables[name]
        keys = list(table.primary_key.columns) or list(table.columns)
        columns = ", ".join(f'"{c.name}"' for c in table.columns)
        order = ", ".join(f'"{c.name}"' for c in keys)
        out.append((name, f'SELECT {columns} FROM "{name}" ORDER BY {order}'))
    return out


_SNAPSHOT = _snapshot_queries()


def ledger_state(db: Session) -> dict[str, list[tuple]]:
    """Every row of every ledger table (books, school, audit), for before/after comparisons.

    Pending changes of the session are flushed first, so a refused operation that only
    changed objects in memory is caught too.
    """
    db.flush()
    conn = db.connection()
    return {name: [tuple(r) for r in conn.exec_driver_sql(sql)] for name, sql in _SNAPSHOT}


def state_diff(before: dict[str, list[tuple]], after: dict[str, list[tuple]]) -> dict[str, Any]:
    diff = {}
    for name in before:
        if before[name] != after[name]:
            gone = [r for r in before[name] if r not in after[name]]
            new = [r for r in after[name] if r not in before[name]]
            diff[name] = {"before": gone[:3], "after": new[:3]}
    return diff


# --------------------------------------------------------------------------- the model


@dataclass
class App:
    id: int
    student: int
    prog: int
    status: str
    start: dt.date


@dataclass
class Enr:
    id: int
    student: int
    prog: int
    start: dt.date
    end: dt.date | None = None


@dataclass
class Waiver:
    id: int
    status: str


@dataclass
class Hours:
    id: int
    staff: int
    prog: int
    day: dt.date
    start: dt.time
    end: dt.time
    status: str = "logged"
    paid: bool = False

    @property
    def minutes(self) -> int:
        return (self.end.hour * 60 + self.end.minute) - (self.start.hour * 60 + self.start.minute)


@dataclass
class Line:
    id: int
    kind: str
    net: int
    tax: int


@dataclass
class Batch:
    id: int
    status: str
    total: int
    items: list[tuple[str, int]]


@dataclass
class TopUp:
    entry_id: int
    amount: int
    reversed: bool = False


@dataclass
class Paid:
    id: int
    amount: int
    returned: bool = False


@dataclass
class Model:
    apps: list[App] = field(default_factory=list)
    enrolments: list[Enr] = field(default_factory=list)
    waivers: list[Waiver] = field(default_factory=list)
    hours: list[Hours] = field(default_factory=list)
    lines: list[Line] = field(default_factory=list)
    bills: dict[str, int] = field(default_factory=dict)  # reference -> bill id
    billed: int = 0  # fen billed on the vendor agreement
    batches: list[Batch] = field(default_factory=list)
    live: dict[tuple[str, int], int] = field(default_factory=dict)  # payable -> batch index
    topups: list[TopUp] = field(default_factory=list)
    reversals: list[int] = field(default_factory=list)
    payments: list[Paid] = field(default_factory=list)
    closed: set[int] = field(default_factory=set)
    hardship: int = 0  # hardship statuses verified
    bank: int = FUND
    #: (staff, month) -> (gross paid so far, the hours paid)
    pay: dict[tuple[int, int], int] = field(default_factory=dict)


REFUSED = object()
Expect = tuple[type[DomainError], str]
CLOSED: Expect = (PeriodClosed, "period_closed")

#: Days the operations are dated on: the term's edges, inside, and just outside it.
DAYS = [
    D(YEAR, 9, 1),
    D(YEAR, 9, 15),
    D(YEAR, 9, 30),
    D(YEAR, 10, 8),
    D(YEAR, 10, 19),
    D(YEAR, 10, 31),
    D(YEAR, 11, 2),
    D(YEAR, 11, 16),
    D(YEAR, 11, 30),
    D(YEAR, 12, 1),
    D(YEAR, 12, 15),
    D(YEAR, 12, 31),
]
OUTSIDE = [D(YEAR, 8, 31), D(YEAR + 1, 1, 4)]
#: Days hours are logged on: the first week of each month (weekends, the National Day
#: holidays and days outside the term among them), so sessions clash now and then.
HOUR_DAYS = [D(YEAR, m, d) for m in MONTHS for d in (1, 2, 3, 4, 5, 6, 7, 8)] + OUTSIDE
SLOTS = [
    (T(15, 30), T(17, 30)),
    (T(15, 30), T(16, 30)),
    (T(16, 30), T(17, 30)),
    (T(16, 0), T(17, 0)),
    (T(15, 0), T(16, 0)),  # starts before every session
    (T(17, 0), T(17, 30)),  # after football's end
    (T(17, 0), T(17, 0)),  # ends as it starts
    (T(15, 30), T(17, 0)),
]
picks = st.integers(min_value=0, max_value=10_000)
#: Mostly pick an object the operation fits (a pending application to review…), else any.
proper = st.sampled_from([True, True, False, True])
mostly_yes = st.sampled_from([True, False, True])
days = st.sampled_from([*DAYS[:6], *OUTSIDE, *DAYS[6:]])
METHODS = ["wechat", "alipay", "bitcoin", "cash", "bank_transfer"]


#: Outcomes per rule over the run ("pay: refused invalid_amount", "pay: done"), printed
#: at the end with ``KEHOU_STATEFUL_STATS=1 pytest -s`` to see what the machine reached.
OUTCOMES: Counter[str] = Counter()


def is_service_day(day: dt.date, weekdays: str) -> bool:
    return (
        TERM_START <= day <= TERM_END
        and day.isoweekday() <= 5
        and str(day.isoweekday()) in weekdays
        and day not in HOLIDAYS
    )


class SchoolTermMachine(RuleBasedStateMachine):
    """The term of one school, operation by operation; see the module docstring."""

    conn: Connection  # set by the test before the machine runs
    world: World

    def __init__(self) -> None:
        super().__init__()
        self.db = Session(
            bind=self.conn, join_transaction_mode="create_savepoint", expire_on_commit=False
        )
        w = self.world
        self.school = self.db.get(School, w.school)
        self.term = self.db.get(Term, w.term)
        self.m = Model()
        self.m.topups.append(TopUp(w.fund_entry, FUND))
        check_books(self.db, [w.other_book])
        self.other_head = book_head(self.db, w.other_book)

    def teardown(self) -> None:
        self.db.rollback()
        self.db.close()

    # ------------------------------------------------------------------ helpers

    def month_closed(self, day: dt.date) -> bool:
        return day.year == YEAR and day.month in self.m.closed

    def run(
        self,
        call: Callable[[], Any],
        expect: Expect | None = None,
        *,
        may: tuple[Expect, ...] = (),
        strict: bool = True,
    ) -> Any:
        """Run one request in a savepoint, as the API runs one in a transaction.

        ``expect``: the refusal it must meet (type and code), or None for success;
        ``may``: refusals allowed instead of success. A refusal must change nothing:
        with ``strict``, compared before the savepoint is rolled back (the domain call
        itself wrote nothing); without, after the rollback (the request left nothing).
        """
        before = ledger_state(self.db) if expect is not None or may else None
        label = sys._getframe(1).f_code.co_name
        savepoint = self.db.begin_nested()
        try:
            result = call()
        except DomainError as error:
            got = (type(error), getattr(error, "code", None))
            OUTCOMES[f"{label}: refused {got[1]}"] += 1
            assert got == expect or got in may, f"refused with {got} {error}, expected {expect}"
            if strict:
                diff = state_diff(before, ledger_state(self.db))
                assert not diff, f"{got[1]}: the refused operation wrote {diff}"
                savepoint.rollback()
            else:
                savepoint.rollback()
                diff = state_diff(before, ledger_state(self.db))
                assert not diff, f"{got[1]}: rolled back, yet changed {diff}"
            return REFUSED
        assert expect is None, f"expected the refusal {expect}, but it succeeded"
        OUTCOMES[f"{label}: done"] += 1
        savepoint.commit()
        return result

    def student(self, i: int) -> Student:
        return self.db.get(Student, self.world.students[i])

    def household(self, i: int) -> Household:
        return self.db.get(Household, self.world.households[i])

    def programme(self, i: int) -> Programme:
        return self.db.get(Programme, self.world.programmes[i])

    @staticmethod
    def choose(items: list[Any], pick: int, proper: bool, fits: Callable[[Any], bool]) -> Any:
        """Mostly (``proper``) one of the items an operation fits; else any, to be refused."""
        pool = [x for x in items if fits(x)] if proper else items
        pool = pool or items
        return pool[pick % len(pool)]

    def capacity(self, prog: int) -> int:
        return PROGRAMMES[prog][4] if prog < len(PROGRAMMES) else 5

    # ------------------------------------------------------------------ consent

    @initialize(
        wanted=st.lists(
            st.tuples(st.integers(0, OWN_STUDENTS - 1), st.integers(0, len(PROGRAMMES) - 1)),
            max_size=5,
            unique=True,
        )
    )
    def enrol_some(self, wanted: list[tuple[int, int]]) -> None:
        """A few applications made, reviewed and approved, so the term has pupils to bill."""
        for student, prog in wanted:
            self.apply(student, prog, None)
            last = len(self.m.apps) - 1
            self.review(last, approve=True, note=False, proper=False)
            self.decide(last, approve=True, note=False, proper=False)

    @rule(
        student=st.integers(0, OWN_STUDENTS),
        prog=st.integers(0, len(PROGRAMMES)),
        start=st.sampled_from([None, D(YEAR, 10, 12), *OUTSIDE, D(YEAR, 11, 16), None]),
    )
    def apply(self, student: int, prog: int, start: dt.date | None) -> None:
        s, p = self.student(student), self.programme(prog)
        first = start or TERM_START
        expect: Expect | None = None
        if s.school_id != p.school_id:
            expect = (RuleBroken, "programme_of_other_school")
        elif not TERM_START <= first <= TERM_END:
            expect = (RuleBroken, "start_outside_term")
        elif any(
            a.student == student and a.prog == prog and a.status in ACTIVE for a in self.m.apps
        ):
            expect = (Conflict, "application_exists")
        app = self.run(
            lambda: enrolment.apply(self.db, s, p, applied_by="家长 guardian", start_date=start),
            expect,
        )
        if app is not REFUSED:
            self.m.apps.append(App(app.id, student, prog, "applied", first))

    @precondition(lambda self: self.m.apps)
    @rule(pick=picks, approve=mostly_yes, note=st.booleans(), proper=proper)
    def review(self, pick: int, approve: bool, note: bool, proper: bool) -> None:
        a = self.choose(self.m.apps, pick, proper, lambda a: a.status == "applied")
        app = self.db.get(Application, a.id)
        expect: Expect | None = None
        if a.status != "applied":
            expect = (Conflict, "invalid_application_state")
        elif not approve and not note:
            expect = (RuleBroken, "reason_required")
        done = self.run(
            lambda: enrolment.review(
                self.db, app, approve=approve, actor=CLASS_TEACHER, note="冲突" if note else None
            ),
            expect,
        )
        if done is not REFUSED:
            a.status = "reviewed" if approve else "rejected"

    @precondition(lambda self: self.m.apps)
    @rule(pick=picks, approve=mostly_yes, note=st.booleans(), proper=proper)
    def decide(self, pick: int, approve: bool, note: bool, proper: bool) -> None:
        a = self.choose(self.m.apps, pick, proper, lambda a: a.status in ("reviewed", "waitlisted"))
        app = self.db.get(Application, a.id)
        taken = sum(1 for e in self.m.enrolments if e.prog == a.prog and e.end is None)
        expect: Expect | None = None
        if a.status not in ("reviewed", "waitlisted"):
            expect = (Conflict, "invalid_application_state")
        elif not approve and not note:
            expect = (RuleBroken, "reason_required")
        elif approve and taken >= self.capacity(a.prog):
            expect = (Conflict, "programme_full")
        enr = self.run(
            lambda: enrolment.decide(
                self.db, app, approve=approve, actor=HEAD, note="名额已满" if note else None
            ),
            expect,
        )
        if enr is REFUSED:
            return
        a.status = "approved" if approve else "rejected"
        if approve:
            assert enr is not None and enr.application_id == a.id
            self.m.enrolments.append(Enr(enr.id, a.student, a.prog, a.start))
        else:
            assert enr is None

    # ------------------------------------------------------------------ waivers

    @precondition(lambda self: len(self.m.waivers) < 6)
    @rule(
        student=st.integers(0, OWN_STUDENTS - 1),
        percent=st.sampled_from([5000, 0, 10001, 10000, 5000]),
        window=st.sampled_from(["term", "november", "backwards", "term"]),
    )
    def request_waiver(self, student: int, percent: int, window: str) -> None:
        start, end = {
            "term": (TERM_START, TERM_END),
            "november": (D(YEAR, 11, 1), D(YEAR, 11, 30)),
            "backwards": (D(YEAR, 11, 30), D(YEAR, 11, 1)),
        }[window]
        expect: Expect | None = None
        if not 0 < percent <= BASIS:
            expect = (RuleBroken, "invalid_waiver")
        elif end < start:
            expect = (RuleBroken, "invalid_dates")
        s = self.student(student)
        grant = self.run(
            lambda: waivers.request_waiver(
                self.db,
                s,
                percent=percent,
                reason="家庭变故 family hardship",
                evidence_ref="社区证明 17",
                valid_from=start,
                valid_to=end,
                actor=REQUESTER,
            ),
            expect,
        )
        if grant is not REFUSED:
            self.m.waivers.append(Waiver(grant.id, "requested"))

    @precondition(lambda self: self.m.waivers)
    @rule(
        pick=picks,
        same=st.sampled_from([False, True, False]),
        approve=st.sampled_from([True, False, True]),
        proper=proper,
    )
    def decide_waiver(self, pick: int, same: bool, approve: bool, proper: bool) -> None:
        """Four eyes: the requester may not decide; an approval credits what was billed."""
        w = self.choose(self.m.waivers, pick, proper, lambda w: w.status == "requested")
        grant = self.db.get(WaiverGrant, w.id)
        expect: Expect | None = None
        if w.status != "requested":
            expect = (Conflict, "waiver_decided")
        elif same:
            expect = (RuleBroken, "same_approver")

        def call() -> None:
            waivers.decide_waiver(
                self.db, grant, approve=approve, actor=REQUESTER if same else HEAD
            )
            if approve:
                credits.credit_late_waiver(self.db, grant, actor=FIN, effective=LATE_CREDIT_DAY)

        if self.run(call, expect) is not REFUSED:
            w.status = "approved" if approve else "rejected"

    @precondition(lambda self: self.m.hardship < 2)
    @rule(student=st.integers(0, OWN_STUDENTS - 1))
    def verify_hardship(self, student: int) -> None:
        s = self.student(student)
        self.m.hardship += 1

        def call() -> None:
            status = structure.verify_hardship(
                self.db,
                s,
                evidence_ref="民政局低保证明",
                verified_by=FIN,
                valid_from=D(YEAR, 8, 1),
                valid_to=D(YEAR + 1, 7, 31),
            )
            credits.credit_late_waiver(self.db, status, actor=FIN, effective=LATE_CREDIT_DAY)

        self.run(call)

    # ------------------------------------------------------------------ billing

    @rule(period=st.sampled_from([9, 10, 11, 12, "term", 8, 1, 10, 11, 12, 9]))
    def bill(self, period: int | str) -> None:
        if period == "term":
            month, first, last = None, TERM_START, TERM_END
        else:
            year = YEAR + (period == 1)
            month = (year, period)
            first = D(year, period, 1)
            last = D(year + period // 12, period % 12 + 1, 1) - dt.timedelta(days=1)
        expect: Expect | None = None
        if month is not None and not (TERM_START <= first <= TERM_END):
            expect = (RuleBroken, "month_outside_term")
        elif any(m in self.m.closed for y, m in _months(first, last) if y == YEAR):
            expect = (RuleBroken, "period_closed")
        self.run(
            lambda: billing.run_billing(
                self.db, self.school, self.term, actor=FIN, month=month, issued_on=first
            ),
            expect,
        )

    # ------------------------------------------------------------------ money in

    def _invoice_number(self, household_id: int) -> str | None:
        return self.db.scalar(
            select(Invoice.number)
            .where(Invoice.school_id == self.school.id, Invoice.household_id == household_id)
            .order_by(Invoice.id.desc())
            .limit(1)
        )

    @rule(
        household=st.integers(0, OWN_HOUSEHOLDS),
        amount=st.sampled_from([15000, -500, 0, 1, 9999, 60000, 100001, 30000]),
        day=days,
        method=st.sampled_from(METHODS),
        into=st.sampled_from(["1002", "1002", "1002", "2202", "1002", "1002"]),
        name_invoice=st.booleans(),
    )
    def pay(
        self, household: int, amount: int, day: dt.date, method: str, into: str, name_invoice: bool
    ) -> None:
        home = self.household(household)
        reference = self._invoice_number(home.id) if name_invoice else None
        expect: Expect | None = None
        if into != "1002":
            expect = (RuleBroken, "payment_not_to_school_account")
        elif amount <= 0:
            expect = (RuleBroken, "invalid_amount")
        elif method not in payments.METHODS:
            expect = (RuleBroken, "invalid_method")
        elif household >= OWN_HOUSEHOLDS:
            expect = (NotFound, "not_found")
        elif self.month_closed(day):
            expect = (PeriodClosed, "period_closed")
        result = self.run(
            lambda: payments.record_payment(
                self.db,
                self.school,
                home,
                amount=amount,
                received_on=day,
                method=method,
                actor=FIN,
                reference=reference,
                received_into=into,
            ),
            expect,
            # The household's sub-accounts are opened before the books refuse a closed
            # date; only the request's rollback takes them away again.
            strict=expect != CLOSED,
        )
        if result is not REFUSED:
            assert not result.replayed and result.payment.amount == amount
            assert sum(part for _, part in result.allocations) + result.credit == amount
            self.m.bank += amount
            self.m.payments.append(Paid(result.payment.id, amount))

    @rule(
        household=st.integers(0, OWN_HOUSEHOLDS),
        how=st.sampled_from(["all", "negative", "zero", "one", "more", "half", "all"]),
        day=days,
        method=st.sampled_from(METHODS),
        paid_from=st.sampled_from(["1002", "1002", "1002", "3001", "1002", "1002"]),
        proper=proper,
    )
    def refund(
        self, household: int, how: str, day: dt.date, method: str, paid_from: str, proper: bool
    ) -> None:
        if proper:  # mostly a household that holds credit
            holding = [
                i
                for i in range(OWN_HOUSEHOLDS)
                if payments.credit_balance(self.db, self.school, self.world.households[i]) > 0
            ]
            household = holding[household % len(holding)] if holding else household
        home = self.household(household)
        held = payments.credit_balance(self.db, self.school, home.id)
        amount = {
            "negative": -100,
            "zero": 0,
            "one": 1,
            "half": held // 2,
            "all": held,
            "more": held + 1,
        }[how]
        expect: Expect | None = None
        if paid_from != "1002":
            expect = (RuleBroken, "refund_not_from_school_account")
        elif amount <= 0:
            expect = (RuleBroken, "invalid_amount")
        elif method not in payments.METHODS:
            expect = (RuleBroken, "invalid_method")
        elif household >= OWN_HOUSEHOLDS:
            expect = (NotFound, "not_found")
        elif amount > held:
            expect = (RuleBroken, "refund_exceeds_credit")
        elif self.month_closed(day):
            expect = (PeriodClosed, "period_closed")
        done = self.run(
            lambda: payments.refund_credit(
                self.db,
                self.school,
                home,
                amount=amount,
                paid_on=day,
                method=method,
                actor=FIN,
                paid_from=paid_from,
            ),
            expect,
        )
        if done is not REFUSED:
            self.m.bank -= amount

    @precondition(lambda self: self.m.payments)
    @rule(pick=picks, day=days, reason=mostly_yes, proper=proper)
    def return_payment(self, pick: int, day: dt.date, reason: bool, proper: bool) -> None:
        p = self.choose(self.m.payments, pick, proper, lambda p: not p.returned)
        payment = self.db.get(Payment, p.id)
        expect: Expect | None = None
        may: tuple[Expect, ...] = ()
        if p.returned:
            expect = (Conflict, "payment_already_returned")
        elif not reason:
            expect = (RuleBroken, "reason_required")
        else:
            # Refused when the credit it created has been refunded since (not modelled here).
            may = ((RuleBroken, "returned_payment_credit_refunded"),)
            if self.month_closed(day):
                may += ((PeriodClosed, "period_closed"),)
        done = self.run(
            lambda: payments.return_payment(
                self.db,
                payment,
                returned_on=day,
                reason="退票 bounced" if reason else " ",
                actor=FIN,
            ),
            expect,
            may=may,
        )
        if done is not REFUSED:
            assert not self.month_closed(day)
            p.returned = True
            self.m.bank -= p.amount

    # ------------------------------------------------------------------ credits

    @precondition(lambda self: self.m.enrolments)
    @rule(
        pick=picks,
        day=st.sampled_from([*DAYS, D(YEAR, 10, 12), D(YEAR, 11, 17)]),
        proper=proper,
    )
    def withdraw(self, pick: int, day: dt.date, proper: bool) -> None:
        e = self.choose(self.m.enrolments, pick, proper, lambda e: e.end is None)
        enr = self.db.get(Enrolment, e.id)
        expect: Expect | None = None
        may: tuple[Expect, ...] = ()
        if e.end is not None:
            expect = (Conflict, "already_withdrawn")
        elif day < e.start:
            expect = (RuleBroken, "withdrawal_before_start")
        elif self.month_closed(day):
            # Refused when something charged for days after it would be credited.
            may = ((PeriodClosed, "period_closed"),)

        def call() -> None:
            enrolment.withdraw(self.db, enr, effective=day, actor=FIN)
            credits.credit_withdrawal(self.db, enr, actor=FIN)

        if self.run(call, expect, may=may, strict=not may) is not REFUSED:
            e.end = day

    @precondition(lambda self: self.m.enrolments)
    @rule(
        pick=picks,
        start=st.sampled_from([D(YEAR, 9, 7), D(YEAR, 10, 12), D(YEAR, 11, 2), D(YEAR, 12, 1)]),
        length=st.sampled_from([29, -1, 10, 15, 45]),
        proper=proper,
    )
    def absence(self, pick: int, start: dt.date, length: int, proper: bool) -> None:
        """A long absence, credited under the half-month rule (football's)."""
        e = self.choose(self.m.enrolments, pick, proper, lambda e: e.prog == 1)
        enr = self.db.get(Enrolment, e.id)
        end = start + dt.timedelta(days=length)
        charged = self.db.scalar(
            select(func.count())
            .select_from(ChargeRecord)
            .where(
                ChargeRecord.enrolment_id == e.id,
                ChargeRecord.period_start <= start,
                ChargeRecord.period_end >= start,
            )
        )
        expect: Expect | None = None
        may: tuple[Expect, ...] = ()
        if end < start:
            expect = (RuleBroken, "invalid_dates")
        elif e.prog >= len(PROGRAMMES) or not charged:
            expect = (RuleBroken, "nothing_charged")
        elif POLICIES[e.prog][6] != "half_month":
            expect = (RuleBroken, "refund_rule_mismatch")
        elif self.month_closed(start):
            may = ((PeriodClosed, "period_closed"),)

        def call() -> None:
            enrolment.report_absence(self.db, enr, start=start, end=end, actor=FIN)
            credits.credit_absence(self.db, enr, start=start, end=end, actor=FIN)

        # The absence is recorded before its credit is refused: one request, rolled back whole.
        self.run(call, expect, may=may, strict=expect == (RuleBroken, "invalid_dates"))

    # ------------------------------------------------------------------ hours and pay

    @rule(
        staff=st.integers(0, len(STAFF) - 1),
        prog=st.integers(0, len(PROGRAMMES) - 1),
        day=st.sampled_from(HOUR_DAYS),
        slot=st.sampled_from(SLOTS),
        proper=proper,
        pick=picks,
        then=st.sampled_from(["approve", "reject", "leave", "approve"]),
    )
    def log_hours(
        self,
        staff: int,
        prog: int,
        day: dt.date,
        slot: tuple[dt.time, dt.time],
        proper: bool,
        pick: int,
        then: str,
    ) -> None:
        """Log a session; then (a second request) finance approves or rejects it, or waits."""
        start, end = slot
        _, weekdays, p_start, p_end, _ = PROGRAMMES[prog]
        if proper:  # mostly a service day of the programme, inside its session
            service = [d for d in HOUR_DAYS if is_service_day(d, weekdays)]
            day = service[pick % len(service)]
            if end <= start or start < p_start or end > p_end:
                start, end = p_start, p_end
        expect: Expect | None = None
        if end <= start:
            expect = (RuleBroken, "invalid_times")
        elif not is_service_day(day, weekdays):
            expect = (RuleBroken, "not_a_service_day")
        elif start < p_start or end > p_end:
            expect = (RuleBroken, "outside_session")
        elif any(
            h.staff == staff
            and h.day == day
            and h.status != "rejected"
            and h.start < end
            and h.end > start
            for h in self.m.hours
        ):
            expect = (Conflict, "overlapping_session")
        person = self.db.get(StaffMember, self.world.staff[staff])
        p = self.programme(prog)
        hours = self.run(
            lambda: payroll.log_hours(
                self.db, self.school, person, p, day=day, start=start, end=end, actor=FIN
            ),
            expect,
        )
        if hours is REFUSED:
            return
        self.m.hours.append(Hours(hours.id, staff, prog, day, start, end))
        if then != "leave":
            self.approve_hours(len(self.m.hours) - 1, then == "approve", proper=False)

    @precondition(lambda self: self.m.hours)
    @rule(pick=picks, approve=st.sampled_from([True, False, True, True]), proper=proper)
    def approve_hours(self, pick: int, approve: bool, proper: bool) -> None:
        h = self.choose(self.m.hours, pick, proper, lambda h: h.status == "logged")
        row = self.db.get(ServiceHours, h.id)
        expect = (Conflict, "hours_decided") if h.status != "logged" else None
        if (
            self.run(
                lambda: payroll.approve_hours(self.db, row, approve=approve, actor=FIN), expect
            )
            is not REFUSED
        ):
            h.status = "approved" if approve else "rejected"

    def _month_gross(self, staff: int, hours: list[Hours]) -> int:
        kind = STAFF[staff][1]
        exact, cap = Fraction(0), None
        for h in hours:
            amount, cap = RATES[(kind, PROGRAMMES[h.prog][0])]
            exact += Fraction(amount * h.minutes, 60)
        gross = round_fen_half_up(exact.numerator, exact.denominator)
        return gross if cap is None else min(gross, cap)

    @rule(month=st.sampled_from(MONTHS))
    def run_pay(self, month: int) -> None:
        """The monthly pay run, predicted person by person in the order the domain pays."""
        new = [
            h
            for h in self.m.hours
            if h.status == "approved"
            and not h.paid
            and h.day.month == month
            and STAFF[h.staff][1] != "volunteer"
        ]
        expect: Expect | None = None
        gross: dict[int, int] = {}
        for staff in sorted({h.staff for h in new}):
            mine = [h for h in new if h.staff == staff]
            if any((STAFF[staff][1], PROGRAMMES[h.prog][0]) not in RATES for h in mine):
                expect = (RuleBroken, "no_pay_rate")
                break
            paid = [h for h in self.m.hours if h.staff == staff and h.paid and h.day.month == month]
            before = self.m.pay.get((staff, month), 0)
            gross[staff] = max(self._month_gross(staff, paid + mine), before) - before
            if gross[staff] > 0 and month in self.m.closed:
                expect = (PeriodClosed, "period_closed")
                break
        last = D(YEAR + month // 12, month % 12 + 1, 1) - dt.timedelta(days=1)
        # The run is recorded before each person's rates are read and entries posted: a
        # refused run leaves nothing only once the request is rolled back.
        result = self.run(
            lambda: payroll.run_pay(self.db, self.school, YEAR, month, on=last, actor=FIN),
            expect,
            strict=False,
        )
        if result is REFUSED:
            return
        staff_of = {sid: i for i, sid in enumerate(self.world.staff)}
        assert {staff_of[line.staff_id]: line.gross for line in result.lines} == gross
        for h in new:
            h.paid = True
        for line in result.lines:
            staff = staff_of[line.staff_id]
            self.m.pay[(staff, month)] = self.m.pay.get((staff, month), 0) + line.gross
            assert line.net == line.gross - line.tax and line.tax >= 0
            self.m.lines.append(Line(line.id, line.kind, line.net, line.tax))

    # ------------------------------------------------------------------ money out

    @rule(
        quantity=st.sampled_from([2, -1, 0, 1, 4]),
        price=st.sampled_from([AGREED_PRICE, 0, 7000, AGREED_PRICE + 100, AGREED_PRICE]),
        reference=st.sampled_from(["V-1", "V-2", " ", "V-3", "V-4", "V-5"]),
        day=days,
        proper=st.booleans(),
    )
    def vendor_bill(
        self, quantity: int, price: int, reference: str, day: dt.date, proper: bool
    ) -> None:
        if proper:  # a bill that fits the agreement, unless its cap is reached
            quantity, price = max(quantity, 1), AGREED_PRICE
            reference = f"V-{len(self.m.bills) + 10}"
            day = max(TERM_START, min(day, TERM_END))
        expect: Expect | None = None
        if not reference.strip():
            expect = (RuleBroken, "reference_required")
        elif quantity <= 0:
            expect = (RuleBroken, "invalid_quantity")
        elif price <= 0:
            expect = (RuleBroken, "invalid_amount")
        elif not TERM_START <= day <= TERM_END:
            expect = (RuleBroken, "vendor_out_of_dates")
        elif price > AGREED_PRICE:
            expect = (RuleBroken, "above_agreed_price")
        elif self.m.billed + quantity * price > AGREEMENT_CAP:
            expect = (RuleBroken, "agreement_cap_exceeded")
        elif reference in self.m.bills:
            expect = (Conflict, "bill_exists")
        elif self.month_closed(day):
            expect = (PeriodClosed, "period_closed")
        bill = self.run(
            lambda: vendors.record_bill(
                self.db,
                self.school,
                vendor_id=self.world.vendor,
                agreement_id=self.world.agreement,
                reference=reference,
                service_date=day,
                quantity=quantity,
                unit_price=price,
                actor=FIN,
            ),
            expect,
            strict=expect != CLOSED,  # the vendor's payable account is opened first
        )
        if bill is not REFUSED:
            assert bill.amount == quantity * price
            self.m.bills[reference] = bill.id
            self.m.billed += bill.amount

    def _payables(self) -> list[tuple[str, int, int]]:
        """Every payable the school has had: (source, id, amount)."""
        out = [("pay_line", line.id, line.net) for line in self.m.lines]
        out += [("tax", line.id, line.tax) for line in self.m.lines]
        bills = {
            b.id: b.amount
            for b in self.db.scalars(
                select(VendorBill).where(VendorBill.school_id == self.school.id)
            )
        }
        out += [("vendor_bill", bill_id, bills[bill_id]) for bill_id in self.m.bills.values()]
        return out

    def _refusal_of_batch(self, method: str, items: list[tuple[str, int]]) -> Expect | None:
        """What ``payouts.create_batch`` refuses, in the order it checks."""
        if method not in payouts.METHODS:
            return (RuleBroken, "invalid_method")
        if not items:
            return (RuleBroken, "empty_batch")
        if len(set(items)) != len(items):
            return (RuleBroken, "duplicate_item")
        lines = {line.id: line for line in self.m.lines}
        for source, source_id in items:
            if source not in payouts.METHODS[method]:
                return (RuleBroken, "invalid_source")
            if source == "tax":
                if lines[source_id].tax <= 0:
                    return (RuleBroken, "nothing_to_pay")
            elif source == "pay_line":
                line = lines[source_id]
                if method == "payroll_transfer" and line.kind != "stipend":
                    return (RuleBroken, "not_payroll")
                if line.net <= 0:
                    return (RuleBroken, "nothing_to_pay")
        for item in items:
            if item in self.m.live:
                paid = self.m.batches[self.m.live[item]].status == "paid"
                return (Conflict, "already_paid" if paid else "already_in_batch")
        return None

    @precondition(lambda self: self.m.lines or self.m.bills)
    @rule(
        method=st.sampled_from(
            ["bank_transfer", "payroll_transfer", "cash", "tax_remittance", "bank_transfer"]
        ),
        chosen=st.lists(picks, max_size=3),
        fit=st.sampled_from([True, False, True]),
        twice=st.sampled_from([False, False, True, False]),
        pay_on=st.one_of(st.none(), days),
    )
    def draft_batch(
        self, method: str, chosen: list[int], fit: bool, twice: bool, pay_on: dt.date | None
    ) -> None:
        """Draft a payout batch; then (a second request), unless ``pay_on`` is None, pay it."""
        payables = self._payables()
        if fit:  # mostly payables the method can pay and nobody has batched yet
            payables = [
                p
                for p in payables
                if p[0] in payouts.METHODS.get(method, ()) and p[2] > 0 and p[:2] not in self.m.live
            ]
        items = [payables[i % len(payables)][:2] for i in chosen] if payables else []
        if fit:
            items = list(dict.fromkeys(items))
        if twice and items:
            items.append(items[0])
        expect = self._refusal_of_batch(method, items)
        batch = self.run(
            lambda: payouts.create_batch(
                self.db, self.school, method=method, items=items, actor=FIN, reference="批次"
            ),
            expect,
        )
        if batch is REFUSED:
            return
        amounts = {p[:2]: p[2] for p in self._payables()}
        assert batch.total == sum(amounts[i] for i in items)
        self.m.batches.append(Batch(batch.id, "draft", batch.total, items))
        for item in items:
            self.m.live[item] = len(self.m.batches) - 1
        if pay_on is not None:
            self.pay_batch(len(self.m.batches) - 1, pay_on, proper=False)

    @precondition(lambda self: self.m.batches)
    @rule(pick=picks, day=days, proper=proper)
    def pay_batch(self, pick: int, day: dt.date, proper: bool) -> None:
        b = self.choose(self.m.batches, pick, proper, lambda b: b.status == "draft")
        batch = self.db.get(PayoutBatch, b.id)
        expect: Expect | None = None
        if b.status == "paid":
            expect = (Conflict, "batch_already_paid")
        elif b.status == "cancelled":
            expect = (Conflict, "batch_cancelled")
        elif self.m.bank < b.total:
            expect = (RuleBroken, "insufficient_funds")
        elif self.month_closed(day):
            expect = (PeriodClosed, "period_closed")
        if (
            self.run(lambda: payouts.pay_batch(self.db, batch, paid_on=day, actor=FIN), expect)
            is not REFUSED
        ):
            b.status = "paid"
            self.m.bank -= b.total

    @precondition(lambda self: self.m.batches)
    @rule(pick=picks, proper=proper)
    def cancel_batch(self, pick: int, proper: bool) -> None:
        b = self.choose(self.m.batches, pick, proper, lambda b: b.status == "draft")
        batch = self.db.get(PayoutBatch, b.id)
        expect = (Conflict, "batch_not_draft") if b.status != "draft" else None
        if self.run(lambda: payouts.cancel_batch(self.db, batch, actor=FIN), expect) is not REFUSED:
            b.status = "cancelled"
            for item in b.items:
                del self.m.live[item]

    # ------------------------------------------------------------------ the journal

    @precondition(lambda self: len(self.m.topups) < 4)
    @rule(amount=st.sampled_from([50_000, 200_000]), day=days)
    def top_up(self, amount: int, day: dt.date) -> None:
        """The school tops up the fund: an adjustment, the kind of entry finance reverses."""
        expect = (PeriodClosed, "period_closed") if self.month_closed(day) else None
        posted = self.run(
            lambda: books.post_entry(
                self.db,
                self.world.book,
                books.EntryDraft(
                    effective_date=day,
                    memo="学校追加拨款 school top-up",
                    kind="adjustment",
                    postings=[
                        books.PostingDraft("1002", amount),
                        books.PostingDraft("3001", -amount),
                    ],
                ),
                actor=FIN,
            ),
            expect,
        )
        if posted is not REFUSED:
            self.m.topups.append(TopUp(posted.entry_id, amount))
            self.m.bank += amount

    @rule(
        what=st.sampled_from(["top-up", "reversal", "other book", "top-up", "top-up"]),
        pick=picks,
        day=days,
    )
    def reverse(self, what: str, pick: int, day: dt.date) -> None:
        top_up = None
        if what == "reversal" and self.m.reversals:
            book, entry_id = self.world.book, self.m.reversals[pick % len(self.m.reversals)]
            expect: Expect | None = (CannotReverseReversal, "cannot_reverse_reversal")
        elif what == "other book":
            # An entry of the other school's book, named in this one: as if it did not exist.
            book, entry_id = self.world.book, self.world.other_entry
            expect = (NotFound, "not_found")
        else:
            top_up = self.m.topups[pick % len(self.m.topups)]
            book, entry_id = self.world.book, top_up.entry_id
            expect = None
            if top_up.reversed:
                expect = (AlreadyReversed, "already_reversed")
            elif self.month_closed(day):
                expect = (PeriodClosed, "period_closed")
        posted = self.run(
            lambda: books.reverse_entry(self.db, book, entry_id, effective_date=day, actor=FIN),
            expect,
        )
        if posted is not REFUSED:
            assert top_up is not None
            top_up.reversed = True
            self.m.reversals.append(posted.entry_id)
            self.m.bank -= top_up.amount

    @precondition(lambda self: len(self.m.closed) < len(CLOSABLE))
    @rule(month=st.sampled_from(CLOSABLE))
    def close_month(self, month: int) -> None:
        book = self.db.get(books.Book, self.world.book)
        period = self.db.scalar(
            select(books.Period).where(
                books.Period.book_id == book.id, books.Period.start == D(YEAR, month, 1)
            )
        )
        expect = (PeriodAlreadyClosed, "period_already_closed") if month in self.m.closed else None
        if (
            self.run(lambda: books.close_period(self.db, book, period.id, actor=FIN), expect)
            is not REFUSED
        ):
            self.m.closed.add(month)

    # ------------------------------------------------------------------ invariants

    @invariant()
    def books_and_rules_hold(self) -> None:
        check_school_books(self.db, self.world, bank=self.m.bank, other_head=self.other_head)


# --------------------------------------------------------------------------- running it


def machine_settings() -> settings:
    """CI_EXAMPLES × CI_STEPS by default; KEHOU_STATEFUL_EXAMPLES (and _STEPS) for longer."""
    examples = os.environ.get("KEHOU_STATEFUL_EXAMPLES")
    steps = os.environ.get("KEHOU_STATEFUL_STEPS")
    profile = os.environ.get("HYPOTHESIS_PROFILE")
    if examples is None and profile == "long":
        examples = "300"
    return settings(
        max_examples=int(examples) if examples else CI_EXAMPLES,
        stateful_step_count=int(steps) if steps else (50 if examples else CI_STEPS),
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )


@pytest.fixture
def world_connection(engine: Engine):  # type: ignore[no-untyped-def]
    """A connection whose transaction holds the built world; rolled back at the end."""
    conn = engine.connect()
    trans = conn.begin()
    try:
        with Session(
            bind=conn, join_transaction_mode="create_savepoint", expire_on_commit=False
        ) as db:
            world = build_world(db)
            db.commit()  # releases the session's savepoint: the world stays in the transaction
        yield conn, world
    finally:
        trans.rollback()
        conn.close()


def test_school_operations_keep_the_books_and_the_rules(world_connection) -> None:  # type: ignore[no-untyped-def]
    conn, world = world_connection
    SchoolTermMachine.conn = conn
    SchoolTermMachine.world = world
    OUTCOMES.clear()
    run_state_machine_as_test(SchoolTermMachine, settings=machine_settings())
    if os.environ.get("KEHOU_STATEFUL_STATS"):
        for outcome, count in sorted(OUTCOMES.items()):
            print(f"{count:6d}  {outcome}")


# --------------------------------------------------------------------------- self-checks


def _billed_and_paid(db: Session, world: World) -> tuple[Any, ...]:
    """A student approved and billed for September, and half of it paid."""
    student = db.get(Student, world.students[0])
    care = db.get(Programme, world.programmes[0])
    app = enrolment.apply(db, student, care, applied_by="家长")
    enrolment.review(db, app, approve=True, actor=CLASS_TEACHER)
    enr = enrolment.decide(db, app, approve=True, actor=HEAD)
    school, term = db.get(School, world.school), db.get(Term, world.term)
    billing.run_billing(db, school, term, actor=FIN, month=(YEAR, 9), issued_on=TERM_START)
    home = db.get(Household, world.households[0])
    payments.record_payment(
        db, school, home, amount=5000, received_on=D(YEAR, 9, 10), method="cash", actor=FIN
    )
    charge = db.scalar(select(ChargeRecord).where(ChargeRecord.enrolment_id == enr.id))
    return app, enr, charge


def _sql(db: Session, statement: str, **params: object) -> None:
    db.execute(text(statement), params)


def _drop_entry_guards(db: Session) -> None:
    if db.bind.dialect.name == "sqlite":
        _sql(db, "DROP TRIGGER entries_no_update")
    else:
        _sql(db, "DROP TRIGGER entries_immutable ON entries")


def tamper_balance(db: Session, world: World, app: Any, enr: Any, charge: Any) -> None:
    """Both sides of the stored balances moved by a fen: the trial balance still agrees."""
    book = db.get(books.Book, world.book)
    bank, fund = books.get_account(db, book, "1002"), books.get_account(db, book, "3001")
    _sql(db, "UPDATE balances SET debit = debit + 1 WHERE account_id = :a", a=bank.id)
    _sql(db, "UPDATE balances SET credit = credit + 1 WHERE account_id = :a", a=fund.id)


def tamper_memo(db: Session, world: World, app: Any, enr: Any, charge: Any) -> None:
    _drop_entry_guards(db)
    _sql(db, "UPDATE entries SET memo = 'edited' WHERE id = :id", id=charge.entry_id)


def tamper_consent(db: Session, world: World, app: Any, enr: Any, charge: Any) -> None:
    _sql(db, "UPDATE applications SET status = 'rejected' WHERE id = :id", id=app.id)


def tamper_standard(db: Session, world: World, app: Any, enr: Any, charge: Any) -> None:
    # A second live charge for the same enrolment and month: twice the standard.
    columns = [c.name for c in ChargeRecord.__table__.columns if c.name not in ("id", "generation")]
    _sql(
        db,
        f"INSERT INTO charges ({', '.join(columns)}, generation) "
        f"SELECT {', '.join(columns)}, 1 FROM charges WHERE id = :id",
        id=charge.id,
    )


def tamper_hardship(db: Session, world: World, app: Any, enr: Any, charge: Any) -> None:
    _sql(
        db,
        "INSERT INTO hardship_statuses (student_id, evidence_ref, verified_by, verified_at, "
        "valid_from, valid_to) VALUES (:s, '低保', 'fin', :at, :f, :t)",
        s=enr.student_id,
        at=dt.datetime(YEAR, 8, 1),
        f=D(YEAR, 8, 1),
        t=D(YEAR + 1, 7, 31),
    )


def tamper_bank(db: Session, world: World, app: Any, enr: Any, charge: Any) -> None:
    """A payment the engine posted but no payment row explains: the model's cash differs."""
    books.post_entry(
        db,
        world.book,
        books.EntryDraft(
            effective_date=D(YEAR, 9, 20),
            memo="stray receipt",
            kind="adjustment",
            postings=[books.PostingDraft("1002", 700), books.PostingDraft("3001", -700)],
        ),
        actor="intruder",
    )


@pytest.mark.parametrize(
    ("tamper", "check", "message"),
    [
        (tamper_balance, "check_books", "materialized balances"),
        (tamper_memo, "check_books", "hash chain"),
        (tamper_consent, "check_consent", "charges without an approved application"),
        (tamper_consent, "audit", "charge_without_consent"),
        (tamper_standard, "check_fees", "parent share above the approved standard"),
        (tamper_standard, "audit", "duplicate_charge"),
        (tamper_hardship, "check_fees", "charged despite a waiver"),
        (tamper_hardship, "audit", "charged_despite_waiver"),
        (tamper_bank, "check_school_books", "bank account differs"),
    ],
    ids=lambda v: getattr(v, "__name__", v if isinstance(v, str) and " " not in v else None),
)
def test_the_invariant_check_finds_rows_written_behind_the_engines_back(
    world_connection, tamper: Callable[..., None], check: str, message: str
) -> None:  # type: ignore[no-untyped-def]
    """Each tampering is found by the check that names it, and by the whole invariant."""
    conn, world = world_connection
    checks: dict[str, Callable[[Session], None]] = {
        "check_books": lambda db: check_books(db, [world.book, world.other_book]),
        "check_consent": lambda db: check_consent(db, world.school, world.book),
        "check_fees": lambda db: check_fees(db, world.school, world.book),
        "audit": lambda db: check_audit(db, world),
        "check_school_books": lambda db: check_school_books(db, world, bank=FUND + 5000),
    }
    with Session(bind=conn, join_transaction_mode="create_savepoint") as db:
        app, enr, charge = _billed_and_paid(db, world)
        check_school_books(db, world, bank=FUND + 5000)
        tamper(db, world, app, enr, charge)
        db.expire_all()  # raw SQL went past the session's objects, as another client's would
        with pytest.raises(InvariantBroken, match=message):
            checks[check](db)
        with pytest.raises(InvariantBroken):
            check_school_books(db, world, bank=FUND + 5000)
        db.rollback()


def test_a_refusal_that_wrote_is_caught(world_connection) -> None:  # type: ignore[no-untyped-def]
    """The machine's refusal check fails when a refused operation wrote before raising."""
    conn, world = world_connection
    SchoolTermMachine.conn = conn
    SchoolTermMachine.world = world
    machine = SchoolTermMachine()
    try:
        student = machine.student(0)

        def writes_then_refuses() -> None:
            structure.verify_hardship(
                machine.db,
                student,
                evidence_ref="x",
                verified_by=FIN,
                valid_from=TERM_START,
                valid_to=TERM_END,
            )
            raise RuleBroken("invalid_dates", "refused after writing")

        with pytest.raises(AssertionError, match="the refused operation wrote"):
            machine.run(writes_then_refuses, (RuleBroken, "invalid_dates"))
        # A refusal with the wrong code, and a success where a refusal was due, fail too.
        with pytest.raises(AssertionError, match="refused with"):
            machine.run(writes_then_refuses, (RuleBroken, "same_approver"), strict=False)
        with pytest.raises(AssertionError, match="but it succeeded"):
            machine.run(lambda: None, (RuleBroken, "invalid_dates"))
    finally:
        machine.teardown()


# --------------------------------------------------------------------------- regressions


def _enrol(db: Session, world: World, student: int, prog: int) -> Enrolment:
    app = enrolment.apply(
        db,
        db.get(Student, world.students[student]),
        db.get(Programme, world.programmes[prog]),
        applied_by="家长",
    )
    enrolment.review(db, app, approve=True, actor=CLASS_TEACHER)
    return enrolment.decide(db, app, approve=True, actor=HEAD)


def test_a_month_of_a_term_billed_whole_is_not_billed_again(world_connection) -> None:  # type: ignore[no-untyped-def]
    """Found by the machine: billing November after the whole term charged November twice,
    above the approved standard (and the other way round: the term after October)."""
    conn, world = world_connection
    with Session(bind=conn, join_transaction_mode="create_savepoint") as db:
        school, term = db.get(School, world.school), db.get(Term, world.term)
        first = _enrol(db, world, 0, 1)
        billing.run_billing(db, school, term, actor=FIN, issued_on=TERM_START)
        again = billing.run_billing(
            db, school, term, actor=FIN, month=(YEAR, 11), issued_on=D(YEAR, 11, 1)
        )
        assert (again.charges, again.already_billed) == ([], 1)
        # October billed first, then the term: the enrolment is not charged for October again.
        second = _enrol(db, world, 2, 1)
        october = billing.run_billing(
            db, school, term, actor=FIN, month=(YEAR, 10), issued_on=D(YEAR, 10, 1)
        )
        assert [c.enrolment_id for c in october.charges] == [second.id]
        whole = billing.run_billing(db, school, term, actor=FIN, issued_on=D(YEAR, 10, 2))
        assert whole.charges == [] and whole.already_billed == 2
        parents = db.execute(
            select(ChargeRecord.enrolment_id, func.sum(ChargeRecord.parent))
            .where(ChargeRecord.enrolment_id.in_([first.id, second.id]))
            .group_by(ChargeRecord.enrolment_id)
        ).all()
        assert dict(parents) == {first.id: 4 * 10000, second.id: 10000}
        check_school_books(db, world, bank=FUND)
        db.rollback()


def test_a_charge_credited_in_full_after_a_withdrawal_dated_back_is_no_finding(
    world_connection,
) -> None:  # type: ignore[no-untyped-def]
    """Found by the machine: October billed, then a withdrawal dated 1 September credited the
    October charge in full, yet the audit reported it as a charge after the withdrawal."""
    conn, world = world_connection
    with Session(bind=conn, join_transaction_mode="create_savepoint") as db:
        school, term = db.get(School, world.school), db.get(Term, world.term)
        enr = _enrol(db, world, 0, 0)
        billing.run_billing(db, school, term, actor=FIN, month=(YEAR, 10), issued_on=TERM_START)
        scope = audit_rules.scope_for(db, [school], TERM_START, TERM_END)
        enrolment.withdraw(db, enr, effective=TERM_START, actor=FIN)
        # Not credited (yet): the household is still charged for October, and that is found.
        assert [f.rule for f in audit_rules.run_audit(db, scope)] == ["charge_outside_enrolment"]
        [credit] = credits.credit_withdrawal(db, enr, actor=FIN)
        charge = db.get(ChargeRecord, credit.charge_id)
        assert credit.total == charge.cost
        assert audit_rules.run_audit(db, scope) == []
        check_school_books(db, world, bank=FUND)
        db.rollback()


def test_hardship_after_a_withdrawal_waives_what_a_half_waiver_left_to_pay(
    world_connection,
) -> None:  # type: ignore[no-untyped-def]
    """Found by the machine: September billed with a 50 % waiver, the pupil withdrawn from
    the 27th (credited by the day), then hardship verified for the whole term. The late
    hardship credit counted the whole billed waiver as still carried, though the withdrawal
    had given its unused days' part back to the government: the household kept owing that
    part for a month its hardship covers."""
    conn, world = world_connection
    with Session(bind=conn, join_transaction_mode="create_savepoint") as db:
        school, term = db.get(School, world.school), db.get(Term, world.term)
        student = db.get(Student, world.students[0])
        grant = waivers.request_waiver(
            db,
            student,
            percent=5000,
            reason="家庭变故",
            evidence_ref="社区证明",
            valid_from=TERM_START,
            valid_to=TERM_END,
            actor=REQUESTER,
        )
        waivers.decide_waiver(db, grant, approve=True, actor=HEAD)
        enr = _enrol(db, world, 0, 0)
        billing.run_billing(db, school, term, actor=FIN, month=(YEAR, 9), issued_on=TERM_START)
        enrolment.withdraw(db, enr, effective=D(YEAR, 9, 27), actor=FIN)
        credits.credit_withdrawal(db, enr, actor=FIN)
        status = structure.verify_hardship(
            db,
            student,
            evidence_ref="民政局低保证明",
            verified_by=FIN,
            valid_from=D(YEAR, 8, 1),
            valid_to=D(YEAR + 1, 7, 31),
        )
        credits.credit_late_waiver(db, status, actor=FIN, effective=LATE_CREDIT_DAY)
        charge = db.scalar(select(ChargeRecord).where(ChargeRecord.enrolment_id == enr.id))
        assert credits.charge_parts(db, charge)["household"] == 0
        assert payments.receivable_balance(db, school, student.household_id) == 0
        check_school_books(db, world, bank=FUND)
        # Crediting again moves nothing more.
        assert credits.credit_late_waiver(db, status, actor=FIN, effective=LATE_CREDIT_DAY) == []
        db.rollback()
