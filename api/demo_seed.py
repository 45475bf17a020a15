"""A seeded demo district: N schools, M students and a whole autumn term, for demos and benches.

``seed_district`` builds a district through the domain functions (the billing
runs through the bulk ``billing.run_billing``) and runs the autumn term 2026
of :mod:`api.demo` at every school:

* Chinese names from Faker's ``zh_CN``; households of one to three children,
  left-behind and migrant children, 3–8 % of students with a verified hardship
  status (they pay nothing; the government covers their share) and about 2 %
  with an approved 50 % waiver;
* fee standards with the price authority's approval document, a cost-sharing
  policy per kind (basic care refunded by the day, enrichment by half month);
* per school: basic care for nearly everyone and three enrichment classes —
  football run by the school's external coaches, calligraphy and coding
  bought from whitelisted vendors (valid unified social credit codes);
* applications (a few rejected by the class), reviews and approvals in August;
* one billing run per school for the term (the bulk path), one invoice per
  household; payments on time, late, in part, overpaid (refunded in December)
  and not at all; withdrawals on 19 October (credited by the day) and long
  absences from enrichment in November (credited by half month);
* teachers' and coaches' hours, monthly pay runs (stipends, labour fees with
  income tax withheld), monthly vendor bills, payout batches and the tax
  remitted; the term's subsidy claim, 90 % received in two receipts;
  September and October closed;
* an audit run over the term.

Everything is drawn from one ``random.Random(seed)`` and one seeded Faker, in
a fixed order, so the same seed gives the same figures (ids and timestamps
aside). ``--students`` is the district's total, spread over the schools.
``district_report`` gives the figures a finance officer reads, per school and
for the district, from the stored rows and the books.
"""

from __future__ import annotations

import datetime as dt
import random
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from ledger import books as engine
from ledger.audit import reconcile
from ledger.audit import rules as audit_rules
from ledger.school import (
    billing,
    credits,
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
from ledger.school.calendar import month_bounds
from ledger.school.models import (
    Application,
    ChargeRecord,
    CreditRecord,
    District,
    Enrolment,
    HardshipStatus,
    Household,
    Invoice,
    PayLine,
    Payment,
    Refund,
    School,
    Student,
    SubsidyClaim,
    SubsidyReceipt,
    Term,
    VendorBill,
    WaiverGrant,
)
from ledger.school.uscc import ALPHABET, check_character

from .demo import MONTHS, TERM_END, TERM_START, _draft, autumn_calendar

D = dt.date
T = dt.time
X = TypeVar("X")

#: ``bar(label, iterable, length)``: a context manager giving the iterable back (with progress).
Bar = Callable[[str, Iterable[X], int], AbstractContextManager[Iterable[X]]]


def _no_bar(label: str, items: Iterable[X], length: int) -> AbstractContextManager[Iterable[X]]:
    return nullcontext(items)


#: On PostgreSQL, refresh the planner's statistics after this many items of a long step.
ANALYZE_EVERY = 5000


def analyze(db: Session) -> None:
    """``ANALYZE`` on PostgreSQL (nothing on SQLite), inside the seed's one transaction.

    The seed fills empty tables and commits once at the end, so autovacuum never
    sees its rows: the planner would keep planning for empty tables (a hash join
    over every payment for each invoice's sums, 27 ms a query instead of 0.05 ms
    at 150,000 payments). ANALYZE in the transaction samples its own rows.
    """
    if db.get_bind().dialect.name == "postgresql":
        db.flush()
        db.execute(text("ANALYZE"))


def _analysing(db: Session, bar: Bar) -> Bar:
    """``bar`` that also runs :func:`analyze` every ``ANALYZE_EVERY`` items."""

    @contextmanager
    def wrapped(label: str, items: Iterable[X], length: int) -> Iterator[Iterable[X]]:
        with bar(label, items, length) as shown:

            def counted() -> Iterator[X]:
                for n, item in enumerate(shown, 1):
                    yield item
                    if n % ANALYZE_EVERY == 0:
                        analyze(db)

            yield counted()

    return wrapped


FIN = "finance@seed.kehou"
CLASS_TEACHER = "班主任 class teacher"
HEAD = "校长 head teacher"
AUTHORITY = "区发展和改革局 District Development and Reform Bureau"

#: (kind, monthly standard, monthly cost, government, school share, refund rule)
POLICIES = (
    ("basic_care", 20000, 40000, ("percent", 5000), ("amount", 5000), "daily"),
    ("enrichment", 12000, 15000, ("amount", 5000), ("amount", 0), "half_month"),
)
#: Enrichment classes: (name, weekdays, who runs it: "coach" or the vendor's index).
ENRICHMENT = (
    ("足球 Football", "24", "coach"),
    ("书法 Calligraphy", "13", 0),
    ("少儿编程 Coding", "5", 1),
)
VENDORS = (
    ("翰墨书法培训中心 Hanmo Calligraphy", "书法培训资质", "书法课 calligraphy lessons"),
    ("启明少儿编程 Qiming Coding", "科技类培训资质", "编程课 coding lessons"),
    ("绿茵体育 Green Turf Sports", "体育类培训资质", "足球器材及训练 football"),
)
PAYMENT_PROFILES = (
    ("on_time", 70),
    ("late", 13),
    ("partial", 7),
    ("overpaid", 6),
    ("unpaid", 4),
)
METHODS = ("wechat", "alipay", "bank_transfer", "cash", "wechat", "alipay")


@dataclass
class SeedResult:
    district: str
    schools: list[str]
    students: int = 0
    households: int = 0
    seconds: dict[str, float] = field(default_factory=dict)
    findings: list[audit_rules.Finding] = field(default_factory=list)


@dataclass
class _Kid:
    student: Student
    household: int
    enrolments: list[Enrolment] = field(default_factory=list)


@dataclass
class _SchoolRun:
    school: School
    term: Term
    book: engine.Book
    care: Any
    enrichment: list[Any]
    size: int = 0
    kids: list[_Kid] = field(default_factory=list)
    households: dict[int, Household] = field(default_factory=dict)
    profile: dict[int, str] = field(default_factory=dict)
    teachers: list[Any] = field(default_factory=list)
    coaches: list[Any] = field(default_factory=list)
    agreements: dict[int, Any] = field(default_factory=dict)
    pay_lines: dict[tuple[int, int], list[Any]] = field(default_factory=dict)
    bills: dict[tuple[int, int], list[Any]] = field(default_factory=dict)
    credited: set[int] = field(default_factory=set)


def uscc_for(rng: random.Random, division: str = "330106") -> str:
    """A valid unified social credit code of a company (91…) registered in ``division``."""
    body = "91" + division + "".join(rng.choice(ALPHABET) for _ in range(9))
    return body + check_character(body)


def _at(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, T(hour, minute))


class _Seeder:
    def __init__(
        self,
        db: Session,
        *,
        schools: int,
        students: int,
        seed: int,
        actor: str,
        bar: Bar,
        code: str | None = None,
    ) -> None:
        from faker import Faker

        if schools < 1 or students < schools:
            raise ValueError("at least one school and one student per school")
        self.db = db
        self.n_schools = schools
        self.n_students = students
        self.seed = seed
        self.actor = actor
        self.bar = _analysing(db, bar)
        self.rng = random.Random(seed)  # noqa: S311 - a demo, not a secret
        self.fake = Faker("zh_CN")
        self.fake.seed_instance(seed)
        self.runs: list[_SchoolRun] = []
        self.code = code or f"SD{seed}"
        self.result = SeedResult(self.code, [])

    # ------------------------------------------------------------------ steps

    def steps(self) -> list[tuple[str, Callable[[], None]]]:
        return [
            ("district", self.district),
            ("students", self.students),
            ("applications", self.applications),
            ("billing", self.billing_and_payments),
            ("hours_and_pay", self.hours_and_pay),
            ("vendor_bills", self.vendor_bills),
            ("subsidies", self.subsidies),
            ("payouts", self.payouts),
            ("close", self.close),
            ("audit", self.audit),
        ]

    def district(self) -> None:
        db, rng, fake = self.db, self.rng, self.fake
        city = fake.city_name()
        self.district_row = structure.create_district(
            db,
            code=self.code,
            name=f"{city}示范区 {self.code}",
            funder_name=f"{city}示范区财政局",
        )
        district = self.district_row
        for kind, standard, cost, government, school_share, refund in POLICIES:
            fee = standards.create_fee_standard(
                db,
                district=district,
                kind=kind,
                amount=standard,
                unit="month",
                authority=AUTHORITY,
                document_no=f"{city[:2]}发改价〔2026〕{rng.randint(10, 60)}号",
                valid_from=D(2026, 8, 1),
                valid_to=D(2027, 7, 31),
                actor=FIN,
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
                refund_rule=refund,
                actor=FIN,
                notice_ref=f"{city[:2]}教〔2026〕{rng.randint(1, 30)}号",
            )
        self.vendors = []
        for name, qualification, services in VENDORS[: rng.choice((2, 3))]:
            self.vendors.append(
                vendors.create_vendor(
                    db,
                    district,
                    name=name,
                    uscc=uscc_for(rng),
                    qualification=qualification,
                    services=services,
                    approved_price=80000,
                    price_unit="session",
                    valid_from=TERM_START,
                    valid_to=TERM_END,
                    actor=FIN,
                )
            )
        per_school = self.n_students // self.n_schools
        for n in range(1, self.n_schools + 1):
            school = structure.create_school(
                db,
                district,
                code=f"{self.code}S{n:02d}",
                name=f"{city}{fake.street_name()}小学 Primary School {n}",
                actor=self.actor,
                bank_name=f"{city}{fake.street_name()}支行",
                bank_account="6222" + "".join(str(rng.randint(0, 9)) for _ in range(15)),
                complaints_phone=f"0{rng.randint(100, 999)}-{rng.randint(1000000, 9999999)}",
            )
            term = structure.create_term(
                db,
                school,
                name="2026秋季学期 Autumn 2026",
                start=TERM_START,
                end=TERM_END,
                billing_months=4,
            )
            book = db.get(engine.Book, school.book_id)
            autumn_calendar(db, term, book)
            students = per_school + (1 if n <= self.n_students % self.n_schools else 0)
            care = programmes.create_programme(
                db,
                school,
                term,
                kind="basic_care",
                name="基本托管 Basic care",
                start_time=T(15, 30),
                end_time=T(17, 30),
                capacity=students,
            ).programme
            extra = [
                programmes.create_programme(
                    db,
                    school,
                    term,
                    kind="enrichment",
                    name=name,
                    start_time=T(15, 30),
                    end_time=T(17, 0),
                    capacity=students,
                    weekdays=weekdays,
                ).programme
                for name, weekdays, runner in ENRICHMENT
                if runner == "coach" or runner < len(self.vendors)
            ]
            run = _SchoolRun(school, term, book, care, extra, size=students)
            self.runs.append(run)
            self.result.schools.append(school.code)
        for run in self.runs:
            engine.post_entry(
                db,
                run.book.id,
                _draft(
                    D(2026, 9, 1),
                    "上年课后服务结余结转 / Fund carried over from 2025–26",
                    "adjustment",
                    f"{run.school.code}-carried-over",
                    ("1002", 20_000_000 + 30000 * run.size),
                    ("3001", -20_000_000 - 30000 * run.size),
                ),
                actor=FIN,
            )

    def students(self) -> None:
        db, rng, fake = self.db, self.rng, self.fake
        district = self.district_row
        total = self.n_students
        with self.bar("students and households", range(total), total) as bar:
            ticks = iter(bar)
            for run in self.runs:
                classes = {
                    grade: [
                        structure.create_class(db, run.school, f"{grade}年级({c})班", grade=grade)
                        for c in range(1, 2 + run.size // 240)
                    ]
                    for grade in range(1, 7)
                }
                left = run.size
                hardship_rate = rng.uniform(0.03, 0.08)
                seq = 0
                while left > 0:
                    children = min(left, rng.choices((1, 2, 3), weights=(50, 38, 12))[0])
                    left -= children
                    surname = fake.last_name()
                    migrant = rng.random() < 0.12
                    left_behind = not migrant and rng.random() < 0.08
                    relation = rng.choice(("母亲 mother", "父亲 father"))
                    if left_behind:
                        relation = rng.choice(("祖母 grandmother", "祖父 grandfather"))
                    guardian = surname + (
                        fake.first_name_female() if "母" in relation else fake.first_name_male()
                    )
                    home = structure.create_household(
                        db,
                        district,
                        f"{surname}家 {surname} household",
                        [{"name": guardian, "relation": relation, "phone": fake.phone_number()}],
                    )
                    run.households[home.id] = home
                    weights = [w for _, w in PAYMENT_PROFILES]
                    run.profile[home.id] = rng.choices(
                        [p for p, _ in PAYMENT_PROFILES], weights=weights
                    )[0]
                    hardship = rng.random() < hardship_rate * 1.6 / (1 + children * 0.3)
                    for _ in range(children):
                        seq += 1
                        grade = rng.randint(1, 6)
                        student = structure.create_student(
                            db,
                            run.school,
                            home,
                            name=surname + fake.first_name(),
                            school_class=rng.choice(classes[grade]),
                            student_no=f"{2027 - grade}{run.school.id:02d}{seq:05d}",
                            left_behind=left_behind,
                            migrant=migrant,
                        )
                        if hardship:
                            structure.verify_hardship(
                                db,
                                student,
                                evidence_ref=f"民政局低保证明 2026-{rng.randint(1, 9999):04d}",
                                verified_by=FIN,
                                valid_from=D(2026, 8, 1),
                                valid_to=D(2027, 7, 31),
                            )
                        elif rng.random() < 0.02:
                            grant = waivers.request_waiver(
                                db,
                                student,
                                percent=5000,
                                reason=rng.choice(
                                    (
                                        "家庭变故 family hardship",
                                        "父母一方重病 a parent's illness",
                                        "因灾致困 loss in a flood",
                                    )
                                ),
                                evidence_ref=f"社区证明 2026-{rng.randint(1, 999):03d}",
                                valid_from=TERM_START,
                                valid_to=TERM_END,
                                actor=FIN,
                            )
                            waivers.decide_waiver(db, grant, approve=True, actor=HEAD)
                        run.kids.append(_Kid(student, home.id))
                        next(ticks, None)
                self.result.students += len(run.kids)
                self.result.households += len(run.households)

    def applications(self) -> None:
        db, rng = self.db, self.rng
        total = sum(len(r.kids) for r in self.runs)
        with self.bar("applications and approvals", range(total), total) as bar:
            ticks = iter(bar)
            for run in self.runs:
                for kid in run.kids:
                    next(ticks, None)
                    wanted = []
                    if rng.random() < 0.92:
                        wanted.append(run.care)
                    if rng.random() < 0.3 and run.enrichment:
                        wanted.append(rng.choice(run.enrichment))
                    for prog in wanted:
                        day = D(2026, 8, rng.randint(10, 20))
                        app = enrolment.apply(db, kid.student, prog, applied_by="家长 guardian")
                        if rng.random() < 0.01:
                            enrolment.review(
                                db,
                                app,
                                approve=False,
                                actor=CLASS_TEACHER,
                                note="与校外托管时间冲突 clashes with private care",
                            )
                            app.applied_at, app.reviewed_at = _at(day, 9), _at(day, 16)
                            continue
                        enrolment.review(db, app, approve=True, actor=CLASS_TEACHER)
                        enr = enrolment.decide(db, app, approve=True, actor=FIN)
                        assert enr is not None
                        # The term is narrated as it happened: applications in August.
                        app.applied_at = _at(day, 9)
                        app.reviewed_at = _at(day + dt.timedelta(days=2), 10)
                        app.decided_at = _at(D(2026, 8, 25), 11)
                        kid.enrolments.append(enr)
        db.flush()

    def billing_and_payments(self) -> None:
        """One term invoice per household on 1 September (the bulk billing run), then the
        money: two rounds of payments, withdrawals and absences credited, refunds."""
        db = self.db
        for run in self.runs:
            self._bill(run)
        invoices: list[tuple[_SchoolRun, int, str, int]] = []
        for run in self.runs:
            rows = db.execute(
                select(Invoice.household_id, Invoice.number, Invoice.amount)
                .where(Invoice.school_id == run.school.id, Invoice.amount > 0)
                .order_by(Invoice.id)
            ).all()
            invoices += [(run, *row) for row in rows]
        # September: most pay on time and in full; some in part, some round up.
        self._pay_round("payments, September", invoices, D(2026, 9, 2), 13, first=True)
        self._withdrawals_and_absences()
        # October and November: the late payers, and the rest of the partial payers.
        self._pay_round("payments, late", invoices, D(2026, 10, 8), 45, first=False)
        self._refunds()

    def _bill(self, run: _SchoolRun) -> None:
        with self.bar(f"billing {run.school.code}", range(2), 2) as bar:
            steps = iter(bar)

            def progress(stage: str, done: int, total: int) -> None:
                if stage == "posting" and done == total:
                    next(steps, None)

            billing.run_billing(
                self.db, run.school, run.term, actor=FIN, issued_on=TERM_START, progress=progress
            )
            next(steps, None)

    def _pay_round(
        self,
        label: str,
        invoices: list[tuple[_SchoolRun, int, str, int]],
        start: dt.date,
        spread: int,
        *,
        first: bool,
    ) -> None:
        db, rng = self.db, self.rng
        with self.bar(label, invoices, len(invoices)) as bar:
            for run, household_id, number, amount in bar:
                profile = run.profile[household_id]
                if profile == "unpaid":
                    continue
                if first:
                    if profile == "late":
                        continue
                    pay = amount
                    if profile == "partial":
                        pay = max(100, amount // 200 * 100)
                    elif profile == "overpaid":
                        pay = (amount // 10000 + 1) * 10000
                else:
                    if profile not in ("late", "partial") or (
                        profile == "partial" and rng.random() < 0.5
                    ):
                        continue
                    pay = payments.receivable_balance(db, run.school, household_id)
                    if pay <= 0:
                        continue
                payments.record_payment(
                    db,
                    run.school,
                    run.households[household_id],
                    amount=pay,
                    received_on=start + dt.timedelta(days=rng.randint(0, spread)),
                    method=rng.choice(METHODS),
                    actor=FIN,
                    reference=number,
                    idempotency_key=f"{run.school.code}-pay-{household_id}-{int(first)}",
                )

    def _withdrawals_and_absences(self) -> None:
        """About 1 % leave on 19 October and 3 % of enrichment pupils miss most of November:
        both credited (by the day for basic care, by half month for enrichment)."""
        db = self.db
        for run in self.runs:
            for kid in self._pick(run.kids, 0.01):
                for enr in kid.enrolments:
                    enrolment.withdraw(db, enr, effective=D(2026, 10, 19), actor=FIN)
                    credits.credit_withdrawal(db, enr, actor=FIN)
                    run.credited.add(kid.household)
            enriched = [
                k for k in run.kids if any(e.programme_id != run.care.id for e in k.enrolments)
            ]
            for kid in self._pick(enriched, 0.03):
                for enr in kid.enrolments:
                    if enr.programme_id != run.care.id and enr.end_date is None:
                        start, end = D(2026, 11, 2), D(2026, 11, 27)
                        enrolment.report_absence(db, enr, start=start, end=end, actor=FIN)
                        credits.credit_absence(db, enr, start=start, end=end, actor=FIN)
                        run.credited.add(kid.household)

    def _pick(self, items: list[X], share: float) -> list[X]:
        count = max(1, round(len(items) * share)) if items else 0
        return self.rng.sample(items, count)

    def _refunds(self) -> None:
        """Households with credit left at the end of the term ask for it back (多退)."""
        db = self.db
        for run in self.runs:
            for household_id, home in run.households.items():
                if run.profile[household_id] != "overpaid" and household_id not in run.credited:
                    continue
                credit = payments.credit_balance(db, run.school, household_id)
                if credit > 0:
                    payments.refund_credit(
                        db,
                        run.school,
                        home,
                        amount=credit,
                        paid_on=D(2026, 12, 28),
                        method="bank_transfer",
                        actor=FIN,
                        reference="学期末退还余额 term-end refund",
                        idempotency_key=f"{run.school.code}-refund-{household_id}",
                    )

    def hours_and_pay(self) -> None:
        db, rng, fake = self.db, self.rng, self.fake
        work = []
        for run in self.runs:
            school = run.school
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
                    actor=FIN,
                )
            care_kids = sum(
                1 for k in run.kids if any(e.programme_id == run.care.id for e in k.enrolments)
            )
            groups = max(1, care_kids // 45)
            run.teachers = [
                payroll.create_staff(
                    db, school, name=fake.name() + "老师", kind="teacher", actor=FIN
                )
                for _ in range(max(2, groups * 5 // 2))
            ]
            football = run.enrichment[0]
            run.coaches = [
                payroll.create_staff(
                    db,
                    school,
                    name=fake.name() + "教练",
                    kind="external",
                    actor=FIN,
                    id_type="resident_id",
                    id_number=fake.ssn(),
                    bank_account="6222" + "".join(str(rng.randint(0, 9)) for _ in range(15)),
                )
                for _ in range(rng.choice((2, 3)))
            ]
            cal = structure.calendar_of(db, run.term)
            care_days = cal.service_days(TERM_START, TERM_END)
            ball_days = cal.service_days(
                TERM_START, TERM_END, programme_weekdays=[int(c) for c in football.weekdays]
            )
            # Each teacher takes the same two weekdays all term; each day has `groups` teachers.
            rota = defaultdict(list)
            for i, teacher in enumerate(run.teachers):
                rota[i % 5 + 1].append(teacher)
                rota[(i + 2) % 5 + 1].append(teacher)
            for day in care_days:
                for teacher in rota[day.isoweekday()][:groups]:
                    work.append((run, teacher, run.care, day, T(15, 30), T(17, 30)))
            for day in ball_days:
                for coach in run.coaches:
                    work.append((run, coach, football, day, T(15, 30), T(17, 0)))
        with self.bar("service hours", work, len(work)) as bar:
            for run, staff, prog, day, start, end in bar:
                hours = payroll.log_hours(
                    db, run.school, staff, prog, day=day, start=start, end=end, actor=FIN
                )
                if rng.random() < 0.01:
                    # A session the school could not confirm: rejected, never paid.
                    payroll.approve_hours(db, hours, approve=False, actor=FIN)
                else:
                    payroll.approve_hours(db, hours, approve=True, actor=FIN)
        for run in self.runs:
            for year, month in MONTHS:
                result = payroll.run_pay(
                    db, run.school, year, month, on=month_bounds(year, month)[1], actor=FIN
                )
                run.pay_lines[(year, month)] = result.lines

    def vendor_bills(self) -> None:
        db = self.db
        for run in self.runs:
            cal = structure.calendar_of(db, run.term)
            for prog, (name, _weekdays, runner) in zip(
                run.enrichment[1:], ENRICHMENT[1:], strict=False
            ):
                vendor = self.vendors[runner]  # type: ignore[index]
                agreement = vendors.create_agreement(
                    db,
                    run.school,
                    vendor_id=vendor.id,
                    programme=prog,
                    reference=f"{run.school.code}-采购-2026-{vendor.id:03d}",
                    unit="session",
                    price=75000,
                    start=TERM_START,
                    end=TERM_END,
                    actor=FIN,
                )
                run.agreements[prog.id] = agreement
                for year, month in MONTHS:
                    first, last = month_bounds(year, month)
                    sessions = len(
                        cal.service_days(
                            first, last, programme_weekdays=[int(c) for c in prog.weekdays]
                        )
                    )
                    if not sessions:
                        continue
                    bill = vendors.record_bill(
                        db,
                        run.school,
                        vendor_id=vendor.id,
                        agreement_id=agreement.id,
                        reference=f"{name.split()[0]}-{run.school.code}-{year}{month:02d}",
                        service_date=last,
                        quantity=sessions,
                        unit_price=75000,
                        actor=FIN,
                    )
                    run.bills.setdefault((year, month), []).append(bill)

    def payouts(self) -> None:
        db = self.db
        for run in self.runs:
            for year, month in MONTHS:
                lines = run.pay_lines.get((year, month), [])
                paid_on = (
                    D(year, month + 1, 10) if month < 12 else D(2026, 12, 31)
                )  # December is paid before the books of the term close
                teachers = [("pay_line", x.id) for x in lines if x.kind == "stipend"]
                labour = [("pay_line", x.id) for x in lines if x.kind != "stipend"]
                bills = [("vendor_bill", b.id) for b in run.bills.get((year, month), [])]
                taxed = [("tax", x.id) for x in lines if x.kind != "stipend" and x.tax > 0]
                for method, items, ref in (
                    ("payroll_transfer", teachers, f"{year}-{month:02d} 课后服务补助"),
                    ("bank_transfer", labour + bills, f"{year}-{month:02d} 劳务费及购买服务"),
                    ("tax_remittance", taxed, f"{year}-{month:02d} 代扣个税"),
                ):
                    if items:
                        batch = payouts.create_batch(
                            db, run.school, method=method, items=items, actor=FIN, reference=ref
                        )
                        payouts.pay_batch(db, batch, paid_on=paid_on, actor=FIN)

    def subsidies(self) -> None:
        """The government's share of the term, claimed once; 60 % paid, then 30 % more."""
        db = self.db
        for run in self.runs:
            claim = subsidies.create_claim(
                db,
                run.school,
                period_start=TERM_START,
                period_end=TERM_END,
                claimed_on=D(2026, 11, 30),
                actor=FIN,
            )
            for n, (received_on, share) in enumerate(
                ((D(2026, 12, 10), 60), (D(2026, 12, 28), 30))
            ):
                subsidies.record_subsidy_receipt(
                    db,
                    claim,
                    amount=claim.amount * share // 100,
                    received_on=received_on,
                    actor=FIN,
                    reference=f"国库集中支付 {received_on:%Y-%m%d}",
                    idempotency_key=f"{run.school.code}-subsidy-{n}",
                )

    def close(self) -> None:
        db = self.db
        for run in self.runs:
            for period in engine.list_periods(db, run.book):
                if period.end <= D(2026, 10, 31) and not period.is_closed:
                    engine.close_period(db, run.book, period.id, actor=FIN)

    def audit(self) -> None:
        scope = audit_rules.scope_for(self.db, [r.school for r in self.runs], TERM_START, TERM_END)
        self.result.findings = audit_rules.run_audit(self.db, scope)


def seed_district(
    db: Session,
    *,
    schools: int,
    students: int,
    seed: int = 1,
    actor: str = "cli",
    bar: Bar | None = None,
    on_step: Callable[[str, float], None] | None = None,
    district_code: str | None = None,
) -> SeedResult:
    """Create district ``SD<seed>`` with its schools and run the autumn term 2026 at each.

    ``bar`` shows progress over the long steps; ``on_step(name, seconds)`` is
    told when each step ends. ``district_code`` names the district (and
    prefixes its schools' codes) instead of ``SD<seed>``. Refused
    (``district_exists``) when the district is already in the database.
    """
    seeder = _Seeder(
        db,
        schools=schools,
        students=students,
        seed=seed,
        actor=actor,
        bar=bar or _no_bar,
        code=district_code,
    )
    for name, step in seeder.steps():
        t0 = time.perf_counter()
        step()
        analyze(db)
        seconds = time.perf_counter() - t0
        seeder.result.seconds[name] = seconds
        if on_step:
            on_step(name, seconds)
    return seeder.result


# --------------------------------------------------------------------------- the report

#: The report's figures, in order, with their labels.
FIGURES = (
    ("students", "Students 学生"),
    ("enrolled", "Enrolled 在读"),
    ("hardship", "Hardship 困难"),
    ("billed", "Billed to households 应收家长"),
    ("credited", "Credits (withdrawal, absence) 退费"),
    ("collected", "Collected 实收"),
    ("refunded", "Refunded 退款"),
    ("outstanding", "Outstanding 欠费"),
    ("household_credit", "Household credit held 预收"),
    ("collection_rate", "Collection rate 收缴率"),
    ("waivers", "Waivers 减免"),
    ("subsidy_claimed", "Subsidy claimed 补贴申报"),
    ("subsidy_received", "Subsidy received 补贴到账"),
    ("stipends", "Stipends 教师补助"),
    ("labour_fees", "Labour fees 劳务费"),
    ("labour_tax", "Tax withheld 代扣个税"),
    ("vendor_bills", "Vendor bills 购买服务"),
    ("findings", "Audit findings 审计发现"),
    ("trial_balance_zero", "Trial balance zero 试算平衡"),
    ("chain_verified", "Hash chain verified 链校验"),
)
MONEY = {
    "billed",
    "credited",
    "collected",
    "refunded",
    "outstanding",
    "household_credit",
    "waivers",
    "subsidy_claimed",
    "subsidy_received",
    "stipends",
    "labour_fees",
    "labour_tax",
    "vendor_bills",
}


def _sum(db: Session, stmt: Any) -> int:
    return int(db.scalar(stmt) or 0)


def _prefix_balance(db: Session, book_id: int, prefix: str) -> int:
    """Net debit balance of the sub-accounts under ``prefix`` (e.g. ``1122.``)."""
    return _sum(
        db,
        select(func.sum(engine.Balance.debit - engine.Balance.credit))
        .join(engine.Account, engine.Account.id == engine.Balance.account_id)
        .where(engine.Account.book_id == book_id, engine.Account.code.like(prefix + "%")),
    )


def school_figures(db: Session, school: School, findings: int | None = None) -> dict[str, Any]:
    """The finance officer's figures for one school, from its rows and its book."""
    sid = school.id
    book = db.get(engine.Book, school.book_id)
    charges = select(ChargeRecord).where(ChargeRecord.school_id == sid).subquery()
    billed = _sum(db, select(func.sum(charges.c.household)))
    credited = _sum(
        db,
        select(func.sum(CreditRecord.household))
        .join(ChargeRecord, ChargeRecord.id == CreditRecord.charge_id)
        .where(ChargeRecord.school_id == sid, CreditRecord.reason != "waiver"),
    )
    collected = _sum(db, select(func.sum(Payment.amount)).where(Payment.school_id == sid))
    refunded = _sum(db, select(func.sum(Refund.amount)).where(Refund.school_id == sid))
    outstanding = _prefix_balance(db, book.id, "1122.")
    due = billed - credited
    tb = engine.trial_balance(db, book)
    pay = dict(
        db.execute(
            select(PayLine.kind, func.sum(PayLine.gross))
            .where(PayLine.school_id == sid)
            .group_by(PayLine.kind)
        ).all()
    )
    students = select(Student.id).where(Student.school_id == sid)
    return {
        "school": school.code,
        "students": _sum(db, select(func.count()).select_from(students.subquery())),
        "enrolled": _sum(
            db,
            select(func.count(func.distinct(Enrolment.student_id)))
            .join(Application, Application.id == Enrolment.application_id)
            .where(Enrolment.student_id.in_(students), Application.status == "approved"),
        ),
        "hardship": _sum(
            db,
            select(func.count(func.distinct(HardshipStatus.student_id))).where(
                HardshipStatus.student_id.in_(students)
            ),
        ),
        "billed": billed,
        "credited": credited,
        "collected": collected,
        "refunded": refunded,
        "outstanding": outstanding,
        "household_credit": -_prefix_balance(db, book.id, "2241."),
        # Exact percentage string, as the dashboard shows it (None when nothing was due).
        "collection_rate": reconcile.percent(due - outstanding, due),
        "waivers": _sum(db, select(func.sum(charges.c.waiver))),
        "waiver_grants": _sum(
            db,
            select(func.count())
            .select_from(WaiverGrant)
            .where(WaiverGrant.student_id.in_(students), WaiverGrant.status == "approved"),
        ),
        "subsidy_claimed": _sum(
            db, select(func.sum(SubsidyClaim.amount)).where(SubsidyClaim.school_id == sid)
        ),
        "subsidy_received": _sum(
            db,
            select(func.sum(SubsidyReceipt.amount))
            .join(SubsidyClaim, SubsidyClaim.id == SubsidyReceipt.claim_id)
            .where(SubsidyClaim.school_id == sid),
        ),
        "stipends": int(pay.get("stipend", 0) or 0),
        "labour_fees": int(sum(v or 0 for k, v in pay.items() if k != "stipend")),
        "labour_tax": _sum(db, select(func.sum(PayLine.tax)).where(PayLine.school_id == sid)),
        "vendor_bills": _sum(
            db, select(func.sum(VendorBill.amount)).where(VendorBill.school_id == sid)
        ),
        "findings": findings,
        "trial_balance_zero": tb.total_debit == tb.total_credit,
        "chain_verified": engine.verify_chain(db, book.id).ok
        and not engine.balance_mismatches(db, book),
    }


def district_report(
    db: Session, district_code: str | None = None, *, audit: bool = True
) -> list[dict[str, Any]]:
    """One block per district: its schools' figures and the district's totals (``schools``
    and ``total``). With ``audit``, the audit rules run over each district's term."""
    q = select(District).order_by(District.code)
    if district_code:
        q = q.where(District.code == district_code)
    out = []
    for district in db.scalars(q):
        schools = list(
            db.scalars(
                select(School).where(School.district_id == district.id).order_by(School.code)
            )
        )
        if not schools:
            continue
        per_school: Counter[str] = Counter()
        if audit:
            terms = list(
                db.scalars(select(Term).where(Term.school_id.in_([s.id for s in schools])))
            )
            start = min((t.start for t in terms), default=TERM_START)
            end = max((t.end for t in terms), default=TERM_END)
            scope = audit_rules.scope_for(db, schools, start, end)
            per_school.update(f.school for f in audit_rules.run_audit(db, scope))
        rows = [school_figures(db, s, per_school[s.code] if audit else None) for s in schools]
        total: dict[str, Any] = {"school": "total"}
        for key, _label in FIGURES:
            values = [r[key] for r in rows]
            if isinstance(values[0], bool):
                total[key] = all(values)
            elif key == "collection_rate":
                due = sum(r["billed"] - r["credited"] for r in rows)
                owed = sum(r["outstanding"] for r in rows)
                total[key] = reconcile.percent(due - owed, due)
            elif values[0] is None:
                total[key] = None
            else:
                total[key] = sum(values)
        total["waiver_grants"] = sum(r["waiver_grants"] for r in rows)
        out.append(
            {"district": district.code, "name": district.name, "schools": rows, "total": total}
        )
    return out


def format_report(blocks: list[dict[str, Any]]) -> Iterator[str]:
    """The report as text: one column per school and one for the district."""
    from ledger.money import format_fen

    def cell(key: str, value: Any) -> str:
        if value is None:
            return "-"
        if isinstance(value, bool):
            return "yes" if value else "NO"
        if key in MONEY:
            return format_fen(value)
        if key == "collection_rate":
            return f"{value}%"
        return str(value)

    for block in blocks:
        columns = [*block["schools"], block["total"]]
        yield f"District {block['district']} {block['name']}"
        width = max(14, *(len(cell(k, c[k])) + 2 for c in columns for k, _ in FIGURES))
        yield f"{'':<36}" + "".join(f"{c['school']:>{width}}" for c in columns)
        for key, label in FIGURES:
            yield f"{label:<36}" + "".join(f"{cell(key, c[key]):>{width}}" for c in columns)
        yield ""


__all__ = [
    "FIGURES",
    "SeedResult",
    "district_report",
    "format_report",
    "school_figures",
    "seed_district",
    "uscc_for",
]
