"""Billing runs and household payments at once on PostgreSQL: nothing twice, nothing lost.

Each thread has its own session and connection and commits once, as the API
does per request; the threads start together at a barrier and nothing
sleeps. What keeps them apart is the engine's own locking: the book's row
(``SELECT … FOR UPDATE``) that every write to a school's book takes first,
and the document counter's row for gap-free numbers.

Races of the journal itself (two reversals of one entry at once: exactly one;
eight clerks posting to the same accounts: no lost update; one idempotency
key sent twice at once: one entry) are in ``test_concurrent_posting_pg.py``.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from realistic_school import books_are_sound
from school_setup import enrolled_student, programme, school_with_term, standard_and_policy
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from invoices import archive, data
from invoices.models import IssuedDocument
from ledger import books
from ledger.database import make_engine
from ledger.school import billing, payments
from ledger.school.errors import Conflict
from ledger.school.models import (
    BillingRun,
    ChargeRecord,
    DocumentCounter,
    Household,
    Invoice,
    Payment,
    PaymentAllocation,
    School,
    Term,
)
from ledger.school.structure import household_account, household_credit_account

pytestmark = pytest.mark.pg_only

BARRIER_TIMEOUT = 120  # only so that a thread dying before the barrier cannot hang the run
MONTHS = ((2026, 9), (2026, 10), (2026, 11), (2026, 12))
PAYERS = 20


@pytest.fixture
def engine(throwaway_url: str) -> Iterator[Engine]:
    eng = make_engine(throwaway_url, pool_size=PAYERS + 2, max_overflow=0)
    try:
        yield eng
    finally:
        eng.dispose()


def run_together(n: int, work: Callable[[int, threading.Barrier], Any]) -> list[Any]:
    """Run ``work(i, barrier)`` in ``n`` threads; re-raise the failure that broke the run."""
    barrier = threading.Barrier(n, timeout=BARRIER_TIMEOUT)

    def guarded(i: int) -> Any:
        try:
            return work(i, barrier)
        except BaseException:
            barrier.abort()  # release the others instead of leaving them waiting
            raise

    with ThreadPoolExecutor(max_workers=n) as pool:
        futures = [pool.submit(guarded, i) for i in range(n)]
    failures = [f.exception() for f in futures if f.exception() is not None]
    # The thread that failed first, not one it released from the barrier.
    for exc in sorted(failures, key=lambda e: isinstance(e, threading.BrokenBarrierError)):
        raise exc
    return [f.result() for f in futures]


def _school(engine: Engine, families: int) -> tuple[int, int, list[int]]:
    """A school whose households have one or two children in basic care; nothing billed."""
    with Session(engine) as db:
        district, school, term = school_with_term(db)
        standard_and_policy(db, district)
        prog = programme(db, school, term, capacity=3 * families)
        homes = []
        for n in range(families):
            _, home, _ = enrolled_student(db, district, school, term, prog, f"甲{n}")
            if n % 3 == 0:
                enrolled_student(db, district, school, term, prog, f"乙{n}", household=home)
            homes.append(home.id)
        db.commit()
        return school.id, term.id, homes


# --------------------------------------------------------------------------- billing


def test_two_billing_runs_of_one_period_started_together_bill_it_once(engine: Engine) -> None:
    school_id, term_id, homes = _school(engine, 30)
    enrolments = 30 + 10

    def clerk(t: int, barrier: threading.Barrier) -> list[tuple[str, int, int]]:
        outcomes = []
        for month in MONTHS:
            with Session(engine) as db:
                school, term = db.get(School, school_id), db.get(Term, term_id)
                barrier.wait()  # both clerks press "bill this month" together
                try:
                    result = billing.run_billing(
                        db,
                        school,
                        term,
                        actor=f"clerk-{t}",
                        month=month,
                        issued_on=dt.date(*month, 1),
                    )
                    db.commit()
                except Conflict as exc:
                    db.rollback()
                    assert exc.code == "billing_in_progress", exc
                    outcomes.append(("refused", 0, 0))
                else:
                    outcomes.append(("ran", len(result.charges), result.already_billed))
        return outcomes

    a, b = run_together(2, clerk)
    for got in zip(a, b, strict=True):
        billed = [o for o in got if o[0] == "ran" and o[1] > 0]
        others = [o for o in got if o not in billed]
        # Exactly one run bills the month; the other found it billed already or was refused.
        assert [o[1] for o in billed] == [enrolments], got
        assert others in ([("ran", 0, enrolments)], [("refused", 0, 0)]), got

    with Session(engine) as db:
        school = db.get(School, school_id)
        per_period = Counter(
            db.execute(
                select(ChargeRecord.enrolment_id, ChargeRecord.period_start).where(
                    ChargeRecord.school_id == school_id
                )
            ).all()
        )
        assert len(per_period) == enrolments * len(MONTHS)
        assert set(per_period.values()) == {1}
        seqs = list(
            db.scalars(
                select(Invoice.seq).where(Invoice.school_id == school_id).order_by(Invoice.seq)
            )
        )
        assert seqs == list(range(1, len(homes) * len(MONTHS) + 1))
        per_household = Counter(
            db.execute(
                select(Invoice.household_id, Invoice.period_start).where(
                    Invoice.school_id == school_id
                )
            ).all()
        )
        assert set(per_household.values()) == {1}
        assert db.scalar(select(func.count()).select_from(BillingRun)) == len(MONTHS)
        keys = list(
            db.scalars(
                select(books.Entry.idempotency_key).where(
                    books.Entry.book_id == school.book_id, books.Entry.kind == "charge"
                )
            )
        )
        assert len(keys) == len(set(keys)) == enrolments * len(MONTHS)
        # Each household owes exactly what its invoices ask for.
        owed = dict(
            db.execute(
                select(Invoice.household_id, func.sum(Invoice.amount))
                .where(Invoice.school_id == school_id)
                .group_by(Invoice.household_id)
            ).all()
        )
        for home in homes:
            assert payments.receivable_balance(db, school, home) == owed[home]
        books_are_sound(db, school)


# --------------------------------------------------------------------------- payments


def _amount(i: int) -> int:
    """Payer ``i``'s amount in fen: uneven, so payments straddle the invoices."""
    return 1_000 + 137 * i


def test_twenty_payments_to_one_household_at_once_are_each_recorded_once(engine: Engine) -> None:
    school_id, term_id, homes = _school(engine, 4)
    home_id = homes[0]  # two children: two charges on each monthly invoice
    with Session(engine) as db:
        school, term = db.get(School, school_id), db.get(Term, term_id)
        for month in MONTHS[:2]:
            billing.run_billing(
                db, school, term, actor="fin", month=month, issued_on=dt.date(*month, 1)
            )
        db.commit()
        invoiced = dict(
            db.execute(
                select(Invoice.id, Invoice.amount).where(Invoice.household_id == home_id)
            ).all()
        )
    assert len(invoiced) == 2
    paid_in = sum(_amount(i) for i in range(PAYERS))
    assert paid_in > sum(invoiced.values())  # the last payments leave household credit

    def payer(i: int, barrier: threading.Barrier) -> tuple[int, str]:
        with Session(engine) as db:
            school, home = db.get(School, school_id), db.get(Household, home_id)
            barrier.wait()  # twenty parents' transfers arrive together
            result = payments.record_payment(
                db,
                school,
                home,
                amount=_amount(i),
                received_on=dt.date(2026, 10, 8),
                method="wechat",
                actor=f"clerk-{i % 4}",
                idempotency_key=f"payment:{i}",
            )
            db.commit()
            assert result.replayed is False
            payment_id = result.payment.id
        with Session(engine) as db:  # the receipt, in its own request as the API does
            payment = db.get(Payment, payment_id)
            school = db.get(School, school_id)
            values = data.receipt_data(db, payment)
            row = archive.issue(
                db, school, "receipt", f"payment:{payment_id}", "zh-CN", values, actor="t"
            )
            db.commit()
            return payment_id, row.number

    receipts = dict(run_together(PAYERS, payer))
    assert len(receipts) == PAYERS
    assert sorted(receipts.values()) == [f"S1-R2026-{n:06d}" for n in range(1, PAYERS + 1)]

    with Session(engine) as db:
        school = db.get(School, school_id)
        rows = db.execute(
            select(Payment.id, Payment.amount, Payment.entry_id).where(
                Payment.household_id == home_id
            )
        ).all()
        assert sorted(r.id for r in rows) == sorted(receipts)
        assert sorted(r.amount for r in rows) == sorted(_amount(i) for i in range(PAYERS))
        keys = db.scalars(
            select(books.Entry.idempotency_key).where(
                books.Entry.id.in_([r.entry_id for r in rows])
            )
        ).all()
        assert sorted(keys) == sorted(f"payment:{i}" for i in range(PAYERS))

        allocations = db.execute(
            select(
                PaymentAllocation.payment_id, PaymentAllocation.invoice_id, PaymentAllocation.amount
            )
        ).all()
        per_invoice: dict[int, int] = defaultdict(int)
        per_payment: dict[int, int] = defaultdict(int)
        for payment_id, invoice_id, amount in allocations:
            assert amount > 0
            per_invoice[invoice_id] += amount
            per_payment[payment_id] += amount
        # No invoice is settled beyond what it asks for; here, both are settled in full.
        assert dict(per_invoice) == invoiced
        # Each payment's entry: the bank gets it all; what settled invoices leaves the
        # receivable, the rest is household credit.
        receivable = household_account(home_id)
        credit = household_credit_account(home_id)
        credited = 0
        for payment_id, amount, entry_id in rows:
            lines = dict(
                db.execute(
                    select(books.Account.code, books.Posting.amount)
                    .join(books.Account, books.Account.id == books.Posting.account_id)
                    .where(books.Posting.entry_id == entry_id)
                ).all()
            )
            settled = per_payment.get(payment_id, 0)
            assert settled <= amount
            assert lines.pop("1002") == amount
            assert lines.pop(receivable, 0) == -settled
            assert lines.pop(credit, 0) == -(amount - settled)
            assert lines == {}
            credited += amount - settled
        assert credited == paid_in - sum(invoiced.values())
        assert payments.receivable_balance(db, school, home_id) == 0
        assert payments.credit_balance(db, school, home_id) == credited
        assert (
            payments.receivable_balance(db, school, home_id)
            - payments.credit_balance(db, school, home_id)
            == sum(invoiced.values()) - paid_in
        )
        statuses = db.scalars(select(Invoice.status).where(Invoice.household_id == home_id)).all()
        assert statuses == ["paid", "paid"]

        assert (
            db.scalar(select(DocumentCounter.last).where(DocumentCounter.kind == "receipt"))
            == PAYERS
        )
        assert (
            db.scalar(
                select(func.count())
                .select_from(IssuedDocument)
                .where(IssuedDocument.kind == "receipt")
            )
            == PAYERS
        )
        books_are_sound(db, school)


def test_one_payment_sent_twice_at_once_is_recorded_once(engine: Engine) -> None:
    """A client retrying while its first request still waits for the book's lock gets the
    first request's payment back, not a second payment and not ``idempotency_key_reused``."""
    school_id, term_id, homes = _school(engine, 2)
    with Session(engine) as db:
        billing.run_billing(
            db,
            db.get(School, school_id),
            db.get(Term, term_id),
            actor="fin",
            month=MONTHS[0],
            issued_on=dt.date(2026, 9, 1),
        )
        db.commit()
    rounds = 6

    def client(t: int, barrier: threading.Barrier) -> list[tuple[int, bool]]:
        out = []
        for r in range(rounds):
            with Session(engine) as db:
                school, home = db.get(School, school_id), db.get(Household, homes[0])
                barrier.wait()
                result = payments.record_payment(
                    db,
                    school,
                    home,
                    amount=4_000 + r,
                    received_on=dt.date(2026, 9, 20),
                    method="alipay",
                    actor=f"client-{t}",
                    idempotency_key=f"retry:{r}",
                )
                db.commit()
                out.append((result.payment.id, result.replayed))
        return out

    a, b = run_together(2, client)
    for (id_a, replayed_a), (id_b, replayed_b) in zip(a, b, strict=True):
        assert id_a == id_b
        assert sorted([replayed_a, replayed_b]) == [False, True]
    with Session(engine) as db:
        school = db.get(School, school_id)
        amounts = db.scalars(select(Payment.amount).order_by(Payment.id)).all()
        assert amounts == [4_000 + r for r in range(rounds)]
        paid = sum(amounts)
        owed = db.scalar(select(Invoice.amount).where(Invoice.household_id == homes[0]))
        assert db.scalar(select(func.sum(PaymentAllocation.amount))) == min(paid, owed)
        assert payments.receivable_balance(db, school, homes[0]) == max(owed - paid, 0)
        assert payments.credit_balance(db, school, homes[0]) == max(paid - owed, 0)
        books_are_sound(db, school)
