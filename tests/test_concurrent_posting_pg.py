"""Clerks posting at once on PostgreSQL: no duplicate, no gap, no lost fen, one chain.

Each thread commits one entry per session, as the API does per request, on
accounts every thread shares. Threads start together at a barrier; nothing
sleeps.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from engine_helpers import entry_numbers, make_book
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from ledger.books import (
    Account,
    Balance,
    EntryDraft,
    PostingDraft,
    balance_mismatches,
    get_book,
    post_entry,
    reverse_entry,
    verify_chain,
)
from ledger.books.errors import AlreadyReversed
from ledger.books.models import Entry, Posting
from ledger.database import make_engine

pytestmark = pytest.mark.pg_only

THREADS = 8
PER_THREAD = 200
ACCOUNTS = ["1002", "1122", "2241", "4001", "5001"]
D = dt.date(2026, 9, 1)
BARRIER_TIMEOUT = 120  # only so that a thread dying before the barrier cannot hang the run


@pytest.fixture
def engine(throwaway_url: str) -> Iterator[Engine]:
    eng = make_engine(throwaway_url, pool_size=THREADS + 2, max_overflow=0)
    try:
        yield eng
    finally:
        eng.dispose()


@pytest.fixture
def book_code(engine: Engine) -> str:
    with Session(engine) as s:
        book = make_book(s)
        s.commit()
        return book.code


def book_id_of(engine: Engine, code: str) -> int:
    with Session(engine) as s:
        return get_book(s, code).id


def run_together(n: int, work: Callable[[int, threading.Barrier], Any]) -> list[Any]:
    """Run ``work(i, barrier)`` in ``n`` threads; re-raise the first failure."""
    barrier = threading.Barrier(n, timeout=BARRIER_TIMEOUT)

    def guarded(i: int) -> Any:
        try:
            return work(i, barrier)
        except BaseException:
            barrier.abort()  # release the others instead of leaving them waiting
            raise

    with ThreadPoolExecutor(max_workers=n) as pool:
        futures = [pool.submit(guarded, i) for i in range(n)]
        return [f.result() for f in futures]


def draft_for(t: int, i: int) -> EntryDraft:
    """Thread ``t``'s ``i``-th entry: two or three lines over the shared accounts."""
    n = t * PER_THREAD + i
    amount = 1 + (n * 7919) % 100_000
    dr, cr = ACCOUNTS[n % 5], ACCOUNTS[(n + 1 + t % 4) % 5]
    if n % 3 == 0:
        lines = (
            PostingDraft(dr, amount),
            PostingDraft(cr, -(amount - 1 if amount > 1 else amount)),
            *((PostingDraft(ACCOUNTS[(n + 2) % 5], -1),) if amount > 1 else ()),
        )
    else:
        lines = (PostingDraft(dr, amount), PostingDraft(cr, -amount))
    return EntryDraft(D, f"clerk {t} entry {i}", lines, idempotency_key=f"t{t}-i{i}")


def test_eight_clerks_post_1600_entries_exactly_once_with_exact_balances(
    engine: Engine, book_code: str
) -> None:
    book_id = book_id_of(engine, book_code)

    def clerk(t: int, barrier: threading.Barrier) -> list[tuple[int, int, int]]:
        posted = []
        barrier.wait()
        for i in range(PER_THREAD):
            draft = draft_for(t, i)
            with Session(engine) as s:
                first = post_entry(s, book_id, draft, actor=f"clerk-{t}")
                s.commit()
            assert first.replayed is False
            if i % 2 == 0:  # the response was lost: the client sends the same request again
                with Session(engine) as s:
                    again = post_entry(s, book_id, draft, actor=f"clerk-{t}")
                    s.commit()
                assert again.replayed is True
                assert (again.entry_id, again.number) == (first.entry_id, first.number)
            posted.append((i, first.entry_id, first.number))
        return posted

    per_thread = run_together(THREADS, clerk)

    total = THREADS * PER_THREAD
    ids = [entry_id for posted in per_thread for _, entry_id, _ in posted]
    assert len(set(ids)) == total
    for posted in per_thread:
        numbers = [number for _, _, number in posted]
        assert numbers == sorted(numbers)  # each clerk's entries are numbered in its own order

    expected: dict[str, list[int]] = {code: [0, 0] for code in ACCOUNTS}
    wanted: dict[str, list[tuple[str, int]]] = {}
    for t in range(THREADS):
        for i in range(PER_THREAD):
            d = draft_for(t, i)
            wanted[d.idempotency_key or ""] = [(p.account, p.amount) for p in d.postings]
            for p in d.postings:
                expected[p.account][0 if p.amount > 0 else 1] += abs(p.amount)

    with Session(engine) as s:
        book = get_book(s, book_code)
        assert entry_numbers(s, book_id) == list(range(1, total + 1))
        assert book.last_number == total
        assert set(s.scalars(select(Entry.id).where(Entry.book_id == book_id))) == set(ids)

        # Materialized balances, the sum of postings and the test's own totals agree.
        materialized = {
            code: [d, c]
            for code, d, c in s.execute(
                select(Account.code, Balance.debit, Balance.credit)
                .join(Balance, Balance.account_id == Account.id)
                .where(Account.book_id == book_id)
            )
        }
        summed = {
            code: [int(d), int(c)]
            for code, d, c in s.execute(
                select(
                    Account.code,
                    func.sum(func.greatest(Posting.amount, 0)),
                    func.sum(func.greatest(-Posting.amount, 0)),
                )
                .join(Account, Account.id == Posting.account_id)
                .where(Posting.book_id == book_id)
                .group_by(Account.code)
            )
        }
        assert materialized == summed == expected
        assert balance_mismatches(s, book) == []

        # Every entry holds exactly the lines its clerk asked for, under its key.
        got: dict[str, list[tuple[str, int]]] = {}
        for key, code, amount in s.execute(
            select(Entry.idempotency_key, Account.code, Posting.amount)
            .join(Posting, Posting.entry_id == Entry.id)
            .join(Account, Account.id == Posting.account_id)
            .where(Entry.book_id == book_id)
            .order_by(Entry.id, Posting.id)
        ):
            got.setdefault(key, []).append((code, amount))
        assert got == wanted

        report = verify_chain(s, book_id)
        assert report.ok, report
        assert report.entries_checked == total


ROUNDS = 10


def _post_targets(engine: Engine, book_id: int, n: int) -> list[int]:
    with Session(engine) as s:
        ids = [
            post_entry(
                s,
                book_id,
                EntryDraft(
                    D,
                    f"target {i}",
                    (PostingDraft("1002", 100 + i), PostingDraft("4001", -100 - i)),
                ),
                actor="setup",
            ).entry_id
            for i in range(n)
        ]
        s.commit()
    return ids


@pytest.mark.parametrize("with_key", [False, True], ids=["no-key", "same-key"])
def test_two_clerks_reversing_one_entry_at_once_reverse_it_once(
    engine: Engine, book_code: str, with_key: bool
) -> None:
    book_id = book_id_of(engine, book_code)
    targets = _post_targets(engine, book_id, ROUNDS)

    def clerk(t: int, barrier: threading.Barrier) -> list[tuple[str, int | None]]:
        outcomes: list[tuple[str, int | None]] = []
        for entry_id in targets:
            barrier.wait()  # both clerks press "reverse" on the same entry together
            with Session(engine) as s:
                try:
                    r = reverse_entry(
                        s,
                        book_id,
                        entry_id,
                        effective_date=D,
                        actor=f"clerk-{t}",
                        memo="wrong amount",
                        idempotency_key=f"reverse-{entry_id}" if with_key else None,
                    )
                    s.commit()
                except AlreadyReversed:
                    s.rollback()
                    outcomes.append(("already_reversed", None))
                else:
                    outcomes.append(("replayed" if r.replayed else "reversed", r.entry_id))
        return outcomes

    a, b = run_together(2, clerk)
    for (kind_a, id_a), (kind_b, id_b) in zip(a, b, strict=True):
        if with_key:
            # The second clerk's request is the same request: it gets the same reversal back.
            assert sorted([kind_a, kind_b]) == ["replayed", "reversed"]
            assert id_a == id_b
        else:
            assert sorted([kind_a, kind_b]) == ["already_reversed", "reversed"]

    with Session(engine) as s:
        for entry_id in targets:
            reversals = s.scalar(
                select(func.count()).select_from(Entry).where(Entry.reverses_id == entry_id)
            )
            assert reversals == 1
        assert entry_numbers(s, book_id) == list(range(1, 2 * ROUNDS + 1))
        assert all(
            d == c
            for d, c in s.execute(
                select(Balance.debit, Balance.credit)
                .join(Account, Account.id == Balance.account_id)
                .where(Account.book_id == book_id)
            )
        )
        assert balance_mismatches(s, get_book(s, book_code)) == []
        assert verify_chain(s, book_id).ok


def test_two_clerks_sending_one_key_at_once_post_one_entry(engine: Engine, book_code: str) -> None:
    book_id = book_id_of(engine, book_code)

    def clerk(t: int, barrier: threading.Barrier) -> list[tuple[int, bool]]:
        out = []
        for i in range(ROUNDS):
            draft = EntryDraft(
                D,
                f"fee {i}",
                (PostingDraft("1122", 500 + i), PostingDraft("4001", -500 - i)),
                idempotency_key=f"fee-{i}",
            )
            barrier.wait()
            with Session(engine) as s:
                r = post_entry(s, book_id, draft, actor=f"clerk-{t}")
                s.commit()
            out.append((r.entry_id, r.replayed))
        return out

    a, b = run_together(2, clerk)
    for (id_a, replayed_a), (id_b, replayed_b) in zip(a, b, strict=True):
        assert id_a == id_b
        assert sorted([replayed_a, replayed_b]) == [False, True]
    with Session(engine) as s:
        assert entry_numbers(s, book_id) == list(range(1, ROUNDS + 1))
        assert verify_chain(s, book_id).ok
