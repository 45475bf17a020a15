"""Receipts issued at once on PostgreSQL: one number per receipt in every language, no gap.

Six requests start together at a barrier — three payments, each asked for in
Chinese and in English — each in its own session committing once, as the API
does per request. Whatever the interleaving, the three receipts take numbers
1, 2 and 3 of the year, and a receipt's English copy carries its Chinese
copy's number.
"""

from __future__ import annotations

import datetime as dt
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from school_setup import enrolled_student, programme, school_with_term, standard_and_policy
from sqlalchemy import select
from sqlalchemy.orm import Session

from invoices import archive, data
from invoices.models import IssuedDocument
from ledger.database import make_engine
from ledger.school import billing, payments
from ledger.school.models import DocumentCounter, Payment, School

pytestmark = pytest.mark.pg_only


def test_concurrent_receipts_share_numbers_across_languages_without_gaps(throwaway_url):
    engine = make_engine(throwaway_url, pool_size=8, max_overflow=0)
    try:
        with Session(engine) as db:
            district, school, term = school_with_term(db)
            standard_and_policy(db, district)
            prog = programme(db, school, term)
            homes = [enrolled_student(db, district, school, term, prog, n)[1] for n in "甲乙丙"]
            billing.run_billing(db, school, term, actor="fin", issued_on=dt.date(2026, 9, 1))
            for home in homes:
                payments.record_payment(
                    db, school, home, amount=40000, received_on=dt.date(2026, 9, 10),
                    method="wechat", actor="fin",
                )  # fmt: skip
            db.commit()
            payment_ids = list(db.scalars(select(Payment.id).order_by(Payment.id)))
        jobs = [(p, lang) for p in payment_ids for lang in ("zh-CN", "en")]
        barrier = threading.Barrier(len(jobs), timeout=120)

        def issue(job: tuple[int, str]) -> tuple[int, str, str]:
            payment_id, lang = job
            with Session(engine) as db:
                payment = db.get(Payment, payment_id)
                school = db.get(School, payment.school_id)
                values = data.receipt_data(db, payment)
                barrier.wait()
                row = archive.issue(
                    db, school, "receipt", f"payment:{payment_id}", lang, values, actor="t"
                )
                db.commit()
                return payment_id, lang, row.number

        with ThreadPoolExecutor(len(jobs)) as pool:
            results = list(pool.map(issue, jobs))
        numbers = {(p, lang): n for p, lang, n in results}
        for p in payment_ids:
            assert numbers[(p, "zh-CN")] == numbers[(p, "en")]
        assert sorted({n for n in numbers.values()}) == [
            "S1-R2026-000001",
            "S1-R2026-000002",
            "S1-R2026-000003",
        ]
        with Session(engine) as db:
            assert (
                db.scalar(select(DocumentCounter.last).where(DocumentCounter.kind == "receipt"))
                == 3
            )
            stored = db.execute(
                select(IssuedDocument.source, IssuedDocument.language, IssuedDocument.number)
            ).all()
            assert len(stored) == 6
            assert {(s, lang): n for s, lang, n in stored} == {
                (f"payment:{p}", lang): n for (p, lang), n in numbers.items()
            }
    finally:
        engine.dispose()
