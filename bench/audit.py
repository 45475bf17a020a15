"""The audit of a district that is already in a database: seconds and peak memory.

    python bench/audit.py DATABASE_URL [--from 2026-09-01] [--to 2027-01-31]

Runs every audit rule (``ledger.audit.rules.run_audit``) over all schools of
the database for the date range, in this process, and prints the time, the
findings and the peak RSS; the last line is one JSON object. Seed the
database first, e.g. ``KEHOU_DATABASE_URL=sqlite:///t.sqlite kehou db upgrade``
then ``kehou demo seed --schools 2 --students 10000``. Nothing is written.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main() -> None:
    from sqlalchemy import func, select
    from sqlalchemy.orm import Session

    from ledger.audit import rules
    from ledger.database import make_engine
    from ledger.school.models import ChargeRecord, School

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url")
    parser.add_argument("--from", dest="start", type=dt.date.fromisoformat, default="2026-09-01")
    parser.add_argument("--to", dest="end", type=dt.date.fromisoformat, default="2027-01-31")
    args = parser.parse_args()
    engine = make_engine(args.url)
    with Session(engine) as db:
        schools = list(db.scalars(select(School).order_by(School.id)))
        charges = db.scalar(select(func.count()).select_from(ChargeRecord))
        scope = rules.scope_for(db, schools, args.start, args.end)
        t0 = time.perf_counter()
        findings = rules.run_audit(db, scope)
        seconds = time.perf_counter() - t0
        db.rollback()
    engine.dispose()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"audit of {len(schools)} schools, {charges} charges: {seconds:.1f} s, "
        f"{len(findings)} findings, peak RSS {rss:.0f} MB"
    )
    print(
        json.dumps(
            {
                "schools": len(schools),
                "charges": charges,
                "seconds": round(seconds, 2),
                "findings": len(findings),
                "peak_rss_mb": round(rss, 1),
            }
        )
    )


if __name__ == "__main__":
    main()
