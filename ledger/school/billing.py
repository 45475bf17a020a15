"""The billing run: every approved enrolment's charge for a period, posted and invoiced.

For a school and a period (a term, or a month of it), each enrolment gets its
cost from the cost-sharing policy and fee standard in force, prorated by its
own service days, split between government, school and household, less any
waiver — one journal entry per enrolment and period, following DESIGN.md's
recipe, gathered into one invoice per household.

The run is idempotent: every charge carries the idempotency key
``charge:<enrolment>:<period start>`` and a unique row per enrolment and
period, so running a period again posts only what is new, and a run that was
interrupted (its transaction rolled back) simply runs again. An enrolment
already charged for any part of the period — by a run for the whole term and
now one of its months, or the reverse — is not charged again. A dry run
computes the same result and writes nothing.
"""

from __future__ import annotations

import bisect
import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Collection
from dataclasses import dataclass, field

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from ledger import books
from ledger.books.models import Period
from ledger.books.rawsql import reserve_ids

from .calendar import month_bounds
from .errors import Conflict, RuleBroken
from .fees import BillingPeriodKind, Charge, Unit, Waiver, compute_charge
from .models import (
    Application,
    ChargeRecord,
    DocumentCounter,
    Enrolment,
    FeeStandard,
    Household,
    Invoice,
    Programme,
    School,
    Student,
    Term,
)
from .standards import check_standard_covers, policy_for, sharing_of
from .structure import (
    calendar_of,
    ensure_household_accounts_bulk,
    funder_account,
    household_account,
)
from .waivers import waiver_windows_for

KIND_LABEL = {"basic_care": "基本托管", "enrichment": "素质拓展", "extended_care": "延时托管"}


@dataclass(slots=True)
class PlannedCharge:
    enrolment_id: int
    student_id: int
    student_name: str
    household_id: int
    programme_id: int
    programme_name: str
    kind: str
    policy_id: int
    fee_standard_id: int
    charge: Charge
    waiver_reasons: list[str] = field(default_factory=list)

    def lines(self, funder: str) -> list[tuple[str, int]]:
        c = self.charge
        lines = [
            (funder, c.government_total),
            ("1124", c.school_total),
            (household_account(self.household_id), c.household),
            ("4901", c.absorbed),
            (f"4001.{self.kind}", -c.cost),
        ]
        return [(code, fen) for code, fen in lines if fen != 0]


@dataclass
class BillingResult:
    school: str
    period_kind: str
    period_start: dt.date
    period_end: dt.date
    dry_run: bool
    charges: list[PlannedCharge] = field(default_factory=list)
    already_billed: int = 0
    run_id: int | None = None
    invoices: list[tuple[int, str, int]] = field(default_factory=list)

    @property
    def totals(self) -> dict[str, int]:
        t = {"cost": 0, "government": 0, "school": 0, "household": 0, "waiver": 0, "absorbed": 0}
        for p in self.charges:
            c = p.charge
            t["cost"] += c.cost
            t["government"] += c.government_total
            t["school"] += c.school_total
            t["household"] += c.household
            t["waiver"] += c.waiver
            t["absorbed"] += c.absorbed
        return t


def billing_period(
    term: Term, month: tuple[int, int] | None
) -> tuple[BillingPeriodKind, dt.date, dt.date]:
    if month is None:
        return BillingPeriodKind.TERM, term.start, term.end
    first, last = month_bounds(*month)
    start, end = max(first, term.start), min(last, term.end)
    if end < start:
        raise RuleBroken(
            "month_outside_term", f"{month[0]}-{month[1]:02d} is outside {term.name}", field="month"
        )
    return BillingPeriodKind.MONTH, start, end


def _refuse_closed(db: Session, school: School, term: Term, start: dt.date, end: dt.date) -> None:
    if term.is_closed:
        raise RuleBroken("term_closed", f"the term {term.name} is closed", field="term")
    closed = db.scalar(
        select(Period).where(
            Period.book_id == school.book_id,
            Period.is_closed.is_(True),
            Period.start <= end,
            Period.end >= start,
        )
    )
    if closed is not None:
        raise RuleBroken(
            "period_closed",
            f"the books are closed for {closed.start}–{closed.end}; {start}–{end} cannot be billed",
            field="period",
        )


def plan_charges(
    db: Session,
    school: School,
    term: Term,
    *,
    month: tuple[int, int] | None = None,
    rebill: Collection[int] | None = None,
) -> BillingResult:
    """Compute every charge of the period that has not been billed yet (writes nothing).

    With ``rebill`` (enrolment ids), only those enrolments, billed again even
    though a charge exists: the charges of a cancelled invoice being reissued.
    """
    kind, start, end = billing_period(term, month)
    _refuse_closed(db, school, term, start, end)
    result = BillingResult(school.code, kind.value, start, end, dry_run=True)
    calendar = calendar_of(db, term)
    programmes = {
        p.id: p
        for p in db.scalars(
            select(Programme).where(Programme.term_id == term.id, Programme.school_id == school.id)
        )
    }
    # Plain rows, not ORM objects: a large school has 100,000 enrolments.
    rows = db.execute(
        select(
            Enrolment.id,
            Enrolment.programme_id,
            Enrolment.start_date,
            Enrolment.end_date,
            Student.id,
            Student.name,
            Student.household_id,
        )
        .join(Application, Application.id == Enrolment.application_id)
        .join(Student, Student.id == Enrolment.student_id)
        .where(
            Enrolment.programme_id.in_(list(programmes)),
            Application.status == "approved",
            Enrolment.start_date <= end,
            (Enrolment.end_date.is_(None)) | (Enrolment.end_date > start),
        )
        .order_by(Enrolment.id)
    ).all()
    if rebill is not None:
        wanted = set(rebill)
        rows = [row for row in rows if row[0] in wanted]
        billed: set[int] = set()
    else:
        # Charged for any part of the period already (the same period, or a term billed
        # whole and now one of its months, or the reverse): never charged twice.
        billed = set(
            db.scalars(
                select(ChargeRecord.enrolment_id).where(
                    ChargeRecord.school_id == school.id,
                    ChargeRecord.period_start <= end,
                    ChargeRecord.period_end >= start,
                )
            )
        )
    windows = waiver_windows_for(db, {row[4] for row in rows}, start, end)
    policies: dict[str, tuple] = {}
    period_days_of: dict[int, list[dt.date]] = {}
    for enrolment_id, programme_id, e_start, e_end, student_id, name, household_id in rows:
        if enrolment_id in billed:
            result.already_billed += 1
            continue
        programme = programmes[programme_id]
        if programme.kind not in policies:
            policy = policy_for(db, school, programme.kind, start)
            standard = db.get(FeeStandard, policy.fee_standard_id)
            check_standard_covers(standard, programme.kind, start, end)
            policies[programme.kind] = (policy, standard, sharing_of(policy))
        policy, standard, sharing = policies[programme.kind]
        period_days = period_days_of.get(programme_id)
        if period_days is None:
            period_days = period_days_of[programme_id] = calendar.service_days(
                start, end, programme_weekdays=[int(ch) for ch in programme.weekdays]
            )
        if not period_days:
            continue
        last_day = end if e_end is None else e_end - dt.timedelta(days=1)
        if e_start <= period_days[0] and last_day >= period_days[-1]:
            enrolled = period_days
        else:
            enrolled = period_days[
                bisect.bisect_left(period_days, e_start) : bisect.bisect_right(
                    period_days, last_day
                )
            ]
        if not enrolled:
            continue
        waivers = []
        reasons = []
        for percent, w_from, w_to, reason in windows.get(student_id, ()):
            if w_to < enrolled[0] or w_from > enrolled[-1]:
                continue
            covered = bisect.bisect_right(enrolled, w_to) - bisect.bisect_left(enrolled, w_from)
            if covered:
                waivers.append(Waiver(percent, covered, reason))
                reasons.append(reason)
        charge = compute_charge(
            sharing,
            kind,
            billing_months=term.billing_months,
            period_days=len(period_days),
            enrolled_days=len(enrolled),
            lessons_per_session=programme.lessons_per_session,
            waivers=tuple(waivers),
        )
        _check_within_standard(charge, standard, name, programme.name)
        if charge.cost == 0:
            continue
        result.charges.append(
            PlannedCharge(
                enrolment_id=enrolment_id,
                student_id=student_id,
                student_name=name,
                household_id=household_id,
                programme_id=programme_id,
                programme_name=programme.name,
                kind=programme.kind,
                policy_id=policy.id,
                fee_standard_id=standard.id,
                charge=charge,
                waiver_reasons=reasons,
            )
        )
    return result


def _check_within_standard(
    charge: Charge, standard: FeeStandard, student_name: str, programme_name: str
) -> None:
    """No parent share above the approved standard for the units billed (严禁乱收费)."""
    unit = Unit(standard.unit)
    if unit in (Unit.DAY, Unit.LESSON):
        allowed_num = standard.amount * charge.units_num * charge.enrolled_days
        allowed_den = charge.units_den
    else:
        allowed_num = standard.amount * charge.units_num * charge.enrolled_days
        allowed_den = charge.units_den * charge.period_days
    if charge.parent * allowed_den > allowed_num:
        raise RuleBroken(
            "parent_share_above_standard",
            f"{student_name}'s parent share for {programme_name} would exceed the approved "
            f"standard {standard.document_no}",
            field="policy",
        )


def next_number(db: Session, school: School, kind: str, year: int) -> int:
    """The next gap-free number of a document kind, in the caller's transaction."""
    return reserve_numbers(db, school, kind, year, 1)


def run_billing(
    db: Session,
    school: School,
    term: Term,
    *,
    actor: str,
    month: tuple[int, int] | None = None,
    issued_on: dt.date,
    due_days: int = 15,
    dry_run: bool = False,
    progress: Callable[[str, int, int], None] | None = None,
) -> BillingResult:
    """Bill the period: post one entry per new charge and issue one invoice per household."""
    result = plan_charges(db, school, term, month=month)
    if dry_run or not result.charges:
        result.dry_run = dry_run
        return result
    result.dry_run = False
    book = db.get(books.Book, school.book_id)
    from .models import District

    district = db.get(District, school.district_id)
    funder = funder_account(district)
    households = sorted({p.household_id for p in result.charges})
    # Lock the book before opening household accounts: a run of the same period started
    # at the same time would otherwise open the same accounts and fail on their unique
    # key; it now waits here and is refused below (billing_in_progress), writing nothing.
    books.hold_book(db, book.id)
    ensure_household_accounts_bulk(db, school, households)
    label = term.name if month is None else f"{month[0]}年{month[1]}月"
    drafts = [
        books.EntryDraft(
            effective_date=result.period_start,
            memo=f"{label} {KIND_LABEL.get(p.kind, p.kind)} {p.programme_name} {p.student_name}",
            kind="charge",
            source_ref=f"enrolment:{p.enrolment_id}",
            idempotency_key=f"charge:{p.enrolment_id}:{result.period_start.isoformat()}",
            postings=[books.PostingDraft(code, fen) for code, fen in p.lines(funder)],
        )
        for p in result.charges
    ]
    if progress:
        progress("posting", 0, len(drafts))
    posted = books.post_entries_bulk(db, book.id, drafts, actor=actor)
    if posted.replayed:
        raise Conflict(
            "billing_in_progress",
            "some of these charges were posted by another run at the same time; run again",
        )
    if progress:
        progress("posting", len(drafts), len(drafts))
    run = _record_run(db, school, term, result, actor)
    by_household: dict[int, list[tuple[PlannedCharge, int]]] = defaultdict(list)
    for p, entry_id in zip(result.charges, posted.entry_ids, strict=True):
        by_household[p.household_id].append((p, entry_id))
    first = reserve_numbers(db, school, "invoice", issued_on.year, len(households))
    invoice_ids = reserve_ids(db.connection(), "invoices", len(households))
    due = issued_on + dt.timedelta(days=due_days)
    invoice_rows = []
    charge_rows = []
    for i, household_id in enumerate(households):
        items = by_household[household_id]
        amount = sum(p.charge.household for p, _ in items)
        seq = first + i
        number = f"{school.code}-{issued_on.year}-{seq:06d}"
        invoice_rows.append(
            {
                "id": invoice_ids[i],
                "school_id": school.id,
                "household_id": household_id,
                "billing_run_id": run.id,
                "year": issued_on.year,
                "seq": seq,
                "number": number,
                "period_start": result.period_start,
                "period_end": result.period_end,
                "issued_on": issued_on,
                "due_date": due,
                "amount": amount,
                "status": "issued" if amount > 0 else "paid",
            }
        )
        result.invoices.append((household_id, number, amount))
        for p, entry_id in items:
            charge_rows.append(
                charge_values(
                    school,
                    p,
                    billing_run_id=run.id,
                    invoice_id=invoice_ids[i],
                    entry_id=entry_id,
                    period_start=result.period_start,
                    period_end=result.period_end,
                )
            )
        if progress and i % 10000 == 0:
            progress("invoicing", i, len(households))
    conn = db.connection()
    for chunk in range(0, len(invoice_rows), 5000):
        conn.execute(insert(Invoice.__table__), invoice_rows[chunk : chunk + 5000])
    for chunk in range(0, len(charge_rows), 5000):
        conn.execute(insert(ChargeRecord.__table__), charge_rows[chunk : chunk + 5000])
    run.charges_posted = len(result.charges)
    run.invoices_issued = len(result.invoices)
    result.run_id = run.id
    db.flush()
    return result


def reserve_numbers(db: Session, school: School, kind: str, year: int, count: int) -> int:
    """Reserve ``count`` consecutive gap-free numbers; returns the first."""
    counter = db.scalar(
        select(DocumentCounter)
        .where(
            DocumentCounter.school_id == school.id,
            DocumentCounter.kind == kind,
            DocumentCounter.year == year,
        )
        .with_for_update()
    )
    if counter is None:
        counter = DocumentCounter(school_id=school.id, kind=kind, year=year, last=0)
        db.add(counter)
    first = counter.last + 1
    counter.last += count
    db.flush()
    return first


def new_invoice(
    db: Session,
    school: School,
    *,
    household_id: int,
    billing_run_id: int | None,
    period_start: dt.date,
    period_end: dt.date,
    issued_on: dt.date,
    due_days: int,
    amount: int,
) -> Invoice:
    """An invoice with the next gap-free number of the school and year."""
    seq = next_number(db, school, "invoice", issued_on.year)
    invoice = Invoice(
        school_id=school.id,
        household_id=household_id,
        billing_run_id=billing_run_id,
        year=issued_on.year,
        seq=seq,
        number=f"{school.code}-{issued_on.year}-{seq:06d}",
        period_start=period_start,
        period_end=period_end,
        issued_on=issued_on,
        due_date=issued_on + dt.timedelta(days=due_days),
        amount=amount,
        status="issued" if amount > 0 else "paid",
    )
    db.add(invoice)
    db.flush()
    return invoice


def charge_values(
    school: School,
    p: PlannedCharge,
    *,
    billing_run_id: int,
    invoice_id: int,
    entry_id: int,
    period_start: dt.date,
    period_end: dt.date,
    generation: int = 0,
    replaces_id: int | None = None,
) -> dict[str, object]:
    """Every figure of a posted charge, as the columns of its ``charges`` row."""
    c = p.charge
    return {
        "school_id": school.id,
        "enrolment_id": p.enrolment_id,
        "household_id": p.household_id,
        "billing_run_id": billing_run_id,
        "invoice_id": invoice_id,
        "entry_id": entry_id,
        "period_start": period_start,
        "period_end": period_end,
        "fee_standard_id": p.fee_standard_id,
        "policy_id": p.policy_id,
        "unit": c.unit.value,
        "unit_cost": c.unit_cost,
        "units_num": c.units_num,
        "units_den": c.units_den,
        "period_days": c.period_days,
        "enrolled_days": c.enrolled_days,
        "cost": c.cost,
        "government": c.government,
        "school": c.school,
        "parent": c.parent,
        "waiver": c.waiver,
        "waiver_cover": c.waiver_cover.value,
        "household": c.household,
        "generation": generation,
        "replaces_id": replaces_id,
    }


def charge_record(school: School, p: PlannedCharge, **kwargs: object) -> ChargeRecord:
    """The row that keeps every figure of a posted charge (not yet added to the session)."""
    return ChargeRecord(**charge_values(school, p, **kwargs))  # type: ignore[arg-type]


def _record_run(db: Session, school: School, term: Term, result: BillingResult, actor: str):  # type: ignore[no-untyped-def]
    from .models import BillingRun

    run = BillingRun(
        school_id=school.id,
        term_id=term.id,
        period_kind=result.period_kind,
        period_start=result.period_start,
        period_end=result.period_end,
        run_by=actor,
    )
    db.add(run)
    db.flush()
    return run


def household_of(db: Session, household_id: int) -> Household:
    return db.get(Household, household_id)
