"""The world the access matrix (``tests/access_matrix.py``) is checked in.

One district ``AMD`` with two schools, ``AMX`` and ``AMY``, each with its own
book. Household A has a child, 甲, at school X; household B a child, 乙, at
school Y. Every thing a path of the API can name exists at school X and
belongs to household A where it belongs to a household: the term, a
programme, 甲's application, enrolment and approved waiver, the September
billing (invoice, charge and charge entry), a partial payment and its
receipt, a small-balance write-off waiting for approval, a subsidy claim, a
teacher with approved hours, a pay run and a payroll payout batch, a
whitelisted vendor (a district's) with an agreement, a bill and a paid
transfer batch, an imported bank statement with one line waiting, and an
open accounting period (December). School Y has its own term, programme and
household B's September invoice, so that what one caller must not see exists.

The callers, each with a token and all but the teacher with a portal
password (:data:`PORTAL_PASSWORD`), named as the matrix's columns name them:

=====  ==============================================================
anon   no token
par_A  parent, linked to household A
par_B  parent, linked to household B
fin_X  finance, linked to school X
fin_Y  finance, linked to school Y — in the same district as X
fin_D  finance, linked to district D (both schools)
audit  auditor
admin  admin
teach  teacher, linked to school X and to its staff member 王老师 (the
       staff member every ``<staff_id>`` path names)
=====  ==============================================================

Both schools are in one district on purpose: households belong to a
district, so finance of school Y may see household A's record, and must
still not see anything of school X through it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from access_matrix import ROLE_OF
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.auth import create_user
from api.links import link
from api.models import User
from api.portal.logins import set_password
from ledger import books
from ledger.audit import bank_import
from ledger.books import EntryDraft, PostingDraft
from ledger.school import (
    billing,
    enrolment,
    payments,
    payouts,
    payroll,
    programmes,
    standards,
    structure,
    subsidies,
    vendors,
    waivers,
    writeoffs,
)
from ledger.school.models import ChargeRecord

D = dt.date
T = dt.time
FIN = "world-builder@test.kehou"

#: The callers, as the matrix's columns name them (``tests/access_matrix.py``).
PERSONAS = ROLE_OF

#: Who has a portal password (teachers may have none), and what it is.
PORTAL_PERSONAS = ("par_A", "par_B", "fin_X", "fin_Y", "fin_D", "audit", "admin")
PORTAL_PASSWORD = "访问矩阵-river-2026"

#: Names that make what a caller must never read recognisable in any answer.
STUDENT_A = "甲同学 AM-STUDENT-A"
STUDENT_B = "乙同学 AM-STUDENT-B"
VENDOR_USCC = "91330100716105852F"


@dataclass
class World:
    district: str
    school_x: str
    school_y: str
    tokens: dict[str, str | None]
    user_ids: dict[str, int]
    emails: dict[str, str]
    #: The callers with a portal password (:data:`PORTAL_PASSWORD`).
    portal: tuple[str, ...] = PORTAL_PERSONAS
    ids: dict[str, int | str] = field(default_factory=dict)
    #: Per caller, texts of the other household or school that must never be in an answer.
    secrets: dict[str, set[str]] = field(default_factory=dict)


def _month_end(year: int, month: int) -> dt.date:
    return D(year + month // 12, month % 12 + 1, 1) - dt.timedelta(days=1)


def _school(db: Session, district, code: str):  # type: ignore[no-untyped-def]
    school = structure.create_school(
        db,
        district,
        code=code,
        name=f"访问矩阵学校 {code}",
        actor=FIN,
        bank_name="示范银行",
        bank_account="6222000011112222",
        complaints_phone="0571-12345",
    )
    term = structure.create_term(
        db, school, name="2026秋季学期", start=D(2026, 9, 1), end=D(2026, 12, 31), billing_months=4
    )
    care = programmes.create_programme(
        db,
        school,
        term,
        kind="basic_care",
        name=f"基本托管 {code}",
        start_time=T(15, 30),
        end_time=T(17, 30),
        capacity=40,
    ).programme
    return school, term, care


def _enrol(db: Session, school, household, programme, name: str):  # type: ignore[no-untyped-def]
    student = structure.create_student(db, school, household, name=name, student_no=name[-1])
    application = enrolment.apply(db, student, programme, applied_by="家长 parent")
    enrolment.review(db, application, approve=True, actor="班主任 class teacher")
    enr = enrolment.decide(db, application, approve=True, actor=FIN)
    return student, application, enr


def build(db: Session) -> World:
    district = structure.create_district(
        db, code="AMD", name="访问矩阵区", funder_name="访问矩阵区财政局"
    )
    fee = standards.create_fee_standard(
        db,
        district=district,
        kind="basic_care",
        amount=20000,
        unit="month",
        authority="访问矩阵区发改委",
        document_no="访发改价〔2026〕1号",
        valid_from=D(2026, 8, 1),
        valid_to=D(2027, 7, 31),
        actor=FIN,
    )
    standards.create_cost_policy(
        db,
        district=district,
        kind="basic_care",
        fee_standard=fee,
        effective_from=D(2026, 8, 1),
        effective_to=D(2027, 7, 31),
        unit="month",
        unit_cost=40000,
        government=("percent", 5000),
        school_share=("amount", 5000),
        waiver_cover="government",
        refund_rule="daily",
        actor=FIN,
    )
    x, term_x, care_x = _school(db, district, "AMX")
    y, term_y, care_y = _school(db, district, "AMY")
    book_x = db.get(books.Book, x.book_id)
    periods = [
        books.create_period(db, book_x, start=D(2026, m, 1), end=_month_end(2026, m))
        for m in (9, 10, 11, 12)
    ]
    home_a = structure.create_household(
        db, district, "甲家 household A", [{"name": "甲妈妈", "phone": "13900000001"}]
    )
    home_b = structure.create_household(
        db, district, "乙家 household B", [{"name": "乙爸爸", "phone": "13900000002"}]
    )
    student_a, application_a, enrolment_a = _enrol(db, x, home_a, care_x, STUDENT_A)
    _student_b, _application_b, _enrolment_b = _enrol(db, y, home_b, care_y, STUDENT_B)

    # A's waiver of half the parent share, approved before September is billed.
    waiver = waivers.request_waiver(
        db,
        student_a,
        percent=5000,
        reason="家庭变故",
        evidence_ref="社区证明 AM-1",
        valid_from=D(2026, 9, 1),
        valid_to=D(2026, 12, 31),
        actor=FIN,
    )
    waivers.decide_waiver(db, waiver, approve=True, actor="校长 head teacher")

    run_x = billing.run_billing(db, x, term_x, actor=FIN, month=(2026, 9), issued_on=D(2026, 9, 1))
    run_y = billing.run_billing(db, y, term_y, actor=FIN, month=(2026, 9), issued_on=D(2026, 9, 1))
    ((_, invoice_a, amount_a),) = run_x.invoices
    ((_, invoice_b, _),) = run_y.invoices
    charge = db.scalar(select(ChargeRecord).where(ChargeRecord.household_id == home_a.id))

    # Money in: last year's fund, A pays all but 5.00, which finance asks to write off.
    books.post_entry(
        db,
        x.book_id,
        EntryDraft(
            effective_date=D(2026, 9, 1),
            memo="上年结余结转",
            kind="adjustment",
            idempotency_key="am-carried-over",
            postings=[PostingDraft("1002", 1_000_000), PostingDraft("3001", -1_000_000)],
        ),
        actor=FIN,
    )
    payment = payments.record_payment(
        db,
        x,
        home_a,
        amount=amount_a - 500,
        received_on=D(2026, 9, 8),
        method="wechat",
        actor=FIN,
        reference="微信支付 AM-1",
        idempotency_key="am-pay-a",
    ).payment
    write_off = writeoffs.request_write_off(db, x, home_a, reason="少不补 small balance", actor=FIN)
    claim = subsidies.create_claim(
        db,
        x,
        period_start=D(2026, 9, 1),
        period_end=D(2026, 9, 30),
        claimed_on=D(2026, 10, 5),
        actor=FIN,
    )

    # Money out: a teacher's approved September hours, paid by payroll transfer.
    teacher = payroll.create_staff(db, x, name="王老师", kind="teacher", actor=FIN)
    payroll.create_pay_rate(
        db,
        x,
        staff_kind="teacher",
        programme_kind="basic_care",
        unit="hour",
        amount=5000,
        valid_from=D(2026, 9, 1),
        valid_to=D(2026, 12, 31),
        actor=FIN,
    )
    days = structure.calendar_of(db, term_x).service_days(D(2026, 9, 1), D(2026, 9, 30))
    hours = []
    for day in days[:2]:
        h = payroll.log_hours(
            db, x, teacher, care_x, day=day, start=T(15, 30), end=T(17, 30), actor=FIN
        )
        payroll.approve_hours(db, h, approve=True, actor=FIN)
        hours.append(h)
    pay_run = payroll.run_pay(db, x, 2026, 9, on=D(2026, 9, 30), actor=FIN)
    payroll_batch = payouts.create_batch(
        db,
        x,
        method="payroll_transfer",
        items=[("pay_line", line.id) for line in pay_run.lines],
        actor=FIN,
        reference="2026-09 工资",
    )
    payouts.pay_batch(db, payroll_batch, paid_on=D(2026, 10, 10), actor=FIN)

    # A whitelisted vendor of the district, an agreement at X, a bill, a paid transfer.
    vendor = vendors.create_vendor(
        db,
        district,
        name="绿茵体育",
        uscc=VENDOR_USCC,
        qualification="体育类培训资质",
        services="足球训练",
        approved_price=8000,
        price_unit="session",
        valid_from=D(2026, 9, 1),
        valid_to=D(2026, 12, 31),
        actor=FIN,
    )
    agreement = vendors.create_agreement(
        db,
        x,
        vendor_id=vendor.id,
        programme=care_x,
        reference="AMX-采购-1",
        unit="session",
        price=7500,
        start=D(2026, 9, 1),
        end=D(2026, 12, 31),
        actor=FIN,
        cap=300000,
    )
    bill = vendors.record_bill(
        db,
        x,
        vendor_id=vendor.id,
        agreement_id=agreement.id,
        reference="LY-AM-09",
        service_date=D(2026, 9, 30),
        quantity=2,
        unit_price=7500,
        actor=FIN,
    )
    vendor_batch = payouts.create_batch(
        db,
        x,
        method="bank_transfer",
        items=[("vendor_bill", bill.id)],
        actor=FIN,
        reference="购买服务",
    )
    payouts.pay_batch(db, vendor_batch, paid_on=D(2026, 10, 8), actor=FIN)

    # A bank statement with one line nobody's (interest), waiting in 2299.
    statement = bank_import.import_statement(
        db,
        x,
        (
            "交易日期,摘要,收入金额,支出金额,对方户名,对方账号,余额\r\n"
            "2026-09-20,结息 interest,12.34,,示范银行,,10012.34\r\n"
        ).encode(),
        filename="am-2026-09.csv",
        mapping=bank_import.CN_ONLINE_BANKING,
        mapping_name="cn_online_banking",
        actor=FIN,
    )
    (line,) = statement.new_lines

    # The callers.
    tokens: dict[str, str | None] = {"anon": None}
    user_ids: dict[str, int] = {}
    for persona, role in PERSONAS.items():
        if role is None:
            continue
        user, token = create_user(db, f"am-{persona.lower()}@test.kehou", role)
        tokens[persona], user_ids[persona] = token, user.id
    users = {p: db.get(User, i) for p, i in user_ids.items()}
    link(db, users["par_A"], household=home_a.id)
    link(db, users["par_B"], household=home_b.id)
    link(db, users["fin_X"], school=x.code)
    link(db, users["fin_Y"], school=y.code)
    link(db, users["fin_D"], district=district.code)
    link(db, users["teach"], school=x.code)
    link(db, users["teach"], staff=teacher.id)
    for persona in PORTAL_PERSONAS:
        set_password(db, users[persona], PORTAL_PASSWORD)
    # The user the admin routes act on (links, tokens, revocation, portal login).
    someone, _ = create_user(db, "am-someone@test.kehou", "parent")
    db.flush()

    ids: dict[str, int | str] = {
        "book": x.code,
        "school": x.code,
        "district": district.code,
        "code": "1002",
        "entry_id": charge.entry_id,
        "period_id": periods[-1].id,  # December, open
        "term_id": term_x.id,
        "programme_id": care_x.id,
        "application_id": application_a.id,
        "enrolment_id": enrolment_a.id,
        "household_id": home_a.id,
        "student_id": student_a.id,
        "waiver_id": waiver.id,
        "number": invoice_a,
        "charge_id": charge.id,
        "payment_id": payment.id,
        "write_off_id": write_off.id,
        "claim_id": claim.id,
        "staff_id": teacher.id,
        "hours_id": hours[0].id,
        "vendor_id": vendor.id,
        "agreement_id": agreement.id,
        "bill_id": bill.id,
        "fee_standard_id": fee.id,
        "batch_id": vendor_batch.id,
        "payroll_batch_id": payroll_batch.id,
        "statement_id": statement.statement.id,
        "line_id": line.id,
        "user_id": someone.id,
        "job_id": "am-job-1",
        "household_b": home_b.id,
        "invoice_b": invoice_b,
    }
    a_things = {STUDENT_A, invoice_a}
    b_things = {STUDENT_B, invoice_b}
    secrets = {
        "anon": a_things | b_things,
        "par_A": b_things,
        "par_B": a_things,
        "fin_X": b_things,
        "fin_Y": a_things,
        "fin_D": set(),
        "audit": set(),
        "admin": set(),
        "teach": a_things | b_things,
    }
    return World(
        district=district.code,
        school_x=x.code,
        school_y=y.code,
        tokens=tokens,
        user_ids=user_ids,
        emails={p: u.email for p, u in users.items()},
        ids=ids,
        secrets=secrets,
    )
