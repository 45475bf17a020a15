"""Reads against history: balances and household statements at 10,000 and 1,000,000 postings.

One district, one school book and ``--households`` households (default 2000),
each with its receivable ``1122.H<id>`` and credit ``2241.H<id>`` accounts.
History is written month by month from January 2016, in chronological order,
through ``ledger.books.post_entries_bulk`` (untimed): on the 1st each household
is charged (debit ``1122.H``, credit ``4001.basic_care``), on the 15th it pays
(debit ``1002``, credit ``1122.H``) and a ``payments`` row names the payment
entry, as ``ledger.school.payments`` would. That is four postings per
household and month, so 2000 households make 10,000 postings in a month and a
quarter and 1,000,000 in 125 months (about ten years).

Two databases are built, one to each size, and every read below is taken on
both in turns (which one goes first alternates), so that other work on the
machine weighs on both sizes alike. Each read opens its own ``Session``, as
the API has one per request:

balance
    ``get_account`` + ``account_balance`` (no ``as_of``): what
    ``GET /api/v1/books/<book>/accounts/<code>/balance`` runs, for a random
    household receivable.
balance 1002
    The same for the bank account ``1002``, the busiest account in the book.
balance as_of
    The same read with ``?as_of=`` the last day of the latest complete month
    (a random household receivable). By design it sums the account's postings
    up to that day, so it is expected to grow with the account's own history.
statement
    ``invoices.data.statement`` of a random household for the latest complete
    month: what ``GET /api/v1/households/<id>/statement`` runs.

It prints p50 and p99 of each at both sizes and the ratio large ÷ small
(goal ≤ 1.5: no read grows with history). Nothing is asserted; the last line
is one JSON object.

Usage::

    python bench/history.py [--postgres URL] [--households H] [--samples N]
                            [--small P] [--large P] [--quick]

``KEHOU_BENCH_PG`` may name the PostgreSQL server instead of ``--postgres``; a
database with a random name is created there and dropped at the end.
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import json
import os
import random
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from post import PostgresServer, Server, SqliteFiles, code_under_test, load_average, log
from sqlalchemy import Engine, insert
from sqlalchemy.orm import Session

from api.db import upgrade
from invoices.data import statement
from ledger.books import (
    EntryDraft,
    PostingDraft,
    account_balance,
    create_accounts_bulk,
    get_account,
    get_book,
    post_entries_bulk,
)
from ledger.books.models import utcnow
from ledger.database import make_engine
from ledger.school import structure
from ledger.school.models import Household, Payment

ACTOR = "bench@kehou.example"
SCHOOL = "HIST"
FIRST_MONTH = dt.date(2016, 1, 1)
FEE = "4001.basic_care"
GOAL = 1.5
#: Entries per ``post_entries_bulk`` call (one transaction each).
CHUNK = 20_000

READS = ("balance", "balance_1002", "balance_as_of", "statement")


def month_start(m: int) -> dt.date:
    y, mo = divmod(FIRST_MONTH.month - 1 + m, 12)
    return dt.date(FIRST_MONTH.year + y, mo + 1, 1)


def month_end(m: int) -> dt.date:
    return month_start(m + 1) - dt.timedelta(days=1)


def fee_of(household: int, month: int) -> int:
    return 20_000 + (household * 37 + month * 11) % 30_000


def history(households: int) -> Iterator[tuple[str, int, int, EntryDraft]]:
    """``(kind, household, amount, draft)`` in date order, two postings each, for ever."""
    m = 0
    while True:
        day1 = month_start(m)
        day15 = day1 + dt.timedelta(days=14)
        for h in range(1, households + 1):
            amount = fee_of(h, m)
            yield (
                "charge",
                h,
                amount,
                EntryDraft(
                    effective_date=day1,
                    memo=f"课后服务费 {day1:%Y-%m} household {h}",
                    kind="charge",
                    source_ref=f"bench-charge:{h}:{m}",
                    postings=[
                        PostingDraft(structure.household_account(h), amount),
                        PostingDraft(FEE, -amount),
                    ],
                ),
            )
        for h in range(1, households + 1):
            amount = fee_of(h, m)
            yield (
                "payment",
                h,
                amount,
                EntryDraft(
                    effective_date=day15,
                    memo=f"缴费 {day15:%Y-%m} household {h}",
                    kind="payment",
                    source_ref=f"bench-payment:{h}:{m}",
                    postings=[
                        PostingDraft("1002", amount),
                        PostingDraft(structure.household_account(h), -amount),
                    ],
                ),
            )
        m += 1


class Book:
    """The school, its households and the history written so far."""

    def __init__(self, engine: Engine, households: int) -> None:
        self.engine = engine
        self.households = households
        self.postings = 0
        self.stream = history(households)
        with Session(engine) as s:
            district = structure.create_district(
                s, code="HD", name="历史区", funder_name="历史区财政局"
            )
            school = structure.create_school(s, district, code=SCHOOL, name="历史小学", actor=ACTOR)
            s.execute(
                insert(Household),
                [
                    {"id": h, "district_id": district.id, "name": f"家庭{h}"}
                    for h in range(1, households + 1)
                ],
            )
            book = get_book(s, SCHOOL)
            specs: list[tuple[str, str, str, str | None, str | None]] = []
            for h in range(1, households + 1):
                specs.append(
                    (
                        structure.household_account(h),
                        f"应收-家庭{h}",
                        "asset",
                        "1122",
                        f"household:{h}",
                    )
                )
                specs.append(
                    (
                        structure.household_credit_account(h),
                        f"预收-家庭{h}",
                        "liability",
                        "2241",
                        f"household:{h}",
                    )
                )
            create_accounts_bulk(s, book, specs)
            self.school_id = school.id
            self.book_id = book.id
            s.commit()

    def grow(self, postings: int) -> float:
        """Post entries until the book holds ``postings`` postings; seconds taken."""
        start = time.perf_counter()
        while self.postings < postings:
            n = min(CHUNK, (postings - self.postings) // 2)
            batch = [next(self.stream) for _ in range(n)]
            with Session(self.engine) as s:
                result = post_entries_bulk(s, self.book_id, [b[3] for b in batch], actor=ACTOR)
                assert result.posted == n and len(result.entry_ids) == n, result
                now = utcnow()
                rows = [
                    {
                        "school_id": self.school_id,
                        "household_id": h,
                        "amount": amount,
                        "received_on": draft.effective_date,
                        "method": "bank_transfer",
                        "reference": draft.source_ref,
                        "received_into": "1002",
                        "entry_id": entry_id,
                        "recorded_by": ACTOR,
                        "recorded_at": now,
                    }
                    for (kind, h, amount, draft), entry_id in zip(
                        batch, result.entry_ids, strict=True
                    )
                    if kind == "payment"
                ]
                if rows:
                    s.execute(insert(Payment), rows)
                s.commit()
            self.postings += 2 * n
        return time.perf_counter() - start

    def last_full_month(self) -> int:
        """The latest month whose charges and payments are all written."""
        return self.postings // (4 * self.households) - 1


def percentile(sorted_ms: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    i = max(0, min(len(sorted_ms) - 1, round(q * len(sorted_ms) + 0.5) - 1))
    return sorted_ms[i]


def timed(
    small: Callable[[], object], large: Callable[[], object], samples: int, warmup: int = 20
) -> dict[str, dict[str, float]]:
    """Latencies of the same read on both books, taken in turns (alternating which goes
    first), so that other work on the machine weighs on both sizes alike."""
    for _ in range(warmup):
        small()
        large()
    times: dict[str, list[float]] = {"small": [], "large": []}
    for i in range(samples):
        order = (("small", small), ("large", large))
        for size, fn in order if i % 2 == 0 else order[::-1]:
            t0 = time.perf_counter()
            fn()
            times[size].append((time.perf_counter() - t0) * 1000)
    out = {}
    for size, ms in times.items():
        ms.sort()
        out[size] = {"p50": percentile(ms, 0.50), "p99": percentile(ms, 0.99)}
    return out


def reads(book: Book, rng: random.Random) -> dict[str, Callable[[], object]]:
    """The timed reads on one book: a fresh ``Session`` each, as the API has per request."""
    m = book.last_full_month()
    start, end = month_start(m), month_end(m)
    engine = book.engine

    def households() -> int:
        return rng.randint(1, book.households)

    def balance(code: str | None = None, as_of: dt.date | None = None) -> None:
        with Session(engine) as s:
            b = get_book(s, SCHOOL)
            account = get_account(s, b, code or structure.household_account(households()))
            account_balance(s, account, as_of)

    def household_statement() -> None:
        with Session(engine) as s:
            st = statement(s, households(), start, end)
            assert len(st["lines"]) == 2, st["lines"]

    return {
        "balance": lambda: balance(),
        "balance_1002": lambda: balance("1002"),
        "balance_as_of": lambda: balance(as_of=end),
        "statement": household_statement,
    }


def run(server: Server, args: argparse.Namespace, result: dict[str, Any]) -> None:
    """Two databases, one grown to each size, read in turns."""
    engines: list[Engine] = []
    urls: list[str] = []
    try:
        books: dict[str, Book] = {}
        for size, postings in (("small", args.small), ("large", args.large)):
            urls.append(server.create())
            engine = make_engine(urls[-1])
            engines.append(engine)
            upgrade(engine)
            book = Book(engine, args.households)
            seconds = book.grow(postings)
            m = book.last_full_month()
            log(
                f"  {server.name}: {book.postings:,} postings written in {seconds:.1f} s; "
                f"statement month {month_start(m):%Y-%m}"
            )
            books[size] = book
        server.before_measure()
        rng = random.Random(7)
        on_small, on_large = reads(books["small"], rng), reads(books["large"], rng)
        measured = {r: timed(on_small[r], on_large[r], args.samples) for r in READS}
    finally:
        for engine in engines:
            engine.dispose()
        for url in urls:
            server.drop(url)
    print(f"\n{server.version()}")
    print(
        f"  {'read':14}{'p50 small':>11}{'p50 large':>11}{'ratio':>7}"
        f"{'p99 small':>11}{'p99 large':>11}{'ratio':>7}   (ms; goal: ratios ≤ {GOAL})"
    )
    for read in READS:
        a, b = measured[read]["small"], measured[read]["large"]
        r50, r99 = b["p50"] / a["p50"], b["p99"] / a["p99"]
        verdict = "met" if max(r50, r99) <= GOAL else "MISSED"
        print(
            f"  {read:14}{a['p50']:11.2f}{b['p50']:11.2f}{r50:7.2f}"
            f"{a['p99']:11.2f}{b['p99']:11.2f}{r99:7.2f}   {verdict}"
        )
        for key, value in (
            (f"{read}_p50_small", a["p50"]),
            (f"{read}_p50_large", b["p50"]),
            (f"{read}_p99_small", a["p99"]),
            (f"{read}_p99_large", b["p99"]),
            (f"{read}_p50_ratio", r50),
            (f"{read}_p99_ratio", r99),
        ):
            result[f"{key}_{server.name}"] = round(value, 3)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument(
        "--postgres",
        default=os.environ.get("KEHOU_BENCH_PG"),
        metavar="URL",
        help="PostgreSQL server to create a throwaway database on (default: $KEHOU_BENCH_PG)",
    )
    p.add_argument("--households", type=int, default=2000, metavar="H", help="(2000)")
    p.add_argument("--samples", type=int, default=500, metavar="N", help="reads timed (500)")
    p.add_argument("--small", type=int, metavar="P", help="postings, first size (10000)")
    p.add_argument("--large", type=int, metavar="P", help="postings, second size (1000000)")
    p.add_argument("--quick", action="store_true", help="smoke run: 200 households, 4k/40k")
    args = p.parse_args(argv)
    if args.quick:
        args.households = 200
        args.samples = min(args.samples, 100)
    if args.small is None:
        args.small = 4000 if args.quick else 10_000
    if args.large is None:
        args.large = 40_000 if args.quick else 1_000_000
    if args.small < 4 * args.households or args.large <= args.small:
        p.error("--small must hold a whole month (4 × households) and --large must exceed it")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if isinstance(sys.stdout, io.TextIOWrapper):
        sys.stdout.reconfigure(line_buffering=True)
    print(
        f"Kehou Ledger reads against history: {args.households} households, "
        f"{args.small:,} then {args.large:,} postings, {args.samples} reads each; "
        f"Python {sys.version.split()[0]}, {os.cpu_count()} CPUs, "
        f"load average {load_average()} at the start"
    )
    code = code_under_test()
    print(f"Code under test: {code}")
    result: dict[str, Any] = {
        "households": args.households,
        "small": args.small,
        "large": args.large,
        "samples": args.samples,
        "code": code,
        "load_start": round(os.getloadavg()[0], 2),
    }
    with tempfile.TemporaryDirectory(prefix="kehou-bench-") as folder:
        run(SqliteFiles(Path(folder)), args, result)
    if args.postgres:
        pg = PostgresServer(args.postgres)
        try:
            run(pg, args, result)
        finally:
            pg.drop_all()
    print(f"\nload average {load_average()} at the end")
    result["load_end"] = round(os.getloadavg()[0], 2)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
