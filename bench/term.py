"""A whole demo term for a district: seconds per step and peak memory, on SQLite and PostgreSQL.

    python bench/term.py [--students 100000] [--schools 10] [--seed 1] [--postgres URL]
                                                                (or KEHOU_BENCH_PG=URL)

Runs ``api.demo_seed.seed_district`` — the district, its students and
households, applications, four monthly billing runs with the month's
payments, withdrawals and absences, hours and pay runs, vendor bills, subsidy
claims, payouts, closing September and October, and the audit — on a fresh
migrated database, in a child process of its own so the peak RSS is the
term's, and commits once at the end (as ``kehou demo seed`` does). Prints a
line per step and database; the last line is one JSON object with
``seconds_<step>_<db>``, ``total_seconds_<db>`` and ``peak_rss_mb_<db>``.
Nothing here asserts a time; it reports.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from billing import _pg_database, in_child, peak_rss_mb  # noqa: E402


def term_run(url: str, schools: int, students: int, seed: int) -> dict[str, Any]:
    from sqlalchemy.orm import Session

    from api.db import upgrade
    from api.demo_seed import seed_district
    from ledger.database import make_engine

    engine = make_engine(url)
    upgrade(engine)
    steps: dict[str, float] = {}

    def on_step(name: str, seconds: float) -> None:
        steps[name] = seconds
        print(f"  {name}: {seconds:.1f} s (peak RSS {peak_rss_mb():.0f} MB)", flush=True)

    t0 = time.perf_counter()
    with Session(engine) as db:
        result = seed_district(db, schools=schools, students=students, seed=seed, on_step=on_step)
        t1 = time.perf_counter()
        db.commit()
        steps["commit"] = time.perf_counter() - t1
    total = time.perf_counter() - t0
    engine.dispose()
    return {
        "steps": steps,
        "total": total,
        "students": result.students,
        "households": result.households,
        "findings": len(result.findings),
        "rss_mb": peak_rss_mb(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=100_000)
    parser.add_argument("--schools", type=int, default=10)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--postgres", default=os.environ.get("KEHOU_BENCH_PG"))
    parser.add_argument("--skip-sqlite", action="store_true", help="PostgreSQL only.")
    args = parser.parse_args()
    out: dict[str, Any] = {"students": args.students, "schools": args.schools, "seed": args.seed}
    runs: list[tuple[str, Any]] = []
    if not args.skip_sqlite:
        runs.append(("sqlite", None))
    if args.postgres:
        runs.append(("pg", args.postgres))
    for label, server in runs:
        print(f"{label}: a term for {args.students} students in {args.schools} schools", flush=True)
        if server is None:
            with tempfile.TemporaryDirectory() as tmp:
                run = in_child(
                    term_run,
                    f"sqlite:///{tmp}/term.sqlite",
                    args.schools,
                    args.students,
                    args.seed,
                )
        else:
            url, drop = _pg_database(server)
            try:
                run = in_child(term_run, url, args.schools, args.students, args.seed)
            finally:
                drop()
        print(
            f"{label}: whole term {run['total']:.1f} s for {run['students']} students in "
            f"{run['households']} households; audit findings {run['findings']}; "
            f"peak RSS {run['rss_mb']:.0f} MB"
        )
        for name, seconds in run["steps"].items():
            out[f"seconds_{name}_{label}"] = round(seconds, 2)
        out[f"total_seconds_{label}"] = round(run["total"], 2)
        out[f"peak_rss_mb_{label}"] = round(run["rss_mb"], 1)
        out[f"findings_{label}"] = run["findings"]
    print(json.dumps(out))


if __name__ == "__main__":
    main()
