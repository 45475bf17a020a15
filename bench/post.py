"""Posting throughput: the service layer against the bare database driver.

For SQLite and, when a server is named, PostgreSQL, four measurements are
taken, each on a freshly migrated database of its own (so table sizes, indexes
and triggers are the same for all of them):

service single
    One entry (two postings: debit 1002, credit 4001) per committed
    transaction through ``ledger.books.post_entry``, one ``Session`` per entry.
service bulk
    ``ledger.books.post_entries_bulk`` of all entries in one transaction.
bare single
    The same rows written with the plain driver (``sqlite3`` / ``psycopg``),
    one transaction per entry: the entry, its two postings in one multi-row
    INSERT, the two balance rows, the book's head, COMMIT.
bare bulk
    The same rows in one transaction: ``executemany`` on SQLite, ``COPY`` on
    PostgreSQL, then the balance rows and the book's head.

The bare paths hash-chain their entries with the engine's own digest, so every
database ends with the same rows and a chain that verifies; each one is checked
after it was measured (outside the timed region). Durability is the same for
all: SQLite in WAL mode with ``synchronous=FULL``, PostgreSQL with
``synchronous_commit=on``. The script reports rates and service ÷ bare ratios
and never judges them; its last line is one JSON object.

Usage::

    python bench/post.py [--postgres URL] [--entries N] [--single N] [--rounds R] [--quick]

The PostgreSQL server may also be named by ``KEHOU_BENCH_PG``; databases with
random names are created on it and dropped at the end.
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import psycopg
from psycopg import sql
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

import ledger
from api.db import upgrade
from ledger.books import (
    EntryDraft,
    PostingDraft,
    create_account,
    create_book,
    post_entries_bulk,
    post_entry,
    verify_chain,
)
from ledger.books.chain import digest
from ledger.books.models import utcnow
from ledger.database import make_engine

ACTOR = "bench@kehou.example"
BOOK_CODE = "BENCH"
CASH = "1002"
FEES = "4001"
KIND = "payment"
CURRENCY = "CNY"
FIRST_DAY = dt.date(2026, 1, 1)
SQLITE_STAMP = "%Y-%m-%d %H:%M:%S.%f"

#: A row of values, as the drivers take and give them.
Row = tuple[Any, ...]

TARGETS = {"single_sqlite": 0.25, "single_pg": 0.40, "bulk_sqlite": 0.30, "bulk_pg": 0.30}

# --------------------------------------------------------------------------- input


@dataclass(frozen=True)
class Spec:
    """One benchmark entry: the same input for the service and the bare paths."""

    effective_date: dt.date
    memo: str
    source_ref: str
    amount: int  # fen, debited to 1002 and credited to 4001


def make_specs(n: int) -> list[Spec]:
    return [
        Spec(
            effective_date=FIRST_DAY + dt.timedelta(days=i % 365),
            memo=f"课后服务费 after-school fee, household H{i % 997:04d}, receipt {i + 1}",
            source_ref=f"bench-receipt:{i + 1}",
            amount=10_000 + (i * 37) % 50_000,
        )
        for i in range(n)
    ]


def to_draft(spec: Spec) -> EntryDraft:
    return EntryDraft(
        effective_date=spec.effective_date,
        memo=spec.memo,
        kind=KIND,
        source_ref=spec.source_ref,
        postings=[PostingDraft(CASH, spec.amount), PostingDraft(FEES, -spec.amount)],
    )


@dataclass(frozen=True)
class Book:
    """What the bare paths need to know about the benchmark book."""

    id: int
    code: str
    cash_id: int
    fees_id: int


# --------------------------------------------------------------------------- databases


class Server(Protocol):
    name: str

    def create(self) -> str:
        """A new, empty database; returns its SQLAlchemy URL."""
        ...

    def drop(self, url: str) -> None: ...

    def before_measure(self) -> None: ...

    def version(self) -> str: ...


class SqliteFiles:
    """SQLite databases as files in one temporary folder."""

    name = "sqlite"

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def create(self) -> str:
        return f"sqlite:///{self.folder / f'bench_{uuid.uuid4().hex[:12]}.sqlite'}"

    def drop(self, url: str) -> None:
        path = sqlite_path(url)
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(path + suffix).unlink(missing_ok=True)

    def before_measure(self) -> None:
        pass

    def version(self) -> str:
        return f"SQLite {sqlite3.sqlite_version}, WAL, synchronous=FULL, files in {self.folder}"


class PostgresServer:
    """Throwaway databases with random names on one PostgreSQL server."""

    name = "pg"

    def __init__(self, server_url: str) -> None:
        url = make_url(server_url)
        if url.get_backend_name() != "postgresql":
            raise SystemExit(f"--postgres needs a postgresql:// URL, got {server_url!r}")
        self.url = url.set(drivername="postgresql+psycopg")
        self.created: set[str] = set()

    def _admin(self) -> psycopg.Connection[Row]:
        return psycopg.connect(
            pg_conninfo(self.url.render_as_string(hide_password=False)), autocommit=True
        )

    def create(self) -> str:
        name = f"kehou_bench_{uuid.uuid4().hex[:12]}"
        with self._admin() as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        self.created.add(name)
        return self.url.set(database=name).render_as_string(hide_password=False)

    def drop(self, url: str) -> None:
        name = make_url(url).database
        assert name is not None
        with self._admin() as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
        self.created.discard(name)

    def drop_all(self) -> None:
        for name in sorted(self.created):
            self.drop(self.url.set(database=name).render_as_string(hide_password=False))

    def before_measure(self) -> None:
        # Flush the WAL of the previous measurement now, so that no checkpoint it
        # owes lands in the next one. Needs superuser (or pg_checkpoint); optional.
        try:
            with self._admin() as conn:
                conn.execute("CHECKPOINT")
        except psycopg.Error:
            pass

    def version(self) -> str:
        with self._admin() as conn:
            row = conn.execute(
                "SELECT current_setting('server_version'), current_setting('fsync'), "
                "current_setting('wal_sync_method'), current_setting('shared_buffers')"
            ).fetchone()
        assert row is not None
        version, fsync, sync_method, buffers = row
        return (
            f"PostgreSQL {version} at {self.url.host}:{self.url.port or 5432}, "
            f"synchronous_commit=on, fsync={fsync}, wal_sync_method={sync_method}, "
            f"shared_buffers={buffers}"
        )


def sqlite_path(url: str) -> str:
    path = make_url(url).database
    assert path is not None
    return path


def pg_conninfo(url: str) -> str:
    """A libpq URL for plain psycopg from a SQLAlchemy one."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def prepare(url: str) -> tuple[Engine, Book]:
    """Migrate a fresh database and create the book with its two accounts."""
    engine = make_engine(url)
    upgrade(engine)
    with Session(engine) as s:
        book = create_book(s, code=BOOK_CODE, name="Benchmark book 基准测试", created_by=ACTOR)
        cash = create_account(s, book, code=CASH, name="Bank 银行存款", type="asset")
        fees = create_account(s, book, code=FEES, name="Revenue: fees 课后服务收入", type="revenue")
        info = Book(book.id, book.code, cash.id, fees.id)
        s.commit()
    return engine, info


@contextmanager
def fresh(server: Server) -> Iterator[tuple[str, Engine, Book]]:
    """A freshly migrated database with the benchmark book, dropped afterwards."""
    url = server.create()
    engine: Engine | None = None
    try:
        engine, book = prepare(url)
        server.before_measure()
        yield url, engine, book
    finally:
        if engine is not None:
            engine.dispose()
        server.drop(url)


def check(engine: Engine, book: Book, specs: Sequence[Spec]) -> None:
    """Refuse a run whose database does not hold exactly what was posted."""
    n = len(specs)
    total = sum(s.amount for s in specs)
    with engine.connect() as conn:
        row = conn.execute(
            text(
                "SELECT (SELECT count(*) FROM entries WHERE book_id = :b), "
                "(SELECT count(*) FROM postings WHERE book_id = :b), "
                "(SELECT last_number FROM books WHERE id = :b), "
                "(SELECT debit FROM balances WHERE account_id = :cash), "
                "(SELECT credit FROM balances WHERE account_id = :fees)"
            ),
            {"b": book.id, "cash": book.cash_id, "fees": book.fees_id},
        ).one()
    got = tuple(row)
    expected = (n, 2 * n, n, total, total)
    if got != expected:
        raise RuntimeError(f"database holds {got}, expected {expected}")
    with Session(engine) as s:
        report = verify_chain(s, book.id)
    if not report.ok or report.entries_checked != n:
        raise RuntimeError(f"hash chain does not verify: {report}")


# --------------------------------------------------------------------------- service paths


def service_single(engine: Engine, book: Book, specs: Sequence[Spec]) -> float:
    drafts = [to_draft(s) for s in specs]
    start = time.perf_counter()
    for draft in drafts:
        with Session(engine) as s:
            post_entry(s, book.id, draft, actor=ACTOR)
            s.commit()
    return time.perf_counter() - start


def service_bulk(engine: Engine, book: Book, specs: Sequence[Spec]) -> float:
    drafts = [to_draft(s) for s in specs]
    start = time.perf_counter()
    with Session(engine) as s:
        post_entries_bulk(s, book.id, drafts, actor=ACTOR)
        s.commit()
    return time.perf_counter() - start


# --------------------------------------------------------------------------- bare paths
#
# The bare paths keep the journal's head (number and last hash) in memory and
# read nothing while they write, except the bulk paths reserving entry ids.

ENTRY_COLUMNS = (
    "book_id", "number", "kind", "effective_date", "recorded_at", "memo", "source_ref",
    "posted_by", "prev_hash", "hash",
)  # fmt: skip
POSTING_COLUMNS = ("entry_id", "book_id", "account_id", "effective_date", "amount", "currency")


def _insert(table: str, columns: Sequence[str], mark: str, rows: int = 1) -> str:
    values = "(" + ", ".join([mark] * len(columns)) + ")"
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES " + ", ".join([values] * rows)


SQLITE_ENTRY = _insert("entries", ENTRY_COLUMNS, "?")
SQLITE_ENTRY_WITH_ID = _insert("entries", ("id", *ENTRY_COLUMNS), "?")
SQLITE_POSTING = _insert("postings", POSTING_COLUMNS, "?")
SQLITE_TWO_POSTINGS = _insert("postings", POSTING_COLUMNS, "?", rows=2)
SQLITE_BALANCE = "UPDATE balances SET debit = debit + ?, credit = credit + ? WHERE account_id = ?"
SQLITE_HEAD = "UPDATE books SET last_number = ?, last_hash = ? WHERE id = ?"

PG_ENTRY = _insert("entries", ENTRY_COLUMNS, "%s") + " RETURNING id"
PG_TWO_POSTINGS = _insert("postings", POSTING_COLUMNS, "%s", rows=2)
PG_BALANCE = SQLITE_BALANCE.replace("?", "%s")
PG_HEAD = SQLITE_HEAD.replace("?", "%s")
PG_COPY_ENTRIES = f"COPY entries ({', '.join(('id', *ENTRY_COLUMNS))}) FROM STDIN"
PG_COPY_POSTINGS = f"COPY postings ({', '.join(POSTING_COLUMNS)}) FROM STDIN"
PG_RESERVE_IDS = (
    "SELECT nextval(pg_get_serial_sequence('entries', 'id')) FROM generate_series(1, %s)"
)


class Chain:
    """The journal's head, advanced entry by entry, and the rows of each entry."""

    def __init__(self, book: Book, number: int, last_hash: str) -> None:
        self.book = book
        self.number = number
        self.last_hash = last_hash

    def entry(self, spec: Spec, day: object, recorded: object, recorded_iso: str) -> Row:
        """The next entry's values in ``ENTRY_COLUMNS`` order; advances the head."""
        book = self.book
        prev = self.last_hash
        self.number += 1
        lines = ((book.cash_id, spec.amount, CURRENCY), (book.fees_id, -spec.amount, CURRENCY))
        self.last_hash = digest(
            prev, book.code, self.number, KIND, spec.effective_date.isoformat(), recorded_iso,
            spec.memo, spec.source_ref, ACTOR, None, lines,
        )  # fmt: skip
        return (
            book.id, self.number, KIND, day, recorded, spec.memo, spec.source_ref, ACTOR, prev,
            self.last_hash,
        )  # fmt: skip

    def postings(self, entry_id: int, spec: Spec, day: object) -> Row:
        """Both postings' values in ``POSTING_COLUMNS`` order, one after the other."""
        book = self.book
        return (
            entry_id, book.id, book.cash_id, day, spec.amount, CURRENCY,
            entry_id, book.id, book.fees_id, day, -spec.amount, CURRENCY,
        )  # fmt: skip


def _chain(cursor: sqlite3.Cursor | psycopg.Cursor[Row], book: Book, mark: str) -> Chain:
    cursor.execute(f"SELECT last_number, last_hash FROM books WHERE id = {mark}", (book.id,))
    row = cursor.fetchone()
    assert row is not None
    return Chain(book, int(row[0]), str(row[1]))


def _bulk_rows(
    chain: Chain, specs: Sequence[Spec], ids: Sequence[int], *, pg: bool
) -> tuple[list[Row], list[Row], int]:
    """Entry rows (with their ids), posting rows, and the sum of the debits."""
    recorded = utcnow()
    recorded_iso = recorded.isoformat(timespec="microseconds")
    recorded_db = recorded if pg else recorded.strftime(SQLITE_STAMP)
    entries: list[Row] = []
    postings: list[Row] = []
    total = 0
    for entry_id, spec in zip(ids, specs, strict=True):
        day = spec.effective_date if pg else spec.effective_date.isoformat()
        entries.append((entry_id, *chain.entry(spec, day, recorded_db, recorded_iso)))
        both = chain.postings(entry_id, spec, day)
        postings.append(both[:6])
        postings.append(both[6:])
        total += spec.amount
    return entries, postings, total


def _sqlite_connect(url: str) -> sqlite3.Connection:
    conn = sqlite3.connect(sqlite_path(url), isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA foreign_keys=ON")
    return conn


def _pg_connect(url: str) -> psycopg.Connection[Row]:
    conn = psycopg.connect(pg_conninfo(url))
    conn.execute("SET synchronous_commit TO on")
    conn.execute("SET TIME ZONE 'UTC'")
    conn.commit()
    return conn


def bare_single_sqlite(url: str, book: Book, specs: Sequence[Spec]) -> float:
    conn = _sqlite_connect(url)
    try:
        cur = conn.cursor()
        chain = _chain(cur, book, "?")
        start = time.perf_counter()
        for spec in specs:
            recorded = utcnow()
            day = spec.effective_date.isoformat()
            entry = chain.entry(
                spec,
                day,
                recorded.strftime(SQLITE_STAMP),
                recorded.isoformat(timespec="microseconds"),
            )
            cur.execute("BEGIN IMMEDIATE")
            cur.execute(SQLITE_ENTRY, entry)
            assert cur.lastrowid is not None
            cur.execute(SQLITE_TWO_POSTINGS, chain.postings(cur.lastrowid, spec, day))
            cur.execute(SQLITE_BALANCE, (spec.amount, 0, book.cash_id))
            cur.execute(SQLITE_BALANCE, (0, spec.amount, book.fees_id))
            cur.execute(SQLITE_HEAD, (chain.number, chain.last_hash, book.id))
            cur.execute("COMMIT")
        return time.perf_counter() - start
    finally:
        conn.close()


def bare_bulk_sqlite(url: str, book: Book, specs: Sequence[Spec]) -> float:
    conn = _sqlite_connect(url)
    try:
        cur = conn.cursor()
        chain = _chain(cur, book, "?")
        start = time.perf_counter()
        cur.execute("BEGIN IMMEDIATE")
        (top,) = cur.execute("SELECT coalesce(max(id), 0) FROM entries").fetchone()
        ids = range(top + 1, top + 1 + len(specs))
        entries, postings, total = _bulk_rows(chain, specs, ids, pg=False)
        cur.executemany(SQLITE_ENTRY_WITH_ID, entries)
        cur.executemany(SQLITE_POSTING, postings)
        cur.executemany(SQLITE_BALANCE, [(total, 0, book.cash_id), (0, total, book.fees_id)])
        cur.execute(SQLITE_HEAD, (chain.number, chain.last_hash, book.id))
        cur.execute("COMMIT")
        return time.perf_counter() - start
    finally:
        conn.close()


def bare_single_pg(url: str, book: Book, specs: Sequence[Spec]) -> float:
    with _pg_connect(url) as conn, conn.cursor() as cur:
        chain = _chain(cur, book, "%s")
        conn.commit()
        start = time.perf_counter()
        for spec in specs:
            recorded = utcnow()
            day = spec.effective_date
            entry = chain.entry(spec, day, recorded, recorded.isoformat(timespec="microseconds"))
            cur.execute(PG_ENTRY, entry)
            row = cur.fetchone()
            assert row is not None
            cur.execute(PG_TWO_POSTINGS, chain.postings(row[0], spec, day))
            cur.execute(PG_BALANCE, (spec.amount, 0, book.cash_id))
            cur.execute(PG_BALANCE, (0, spec.amount, book.fees_id))
            cur.execute(PG_HEAD, (chain.number, chain.last_hash, book.id))
            conn.commit()
        return time.perf_counter() - start


def bare_bulk_pg(url: str, book: Book, specs: Sequence[Spec]) -> float:
    with _pg_connect(url) as conn, conn.cursor() as cur:
        chain = _chain(cur, book, "%s")
        conn.commit()
        start = time.perf_counter()
        cur.execute(PG_RESERVE_IDS, (len(specs),))
        ids = sorted(r[0] for r in cur.fetchall())
        entries, postings, total = _bulk_rows(chain, specs, ids, pg=True)
        with cur.copy(PG_COPY_ENTRIES) as copy:
            for entry in entries:
                copy.write_row(entry)
        with cur.copy(PG_COPY_POSTINGS) as copy:
            for posting in postings:
                copy.write_row(posting)
        cur.executemany(PG_BALANCE, [(total, 0, book.cash_id), (0, total, book.fees_id)])
        cur.execute(PG_HEAD, (chain.number, chain.last_hash, book.id))
        conn.commit()
        return time.perf_counter() - start


BARE: dict[str, dict[str, Callable[[str, Book, Sequence[Spec]], float]]] = {
    "sqlite": {"single": bare_single_sqlite, "bulk": bare_bulk_sqlite},
    "pg": {"single": bare_single_pg, "bulk": bare_bulk_pg},
}
SERVICE: dict[str, Callable[[Engine, Book, Sequence[Spec]], float]] = {
    "single": service_single,
    "bulk": service_bulk,
}

# --------------------------------------------------------------------------- running


def code_under_test() -> str:
    """Where the engine was imported from and, in a git checkout, its commit and state."""
    root = Path(ledger.__file__).resolve().parent.parent
    try:
        commit = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        changed = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--", "ledger", "api", "migrations"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return f"{root} (not a git checkout)"
    state = "with uncommitted changes in ledger/, api/ or migrations/" if changed else "clean"
    return f"{root} at {commit}, {state}"


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def measure(server: Server, mode: str, path: str, specs: Sequence[Spec]) -> float:
    """Entries per second of one path on a fresh database; the result is checked."""
    with fresh(server) as (url, engine, book):
        if path == "service":
            seconds = SERVICE[mode](engine, book, specs)
        else:
            seconds = BARE[server.name][mode](url, book, specs)
        check(engine, book, specs)
    rate = len(specs) / seconds
    log(
        f"  {server.name:6} {mode:6} {path:7} {len(specs):>7} entries in {seconds:7.2f} s "
        f"= {rate:9.0f}/s"
    )
    return rate


def run(
    server: Server, singles: Sequence[Spec], bulk: Sequence[Spec], rounds: int
) -> dict[str, float]:
    """Best rate of each path over the rounds; bare and service take turns going first."""
    best: dict[str, float] = {}
    for r in range(rounds):
        order = ("bare", "service") if r % 2 == 0 else ("service", "bare")
        for mode, specs in (("single", singles), ("bulk", bulk)):
            for path in order:
                key = f"{path}_{mode}_{server.name}"
                best[key] = max(best.get(key, 0.0), measure(server, mode, path, specs))
    return best


def report(server: Server, rates: dict[str, float], result: dict[str, Any]) -> None:
    print(f"\n{server.version()}")
    print(f"  {'':8}{'service/s':>12}{'bare/s':>12}{'service ÷ bare':>17}{'target':>9}")
    for mode in ("single", "bulk"):
        service = rates[f"service_{mode}_{server.name}"]
        bare = rates[f"bare_{mode}_{server.name}"]
        ratio = service / bare
        target = TARGETS[f"{mode}_{server.name}"]
        verdict = "met" if ratio >= target else "MISSED"
        print(
            f"  {mode:8}{service:12,.0f}{bare:12,.0f}{ratio:17.3f}{'≥ ' + format(target, '.2f'):>9}"
            f"  {verdict}"
        )
        result[f"{mode}_ratio_{server.name}"] = round(ratio, 4)
        result[f"service_{mode}_{server.name}"] = round(service, 1)
        result[f"bare_{mode}_{server.name}"] = round(bare, 1)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument(
        "--postgres",
        default=os.environ.get("KEHOU_BENCH_PG"),
        metavar="URL",
        help="PostgreSQL server to create throwaway databases on (default: $KEHOU_BENCH_PG)",
    )
    p.add_argument("--entries", type=int, metavar="N", help="entries of the bulk runs (100000)")
    p.add_argument("--single", type=int, metavar="N", help="entries of the single runs (2000)")
    p.add_argument(
        "--rounds",
        type=int,
        default=1,
        metavar="R",
        help="repeat every measurement R times and keep the best (1)",
    )
    p.add_argument("--quick", action="store_true", help="smoke run: 2000 bulk, 200 single")
    args = p.parse_args(argv)
    if args.entries is None:
        args.entries = 2000 if args.quick else 100_000
    if args.single is None:
        args.single = 200 if args.quick else 2000
    if min(args.entries, args.single, args.rounds) < 1:
        p.error("--entries, --single and --rounds must be at least 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if isinstance(sys.stdout, io.TextIOWrapper):
        sys.stdout.reconfigure(line_buffering=True)  # figures and progress lines in order
    singles = make_specs(args.single)
    bulk = make_specs(args.entries)
    print(
        f"Kehou Ledger posting benchmark: {args.single} single entries (one commit each), "
        f"{args.entries} bulk entries (one commit), two postings each, "
        f"best of {args.rounds} round(s); Python {sys.version.split()[0]}, "
        f"{os.cpu_count()} CPUs, load average {load_average()} at the start"
    )
    code = code_under_test()
    print(f"Code under test: {code}")
    result: dict[str, Any] = {
        "entries": args.entries,
        "single": args.single,
        "rounds": args.rounds,
        "code": code,
        "load_start": round(os.getloadavg()[0], 2),
    }
    with tempfile.TemporaryDirectory(prefix="kehou-bench-") as folder:
        sqlite = SqliteFiles(Path(folder))
        report(sqlite, run(sqlite, singles, bulk, args.rounds), result)
    if args.postgres:
        pg = PostgresServer(args.postgres)
        try:
            report(pg, run(pg, singles, bulk, args.rounds), result)
        finally:
            pg.drop_all()
    # Other work on the machine skews the figures: say how busy it was.
    print(f"\nload average {load_average()} at the end")
    result["load_end"] = round(os.getloadavg()[0], 2)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
