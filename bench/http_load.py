"""HTTP: posting entries and reading statements through gunicorn with 2 workers.

For SQLite and, when a server is named, PostgreSQL:

1. The service-layer single-commit rate, exactly as ``bench/post.py`` measures
   it (``post_entry`` + commit, one ``Session`` per entry, on a fresh database
   of its own), with nothing else running.
2. A fresh database with the school ``HIST`` of ``bench/history.py``
   (``--households`` households with ``--months`` months of charges and
   payments) and a finance user of its district with an API token.
3. ``gunicorn --workers 2 --worker-class gthread --threads T 'api:create_app()'``
   on a free port of 127.0.0.1 against that database.
4. A load generator in this process: ``--clients`` threads, each with its own
   keep-alive ``http.client`` connection, for ``--seconds`` each:
   ``POST /api/v1/books/HIST/entries`` (a fee received: debit 1002, credit
   4001.basic_care; a fresh ``Idempotency-Key`` each), then
   ``GET /api/v1/households/<random>/statement?from=&to=`` for the latest month.

It prints requests/s, p50, p99 and errors (any status other than 201/200, or a
failed connection) of each, and posting over HTTP ÷ service single (goal ≥ 0.5,
zero errors). After the clock stops the book is checked: as many entries as
201 answers, and materialized balances equal to the postings.

The load generator runs on the same two cores as gunicorn and the database
server, so it takes CPU from them: the HTTP figures are a floor, not what a
separate client machine would see. The last line is one JSON object.

Usage::

    python bench/http_load.py [--postgres URL] [--seconds S] [--clients C] [--threads T]
                              [--single N] [--households H] [--months M] [--quick]
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.client
import io
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from history import SCHOOL, Book, month_end, month_start, percentile
from post import (
    PostgresServer,
    Server,
    SqliteFiles,
    code_under_test,
    load_average,
    log,
    make_specs,
    measure,
)
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api.auth import create_user
from api.db import upgrade
from api.models import UserDistrict
from ledger.books import Entry, balance_mismatches, get_book
from ledger.database import make_engine
from ledger.school.models import School

GOAL = 0.5
#: Seconds of untimed load before each timed workload.
WARM_UP = 2.0
EMAIL = "finance@bench.example"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Gunicorn:
    """``gunicorn`` with 2 workers serving ``create_app()`` on 127.0.0.1."""

    def __init__(self, url: str, threads: int, log_path: Path) -> None:
        self.port = free_port()
        self.log_path = log_path
        exe = Path(sys.executable).with_name("gunicorn")
        env = {
            **os.environ,
            "KEHOU_DATABASE_URL": url,
            "KEHOU_ENV": "production",
            "KEHOU_SECRET_KEY": uuid.uuid4().hex,
        }
        self.log = open(log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [
                str(exe),
                "--workers",
                "2",
                "--worker-class",
                "gthread",
                "--threads",
                str(threads),
                "--bind",
                f"127.0.0.1:{self.port}",
                "--keep-alive",
                "30",
                "--log-level",
                "warning",
                "api:create_app()",
            ],  # fmt: skip
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            cwd=Path(__file__).resolve().parent.parent,
        )

    def wait_ready(self, token: str, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited: {self.log_path.read_text()[-2000:]}")
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
                conn.request("GET", f"/api/v1/books/{SCHOOL}", headers=auth(token))
                r = conn.getresponse()
                r.read()
                conn.close()
                if r.status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError("gunicorn did not answer in time")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


Request = tuple[str, str, bytes | None, dict[str, str], int]


def load(
    port: int, clients: int, seconds: float, make: Callable[[random.Random], Request]
) -> dict[str, Any]:
    """Send requests from ``clients`` threads for ``seconds``; latencies and errors."""
    latencies: list[list[float]] = [[] for _ in range(clients)]
    errors: list[list[str]] = [[] for _ in range(clients)]
    ok = [0] * clients
    start = threading.Barrier(clients + 1)
    stop_at = [0.0]

    def worker(i: int) -> None:
        rng = random.Random(i)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        start.wait()
        while time.perf_counter() < stop_at[0]:
            method, path, body, headers, expected = make(rng)
            t0 = time.perf_counter()
            try:
                conn.request(method, path, body=body, headers=headers)
                r = conn.getresponse()
                data = r.read()
                status = r.status
            except (OSError, http.client.HTTPException) as exc:
                latencies[i].append((time.perf_counter() - t0) * 1000)
                errors[i].append(f"{type(exc).__name__}: {exc}")
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                continue
            latencies[i].append((time.perf_counter() - t0) * 1000)
            if status == expected:
                ok[i] += 1
            else:
                errors[i].append(f"{status}: {data[:300]!r}")
        conn.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    stop_at[0] = time.perf_counter() + seconds
    t0 = time.perf_counter()
    start.wait()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - t0
    lat = sorted(x for per in latencies for x in per)
    errs = [e for per in errors for e in per]
    return {
        "requests": len(lat),
        "ok": sum(ok),
        "errors": len(errs),
        "first_errors": errs[:3],
        "rps": len(lat) / elapsed,
        "ok_rps": sum(ok) / elapsed,
        "p50": percentile(lat, 0.50) if lat else float("nan"),
        "p99": percentile(lat, 0.99) if lat else float("nan"),
    }


def prepare(url: str, households: int, months: int) -> tuple[str, int]:
    """Migrate, write the school's history, add a finance user; its token and a month."""
    engine = make_engine(url)
    try:
        upgrade(engine)
        book = Book(engine, households)
        book.grow(4 * households * months)
        month = book.last_full_month()
        with Session(engine) as s:
            school = s.scalar(select(School).where(School.code == SCHOOL))
            assert school is not None
            user, token = create_user(s, EMAIL, "finance")
            s.add(UserDistrict(user_id=user.id, district_id=school.district_id))
            s.commit()
    finally:
        engine.dispose()
    return token, month


def check(url: str, posted: int, before: int) -> None:
    """Refuse a run whose book does not hold the entries that were answered 201."""
    engine = make_engine(url)
    try:
        with Session(engine) as s:
            book = get_book(s, SCHOOL)
            n = s.scalar(select(func.count()).select_from(Entry).where(Entry.book_id == book.id))
            if n != before + posted:
                raise RuntimeError(f"book holds {n} entries, expected {before} + {posted}")
            bad = balance_mismatches(s, book)
            if bad:
                raise RuntimeError(f"materialized balances differ from postings: {bad[:3]}")
    finally:
        engine.dispose()


def serve(
    server: Server, url: str, args: argparse.Namespace, folder: Path
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Set up the database at ``url``, start gunicorn, run both workloads, check the book."""
    name = server.name
    gunicorn: Gunicorn | None = None
    try:
        token, month = prepare(url, args.households, args.months)
        before = 2 * args.households * args.months
        start, end = month_start(month), month_end(month)
        server.before_measure()
        gunicorn = Gunicorn(url, args.threads, folder / f"gunicorn-{name}.log")
        gunicorn.wait_ready(token)
        headers = {**auth(token), "Content-Type": "application/json"}
        counter = iter(range(1, 10**9))

        def post(rng: random.Random) -> Request:
            i = next(counter)
            amount = 100 + (i * 37) % 50_000
            body = {
                "effective_date": (start + dt.timedelta(days=i % 28)).isoformat(),
                "memo": f"课后服务费 received over HTTP, bench {i}",
                "kind": "payment",
                "postings": [
                    {"account": "1002", "direction": "debit", "amount": f"{amount / 100:.2f}"},
                    {
                        "account": "4001.basic_care",
                        "direction": "credit",
                        "amount": f"{amount / 100:.2f}",
                    },
                ],
            }
            return (
                "POST",
                f"/api/v1/books/{SCHOOL}/entries",
                json.dumps(body).encode(),
                {**headers, "Idempotency-Key": f"bench-http-{uuid.uuid4().hex}"},
                201,
            )

        def statement(rng: random.Random) -> Request:
            h = rng.randint(1, args.households)
            path = f"/api/v1/households/{h}/statement?from={start}&to={end}"
            return "GET", path, None, auth(token), 200

        # Untimed warm-up of both workers (imports, pools, caches) for each workload.
        warm = min(WARM_UP, args.seconds)
        log(f"  {name}: gunicorn on 127.0.0.1:{gunicorn.port}, posting for {args.seconds:g} s")
        warm_posted = load(gunicorn.port, args.clients, warm, post)["ok"]
        posting = load(gunicorn.port, args.clients, args.seconds, post)
        log(f"  {name}: reading statements for {args.seconds:g} s")
        load(gunicorn.port, args.clients, warm, statement)
        reading = load(gunicorn.port, args.clients, args.seconds, statement)
    finally:
        if gunicorn is not None:
            gunicorn.stop()
    check(url, warm_posted + posting["ok"], before)
    return posting, reading


def run(server: Server, args: argparse.Namespace, folder: Path, result: dict[str, Any]) -> None:
    name = server.name
    server.before_measure()
    service = measure(server, "single", "service", make_specs(args.single))
    url = server.create()
    try:
        posting, reading = serve(server, url, args, folder)
    finally:
        server.drop(url)
    ratio = posting["ok_rps"] / service
    print(f"\n{server.version()}")
    print(
        f"  service single (post.py's loop, one client, no HTTP): {service:,.0f} entries/s\n"
        f"  {'HTTP':10}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}{'requests':>10}"
    )
    for label, r in (("posting", posting), ("statement", reading)):
        print(
            f"  {label:10}{r['ok_rps']:9,.0f}{r['p50']:9.1f}{r['p99']:9.1f}"
            f"{r['errors']:8}{r['requests']:10}"
        )
        for e in r["first_errors"]:
            print(f"    error: {e}")
    errors = posting["errors"] + reading["errors"]
    verdict = "met" if ratio >= GOAL and errors == 0 else "MISSED"
    print(
        f"  HTTP posting ÷ service single = {ratio:.3f} (goal ≥ {GOAL}, zero errors: "
        f"{errors} errors) {verdict}"
    )
    result[f"service_single_{name}"] = round(service, 1)
    result[f"http_ratio_{name}"] = round(ratio, 4)
    for label, r in (("post", posting), ("statement", reading)):
        result[f"{label}_rps_{name}"] = round(r["ok_rps"], 1)
        result[f"{label}_p50_ms_{name}"] = round(r["p50"], 2)
        result[f"{label}_p99_ms_{name}"] = round(r["p99"], 2)
        result[f"{label}_errors_{name}"] = r["errors"]


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument(
        "--postgres",
        default=os.environ.get("KEHOU_BENCH_PG"),
        metavar="URL",
        help="PostgreSQL server to create throwaway databases on (default: $KEHOU_BENCH_PG)",
    )
    p.add_argument("--seconds", type=float, default=20.0, help="per workload (20)")
    p.add_argument("--clients", type=int, default=4, help="load generator threads (4)")
    p.add_argument("--threads", type=int, default=2, help="gunicorn threads per worker (2)")
    p.add_argument("--single", type=int, default=1000, help="entries of service single (1000)")
    p.add_argument("--households", type=int, default=500, help="(500)")
    p.add_argument("--months", type=int, default=12, help="history before the load (12)")
    p.add_argument("--quick", action="store_true", help="smoke run: 3 s each, small history")
    args = p.parse_args(argv)
    if args.quick:
        args.seconds, args.single, args.households, args.months = 3.0, 200, 50, 3
    if min(args.seconds, args.clients, args.threads, args.single, args.households) <= 0:
        p.error("every count must be positive")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if isinstance(sys.stdout, io.TextIOWrapper):
        sys.stdout.reconfigure(line_buffering=True)
    print(
        f"Kehou Ledger over HTTP: gunicorn 2 workers × {args.threads} threads (gthread), "
        f"{args.clients} client threads with keep-alive, {args.seconds:g} s per workload; "
        f"Python {sys.version.split()[0]}, {os.cpu_count()} CPUs, "
        f"load average {load_average()} at the start"
    )
    print(
        "The load generator shares the machine's cores with gunicorn and the database: "
        "HTTP figures are a floor."
    )
    code = code_under_test()
    print(f"Code under test: {code}")
    result: dict[str, Any] = {
        "seconds": args.seconds,
        "clients": args.clients,
        "threads": args.threads,
        "single": args.single,
        "cpus": os.cpu_count(),
        "code": code,
        "load_start": round(os.getloadavg()[0], 2),
    }
    with tempfile.TemporaryDirectory(prefix="kehou-bench-") as folder:
        run(SqliteFiles(Path(folder)), args, Path(folder), result)
        if args.postgres:
            pg = PostgresServer(args.postgres)
            try:
                run(pg, args, Path(folder), result)
            finally:
                pg.drop_all()
    print(f"\nload average {load_average()} at the end")
    result["load_end"] = round(os.getloadavg()[0], 2)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
