"""Fee notices per second: the batch path against a plain WeasyPrint render, same HTML.

    .venv/bin/python bench/pdf.py [--invoices N] [--workers W] [--chunk C] [--plain N]

Builds a SQLite school with N households, one child each (some waived, so the
notices carry every section), bills the term and builds every notice's data
(not timed). Then, in the same run:

* **plain**: for each notice, the same HTML the batch renders
  (``invoices.render.render_html``) through ``weasyprint.HTML(string=...).write_pdf()``
  in this one process, with WeasyPrint's default fetcher and a fresh
  ``FontConfiguration`` per call — what a straightforward implementation does.
  The system CJK font (Noto Sans CJK SC) comes from fontconfig either way.
  ``--plain`` notices are timed (default: all of them, at most 48).
* **batch**: ``invoices.batch.render_many`` — every core, one
  ``FontConfiguration`` per worker, ``--chunk`` notices laid out per WeasyPrint
  call and split into one PDF each with pypdf.
* **issue**: ``invoices.batch.issue_invoices`` on a fresh copy of the database —
  the command's whole path: data queries, rendering, archiving with SHA-256.

Every split PDF is checked (outside the timed region) to hold exactly its own
notice: its number, household and amount in capitals extract with pypdf.
The last line is one JSON object with ``invoices_per_s`` (batch),
``plain_per_s``, ``speedup`` and ``issue_per_s``. Nothing is asserted about time.
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pypdf import PdfReader  # noqa: E402
from sqlalchemy import select  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402
from weasyprint import HTML  # noqa: E402
from weasyprint.text.fonts import FontConfiguration  # noqa: E402

from api.db import upgrade  # noqa: E402
from invoices import batch, data  # noqa: E402
from invoices.capitals import capitals  # noqa: E402
from invoices.render import TEMPLATES, render_html  # noqa: E402
from ledger.database import make_engine  # noqa: E402
from ledger.school import billing, enrolment, standards, structure, waivers  # noqa: E402
from ledger.school.models import Invoice, Programme, School, Term  # noqa: E402

D = dt.date


def build(url: str, households: int) -> None:
    """One school, a billed term, ``households`` invoices; every fifth child half waived."""
    engine = make_engine(url)
    upgrade(engine)
    with Session(engine) as db:
        district = structure.create_district(
            db, code="BD", name="基准区", funder_name="基准区财政局"
        )
        school = structure.create_school(
            db,
            district,
            code="BS",
            name="基准实验小学",
            actor="bench",
            bank_name="中国工商银行基准支行",
            bank_account="6222020200112233445",
            complaints_phone="0571-12345678",
        )
        term = structure.create_term(
            db, school, name="2026秋季学期", start=D(2026, 9, 1), end=D(2027, 1, 15),
            billing_months=4,
        )  # fmt: skip
        fee = standards.create_fee_standard(
            db,
            district=district,
            kind="basic_care",
            amount=50000,
            unit="term",
            authority="基准区发展和改革局",
            document_no="基发改价〔2026〕8号",
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
            unit_cost=123456,
            government=("percent", 5000),
            school_share=("amount", 20000),
            waiver_cover="government",
            refund_rule="daily",
            actor="bench",
        )
        prog = Programme(
            school_id=school.id, term_id=term.id, kind="basic_care", name="基本托管A班",
            weekdays="12345", start_time=dt.time(15, 30), end_time=dt.time(17, 30),
            capacity=households + 1,
        )  # fmt: skip
        db.add(prog)
        db.flush()
        surnames = "赵钱孙李周吴郑王冯陈褚卫蒋沈韩杨朱秦尤许何吕施张孔曹严华金魏陶姜"
        for i in range(households):
            name = f"{surnames[i % len(surnames)]}小{'一二三四五六七八九十'[i % 10]}{i}"
            home = structure.create_household(db, district, f"{name}家")
            student = structure.create_student(db, school, home, name=name)
            app = enrolment.apply(db, student, prog, applied_by="parent@bench")
            enrolment.review(db, app, approve=True, actor="teacher@bench")
            enrolment.decide(db, app, approve=True, actor="school@bench")
            if i % 5 == 0:
                grant = waivers.request_waiver(
                    db, student, percent=5000, reason="家庭经济困难（低保）",
                    evidence_ref=f"DB-{i}", valid_from=D(2026, 9, 1), valid_to=D(2027, 1, 15),
                    actor="a@bench",
                )  # fmt: skip
                waivers.decide_waiver(db, grant, approve=True, actor="b@bench")
        billing.run_billing(db, school, term, actor="bench", issued_on=D(2026, 9, 1))
        db.commit()
    engine.dispose()


def notices(url: str) -> list[dict[str, Any]]:
    engine = make_engine(url)
    with Session(engine) as db:
        out = [data.invoice_data(db, i) for i in db.scalars(select(Invoice).order_by(Invoice.seq))]
    engine.dispose()
    return out


def check(pdf: bytes, notice: dict[str, Any]) -> None:
    """The PDF holds its own notice: number, household, amount in figures and capitals."""
    reader = PdfReader(io.BytesIO(pdf))
    text = "".join(page.extract_text() for page in reader.pages)
    for expected in (notice["number"], notice["household"]["name"], capitals(notice["amount_due"])):
        if expected not in text:
            raise SystemExit(f"{notice['number']}: {expected!r} missing from its PDF")


def plain(docs: list[dict[str, Any]]) -> tuple[float, list[bytes]]:
    base = (TEMPLATES / "invoice").as_uri() + "/"
    pdfs = []
    start = time.perf_counter()
    for doc in docs:
        html = render_html("invoice", [doc])
        pdfs.append(HTML(string=html, base_url=base).write_pdf(font_config=FontConfiguration()))
    return time.perf_counter() - start, pdfs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--invoices", type=int, default=192)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--chunk", type=int, default=batch.CHUNK)
    parser.add_argument("--plain", type=int, default=48, help="notices timed on the plain path")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/bench.sqlite"
        build(url, args.invoices)
        shutil.copy(f"{tmp}/bench.sqlite", f"{tmp}/issue.sqlite")
        docs = notices(url)
        n_plain = min(args.plain, len(docs))

        # Warm-up outside the clock: fontconfig's cache and WeasyPrint's imports, both paths.
        plain(docs[:1])

        plain_s, plain_pdfs = plain(docs[:n_plain])
        start = time.perf_counter()
        pdfs = batch.render_many("invoice", docs, workers=args.workers, chunk=args.chunk)
        batch_s = time.perf_counter() - start

        issue_url = f"sqlite:///{tmp}/issue.sqlite"
        engine = make_engine(issue_url)
        with Session(engine) as db:
            school = db.scalar(select(School))
            term = db.scalar(select(Term))
            start = time.perf_counter()
            invoices = batch.invoices_for_period(db, school, f"term:{term.id}")
            issued = batch.issue_invoices(
                db, school, invoices, language="zh-CN", actor="bench", workers=args.workers
            )
            db.commit()
            issue_s = time.perf_counter() - start
        engine.dispose()

        for pdf, doc in zip(pdfs, docs, strict=True):
            check(pdf, doc)
        for pdf, doc in zip(plain_pdfs, docs[:n_plain], strict=True):
            check(pdf, doc)
        assert issued.rendered == len(docs)

    plain_rate = n_plain / plain_s
    batch_rate = len(docs) / batch_s
    issue_rate = len(docs) / issue_s
    mean = sum(len(p) for p in pdfs) // len(pdfs)
    plain_mean = sum(len(p) for p in plain_pdfs) // n_plain
    print(f"plain WeasyPrint, 1 process: {n_plain} notices in {plain_s:.2f} s = "
          f"{plain_rate:.2f}/s, {plain_mean} bytes each")  # fmt: skip
    print(f"batch, {args.workers} workers x chunks of {args.chunk}: {len(docs)} notices in "
          f"{batch_s:.2f} s = {batch_rate:.2f}/s, {mean} bytes each")  # fmt: skip
    print(f"issue (data + batch + archive): {len(docs)} in {issue_s:.2f} s = {issue_rate:.2f}/s")
    print(
        json.dumps(
            {
                "invoices": len(docs),
                "workers": args.workers,
                "chunk": args.chunk,
                "plain_per_s": round(plain_rate, 2),
                "invoices_per_s": round(batch_rate, 2),
                "speedup": round(batch_rate / plain_rate, 2),
                "issue_per_s": round(issue_rate, 2),
                "batch_pdf_bytes": mean,
            }
        )
    )


if __name__ == "__main__":
    main()
