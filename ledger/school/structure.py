"""Districts, schools and their books, terms and calendars, classes, households, students."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger import books

from .calendar import ServiceCalendar
from .errors import Conflict, NotFound, RuleBroken
from .models import (
    CalendarDay,
    District,
    Guardian,
    HardshipStatus,
    Household,
    School,
    SchoolClass,
    Student,
    Term,
)

#: The chart of accounts of every school book (DESIGN.md): (code, name, type, parent).
CHART: list[tuple[str, str, str, str | None]] = [
    ("1002", "银行存款-课后服务专户 Bank: after-school service account", "asset", None),
    ("1122", "应收-家庭 Receivable: households", "asset", None),
    ("1123", "应收-财政补贴 Receivable: government subsidy", "asset", None),
    ("1124", "应收-学校分担 Receivable: school contribution", "asset", None),
    ("2202", "应付-供应商 Payable: vendors", "liability", None),
    ("2211", "应付-补助及劳务费 Payable: staff stipends and labour fees", "liability", None),
    ("2221", "应交个人所得税 Payable: income tax withheld", "liability", None),
    ("2241", "家庭预收及待退 Household credits", "liability", None),
    ("2299", "待查明收款 Unidentified receipts", "liability", None),
    ("3001", "净资产-课后服务基金 Net assets: after-school fund", "net_assets", None),
    ("4001", "课后服务收入 Revenue: after-school service fees", "revenue", None),
    ("4001.basic_care", "基本托管收入 Fees: basic care", "revenue", "4001"),
    ("4001.enrichment", "素质拓展收入 Fees: enrichment", "revenue", "4001"),
    ("4001.extended_care", "延时托管收入 Fees: extended care", "revenue", "4001"),
    ("4901", "减免 Contra-revenue: waivers absorbed", "revenue", None),
    ("5001", "教师补助 Expense: teacher stipends", "expense", None),
    ("5002", "劳务费 Expense: labour fees", "expense", None),
    ("5003", "购买服务 Expense: purchased services", "expense", None),
    ("5901", "小额核销 Expense: small balances written off", "expense", None),
]


def create_district(
    db: Session,
    *,
    code: str,
    name: str,
    funder_name: str,
    end_of_work: dt.time = dt.time(17, 30),
) -> District:
    if db.scalar(select(District.id).where(District.code == code)) is not None:
        raise Conflict("district_exists", f"a district {code!r} exists", field="code")
    district = District(code=code, name=name, funder_name=funder_name, end_of_work=end_of_work)
    db.add(district)
    db.flush()
    return district


def create_school(
    db: Session,
    district: District,
    *,
    code: str,
    name: str,
    actor: str,
    bank_name: str | None = None,
    bank_account: str | None = None,
    complaints_phone: str | None = None,
) -> School:
    """A school and its own book, with the chart of accounts of DESIGN.md."""
    if db.scalar(select(School.id).where(School.code == code)) is not None:
        raise Conflict("school_exists", f"a school {code!r} exists", field="code")
    book = books.create_book(db, code=code, name=name, created_by=actor)
    for acc_code, acc_name, acc_type, parent in CHART:
        books.create_account(db, book, code=acc_code, name=acc_name, type=acc_type, parent=parent)
    books.create_account(
        db,
        book,
        code=funder_account(district),
        name=f"应收-{district.funder_name} Receivable: {district.funder_name}",
        type="asset",
        parent="1123",
        owner_ref=f"funder:{district.id}",
    )
    school = School(
        district_id=district.id,
        code=code,
        name=name,
        book_id=book.id,
        bank_name=bank_name,
        bank_account=bank_account,
        complaints_phone=complaints_phone,
    )
    db.add(school)
    db.flush()
    return school


def funder_account(district: District) -> str:
    return f"1123.{district.code}"


def household_account(household_id: int) -> str:
    return f"1122.H{household_id}"


def household_credit_account(household_id: int) -> str:
    return f"2241.H{household_id}"


def ensure_household_accounts(db: Session, school: School, household: Household) -> None:
    """Receivable and credit sub-accounts of a household in a school's book."""
    book = db.get(books.Book, school.book_id)
    for code, parent, label, type_ in (
        (household_account(household.id), "1122", "应收", "asset"),
        (household_credit_account(household.id), "2241", "预收", "liability"),
    ):
        exists = db.scalar(
            select(books.Account.id).where(
                books.Account.book_id == book.id, books.Account.code == code
            )
        )
        if exists is None:
            books.create_account(
                db,
                book,
                code=code,
                name=f"{label}-{household.name}",
                type=type_,
                parent=parent,
                owner_ref=f"household:{household.id}",
            )


def get_school(db: Session, code: str) -> School:
    school = db.scalar(select(School).where(School.code == code))
    if school is None:
        raise NotFound(f"no school {code!r}")
    return school


def create_term(
    db: Session,
    school: School,
    *,
    name: str,
    start: dt.date,
    end: dt.date,
    billing_months: int,
    weekdays: str = "12345",
) -> Term:
    if end < start:
        raise RuleBroken("invalid_term", "the term ends before it starts", field="end")
    if not 1 <= billing_months <= 12:
        raise RuleBroken(
            "invalid_term", "a term has between 1 and 12 billing months", field="billing_months"
        )
    if not weekdays or any(ch not in "1234567" for ch in weekdays):
        raise RuleBroken("invalid_term", "weekdays are ISO digits 1-7", field="weekdays")
    term = Term(
        school_id=school.id,
        name=name,
        start=start,
        end=end,
        billing_months=billing_months,
        weekdays="".join(sorted(set(weekdays))),
    )
    db.add(term)
    db.flush()
    return term


def set_calendar_day(db: Session, term: Term, day: dt.date, kind: str, note: str = "") -> None:
    """Mark a holiday or a make-up day inside the term (replacing an earlier mark)."""
    if kind not in ("holiday", "makeup"):
        raise RuleBroken("invalid_calendar_day", "kind is holiday or makeup", field="kind")
    if not term.start <= day <= term.end:
        raise RuleBroken("invalid_calendar_day", f"{day} is outside the term", field="day")
    existing = db.scalar(
        select(CalendarDay).where(CalendarDay.term_id == term.id, CalendarDay.day == day)
    )
    if existing is not None:
        existing.kind = kind
        existing.note = note
    else:
        db.add(CalendarDay(term_id=term.id, day=day, kind=kind, note=note))
    db.flush()


def calendar_of(db: Session, term: Term) -> ServiceCalendar:
    marks = db.execute(
        select(CalendarDay.day, CalendarDay.kind).where(CalendarDay.term_id == term.id)
    ).all()
    return ServiceCalendar(
        start=term.start,
        end=term.end,
        holidays=frozenset(d for d, k in marks if k == "holiday"),
        makeup_days=frozenset(d for d, k in marks if k == "makeup"),
        weekdays=frozenset(int(ch) for ch in term.weekdays),
    )


def create_class(db: Session, school: School, name: str, grade: int | None = None) -> SchoolClass:
    cls = SchoolClass(school_id=school.id, name=name, grade=grade)
    db.add(cls)
    db.flush()
    return cls


def create_household(
    db: Session, district: District, name: str, guardians: list[dict] | None = None
) -> Household:
    household = Household(district_id=district.id, name=name)
    db.add(household)
    db.flush()
    for g in guardians or []:
        db.add(Guardian(household_id=household.id, **g))
    db.flush()
    return household


def create_student(
    db: Session,
    school: School,
    household: Household,
    *,
    name: str,
    school_class: SchoolClass | None = None,
    student_no: str | None = None,
    left_behind: bool = False,
    migrant: bool = False,
) -> Student:
    if household.district_id != school.district_id:
        raise RuleBroken(
            "household_outside_district",
            "the household belongs to another district",
            field="household",
        )
    student = Student(
        school_id=school.id,
        household_id=household.id,
        class_id=school_class.id if school_class else None,
        name=name,
        student_no=student_no,
        left_behind=left_behind,
        migrant=migrant,
    )
    db.add(student)
    db.flush()
    return student


def verify_hardship(
    db: Session,
    student: Student,
    *,
    evidence_ref: str,
    verified_by: str,
    valid_from: dt.date,
    valid_to: dt.date,
) -> HardshipStatus:
    if not evidence_ref or not evidence_ref.strip():
        raise RuleBroken(
            "evidence_required", "hardship needs an evidence reference", field="evidence_ref"
        )
    if valid_to < valid_from:
        raise RuleBroken("invalid_dates", "valid_to is before valid_from", field="valid_to")
    status = HardshipStatus(
        student_id=student.id,
        evidence_ref=evidence_ref,
        verified_by=verified_by,
        valid_from=valid_from,
        valid_to=valid_to,
    )
    db.add(status)
    db.flush()
    return status


def ensure_household_accounts_bulk(db: Session, school: School, household_ids: list[int]) -> None:
    """Receivable and credit sub-accounts for many households, created where missing."""
    book = db.get(books.Book, school.book_id)
    wanted: dict[str, tuple[str, str, str, int]] = {}
    for hid in household_ids:
        wanted[household_account(hid)] = ("1122", "应收", "asset", hid)
        wanted[household_credit_account(hid)] = ("2241", "预收", "liability", hid)
    existing: set[str] = set()
    codes = list(wanted)
    for i in range(0, len(codes), 500):
        existing.update(
            db.scalars(
                select(books.Account.code).where(
                    books.Account.book_id == book.id, books.Account.code.in_(codes[i : i + 500])
                )
            )
        )
    missing = [code for code in codes if code not in existing]
    if not missing:
        return
    need = sorted({wanted[code][3] for code in missing})
    names: dict[int, str] = {}
    for i in range(0, len(need), 500):
        names.update(
            db.execute(
                select(Household.id, Household.name).where(Household.id.in_(need[i : i + 500]))
            ).all()
        )
    books.create_accounts_bulk(
        db,
        book,
        [
            (
                code,
                f"{wanted[code][1]}-{names.get(wanted[code][3], wanted[code][3])}",
                wanted[code][2],
                wanted[code][0],
                f"household:{wanted[code][3]}",
            )
            for code in missing
        ],
    )
