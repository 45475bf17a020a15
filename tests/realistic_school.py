"""A realistic school for the concurrency and crash-safety tests, and how to compare two of them.

``build_school`` sets up one school through the domain functions, drawn from
one seeded ``random.Random`` in a fixed order, so two databases built (or
cloned) from the same seed hold the same rows with the same ids: households of
one to three children, a few verified hardship students (they pay nothing), a
few approved 50 % waivers, basic care for almost everyone and an enrichment
class for some, a few children who start in the middle of the term (their
charge is prorated). Nothing is billed.

``billing_state`` and ``documents_state`` read what a billing run or a
document batch left, with the database's own ids, for comparing a database
that was interrupted and run again with one that was never interrupted.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import random
import sqlite3
import uuid
from collections import Counter
from dataclasses import dataclass

from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from invoices.models import IssuedDocument
from ledger import books
from ledger.database import make_engine
from ledger.school import enrolment, programmes, standards, structure, waivers
from ledger.school.models import ChargeRecord, DocumentCounter, Invoice, School

D = dt.date
TERM_START, TERM_END = D(2026, 9, 1), D(2027, 1, 15)
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰"


@dataclass(frozen=True)
class Built:
    school_code: str
    term_id: int
    students: int
    households: int
    enrolments: int


def build_school(url: str, *, students: int, seed: int = 7, code: str = "CS1") -> Built:
    """Set up school ``code`` with ``students`` children and their approved enrolments."""
    rng = random.Random(seed)  # noqa: S311 - test data, not a secret
    engine = make_engine(url)
    try:
        with Session(engine) as db:
            district = structure.create_district(
                db, code=f"D{code}", name="示范区", funder_name="示范区财政局"
            )
            school = structure.create_school(
                db,
                district,
                code=code,
                name=f"第{code}小学",
                actor="admin@test",
                bank_name="示范银行",
                bank_account="6222000011112222",
                complaints_phone="12345",
            )
            term = structure.create_term(
                db, school, name="2026秋季学期", start=TERM_START, end=TERM_END, billing_months=4
            )
            for kind, standard, cost in (
                ("basic_care", 50000, 120000),
                ("enrichment", 30000, 80000),
            ):
                fee = standards.create_fee_standard(
                    db,
                    district=district,
                    kind=kind,
                    amount=standard,
                    unit="term",
                    authority="示范区发改委",
                    document_no="示发改价〔2026〕12号",
                    valid_from=D(2026, 1, 1),
                    valid_to=D(2027, 12, 31),
                    actor="fin@test",
                )
                standards.create_cost_policy(
                    db,
                    district=district,
                    kind=kind,
                    fee_standard=fee,
                    effective_from=D(2026, 1, 1),
                    effective_to=D(2027, 12, 31),
                    unit="term",
                    unit_cost=cost,
                    government=("percent", 5000),
                    school_share=("amount", 20000 if kind == "basic_care" else 10000),
                    waiver_cover="government",
                    refund_rule="daily",
                    actor="fin@test",
                )
            care = programmes.create_programme(
                db,
                school,
                term,
                kind="basic_care",
                name="基本托管",
                start_time=dt.time(15, 30),
                end_time=dt.time(17, 30),
                capacity=students,
            ).programme
            football = programmes.create_programme(
                db,
                school,
                term,
                kind="enrichment",
                name="足球",
                start_time=dt.time(15, 30),
                end_time=dt.time(17, 0),
                capacity=students,
                weekdays="135",
            ).programme
            homes = kids = enrolled = 0
            while kids < students:
                children = min(students - kids, rng.choices((1, 2, 3), weights=(50, 38, 12))[0])
                surname = rng.choice(SURNAMES)
                home = structure.create_household(db, district, f"{surname}家{homes}")
                homes += 1
                hardship = rng.random() < 0.05
                for _ in range(children):
                    kids += 1
                    student = structure.create_student(
                        db,
                        school,
                        home,
                        name=surname + rng.choice(GIVEN) + rng.choice(GIVEN),
                        student_no=f"2026{kids:05d}",
                    )
                    if hardship:
                        structure.verify_hardship(
                            db,
                            student,
                            evidence_ref=f"低保证明 {kids}",
                            verified_by="fin@test",
                            valid_from=D(2026, 8, 1),
                            valid_to=D(2027, 7, 31),
                        )
                    elif rng.random() < 0.03:
                        grant = waivers.request_waiver(
                            db,
                            student,
                            percent=5000,
                            reason="家庭变故",
                            evidence_ref=f"社区证明 {kids}",
                            valid_from=TERM_START,
                            valid_to=TERM_END,
                            actor="fin@test",
                        )
                        waivers.decide_waiver(db, grant, approve=True, actor="head@test")
                    start = D(2026, 10, 12) if rng.random() < 0.04 else None
                    wanted = [care] if rng.random() < 0.95 else []
                    if rng.random() < 0.3:
                        wanted.append(football)
                    for prog in wanted:
                        app = enrolment.apply(
                            db, student, prog, applied_by="parent@test", start_date=start
                        )
                        enrolment.review(db, app, approve=True, actor="class@test")
                        enrolment.decide(db, app, approve=True, actor="school@test")
                        enrolled += 1
            db.commit()
            return Built(code, term.id, kids, homes, enrolled)
    finally:
        engine.dispose()


# --------------------------------------------------------------------------- databases


def clone_database(url: str, server_url: str | None) -> str:
    """A copy of the database at ``url``, with the same rows and ids (dropped by ``drop``)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        copy = f"{parsed.database}.{uuid.uuid4().hex[:8]}.sqlite"
        src, dst = sqlite3.connect(parsed.database), sqlite3.connect(copy)
        try:
            src.backup(dst)
        finally:
            src.close()
            dst.close()
        return parsed.set(database=copy).render_as_string(hide_password=False)
    assert server_url is not None
    name = f"kehou_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(make_url(server_url), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{parsed.database}"'))
    finally:
        admin.dispose()
    return parsed.set(database=name).render_as_string(hide_password=False)


def drop_database(url: str, server_url: str | None) -> None:
    parsed = make_url(url)
    if parsed.get_backend_name() != "postgresql":
        return  # SQLite copies live in pytest's temporary folder
    assert server_url is not None
    admin = create_engine(make_url(server_url), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)'))
    finally:
        admin.dispose()


# --------------------------------------------------------------------------- what was written


def books_are_sound(db: Session, school: School) -> None:
    """Trial balance zero, materialized balances equal to the postings, the chain verifies."""
    book = db.get(books.Book, school.book_id)
    tb = books.trial_balance(db, book)
    assert tb.total_debit == tb.total_credit
    assert books.balance_mismatches(db, book) == []
    report = books.verify_chain(db, book.id)
    assert report.ok, report


def billing_state(url: str, school_code: str) -> dict[str, object]:
    """Everything a billing run wrote, checked for soundness and ready to compare."""
    engine = make_engine(url)
    try:
        with Session(engine) as db:
            school = db.scalar(select(School).where(School.code == school_code))
            books_are_sound(db, school)
            charges = db.execute(
                select(
                    ChargeRecord.enrolment_id,
                    ChargeRecord.period_start,
                    ChargeRecord.household_id,
                    ChargeRecord.cost,
                    ChargeRecord.government,
                    ChargeRecord.school,
                    ChargeRecord.parent,
                    ChargeRecord.waiver,
                    ChargeRecord.household,
                    Invoice.number,
                )
                .join(Invoice, Invoice.id == ChargeRecord.invoice_id)
                .where(ChargeRecord.school_id == school.id)
                .order_by(ChargeRecord.enrolment_id, ChargeRecord.period_start)
            ).all()
            per_enrolment = Counter((row[0], row[1]) for row in charges)
            assert all(n == 1 for n in per_enrolment.values()), "an enrolment billed twice"
            invoices = db.execute(
                select(Invoice.seq, Invoice.number, Invoice.household_id, Invoice.amount)
                .where(Invoice.school_id == school.id)
                .order_by(Invoice.seq)
            ).all()
            seqs = [row[0] for row in invoices]
            assert seqs == list(range(1, len(seqs) + 1)), "invoice numbers skip or repeat"
            households = [row[2] for row in invoices]
            assert len(set(households)) == len(households), "a household invoiced twice"
            counter = db.scalar(
                select(DocumentCounter.last).where(
                    DocumentCounter.school_id == school.id, DocumentCounter.kind == "invoice"
                )
            )
            assert counter == (len(seqs) or None)
            entries = db.execute(
                select(books.Entry.number, books.Entry.idempotency_key)
                .where(books.Entry.book_id == school.book_id, books.Entry.kind == "charge")
                .order_by(books.Entry.number)
            ).all()
            keys = [row[1] for row in entries]
            assert len(set(keys)) == len(keys) == len(charges)
            runs = db.scalar(
                select(func.count()).select_from(
                    select(ChargeRecord.billing_run_id)
                    .where(ChargeRecord.school_id == school.id)
                    .distinct()
                    .subquery()
                )
            )
            book = db.get(books.Book, school.book_id)
            return {
                "trial_balance": [
                    (line.code, line.debit, line.credit)
                    for line in books.trial_balance(db, book).lines
                ],
                "charges": [tuple(row) for row in charges],
                "invoices": [tuple(row) for row in invoices],
                "entry_numbers": [row[0] for row in entries],
                "charge_keys": sorted(keys),
                "runs_with_charges": runs,
            }
    finally:
        engine.dispose()


def documents_state(url: str, school_code: str) -> dict[str, object]:
    """Every archived fee notice: one per invoice, its hash that of its bytes."""
    engine = make_engine(url)
    try:
        with Session(engine) as db:
            school = db.scalar(select(School).where(School.code == school_code))
            rows = db.execute(
                select(
                    IssuedDocument.source,
                    IssuedDocument.language,
                    IssuedDocument.number,
                    IssuedDocument.sha256,
                    IssuedDocument.pdf,
                )
                .where(IssuedDocument.school_id == school.id, IssuedDocument.kind == "invoice")
                .order_by(IssuedDocument.number)
            ).all()
            for _, _, number, sha, pdf in rows:
                assert hashlib.sha256(pdf).hexdigest() == sha, f"{number}: hash is not the PDF's"
            sources = Counter((row[0], row[1]) for row in rows)
            assert all(n == 1 for n in sources.values()), "a notice archived twice"
            numbers = [row[2] for row in rows]
            assert len(set(numbers)) == len(numbers)
            return {"notices": [(s, lang, n, sha) for s, lang, n, sha, _ in rows]}
    finally:
        engine.dispose()
