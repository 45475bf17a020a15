"""The demo: users, the small hand-made DEMO book, and a full autumn term 2026 at a demo school.

``load_demo`` builds everything through the domain functions (never raw SQL),
with fixed dates in September–December 2026, so two loads give the same
books. The term at school ``DEMO1`` (district ``DEMOD``) narrates:

* calendar: 2026-09-01..2026-12-31, four billing months; 中秋节 (25 Sep) and
  国庆 (1–7 Oct) are holidays, Saturday 10 Oct a make-up day;
* two programmes, both 5+2 (Mon–Fri 15:30–17:30): basic care and football
  enrichment, each with a price-authority fee standard and a cost-sharing
  policy per month — basic care costs 400.00 a month (government 50 %,
  school 50.00, parents 150.00 of a 200.00 standard), enrichment 150.00
  (government 50.00, parents 100.00 = the standard);
* four households, five students, every application applied, reviewed by the
  class and approved by the school in August: 王小明 (basic care and
  football), 李小红 (verified hardship: pays nothing, the government covers
  her share), 张伟 (a migrant child), 陈晨 and 陈曦 (siblings; 陈曦 has an
  approved 50 % waiver);
* billing runs for September, October, November and December;
* payments: 王 pays every month, 张 pays September in part and catches up in
  October, 陈 pays September and October; the fund carried over 10,000.00;
* the government's share of September–October claimed in November and
  received in full;
* 王老师 (teacher, 50.00 an hour) with approved September and October hours
  and stipend runs; 李教练 (external coach, 200.00 an hour) with a labour fee
  and income tax withheld; 绿茵体育 on the district's whitelist with a
  purchase agreement and a September bill; payout batches paid for the
  stipends, the labour fee and the bill, and the tax remitted;
* September closed in the books.

Users: admin, finance (the DEMO book), auditor, a finance user of the school
(``school-finance@demo.kehou``), the teacher 王老师 and the parent of the 王
household, who also gets a portal password for ``/portal``.
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from ledger import books as engine
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
)
from ledger.school.models import Enrolment, School, Term

from .audit import record
from .auth import create_user
from .links import link
from .models import BookAccess

D = dt.date
T = dt.time

#: (code, name, type, parent)
CHART = [
    ("1002", "Bank: after-school service account 银行存款-课后服务专户", "asset", None),
    ("1122", "Receivable: households 应收-家庭", "asset", None),
    ("1122.H0001", "Receivable: household Wang 王家", "asset", "1122"),
    ("1122.H0002", "Receivable: household Li 李家", "asset", "1122"),
    ("1123", "Receivable: government subsidy 应收-财政补贴", "asset", None),
    ("1124", "Receivable: school contribution 应收-学校分担", "asset", None),
    ("2202", "Payable: vendors 应付-供应商", "liability", None),
    ("2211", "Payable: staff stipends and labour fees 应付-补助及劳务费", "liability", None),
    ("2221", "Payable: income tax withheld 应交个人所得税", "liability", None),
    ("2241", "Household credits 家庭预收及待退", "liability", None),
    ("2299", "Unidentified receipts 待查明收款", "liability", None),
    ("3001", "Net assets: after-school fund 净资产-课后服务基金", "net_assets", None),
    ("4001", "Revenue: after-school service fees 课后服务收入", "revenue", None),
    ("4901", "Contra-revenue: waivers absorbed 减免", "revenue", None),
    ("5001", "Expense: teacher stipends 教师补助", "expense", None),
    ("5002", "Expense: labour fees 劳务费", "expense", None),
    ("5003", "Expense: purchased services 购买服务", "expense", None),
    ("5901", "Expense: small balances written off 小额核销", "expense", None),
]

DISTRICT = "DEMOD"
SCHOOL = "DEMO1"
SCHOOL_FINANCE = "school-finance@demo.kehou"
TEACHER = "teacher@demo.kehou"
PARENT = "parent.wang@demo.kehou"
TERM_START, TERM_END = D(2026, 9, 1), D(2026, 12, 31)
MONTHS = ((2026, 9), (2026, 10), (2026, 11), (2026, 12))


@dataclass
class DemoLoad:
    """What a load made: ``(email, role, token)`` per user and the portal login."""

    tokens: list[tuple[str, str, str]] = field(default_factory=list)
    #: ``(email, password)`` of the demo parent's ``/portal`` login.
    portal_login: tuple[str, str] | None = None
    school: str = SCHOOL
    term_id: int | None = None


def _draft(day: dt.date, memo: str, kind: str, key: str, *lines: tuple[str, int]) -> EntryDraft:
    return EntryDraft(
        effective_date=day,
        memo=memo,
        kind=kind,
        idempotency_key=key,
        postings=[PostingDraft(code, fen) for code, fen in lines],
    )


def load_demo(db: Session, *, actor: str) -> DemoLoad:
    """Create the demo users, the DEMO book and the demo school's autumn term 2026."""
    out = DemoLoad()
    users = {}
    for email, role in [
        ("admin@demo.kehou", "admin"),
        ("finance@demo.kehou", "finance"),
        ("auditor@demo.kehou", "auditor"),
        (SCHOOL_FINANCE, "finance"),
        (TEACHER, "teacher"),
        (PARENT, "parent"),
    ]:
        user, token = create_user(db, email, role)
        users[email] = user
        out.tokens.append((email, role, token))
    _demo_book(db, users["finance@demo.kehou"])
    school, term, staff, home = _demo_term(db, admin=users["admin@demo.kehou"])
    out.term_id = term.id
    link(db, users[SCHOOL_FINANCE], school=school.code)
    link(db, users[TEACHER], staff=staff.id)
    link(db, users[PARENT], household=home.id)
    out.portal_login = (PARENT, _portal_password(db, users[PARENT]))
    record(db, "demo.load", "book:DEMO", actor=actor)
    record(db, "demo.load", f"school:{school.code}", {"term": term.id}, actor=actor)
    return out


def _portal_password(db: Session, user) -> str:  # type: ignore[no-untyped-def]
    """A fresh random portal password that the portal's rules accept, set for ``user``."""
    from .portal.logins import WeakPassword, set_password

    while True:
        password = "demo-" + secrets.token_urlsafe(12)
        try:
            set_password(db, user, password)
        except WeakPassword:  # pragma: no cover - a random password that trips a rule
            continue
        return password


# --------------------------------------------------------------------------- the DEMO book


def _demo_book(db: Session, finance) -> None:  # type: ignore[no-untyped-def]
    book = engine.create_book(
        db, code="DEMO", name="示范小学 Demo Primary School", created_by=f"user:{finance.id}"
    )
    db.add(BookAccess(user_id=finance.id, book_id=book.id))
    for code, name, type_, parent in CHART:
        engine.create_account(db, book, code=code, name=name, type=type_, parent=parent)
    engine.create_period(db, book, start=D(2026, 9, 1), end=D(2026, 9, 30))
    engine.create_period(db, book, start=D(2026, 10, 1), end=D(2026, 10, 31))
    who = finance.email
    entries = [
        # Basic care for September: cost 300.00 per student; government 150, school 50, parent 100.
        _draft(
            D(2026, 9, 1),
            "9月基本托管 王小明 / September basic care, Wang",
            "charge",
            "demo-1",
            ("1123", 15000),
            ("1124", 5000),
            ("1122.H0001", 10000),
            ("4001", -30000),
        ),
        # Li is a hardship student: the parent share is waived and the government covers it.
        _draft(
            D(2026, 9, 1),
            "9月基本托管 李小红（困难减免）/ September, Li (hardship waiver)",
            "charge",
            "demo-2",
            ("1123", 25000),
            ("1124", 5000),
            ("4001", -30000),
        ),
        _draft(
            D(2026, 9, 10),
            "王家缴费 / Payment, Wang household",
            "payment",
            "demo-3",
            ("1002", 10000),
            ("1122.H0001", -10000),
        ),
        _draft(
            D(2026, 9, 25),
            "区财政补贴到账 / District subsidy received",
            "subsidy_receipt",
            "demo-4",
            ("1002", 40000),
            ("1123", -40000),
        ),
        _draft(
            D(2026, 9, 30),
            "9月教师补助 / September teacher stipends",
            "stipend",
            "demo-5",
            ("5001", 36000),
            ("2211", -36000),
        ),
    ]
    for draft in entries:
        engine.post_entry(db, book.id, draft, actor=who)
    engine.close_period(db, book, engine.list_periods(db, book)[0].id, actor=who)


# --------------------------------------------------------------------------- the demo term


def _at(day: int, hour: int) -> dt.datetime:
    return dt.datetime(2026, 8, day, hour)


def _enrol(db: Session, student, prog, *, day: int, by: str) -> Enrolment:  # type: ignore[no-untyped-def]
    """A guardian applies, the class reviews, the school approves — all in August."""
    app = enrolment.apply(db, student, prog, applied_by=by)
    enrolment.review(db, app, approve=True, actor="班主任 class teacher")
    enr = enrolment.decide(db, app, approve=True, actor=SCHOOL_FINANCE)
    assert enr is not None
    # The demo narrates a term that is already under way: the steps happened in August.
    app.applied_at, app.reviewed_at, app.decided_at = _at(day, 9), _at(day + 2, 10), _at(25, 11)
    return enr


def autumn_calendar(db: Session, term: Term, book: engine.Book) -> None:
    """The autumn term's holidays and make-up day, and a period per billing month in the book."""
    structure.set_calendar_day(db, term, D(2026, 9, 25), "holiday", "中秋节 Mid-Autumn Festival")
    for day in range(1, 8):
        structure.set_calendar_day(db, term, D(2026, 10, day), "holiday", "国庆节 National Day")
    structure.set_calendar_day(db, term, D(2026, 10, 10), "makeup", "国庆调休 make-up day")
    for year, month in MONTHS:
        start = D(year, month, 1)
        end = D(year + month // 12, month % 12 + 1, 1) - dt.timedelta(days=1)
        engine.create_period(db, book, start=start, end=end)


def _demo_term(db: Session, *, admin):  # type: ignore[no-untyped-def]
    fin = SCHOOL_FINANCE
    district = structure.create_district(
        db, code=DISTRICT, name="示范区 Demo District", funder_name="示范区财政局 District Treasury"
    )
    school = structure.create_school(
        db,
        district,
        code=SCHOOL,
        name="示范区第一实验小学 Demo Experimental School No. 1",
        actor=f"user:{admin.id}",
        bank_name="示范银行城东支行",
        bank_account="6222020200112233445",
        complaints_phone="0571-12345",
    )
    book = db.get(engine.Book, school.book_id)
    term = structure.create_term(
        db,
        school,
        name="2026秋季学期 Autumn 2026",
        start=TERM_START,
        end=TERM_END,
        billing_months=4,
    )
    autumn_calendar(db, term, book)

    # Fee standards approved by the price authority, and the cost-sharing policies.
    for kind, standard, cost, government, school_share in (
        ("basic_care", 20000, 40000, ("percent", 5000), ("amount", 5000)),
        ("enrichment", 10000, 15000, ("amount", 5000), ("amount", 0)),
    ):
        fee = standards.create_fee_standard(
            db,
            district=district,
            kind=kind,
            amount=standard,
            unit="month",
            authority="示范区发展和改革局",
            document_no="示发改价〔2026〕18号",
            valid_from=D(2026, 8, 1),
            valid_to=D(2027, 7, 31),
            actor=fin,
        )
        standards.create_cost_policy(
            db,
            district=district,
            kind=kind,
            fee_standard=fee,
            effective_from=D(2026, 8, 1),
            effective_to=D(2027, 7, 31),
            unit="month",
            unit_cost=cost,
            government=government,
            school_share=school_share,
            waiver_cover="government",
            refund_rule="daily",
            actor=fin,
            notice_ref="示教〔2026〕7号",
        )
    care = programmes.create_programme(
        db,
        school,
        term,
        kind="basic_care",
        name="基本托管 Basic care",
        start_time=T(15, 30),
        end_time=T(17, 30),
        capacity=60,
    ).programme
    football = programmes.create_programme(
        db,
        school,
        term,
        kind="enrichment",
        name="足球兴趣班 Football",
        start_time=T(15, 30),
        end_time=T(17, 30),
        capacity=25,
    ).programme

    # Households, guardians and students; the applications.
    grade3 = structure.create_class(db, school, "三年级(2)班", grade=3)
    grade4 = structure.create_class(db, school, "四年级(1)班", grade=4)

    def household(name: str, guardian: str, relation: str, phone: str):  # type: ignore[no-untyped-def]
        return structure.create_household(
            db, district, name, [{"name": guardian, "relation": relation, "phone": phone}]
        )

    wang_home = household("王家 Wang", "王芳", "母亲 mother", "13800000001")
    li_home = household("李家 Li", "李强", "父亲 father", "13800000002")
    zhang_home = household("张家 Zhang", "张丽", "母亲 mother", "13800000003")
    chen_home = household("陈家 Chen", "陈刚", "父亲 father", "13800000004")
    wang = structure.create_student(
        db, school, wang_home, name="王小明", school_class=grade3, student_no="2023031"
    )
    li = structure.create_student(
        db,
        school,
        li_home,
        name="李小红",
        school_class=grade3,
        student_no="2023032",
        left_behind=True,
    )
    zhang = structure.create_student(
        db,
        school,
        zhang_home,
        name="张伟",
        school_class=grade4,
        student_no="2022041",
        migrant=True,
    )
    chen = structure.create_student(
        db, school, chen_home, name="陈晨", school_class=grade4, student_no="2022042"
    )
    chen_xi = structure.create_student(
        db, school, chen_home, name="陈曦", school_class=grade3, student_no="2023033"
    )
    structure.verify_hardship(
        db,
        li,
        evidence_ref="民政局低保证明 2026-031",
        verified_by=fin,
        valid_from=D(2026, 8, 1),
        valid_to=D(2027, 7, 31),
    )
    grant = waivers.request_waiver(
        db,
        chen_xi,
        percent=5000,
        reason="家庭变故 family hardship (parent's illness)",
        evidence_ref="社区证明 2026-17",
        valid_from=TERM_START,
        valid_to=TERM_END,
        actor=fin,
    )
    waivers.decide_waiver(db, grant, approve=True, actor="校长 head teacher")
    for day, (student, prog, by) in enumerate(
        [
            (wang, care, PARENT),
            (wang, football, PARENT),
            (li, care, "家长 李强"),
            (zhang, care, "家长 张丽"),
            (chen, care, "家长 陈刚"),
            (chen_xi, care, "家长 陈刚"),
            (chen, football, "家长 陈刚"),
        ],
        start=10,
    ):
        _enrol(db, student, prog, day=day, by=by)
    db.flush()

    # The billing runs, one per month, on the first of the month.
    for year, month in MONTHS:
        billing.run_billing(
            db, school, term, actor=fin, month=(year, month), issued_on=D(year, month, 1)
        )

    # Money in: the fund carried over, household payments, the district's subsidy.
    engine.post_entry(
        db,
        book.id,
        _draft(
            D(2026, 9, 1),
            "上年课后服务结余结转 / Fund carried over from 2025–26",
            "adjustment",
            "demo1-carried-over",
            ("1002", 1000000),
            ("3001", -1000000),
        ),
        actor=fin,
    )
    for home, amount, day, method, ref in (
        (wang_home, 25000, D(2026, 9, 8), "wechat", "微信支付 4200001"),
        (chen_home, 32500, D(2026, 9, 10), "bank_transfer", "网银 CH0910"),
        (zhang_home, 10000, D(2026, 9, 12), "cash", "部分缴费 part payment"),
        (wang_home, 25000, D(2026, 10, 9), "wechat", "微信支付 4200187"),
        (zhang_home, 20000, D(2026, 10, 20), "alipay", "支付宝 2088-1020"),
        (chen_home, 32500, D(2026, 10, 12), "bank_transfer", "网银 CH1012"),
        (wang_home, 25000, D(2026, 11, 6), "wechat", "微信支付 4200466"),
    ):
        payments.record_payment(
            db,
            school,
            home,
            amount=amount,
            received_on=day,
            method=method,
            actor=fin,
            reference=ref,
            idempotency_key=f"demo1-pay-{home.id}-{day.isoformat()}",
        )
    claim = subsidies.create_claim(
        db,
        school,
        period_start=D(2026, 9, 1),
        period_end=D(2026, 10, 31),
        claimed_on=D(2026, 11, 5),
        actor=fin,
    )
    subsidies.record_subsidy_receipt(
        db,
        claim,
        amount=claim.amount,
        received_on=D(2026, 11, 20),
        actor=fin,
        reference="国库集中支付 2026-1120",
        idempotency_key="demo1-subsidy-2026-09-10",
    )

    # Money out: hours, pay runs, a vendor, payouts.
    teacher = payroll.create_staff(db, school, name="王老师", kind="teacher", actor=fin)
    coach = payroll.create_staff(
        db,
        school,
        name="李教练",
        kind="external",
        actor=fin,
        id_type="resident_id",
        id_number="110101199001011234",
        bank_account="6222020200998877665",
    )
    for staff_kind, kind, rate in (
        ("teacher", "basic_care", 5000),
        ("external", "enrichment", 20000),
    ):
        payroll.create_pay_rate(
            db,
            school,
            staff_kind=staff_kind,
            programme_kind=kind,
            unit="hour",
            amount=rate,
            valid_from=TERM_START,
            valid_to=TERM_END,
            actor=fin,
        )
    cal = structure.calendar_of(db, term)
    september = cal.service_days(D(2026, 9, 1), D(2026, 9, 30))
    october = cal.service_days(D(2026, 10, 1), D(2026, 10, 31))
    for day in september[:8] + october[:6]:
        hours = payroll.log_hours(
            db, school, teacher, care, day=day, start=T(15, 30), end=T(17, 30), actor=fin
        )
        payroll.approve_hours(db, hours, approve=True, actor=fin)
    for day in [d for d in september if d.isoweekday() in (2, 4)]:
        hours = payroll.log_hours(
            db, school, coach, football, day=day, start=T(15, 30), end=T(17, 0), actor=fin
        )
        payroll.approve_hours(db, hours, approve=True, actor=fin)
    sept_run = payroll.run_pay(db, school, 2026, 9, on=D(2026, 9, 30), actor=fin)
    oct_run = payroll.run_pay(db, school, 2026, 10, on=D(2026, 10, 31), actor=fin)
    by_staff = {line.staff_id: line for line in sept_run.lines}
    stipend, labour = by_staff[teacher.id], by_staff[coach.id]

    vendor = vendors.create_vendor(
        db,
        district,
        name="绿茵体育 Green Turf Sports",
        uscc="91330100716105852F",
        qualification="体育类培训资质",
        services="足球训练 football coaching",
        approved_price=8000,
        price_unit="session",
        valid_from=TERM_START,
        valid_to=TERM_END,
        actor=fin,
    )
    agreement = vendors.create_agreement(
        db,
        school,
        vendor_id=vendor.id,
        programme=football,
        reference="DEMO1-采购-2026-07",
        unit="session",
        price=7500,
        start=TERM_START,
        end=TERM_END,
        actor=fin,
        cap=300000,
    )
    bill = vendors.record_bill(
        db,
        school,
        vendor_id=vendor.id,
        agreement_id=agreement.id,
        reference="LY-2026-09",
        service_date=D(2026, 9, 30),
        quantity=8,
        unit_price=7500,
        actor=fin,
    )
    for method, items, paid_on, reference in (
        (
            "bank_transfer",
            [("pay_line", labour.id), ("vendor_bill", bill.id)],
            D(2026, 10, 8),
            "2026-09 劳务费及购买服务",
        ),
        ("payroll_transfer", [("pay_line", stipend.id)], D(2026, 10, 10), "2026-10 工资"),
        ("tax_remittance", [("tax", labour.id)], D(2026, 10, 15), "2026-09 代扣个税"),
        (
            "payroll_transfer",
            [("pay_line", line.id) for line in oct_run.lines],
            D(2026, 11, 10),
            "2026-11 工资",
        ),
    ):
        batch = payouts.create_batch(
            db, school, method=method, items=items, actor=fin, reference=reference
        )
        payouts.pay_batch(db, batch, paid_on=paid_on, actor=fin)

    # September is done: close it.
    september_period = engine.list_periods(db, book)[0]
    engine.close_period(db, book, september_period.id, actor=fin)
    return school, term, teacher, wang_home


def demo_school(db: Session) -> tuple[School, Term]:
    """The demo school and its term (after :func:`load_demo`)."""
    from sqlalchemy import select

    school = structure.get_school(db, SCHOOL)
    term = db.scalar(select(Term).where(Term.school_id == school.id))
    return school, term


__all__ = ["CHART", "DemoLoad", "autumn_calendar", "demo_school", "load_demo"]
