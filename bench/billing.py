"""Billing run for one school of N students: seconds, entries/s, peak memory, ratio to bare.

    python bench/billing.py [--students N] [--postgres URL]   (or KEHOU_BENCH_PG=URL)

For each database it builds a school with N students in N households (set-up
written with plain executemany, not timed), runs ``ledger.school.billing.run_billing``
for the term, and then inserts the same rows (entries, postings, charges,
invoices) with the bare driver into a fresh copy of the same schema, at the same
durability, so the ratio compares like with like. The last line is one JSON
object with ``ratio_sqlite``, ``peak_rss_mb`` and, with PostgreSQL, ``ratio_pg``.
Nothing here asserts a time; it reports.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import create_engine, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from api.db import upgrade  # noqa: E402
from ledger.database import make_engine  # noqa: E402
from ledger.school import billing, standards, structure  # noqa: E402
from ledger.school.models import School, Term  # noqa: E402

D = dt.date


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def build_school(url: str, students: int) -> tuple[Any, int, int]:
    """A district, one school, a term, a policy, one programme and N enrolled students."""
    engine = make_engine(url)
    upgrade(engine)
    with Session(engine) as db:
        district = structure.create_district(
            db, code="BD", name="基准区", funder_name="基准区财政局"
        )
        school = structure.create_school(db, district, code="BS", name="基准小学", actor="bench")
        term = structure.create_term(
            db, school, name="2026秋", start=D(2026, 9, 1), end=D(2027, 1, 15), billing_months=4
        )
        fee = standards.create_fee_standard(
            db,
            district=district,
            kind="basic_care",
            amount=50000,
            unit="term",
            authority="发改委",
            document_no="基准〔2026〕1号",
            valid_from=D(2026, 1, 1),
            valid_to=D(2027, 12, 31),
            actor="bench",
        )
        standards.create_cost_policy(
            db,
            district=district,
            kind="basic_care",
            fee_standard=fee,
            effective_from=D(2026, 1, 1),
            effective_to=D(2027, 12, 31),
            unit="term",
            unit_cost=120000,
            government=("percent", 5000),
            school_share=("amount", 20000),
            waiver_cover="government",
            refund_rule="daily",
            actor="bench",
        )
        from ledger.school.models import Programme

        prog = Programme(
            school_id=school.id,
            term_id=term.id,
            kind="basic_care",
            name="基本托管",
            weekdays="12345",
            start_time=dt.time(15, 30),
            end_time=dt.time(17, 30),
            capacity=students,
            lessons_per_session=1,
        )
        db.add(prog)
        db.commit()
        ids = (district.id, school.id, term.id, prog.id)
    district_id, school_id, term_id, prog_id = ids
    now = dt.datetime(2026, 8, 20, 9, 0, 0)
    with engine.begin() as conn:
        conn.execute(
            text("INSERT INTO households (id, district_id, name) VALUES (:id, :d, :n)"),
            [{"id": i, "d": district_id, "n": f"家庭{i}"} for i in range(1, students + 1)],
        )
        conn.execute(
            text(
                "INSERT INTO students (id, school_id, household_id, name, left_behind, migrant) "
                "VALUES (:id, :s, :id, :n, false, false)"
            ),
            [{"id": i, "s": school_id, "n": f"学生{i}"} for i in range(1, students + 1)],
        )
        conn.execute(
            text(
                "INSERT INTO applications (id, student_id, programme_id, status, applied_by, "
                "applied_at, start_date, reviewed_by, reviewed_at, decided_by, decided_at) "
                "VALUES (:id, :id, :p, 'approved', 'parent', :t, :start, 'class', :t, "
                "'school', :t)"
            ),
            [
                {"id": i, "p": prog_id, "t": now, "start": D(2026, 9, 1)}
                for i in range(1, students + 1)
            ],
        )
        conn.execute(
            text(
                "INSERT INTO enrolments (id, application_id, student_id, programme_id, "
                "start_date) VALUES (:id, :id, :id, :p, :start)"
            ),
            [{"id": i, "p": prog_id, "start": D(2026, 9, 1)} for i in range(1, students + 1)],
        )
    return engine, school_id, term_id


def in_child(fn: Any, *args: Any) -> Any:
    """Run one measurement in a fresh process, so its peak memory is its own."""
    from concurrent.futures import ProcessPoolExecutor
    from multiprocessing import get_context

    with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as pool:
        return pool.submit(fn, *args).result()


def service_run(url: str, students: int) -> dict[str, float]:
    engine, school_id, term_id = build_school(url, students)
    rss_before = peak_rss_mb()
    with Session(engine) as db:
        school = db.get(School, school_id)
        term = db.get(Term, term_id)
        t0 = time.perf_counter()
        result = billing.run_billing(db, school, term, actor="bench", issued_on=D(2026, 9, 1))
        db.commit()
        seconds = time.perf_counter() - t0
    engine.dispose()
    assert len(result.charges) == students
    return {
        "seconds": seconds,
        "entries_per_s": students / seconds,
        "rss_mb": peak_rss_mb(),
        "rss_before_mb": rss_before,
    }


def bare_run(url: str, students: int) -> float:
    """The same rows as a billing run writes, inserted with the bare driver."""
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    plain = make_url(url)
    is_pg = plain.get_backend_name() == "postgresql"
    rec = dt.datetime(2026, 9, 1, 8, 0, 0)
    h = "0" * 64
    if is_pg:
        import psycopg

        conn = psycopg.connect(
            host=plain.host, port=plain.port or 5432, user=plain.username, dbname=plain.database
        )
        conn.execute("SET synchronous_commit TO on")
    else:
        import sqlite3

        conn = sqlite3.connect(plain.database, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA foreign_keys=ON")
    cur = conn.cursor()
    q = "%s" if is_pg else "?"
    if not is_pg:
        cur.execute("BEGIN")
    # Set-up rows the bare path needs, not timed: what the service also had before its run.
    cur.execute(
        "INSERT INTO books (id, code, name, created_at, last_number, last_hash) "
        f"VALUES (1, 'BB', 'bare', '2026-08-01 00:00:00', 0, '{h}')"
    )
    cur.execute(
        "INSERT INTO districts (id, code, name, funder_name, end_of_work) "
        "VALUES (1, 'BD', 'd', 'f', '17:30:00')"
    )
    cur.execute(
        "INSERT INTO schools (id, district_id, code, name, book_id) VALUES (1, 1, 'BB', 's', 1)"
    )
    cur.execute(
        'INSERT INTO terms (id, school_id, name, start, "end", billing_months, weekdays, '
        "is_closed) VALUES (1, 1, 't', '2026-09-01', '2027-01-15', 4, '12345', false)"
    )
    cur.execute(
        "INSERT INTO fee_standards (id, district_id, kind, version, amount, unit, authority, "
        "document_no, valid_from, valid_to, created_by, created_at) VALUES (1, 1, 'basic_care', "
        "1, 50000, 'term', 'a', 'd', '2026-01-01', '2027-12-31', 'b', '2026-08-01 00:00:00')"
    )
    cur.execute(
        "INSERT INTO cost_policies (id, district_id, kind, version, effective_from, effective_to,"
        " unit, unit_cost, government_mode, government_value, school_mode, school_value, "
        "waiver_cover, refund_rule, fee_standard_id, created_by, created_at) VALUES (1, 1, "
        "'basic_care', 1, '2026-01-01', '2027-12-31', 'term', 120000, 'percent', 5000, "
        "'amount', 20000, 'government', 'daily', 1, 'b', '2026-08-01 00:00:00')"
    )
    cur.execute(
        "INSERT INTO programmes (id, school_id, term_id, kind, name, weekdays, start_time, "
        "end_time, capacity, lessons_per_session) VALUES (1, 1, 1, 'basic_care', 'p', '12345', "
        "'15:30:00', '17:30:00', 1000000, 1)"
    )
    cur.executemany(
        f"INSERT INTO households (id, district_id, name) VALUES ({q}, 1, {q})",
        [(i, f"h{i}") for i in range(1, students + 1)],
    )
    cur.executemany(
        "INSERT INTO students (id, school_id, household_id, name, left_behind, migrant) "
        f"VALUES ({q}, 1, {q}, {q}, false, false)",
        [(i, i, f"s{i}") for i in range(1, students + 1)],
    )
    cur.executemany(
        "INSERT INTO applications (id, student_id, programme_id, status, applied_by, applied_at, "
        f"start_date) VALUES ({q}, {q}, 1, 'approved', 'p', '2026-08-20 09:00:00', '2026-09-01')",
        [(i, i) for i in range(1, students + 1)],
    )
    cur.executemany(
        "INSERT INTO enrolments (id, application_id, student_id, programme_id, start_date) "
        f"VALUES ({q}, {q}, {q}, 1, '2026-09-01')",
        [(i, i, i) for i in range(1, students + 1)],
    )
    base = [(1, "1123"), (2, "1124"), (3, "4001")]
    ts = "2026-08-01 00:00:00"
    cur.executemany(
        "INSERT INTO accounts (id, book_id, code, name, type, parent_id, is_closed, created_at) "
        f"VALUES ({q}, 1, {q}, {q}, {q}, NULL, false, {q})",
        [(a, c, c, "asset" if c[0] == "1" else "revenue", ts) for a, c in base],
    )
    cur.executemany(
        f"INSERT INTO balances (account_id, debit, credit) VALUES ({q}, 0, 0)",
        [(a,) for a, _ in base],
    )
    cur.execute(
        "INSERT INTO billing_runs (id, school_id, term_id, period_kind, period_start, period_end,"
        " run_by, run_at, charges_posted, invoices_issued) VALUES (1, 1, 1, 'term', "
        "'2026-09-01', '2027-01-15', 'b', '2026-09-01 08:00:00', 0, 0)"
    )
    conn.commit()
    t0 = time.perf_counter()
    if not is_pg:
        cur.execute("BEGIN IMMEDIATE")
    day = D(2026, 9, 1) if is_pg else "2026-09-01"
    due = D(2026, 9, 16) if is_pg else "2026-09-16"
    stamp = rec if is_pg else "2026-09-01 08:00:00.000000"
    # The household accounts the run opens (receivable and credit per household).
    hh_accounts = []
    for i in range(1, students + 1):
        hh_accounts.append((10 + 2 * i, f"1122.H{i}", "asset"))
        hh_accounts.append((11 + 2 * i, f"2241.H{i}", "liability"))
    cur.executemany(
        "INSERT INTO accounts (id, book_id, code, name, type, parent_id, owner_ref, is_closed, "
        f"created_at) VALUES ({q}, 1, {q}, {q}, {q}, NULL, {q}, false, {q})",
        [(a, c, c, t, "household", ts) for a, c, t in hh_accounts],
    )
    cur.executemany(
        f"INSERT INTO balances (account_id, debit, credit) VALUES ({q}, 0, 0)",
        [(a,) for a, _, _ in hh_accounts],
    )
    entries = [
        (
            i,
            1,
            i,
            "charge",
            day,
            stamp,
            f"charge {i}",
            f"enrolment:{i}",
            "bench",
            f"charge:{i}",
            h,
            None,
            h,
            h,
        )
        for i in range(1, students + 1)
    ]
    postings = []
    for i in range(1, students + 1):
        postings += [
            (i, 1, 1, day, 60000, "CNY"),
            (i, 1, 2, day, 20000, "CNY"),
            (i, 1, 10 + 2 * i, day, 40000, "CNY"),
            (i, 1, 3, day, -120000, "CNY"),
        ]
    entry_cols = (
        "id, book_id, number, kind, effective_date, recorded_at, memo, source_ref, posted_by, "
        "idempotency_key, request_hash, reverses_id, prev_hash, hash"
    )
    posting_cols = "entry_id, book_id, account_id, effective_date, amount, currency"
    if is_pg:
        with cur.copy(f"COPY entries ({entry_cols}) FROM STDIN") as copy:
            for r in entries:
                copy.write_row(r)
        with cur.copy(f"COPY postings ({posting_cols}) FROM STDIN") as copy:
            for r in postings:
                copy.write_row(r)
    else:
        cur.executemany(
            f"INSERT INTO entries ({entry_cols}) VALUES ({', '.join('?' * 14)})", entries
        )
        cur.executemany(
            f"INSERT INTO postings ({posting_cols}) VALUES ({', '.join('?' * 6)})", postings
        )
    cur.executemany(
        f"UPDATE balances SET debit = debit + {q} WHERE account_id = {q}",
        [(40000, 10 + 2 * i) for i in range(1, students + 1)],
    )
    cur.executemany(
        f"UPDATE balances SET debit = debit + {q} WHERE account_id = {q}",
        [(60000 * students, 1), (20000 * students, 2)],
    )
    cur.executemany(
        "INSERT INTO invoices (id, school_id, household_id, billing_run_id, year, seq, number, "
        "period_start, period_end, issued_on, due_date, amount, status) VALUES "
        f"({q}, 1, {q}, 1, 2026, {q}, {q}, {q}, {q}, {q}, {q}, 40000, 'issued')",
        [(i, i, i, f"BB-2026-{i:06d}", day, day, day, due) for i in range(1, students + 1)],
    )
    cur.executemany(
        "INSERT INTO charges (school_id, enrolment_id, household_id, billing_run_id, invoice_id, "
        "entry_id, period_start, period_end, fee_standard_id, policy_id, unit, unit_cost, "
        "units_num, units_den, period_days, enrolled_days, cost, government, school, parent, "
        "waiver, waiver_cover, household, generation) VALUES "
        f"(1, {q}, {q}, 1, {q}, {q}, {q}, {q}, 1, 1, 'term', 120000, 1, 1, 90, 90, 120000, "
        "60000, 20000, 40000, 0, 'government', 40000, 0)",
        [(i, i, i, i, day, day) for i in range(1, students + 1)],
    )
    conn.commit()
    seconds = time.perf_counter() - t0
    conn.close()
    return seconds


def _pg_database(server: str) -> tuple[str, Any]:
    url = make_url(server)
    name = f"kehou_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return url.set(database=name).render_as_string(hide_password=False), drop


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=100_000)
    parser.add_argument("--postgres", default=os.environ.get("KEHOU_BENCH_PG"))
    args = parser.parse_args()
    out: dict[str, Any] = {"students": args.students}
    with tempfile.TemporaryDirectory() as tmp:
        service = in_child(service_run, f"sqlite:///{tmp}/service.sqlite", args.students)
        bare = in_child(bare_run, f"sqlite:///{tmp}/bare.sqlite", args.students)
    print(
        f"SQLite: billing run {service['seconds']:.2f} s ({service['entries_per_s']:.0f} "
        f"entries/s); bare insert of the same rows {bare:.2f} s; "
        f"ratio {bare / service['seconds']:.3f}"
    )
    out.update(
        seconds_sqlite=round(service["seconds"], 3),
        peak_rss_mb_sqlite=round(service["rss_mb"], 1),
        entries_per_s_sqlite=round(service["entries_per_s"], 1),
        bare_seconds_sqlite=round(bare, 3),
        ratio_sqlite=round(bare / service["seconds"], 3),
    )
    if args.postgres:
        url, drop = _pg_database(args.postgres)
        url2, drop2 = _pg_database(args.postgres)
        try:
            service = in_child(service_run, url, args.students)
            bare = in_child(bare_run, url2, args.students)
        finally:
            drop()
            drop2()
        print(
            f"PostgreSQL: billing run {service['seconds']:.2f} s "
            f"({service['entries_per_s']:.0f} entries/s); bare {bare:.2f} s; "
            f"ratio {bare / service['seconds']:.3f}"
        )
        out.update(
            seconds_pg=round(service["seconds"], 3),
            peak_rss_mb_pg=round(service["rss_mb"], 1),
            entries_per_s_pg=round(service["entries_per_s"], 1),
            bare_seconds_pg=round(bare, 3),
            ratio_pg=round(bare / service["seconds"], 3),
        )
    # The billing run's own peak (set-up included), in the process that ran it.
    out["peak_rss_mb"] = max(v for k, v in out.items() if k.startswith("peak_rss_mb_"))
    print(f"peak RSS of the billing run's process {out['peak_rss_mb']} MB")
    print(json.dumps(out))


if __name__ == "__main__":
    main()
