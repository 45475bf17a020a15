"""People who run the service and what they are paid: staff, service hours, rates,
the monthly stipend and labour-fee run, payout sheets and the tax-withheld report.

- A **teacher** of the school earns a stipend (补助): approved hours × rate,
  ``Dr 5001 / Cr 2211.S<id>``. Tax on it is withheld with their wages by
  payroll, so none is withheld here.
- **External staff** earn labour fees (劳务费): all approved hours of one
  person in one month are one payment (one 次), taxed by
  :mod:`ledger.school.labour_tax`: ``Dr 5002 gross / Cr 2221 tax / Cr 2211.S<id>
  net``. Hours approved late for a month already paid are taxed as part of
  that month's payment: the extra tax is the tax on the new monthly total minus
  what was already withheld.
- **Volunteers** log hours but are never paid.

A month's pay for a person is computed exactly over all its approved sessions
(rate × minutes ÷ 60, or rate × 课时), rounded half up once, and capped by the
rate's monthly cap; a later run pays only the difference from what earlier
runs paid. Each session is paid by exactly one pay line (``pay_line_id``),
so running a month again pays nothing twice.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from dataclasses import dataclass, field
from fractions import Fraction

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from ledger import books
from ledger.money import round_fen_half_up

from .calendar import month_bounds
from .errors import Conflict, NotFound, RuleBroken
from .labour_tax import labour_tax
from .models import (
    STAFF_KINDS,
    PayLine,
    PayRate,
    PayRun,
    Programme,
    School,
    ServiceHours,
    StaffMember,
    Term,
)
from .structure import calendar_of

__all__ = [
    "MonthPay",
    "approve_hours",
    "create_pay_rate",
    "create_staff",
    "log_hours",
    "mask_id",
    "payout_sheet",
    "run_pay",
    "staff_account",
    "tax_withheld_report",
]

PAYABLE = "2211"
TAX_PAYABLE = "2221"
STIPEND_EXPENSE = "5001"
LABOUR_EXPENSE = "5002"
ID_TYPES = ("resident_id", "passport", "hk_macao_permit", "taiwan_permit", "foreign_permit")


def staff_account(staff_id: int) -> str:
    return f"{PAYABLE}.S{staff_id}"


def mask_id(number: str | None) -> str | None:
    """An ID number as shown to anyone but finance: the first 3 and last 4 characters."""
    if number is None:
        return None
    if len(number) <= 7:
        return "*" * len(number)
    return number[:3] + "*" * (len(number) - 7) + number[-4:]


# --------------------------------------------------------------------------- staff


def create_staff(
    db: Session,
    school: School,
    *,
    name: str,
    kind: str,
    actor: str,
    id_type: str | None = None,
    id_number: str | None = None,
    bank_account: str | None = None,
) -> StaffMember:
    """Add a teacher, external staff member or volunteer to a school.

    External staff need an ID type and number (for the tax report).
    """
    if not name or not name.strip():
        raise RuleBroken("name_required", "a staff member needs a name", field="name")
    if kind not in STAFF_KINDS:
        raise RuleBroken(
            "invalid_staff_kind", f"kind must be one of {', '.join(STAFF_KINDS)}", field="kind"
        )
    if kind == "external":
        if id_type not in ID_TYPES:
            raise RuleBroken(
                "id_required",
                f"external staff need an id_type, one of {', '.join(ID_TYPES)}",
                field="id_type",
            )
        if not id_number or not id_number.strip():
            raise RuleBroken(
                "id_required",
                "external staff need an ID number for the tax report",
                field="id_number",
            )
    staff = StaffMember(
        school_id=school.id,
        name=name.strip(),
        kind=kind,
        id_type=id_type,
        id_number=id_number.strip() if id_number else None,
        bank_account=bank_account,
        created_by=actor,
    )
    db.add(staff)
    db.flush()
    return staff


def get_staff(db: Session, school: School, staff_id: int) -> StaffMember:
    staff = db.get(StaffMember, staff_id)
    if staff is None or staff.school_id != school.id:
        raise NotFound(f"no staff member {staff_id} at school {school.code}")
    return staff


# --------------------------------------------------------------------------- rates


def create_pay_rate(
    db: Session,
    school: School,
    *,
    staff_kind: str,
    programme_kind: str,
    unit: str,
    amount: int,
    valid_from: dt.date,
    valid_to: dt.date,
    actor: str,
    monthly_cap: int | None = None,
) -> PayRate:
    """An effective-dated rate per hour or per 课时, with an optional monthly cap per person.

    Rates are never edited: a change is a new rate from a later date. Two rates
    for the same staff kind and programme kind may not overlap in time.
    """
    if staff_kind not in ("teacher", "external"):
        raise RuleBroken(
            "invalid_staff_kind", "rates are for teachers or external staff", field="staff_kind"
        )
    if programme_kind not in ("basic_care", "enrichment", "extended_care"):
        raise RuleBroken("invalid_programme_kind", "unknown programme kind", field="programme_kind")
    if unit not in ("hour", "lesson"):
        raise RuleBroken("invalid_unit", "unit must be hour or lesson", field="unit")
    if amount <= 0:
        raise RuleBroken("invalid_amount", "a rate must be positive", field="amount")
    if monthly_cap is not None and monthly_cap <= 0:
        raise RuleBroken("invalid_amount", "a monthly cap must be positive", field="monthly_cap")
    if valid_to < valid_from:
        raise RuleBroken("invalid_dates", "valid_to is before valid_from", field="valid_to")
    clash = db.scalar(
        select(PayRate.id).where(
            PayRate.school_id == school.id,
            PayRate.staff_kind == staff_kind,
            PayRate.programme_kind == programme_kind,
            PayRate.valid_from <= valid_to,
            PayRate.valid_to >= valid_from,
        )
    )
    if clash is not None:
        raise Conflict(
            "rate_overlaps",
            f"rate {clash} already covers part of {valid_from}..{valid_to} for "
            f"{staff_kind} in {programme_kind}",
            field="valid_from",
        )
    rate = PayRate(
        school_id=school.id,
        staff_kind=staff_kind,
        programme_kind=programme_kind,
        unit=unit,
        amount=amount,
        monthly_cap=monthly_cap,
        valid_from=valid_from,
        valid_to=valid_to,
        created_by=actor,
    )
    db.add(rate)
    db.flush()
    return rate


class _Rates:
    """A school's pay rates, read once for a pay run and looked up per session by date.

    A month's run prices every session of every person; a query per session was most of a
    large district's pay runs. Rates of one kind never overlap (:func:`create_pay_rate`)."""

    def __init__(self, db: Session, school_id: int) -> None:
        self._by_kind: dict[tuple[str, str], list[PayRate]] = defaultdict(list)
        for rate in db.scalars(
            select(PayRate).where(PayRate.school_id == school_id).order_by(PayRate.valid_from)
        ):
            self._by_kind[rate.staff_kind, rate.programme_kind].append(rate)

    def on(self, staff_kind: str, kind: str, day: dt.date) -> PayRate:
        for rate in self._by_kind.get((staff_kind, kind), ()):
            if rate.valid_from <= day <= rate.valid_to:
                return rate
        raise RuleBroken(
            "no_pay_rate", f"no {staff_kind} rate for {kind} on {day}: add one, then run again"
        )


# --------------------------------------------------------------------------- hours


def _minutes(t: dt.time) -> int:
    return t.hour * 60 + t.minute


def log_hours(
    db: Session,
    school: School,
    staff: StaffMember,
    programme: Programme,
    *,
    day: dt.date,
    start: dt.time,
    end: dt.time,
    actor: str,
    lessons: int | None = None,
) -> ServiceHours:
    """Log a session served. Refused: a date that is not one of the programme's service
    days (``not_a_service_day``), times outside its scheduled session
    (``outside_session``), more 课时 than a session has (``too_many_lessons``), and
    the same person in two overlapping sessions (``overlapping_session``)."""
    if staff.school_id != school.id or programme.school_id != school.id:
        raise NotFound("no such staff member or programme at this school")
    if end <= start:
        raise RuleBroken("invalid_times", "a session ends after it starts", field="end")
    term = db.get(Term, programme.term_id)
    calendar = calendar_of(db, term)
    runs_on = calendar.service_days(
        day, day, programme_weekdays=[int(c) for c in programme.weekdays]
    )
    if not runs_on:
        raise RuleBroken(
            "not_a_service_day",
            f"{day} is not a service day of {programme.name} "
            "(a holiday, a weekend or outside the term)",
            field="day",
        )
    if start < programme.start_time or end > programme.end_time:
        raise RuleBroken(
            "outside_session",
            f"{start:%H:%M}–{end:%H:%M} is outside the scheduled session "
            f"{programme.start_time:%H:%M}–{programme.end_time:%H:%M}",
            field="end" if end > programme.end_time else "start",
        )
    if lessons is None:
        lessons = programme.lessons_per_session
    if lessons < 0 or lessons > programme.lessons_per_session:
        raise RuleBroken(
            "too_many_lessons",
            f"a session of {programme.name} has {programme.lessons_per_session} 课时, "
            f"not {lessons}",
            field="lessons",
        )
    clash = db.scalar(
        select(ServiceHours).where(
            ServiceHours.staff_id == staff.id,
            ServiceHours.service_date == day,
            ServiceHours.status != "rejected",
            ServiceHours.start_time < end,
            ServiceHours.end_time > start,
        )
    )
    if clash is not None:
        raise Conflict(
            "overlapping_session",
            f"{staff.name} already serves {clash.start_time:%H:%M}–{clash.end_time:%H:%M} on "
            f"{day} (hours {clash.id})",
            field="start",
        )
    hours = ServiceHours(
        school_id=school.id,
        staff_id=staff.id,
        programme_id=programme.id,
        service_date=day,
        start_time=start,
        end_time=end,
        minutes=_minutes(end) - _minutes(start),
        lessons=lessons,
        status="logged",
        logged_by=actor,
    )
    db.add(hours)
    db.flush()
    return hours


def approve_hours(db: Session, hours: ServiceHours, *, approve: bool, actor: str) -> ServiceHours:
    """Finance approves (or rejects) logged hours; only approved hours are paid."""
    if hours.status != "logged":
        raise Conflict("hours_decided", f"hours {hours.id} are already {hours.status}")
    hours.status = "approved" if approve else "rejected"
    hours.decided_by = actor
    hours.decided_at = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    db.flush()
    return hours


# --------------------------------------------------------------------------- the monthly run


@dataclass
class MonthPay:
    """One person's pay for a month: every session with its rate and exact amount."""

    staff: StaffMember
    sessions: list[dict] = field(default_factory=list)
    exact: Fraction = Fraction(0)
    cap: int | None = None

    @property
    def uncapped(self) -> int:
        return round_fen_half_up(self.exact.numerator, self.exact.denominator)

    @property
    def gross(self) -> int:
        return self.uncapped if self.cap is None else min(self.uncapped, self.cap)


def _session_amount(rate: PayRate, hours: ServiceHours) -> Fraction:
    if rate.unit == "hour":
        return Fraction(rate.amount * hours.minutes, 60)
    return Fraction(rate.amount * hours.lessons)


def _month_pay(
    db: Session, staff: StaffMember, rows: list[ServiceHours], rates: _Rates
) -> MonthPay:
    pay = MonthPay(staff)
    kinds = dict(
        db.execute(
            select(Programme.id, Programme.kind).where(
                Programme.id.in_({h.programme_id for h in rows})
            )
        ).all()
    )
    for h in sorted(rows, key=lambda r: (r.service_date, r.start_time)):
        rate = rates.on(staff.kind, kinds[h.programme_id], h.service_date)
        amount = _session_amount(rate, h)
        pay.exact += amount
        if rate.monthly_cap is not None:
            pay.cap = rate.monthly_cap if pay.cap is None else min(pay.cap, rate.monthly_cap)
        pay.sessions.append(
            {
                "hours_id": h.id,
                "date": h.service_date.isoformat(),
                "programme_id": h.programme_id,
                "start": h.start_time.strftime("%H:%M"),
                "end": h.end_time.strftime("%H:%M"),
                "minutes": h.minutes,
                "lessons": h.lessons,
                "rate_id": rate.id,
                "unit": rate.unit,
                "rate": rate.amount,
                "amount": str(amount),
            }
        )
    return pay


@dataclass
class PayRunResult:
    run: PayRun | None
    lines: list[PayLine]
    already_paid_sessions: int


def run_pay(
    db: Session, school: School, year: int, month: int, *, on: dt.date, actor: str
) -> PayRunResult:
    """Pay a school's approved, unpaid hours of a month: stipends and labour fees.

    One pay line (and one entry) per person with something new to pay. Run
    again, it pays only hours approved since; nothing is paid twice. Refused:
    ``no_pay_rate`` when an approved session has no rate (nothing is written).
    """
    first, last = month_bounds(year, month)
    book = db.get(books.Book, school.book_id)
    books.hold_book(db, book.id)
    new = list(
        db.scalars(
            select(ServiceHours)
            .join(StaffMember, StaffMember.id == ServiceHours.staff_id)
            .where(
                ServiceHours.school_id == school.id,
                ServiceHours.status == "approved",
                ServiceHours.pay_line_id.is_(None),
                ServiceHours.service_date >= first,
                ServiceHours.service_date <= last,
                StaffMember.kind != "volunteer",
            )
            .order_by(ServiceHours.staff_id, ServiceHours.id)
        )
    )
    already = db.scalar(
        select(func.count())
        .select_from(ServiceHours)
        .where(
            ServiceHours.school_id == school.id,
            ServiceHours.pay_line_id.is_not(None),
            ServiceHours.service_date >= first,
            ServiceHours.service_date <= last,
        )
    )
    if not new:
        return PayRunResult(None, [], already or 0)
    by_staff: dict[int, list[ServiceHours]] = defaultdict(list)
    for h in new:
        by_staff[h.staff_id].append(h)
    run = PayRun(school_id=school.id, year=year, month=month, posted_on=on, run_by=actor)
    db.add(run)
    db.flush()
    lines = []
    rates = _Rates(db, school.id)
    for staff_id, rows in by_staff.items():
        staff = db.get(StaffMember, staff_id)
        lines.append(_pay_person(db, school, run, staff, rows, rates, first, last, on, actor))
    return PayRunResult(run, lines, already or 0)


def _pay_person(
    db: Session,
    school: School,
    run: PayRun,
    staff: StaffMember,
    new: list[ServiceHours],
    rates: _Rates,
    first: dt.date,
    last: dt.date,
    on: dt.date,
    actor: str,
) -> PayLine:
    paid_before = list(
        db.scalars(
            select(ServiceHours).where(
                ServiceHours.staff_id == staff.id,
                ServiceHours.pay_line_id.is_not(None),
                ServiceHours.service_date >= first,
                ServiceHours.service_date <= last,
            )
        )
    )
    earlier = list(
        db.scalars(
            select(PayLine).where(
                PayLine.staff_id == staff.id, PayLine.year == run.year, PayLine.month == run.month
            )
        )
    )
    month_gross_before = sum(line.gross for line in earlier)
    month_tax_before = sum(line.tax for line in earlier)
    whole = _month_pay(db, staff, paid_before + new, rates)
    this = _month_pay(db, staff, new, rates)
    month_gross = max(whole.gross, month_gross_before)
    gross = month_gross - month_gross_before
    kind = "labour_fee" if staff.kind == "external" else "stipend"
    tax = 0
    month_tax = 0
    taxable = "0"
    if kind == "labour_fee":
        assessed = labour_tax(month_gross)
        month_tax = assessed.tax
        tax = month_tax - month_tax_before
        taxable = str(assessed.taxable_yuan)
    line = PayLine(
        run_id=run.id,
        school_id=school.id,
        staff_id=staff.id,
        kind=kind,
        year=run.year,
        month=run.month,
        minutes=sum(h.minutes for h in new),
        lessons=sum(h.lessons for h in new),
        detail=json.dumps(
            {
                "sessions": this.sessions,
                "month_exact": str(whole.exact),
                "month_uncapped": whole.uncapped,
                "cap": whole.cap,
            },
            ensure_ascii=False,
        ),
        capped=whole.uncapped - month_gross if whole.uncapped > month_gross else 0,
        gross=gross,
        month_gross=month_gross,
        taxable=taxable,
        tax=tax,
        month_tax=month_tax,
        net=gross - tax,
    )
    db.add(line)
    db.flush()
    if gross > 0:
        line.entry_id = _post_line(db, school, staff, line, on, actor)
    marked = db.execute(
        update(ServiceHours)
        .where(ServiceHours.id.in_([h.id for h in new]), ServiceHours.pay_line_id.is_(None))
        .values(pay_line_id=line.id)
        .execution_options(synchronize_session=False)
    ).rowcount
    if marked != len(new):
        raise Conflict("pay_run_in_progress", "another run paid some of these hours; run again")
    for h in new:
        db.refresh(h)
    db.flush()
    return line


def _ensure_staff_account(db: Session, school: School, staff: StaffMember) -> str:
    code = staff_account(staff.id)
    book = db.get(books.Book, school.book_id)
    exists = db.scalar(
        select(books.Account.id).where(books.Account.book_id == book.id, books.Account.code == code)
    )
    if exists is None:
        books.create_account(
            db,
            book,
            code=code,
            name=f"应付-{staff.name}",
            type="liability",
            parent=PAYABLE,
            owner_ref=f"staff:{staff.id}",
        )
    return code


def _post_line(
    db: Session, school: School, staff: StaffMember, line: PayLine, on: dt.date, actor: str
) -> int:
    payable = _ensure_staff_account(db, school, staff)
    label = f"{line.year}年{line.month}月"
    if line.kind == "stipend":
        memo = f"{label} 教师补助 stipend {staff.name}"
        postings = [(STIPEND_EXPENSE, line.gross), (payable, -line.net)]
    else:
        memo = f"{label} 劳务费 labour fee {staff.name} (tax withheld {line.tax} fen)"
        postings = [(LABOUR_EXPENSE, line.gross), (TAX_PAYABLE, -line.tax), (payable, -line.net)]
    posted = books.post_entry(
        db,
        school.book_id,
        books.EntryDraft(
            effective_date=on,
            memo=memo,
            kind=line.kind,
            source_ref=f"pay_line:{line.id}",
            idempotency_key=f"pay_line:{line.id}",
            postings=[books.PostingDraft(code, fen) for code, fen in postings if fen != 0],
        ),
        actor=actor,
    )
    return posted.entry_id


# --------------------------------------------------------------------------- reports


def payout_sheet(db: Session, staff: StaffMember, year: int, month: int) -> dict:
    """One person's month: every paid session (date, programme, hours, rate, amount) and
    the month's gross, tax and net, line by line as the runs paid them."""
    lines = list(
        db.scalars(
            select(PayLine)
            .where(PayLine.staff_id == staff.id, PayLine.year == year, PayLine.month == month)
            .order_by(PayLine.id)
        )
    )
    names = dict(db.execute(select(Programme.id, Programme.name)).all()) if lines else {}
    out_lines = []
    for line in lines:
        detail = json.loads(line.detail)
        out_lines.append(
            {
                "id": line.id,
                "run": line.run_id,
                "kind": line.kind,
                "minutes": line.minutes,
                "lessons": line.lessons,
                "gross": line.gross,
                "tax": line.tax,
                "net": line.net,
                "capped": line.capped,
                "entry": line.entry_id,
                "sessions": [
                    {**s, "programme": names.get(s["programme_id"], "?")}
                    for s in detail["sessions"]
                ],
            }
        )
    return {
        "staff": staff.id,
        "name": staff.name,
        "kind": staff.kind,
        "year": year,
        "month": month,
        "lines": out_lines,
        "gross": sum(x.gross for x in lines),
        "tax": sum(x.tax for x in lines),
        "net": sum(x.net for x in lines),
    }


def tax_withheld_report(db: Session, school: School, year: int, month: int) -> list[dict]:
    """Labour fees of a month per person: gross, taxable, tax and net (one payment each)."""
    rows = list(
        db.scalars(
            select(PayLine)
            .where(
                PayLine.school_id == school.id,
                PayLine.kind == "labour_fee",
                PayLine.year == year,
                PayLine.month == month,
            )
            .order_by(PayLine.staff_id, PayLine.id)
        )
    )
    by_staff: dict[int, list[PayLine]] = defaultdict(list)
    for r in rows:
        by_staff[r.staff_id].append(r)
    report = []
    for staff_id, lines in by_staff.items():
        staff = db.get(StaffMember, staff_id)
        gross = sum(x.gross for x in lines)
        assessed = labour_tax(gross)
        report.append(
            {
                "staff": staff.id,
                "name": staff.name,
                "id_type": staff.id_type,
                "id_number": staff.id_number,
                "gross": gross,
                "taxable": str(assessed.taxable_yuan),
                "tax": sum(x.tax for x in lines),
                "net": sum(x.net for x in lines),
                "payments": len(lines),
            }
        )
    return report
