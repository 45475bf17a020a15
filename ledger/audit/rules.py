"""Audit rules: checks over the data as it is stored, each with a stable code, a severity,
a plain-language description, and findings that carry their evidence.

The rules only read. They look at the rows themselves — charges, entries,
postings, payments, bills, hours — not at what the application meant to do,
so they also catch what was written behind its back (a row inserted by hand,
an entry posted through the raw journal API). Each finding names its
``subject`` (``charge:12``, ``entry:40``…), which with the rule's code is what
an acknowledgement refers to; findings are recomputed on every run and never
deleted.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import exists, func, select
from sqlalchemy.orm import Session

from ledger import books
from ledger.books import Account, Entry, Posting
from ledger.school.calendar import ServiceCalendar
from ledger.school.errors import Conflict, RuleBroken
from ledger.school.models import (
    Application,
    ChargeRecord,
    CreditApplication,
    CreditRecord,
    Enrolment,
    FeeStandard,
    HardshipStatus,
    Invoice,
    Payment,
    Programme,
    PurchaseAgreement,
    School,
    ServiceHours,
    Term,
    Vendor,
    VendorBill,
    VendorStatusChange,
    WaiverGrant,
)
from ledger.school.structure import calendar_of

from .models import FindingAcknowledgement

__all__ = ["RULES", "Finding", "Rule", "Scope", "acknowledge", "run_audit", "scope_for"]

CRITICAL, HIGH, REVIEW = "critical", "high", "review"
BASIS = 10000


@dataclass(frozen=True)
class Scope:
    """What an audit run covers: some schools, and entries and charges in a date range."""

    schools: list[School]
    start: dt.date
    end: dt.date

    @property
    def school_ids(self) -> list[int]:
        return [s.id for s in self.schools]

    @property
    def book_ids(self) -> list[int]:
        return [s.book_id for s in self.schools]

    def school_of_book(self, book_id: int) -> School:
        return next(s for s in self.schools if s.book_id == book_id)


@dataclass
class Finding:
    rule: str
    severity: str
    school: str
    subject: str
    summary: str
    evidence: dict[str, Any] = field(default_factory=dict)
    acknowledged: dict[str, Any] | None = None


@dataclass(frozen=True)
class Rule:
    code: str
    severity: str
    description: str
    #: ``None`` when another rule's pass yields this rule's findings (one pass over charges).
    check: Callable[[Session, Scope], Iterable[Finding]] | None


def _iso(value: Any) -> Any:
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    return value


def _application_evidence(app: Application | None) -> dict[str, Any] | None:
    if app is None:
        return None
    return {
        "id": app.id,
        "status": app.status,
        "applied_by": app.applied_by,
        "applied_at": _iso(app.applied_at),
        "written_ref": app.written_ref,
        "reviewed_by": app.reviewed_by,
        "reviewed_at": _iso(app.reviewed_at),
        "decided_by": app.decided_by,
        "decided_at": _iso(app.decided_at),
    }


def _charge_rows(db: Session, scope: Scope, *columns: Any) -> Iterable[Any]:
    """The scope's charges, in id order, as rows of ``columns`` (of the charge, its
    enrolment — outer joined, as a charge may name none — its programme and term, and
    ``_CREDITED`` sums): one query per rule, streamed, instead of an ORM object and a
    few queries per charge (which at 100,000 students took gigabytes and minutes)."""
    stmt = (
        select(ChargeRecord.id, *columns)
        .outerjoin(Enrolment, Enrolment.id == ChargeRecord.enrolment_id)
        .outerjoin(Application, Application.id == Enrolment.application_id)
        .outerjoin(Programme, Programme.id == Enrolment.programme_id)
        .outerjoin(Term, Term.id == Programme.term_id)
        .where(
            ChargeRecord.school_id.in_(scope.school_ids),
            ChargeRecord.period_start <= scope.end,
            ChargeRecord.period_end >= scope.start,
        )
        .order_by(ChargeRecord.id)
    )
    return db.execute(stmt.execution_options(yield_per=5000))


def _credited(*where: Any, column: Any) -> Any:
    """A charge's credit notes summed (a correlated subquery for :func:`_charge_rows`)."""
    return (
        select(func.coalesce(func.sum(column), 0))
        .where(CreditRecord.charge_id == ChargeRecord.id, *where)
        .scalar_subquery()
    )


def _school(scope: Scope, school_id: int) -> str:
    return next(s.code for s in scope.schools if s.id == school_id)


def _credited_back(db: Session, charge_id: int) -> int:
    """What credits (withdrawal, absence, cancellation) gave back of the charge's cost."""
    back = db.scalar(
        select(func.coalesce(func.sum(CreditRecord.total), 0)).where(
            CreditRecord.charge_id == charge_id, CreditRecord.reason != "waiver"
        )
    )
    return int(back)


def _entries_query(scope: Scope, kind: str | None = None) -> Any:
    q = select(Entry).where(
        Entry.book_id.in_(scope.book_ids),
        Entry.effective_date >= scope.start,
        Entry.effective_date <= scope.end,
    )
    if kind is not None:
        q = q.where(Entry.kind == kind)
    return q.order_by(Entry.id)


def _entries(db: Session, scope: Scope, kind: str | None = None) -> list[Entry]:
    return list(db.scalars(_entries_query(scope, kind)))


def _postings_by_entry(db: Session, entry_ids: list[int]) -> dict[int, list[tuple[str, int]]]:
    out: dict[int, list[tuple[str, int]]] = defaultdict(list)
    for i in range(0, len(entry_ids), 500):
        rows = db.execute(
            select(Posting.entry_id, Account.code, Posting.amount)
            .join(Account, Account.id == Posting.account_id)
            .where(Posting.entry_id.in_(entry_ids[i : i + 500]))
            .order_by(Posting.id)
        )
        for entry_id, code, amount in rows:
            out[entry_id].append((code, int(amount)))
    return out


def _is_household(code: str) -> bool:
    return code.startswith(("1122.", "2241."))


# --------------------------------------------------------------------------- consent


def charge_without_consent(db: Session, scope: Scope) -> Iterable[Finding]:
    known: set[int] = set()
    rows = _charge_rows(
        db,
        scope,
        ChargeRecord.school_id,
        ChargeRecord.entry_id,
        ChargeRecord.enrolment_id,
        ChargeRecord.period_start,
        ChargeRecord.period_end,
        ChargeRecord.household,
        Enrolment.id,
        Enrolment.start_date,
        Application.id,
        Application.status,
        Application.decided_at,
    )
    for c in rows:
        (cid, school_id, entry_id, enrolment_id, start, end, household) = c[:7]
        enr_id, enr_start, app_id, status, decided_at = c[7:]
        known.add(entry_id)
        if household <= 0:
            continue
        approved = app_id is not None and status == "approved" and decided_at is not None
        first_day = max(start, enr_start) if enr_id is not None else start
        why = None
        if not approved:
            why = "the household was charged without an approved application"
        elif decided_at.date() > first_day:
            why = (
                f"the charge covers service from {first_day}, before the application was "
                f"approved on {decided_at.date()}"
            )
        if why:
            app = db.get(Application, app_id) if app_id is not None else None
            yield Finding(
                "charge_without_consent",
                CRITICAL,
                _school(scope, school_id),
                f"charge:{cid}",
                why,
                {
                    "charge": cid,
                    "entry": entry_id,
                    "enrolment": enrolment_id,
                    "period": [_iso(start), _iso(end)],
                    "household_amount": household,
                    "application": _application_evidence(app),
                },
            )
    # A charge entry on a household account that no charge record explains.
    entries = list(
        db.scalars(
            _entries_query(scope, "charge").where(
                ~exists().where(ChargeRecord.entry_id == Entry.id)
            )
        )
    )
    postings = _postings_by_entry(db, [e.id for e in entries])
    for e in entries:
        household = [(c, a) for c, a in postings[e.id] if c.startswith("1122.") and a > 0]
        if household:
            yield Finding(
                "charge_without_consent",
                CRITICAL,
                scope.school_of_book(e.book_id).code,
                f"entry:{e.id}",
                "a charge entry bills a household with no enrolment or application behind it",
                {"entry": e.id, "number": e.number, "memo": e.memo, "postings": household},
            )


def household_adjustment(db: Session, scope: Scope) -> Iterable[Finding]:
    entries = _entries(db, scope, "adjustment")
    if not entries:
        return
    explained = set(
        db.scalars(
            select(CreditApplication.entry_id).where(
                CreditApplication.entry_id.in_([e.id for e in entries])
            )
        )
    )
    postings = _postings_by_entry(db, [e.id for e in entries])
    for e in entries:
        touched = [(c, a) for c, a in postings[e.id] if _is_household(c)]
        if touched and e.id not in explained:
            yield Finding(
                "household_adjustment",
                REVIEW,
                scope.school_of_book(e.book_id).code,
                f"entry:{e.id}",
                "a manual adjustment changes a household's account: check its reason",
                {
                    "entry": e.id,
                    "number": e.number,
                    "memo": e.memo,
                    "posted_by": e.posted_by,
                    "postings": touched,
                },
            )


# --------------------------------------------------------------------------- fees


def charge_above_standard(db: Session, scope: Scope) -> Iterable[Finding]:
    standards: dict[int, FeeStandard] = {}
    rows = _charge_rows(
        db,
        scope,
        ChargeRecord.school_id,
        ChargeRecord.entry_id,
        ChargeRecord.fee_standard_id,
        ChargeRecord.parent,
        ChargeRecord.units_num,
        ChargeRecord.units_den,
        ChargeRecord.unit,
        ChargeRecord.period_start,
        ChargeRecord.period_end,
        Programme.kind,
    )
    for c in rows:
        std = standards.get(c.fee_standard_id)
        if std is None:
            std = standards[c.fee_standard_id] = db.get(FeeStandard, c.fee_standard_id)
        kind = c.kind
        problems = []
        if c.parent * c.units_den > std.amount * c.units_num:
            problems.append(
                f"the parent share {c.parent} fen is above the standard "
                f"{std.amount} fen × {c.units_num}/{c.units_den} {std.unit}"
            )
        if c.period_start < std.valid_from or c.period_end > std.valid_to:
            problems.append(
                f"the period {c.period_start}..{c.period_end} is outside the standard's "
                f"validity {std.valid_from}..{std.valid_to}"
            )
        if (kind is not None and kind != std.kind) or c.unit != std.unit:
            problems.append(
                f"the standard lists {std.kind} per {std.unit}, not {kind or '?'} per {c.unit}"
            )
        if problems:
            yield Finding(
                "charge_above_standard",
                CRITICAL,
                _school(scope, c.school_id),
                f"charge:{c.id}",
                "; ".join(problems),
                {
                    "charge": c.id,
                    "entry": c.entry_id,
                    "parent": c.parent,
                    "units": [c.units_num, c.units_den],
                    "fee_standard": {
                        "id": std.id,
                        "kind": std.kind,
                        "amount": std.amount,
                        "unit": std.unit,
                        "authority": std.authority,
                        "document_no": std.document_no,
                        "valid_from": _iso(std.valid_from),
                        "valid_to": _iso(std.valid_to),
                    },
                },
            )


def charged_despite_waiver(db: Session, scope: Scope) -> Iterable[Finding]:
    # Every hardship status and approved waiver of the students enrolled at the scope's
    # schools, read once.
    students = (
        select(Enrolment.student_id)
        .join(Programme, Programme.id == Enrolment.programme_id)
        .where(Programme.school_id.in_(scope.school_ids))
    )
    hardship: dict[int, list[HardshipStatus]] = defaultdict(list)
    for h in db.scalars(
        select(HardshipStatus)
        .where(HardshipStatus.student_id.in_(students))
        .order_by(HardshipStatus.id)
    ):
        hardship[h.student_id].append(h)
    waivers: dict[int, list[WaiverGrant]] = defaultdict(list)
    for w in db.scalars(
        select(WaiverGrant)
        .where(WaiverGrant.student_id.in_(students), WaiverGrant.status == "approved")
        .order_by(WaiverGrant.id)
    ):
        waivers[w.student_id].append(w)
    rows = _charge_rows(
        db,
        scope,
        ChargeRecord.school_id,
        ChargeRecord.entry_id,
        ChargeRecord.parent,
        ChargeRecord.period_start,
        ChargeRecord.period_end,
        Enrolment.student_id,
        # What the household was charged, less what credits gave back.
        (ChargeRecord.household - _credited(column=CreditRecord.household)).label("net"),
    )
    for c in rows:
        net = int(c.net)
        if net <= 0 or not (hardship.get(c.student_id) or waivers.get(c.student_id)):
            continue
        windows: list[tuple[int, str, dict]] = []
        for h in hardship.get(c.student_id, ()):
            if h.valid_from <= c.period_start and h.valid_to >= c.period_end:
                windows.append(
                    (
                        BASIS,
                        f"hardship:{h.id}",
                        {
                            "hardship": h.id,
                            "evidence": h.evidence_ref,
                            "verified_by": h.verified_by,
                        },
                    )
                )
        for w in waivers.get(c.student_id, ()):
            if w.valid_from <= c.period_start and w.valid_to >= c.period_end:
                windows.append(
                    (
                        w.percent,
                        f"waiver:{w.id}",
                        {
                            "waiver": w.id,
                            "percent": w.percent,
                            "reason": w.reason,
                            "approved_by": w.decided_by,
                        },
                    )
                )
        if not windows:
            continue
        percent, ref, evidence = max(windows, key=lambda x: x[0])
        # The most the household may owe: the parent share less the waived part, rounded up.
        allowed = -((-c.parent * (BASIS - percent)) // BASIS)
        if net > allowed:
            yield Finding(
                "charged_despite_waiver",
                CRITICAL,
                _school(scope, c.school_id),
                f"charge:{c.id}",
                f"the household owes {net} fen for a period its {ref.split(':')[0]} covers; "
                f"at most {allowed} fen is due",
                {"charge": c.id, "entry": c.entry_id, "household_net": net, **evidence},
            )


def duplicate_or_stray_charge(db: Session, scope: Scope) -> Iterable[Finding]:
    cancelled = set(
        db.scalars(
            select(Invoice.id).where(
                Invoice.school_id.in_(scope.school_ids), Invoice.status == "cancelled"
            )
        )
    )
    #: (student, programme, period start) → the live charges' (id, school, entry).
    live: dict[tuple[int, int, dt.date], list[tuple[int, int, int]]] = defaultdict(list)
    rows = _charge_rows(
        db,
        scope,
        ChargeRecord.school_id,
        ChargeRecord.entry_id,
        ChargeRecord.invoice_id,
        ChargeRecord.cost,
        ChargeRecord.period_start,
        ChargeRecord.period_end,
        Enrolment.id.label("enrolment_id"),
        Enrolment.student_id,
        Enrolment.programme_id,
        Enrolment.end_date,
        Term.start.label("term_start"),
        Term.end.label("term_end"),
    )
    for c in rows:
        if c.invoice_id not in cancelled:
            live[(c.student_id, c.programme_id, c.period_start)].append(
                (c.id, c.school_id, c.entry_id)
            )
        problems = []
        if (
            c.end_date is not None
            # end_date is the first day the student no longer attends.
            and c.period_start >= c.end_date
            # Billed before a withdrawal dated back, then credited in full: nothing is charged.
            and _credited_back(db, c.id) < c.cost
        ):
            problems.append(f"the enrolment ended on {c.end_date}, before the period")
        if c.period_start < c.term_start or c.period_end > c.term_end:
            problems.append(f"the period is outside the term {c.term_start}..{c.term_end}")
        if problems:
            yield Finding(
                "charge_outside_enrolment",
                HIGH,
                _school(scope, c.school_id),
                f"charge:{c.id}",
                "; ".join(problems),
                {
                    "charge": c.id,
                    "entry": c.entry_id,
                    "enrolment": c.enrolment_id,
                    "period": [_iso(c.period_start), _iso(c.period_end)],
                    "end_date": _iso(c.end_date),
                },
            )
    for (student, programme, start), group in live.items():
        if len(group) > 1:
            yield Finding(
                "duplicate_charge",
                CRITICAL,
                _school(scope, group[0][1]),
                "charges:" + ",".join(str(cid) for cid, _, _ in group),
                f"{len(group)} live charges for the same student, programme and period {start}",
                {
                    "charges": [cid for cid, _, _ in group],
                    "entries": [entry for _, _, entry in group],
                    "student": student,
                    "programme": programme,
                },
            )


# --------------------------------------------------------------------------- money paths


def payment_not_to_school_bank(db: Session, scope: Scope) -> Iterable[Finding]:
    for p in db.scalars(
        select(Payment).where(
            Payment.school_id.in_(scope.school_ids),
            Payment.received_on >= scope.start,
            Payment.received_on <= scope.end,
            Payment.received_into != "1002",
        )
    ):
        yield Finding(
            "payment_not_to_school_bank",
            CRITICAL,
            _school(scope, p.school_id),
            f"payment:{p.id}",
            f"a household payment was recorded into {p.received_into}, not the school's bank",
            {"payment": p.id, "entry": p.entry_id, "received_into": p.received_into},
        )
    entries = _entries(db, scope, "payment")
    postings = _postings_by_entry(db, [e.id for e in entries])
    for e in entries:
        into = [
            (c, a) for c, a in postings[e.id] if a > 0 and c.split(".")[0] not in ("1002", "2299")
        ]
        if into:
            yield Finding(
                "payment_not_to_school_bank",
                CRITICAL,
                scope.school_of_book(e.book_id).code,
                f"entry:{e.id}",
                "a household payment entry puts money somewhere other than the school's bank",
                {"entry": e.id, "number": e.number, "memo": e.memo, "postings": postings[e.id]},
            )


def vendor_bill_not_allowed(db: Session, scope: Scope) -> Iterable[Finding]:
    for b in db.scalars(
        select(VendorBill).where(
            VendorBill.school_id.in_(scope.school_ids),
            VendorBill.service_date >= scope.start,
            VendorBill.service_date <= scope.end,
        )
    ):
        vendor = db.get(Vendor, b.vendor_id)
        school = db.get(School, b.school_id)
        agreement = db.get(PurchaseAgreement, b.agreement_id)
        problems = []
        if vendor.district_id != school.district_id:
            problems.append("the vendor is not on the school's district whitelist")
        if not (vendor.valid_from <= b.service_date <= vendor.valid_to):
            problems.append(f"the vendor is whitelisted {vendor.valid_from}..{vendor.valid_to}")
        status = db.scalar(
            select(VendorStatusChange.status)
            .where(
                VendorStatusChange.vendor_id == vendor.id,
                VendorStatusChange.effective <= b.service_date,
            )
            .order_by(VendorStatusChange.effective.desc(), VendorStatusChange.id.desc())
            .limit(1)
        )
        if status not in (None, "active"):
            problems.append(f"the vendor was {status} on {b.service_date}")
        if (
            agreement is None
            or agreement.school_id != b.school_id
            or agreement.vendor_id != b.vendor_id
            or not (agreement.start <= b.service_date <= agreement.end)
        ):
            problems.append("no agreement of the school with this vendor covers the date")
        elif b.unit_price > agreement.price:
            problems.append(f"{b.unit_price} fen is above the agreed {agreement.price} fen")
        if problems:
            yield Finding(
                "vendor_bill_not_allowed",
                CRITICAL,
                school.code,
                f"vendor_bill:{b.id}",
                "; ".join(problems),
                {
                    "bill": b.id,
                    "entry": b.entry_id,
                    "vendor": vendor.id,
                    "uscc": vendor.uscc,
                    "agreement": b.agreement_id,
                    "service_date": _iso(b.service_date),
                    "unit_price": b.unit_price,
                },
            )


def pay_for_invalid_hours(db: Session, scope: Scope) -> Iterable[Finding]:
    calendars: dict[int, ServiceCalendar] = {}
    for h in db.scalars(
        select(ServiceHours).where(
            ServiceHours.school_id.in_(scope.school_ids),
            ServiceHours.pay_line_id.is_not(None),
            ServiceHours.service_date >= scope.start,
            ServiceHours.service_date <= scope.end,
        )
    ):
        prog = db.get(Programme, h.programme_id)
        if prog.term_id not in calendars:
            calendars[prog.term_id] = calendar_of(db, db.get(Term, prog.term_id))
        cal = calendars[prog.term_id]
        problems = []
        if not cal.service_days(
            h.service_date, h.service_date, programme_weekdays=[int(c) for c in prog.weekdays]
        ):
            problems.append(f"{h.service_date} is not a service day of the programme")
        if h.start_time < prog.start_time or h.end_time > prog.end_time:
            problems.append(
                f"{h.start_time:%H:%M}–{h.end_time:%H:%M} is beyond the schedule "
                f"{prog.start_time:%H:%M}–{prog.end_time:%H:%M}"
            )
        if h.status != "approved":
            problems.append(f"the hours are {h.status}, not approved")
        if problems:
            yield Finding(
                "pay_for_invalid_hours",
                HIGH,
                _school(scope, h.school_id),
                f"hours:{h.id}",
                "; ".join(problems),
                {
                    "hours": h.id,
                    "staff": h.staff_id,
                    "programme": prog.id,
                    "date": _iso(h.service_date),
                    "pay_line": h.pay_line_id,
                },
            )


# --------------------------------------------------------------------------- the books


def unbalanced_entry(db: Session, scope: Scope) -> Iterable[Finding]:
    rows = db.execute(
        select(Entry.id, Entry.book_id, Entry.number, func.sum(Posting.amount), func.count())
        .join(Posting, Posting.entry_id == Entry.id, isouter=True)
        .where(Entry.book_id.in_(scope.book_ids))
        .group_by(Entry.id, Entry.book_id, Entry.number)
        .having((func.coalesce(func.sum(Posting.amount), 0) != 0) | (func.count(Posting.id) < 2))
    ).all()
    for entry_id, book_id, number, total, count in rows:
        yield Finding(
            "unbalanced_entry",
            CRITICAL,
            scope.school_of_book(book_id).code,
            f"entry:{entry_id}",
            f"entry {number} has {count} posting(s) summing to {total or 0} fen",
            {"entry": entry_id, "number": number, "sum": int(total or 0), "postings": count},
        )


def balance_mismatch(db: Session, scope: Scope) -> Iterable[Finding]:
    for school in scope.schools:
        book = db.get(books.Book, school.book_id)
        for code, stored_d, stored_c, actual_d, actual_c in books.balance_mismatches(db, book):
            yield Finding(
                "balance_mismatch",
                CRITICAL,
                school.code,
                f"account:{school.code}:{code}",
                f"account {code}'s stored balance ({stored_d} debit, {stored_c} credit) differs "
                f"from the sum of its postings ({actual_d} debit, {actual_c} credit)",
                {
                    "account": code,
                    "stored": {"debit": stored_d, "credit": stored_c},
                    "postings": {"debit": actual_d, "credit": actual_c},
                },
            )


def broken_chain(db: Session, scope: Scope) -> Iterable[Finding]:
    for school in scope.schools:
        report = books.verify_chain(db, school.book_id)
        if not report.ok:
            yield Finding(
                "broken_chain",
                CRITICAL,
                school.code,
                f"book:{school.code}",
                "the hash chain does not verify: a posted entry was altered, removed or inserted",
                {"report": _plain(report)},
            )


def entry_in_closed_period(db: Session, scope: Scope) -> Iterable[Finding]:
    rows = db.execute(
        select(Entry, books.Period)
        .join(
            books.Period,
            (books.Period.book_id == Entry.book_id)
            & (books.Period.start <= Entry.effective_date)
            & (books.Period.end >= Entry.effective_date),
        )
        .where(
            Entry.book_id.in_(scope.book_ids),
            books.Period.is_closed.is_(True),
            Entry.recorded_at > books.Period.closed_at,
        )
    ).all()
    for entry, period in rows:
        yield Finding(
            "entry_in_closed_period",
            CRITICAL,
            scope.school_of_book(entry.book_id).code,
            f"entry:{entry.id}",
            f"entry {entry.number} dated {entry.effective_date} was recorded at "
            f"{entry.recorded_at:%Y-%m-%d %H:%M}, after its period closed at "
            f"{period.closed_at:%Y-%m-%d %H:%M}",
            {
                "entry": entry.id,
                "period": period.id,
                "recorded_at": _iso(entry.recorded_at),
                "closed_at": _iso(period.closed_at),
            },
        )


def _plain(value: Any) -> Any:
    """Dataclasses and rows as JSON-ready dicts for evidence."""
    if hasattr(value, "__dataclass_fields__"):
        return {k: _plain(getattr(value, k)) for k in value.__dataclass_fields__}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return _iso(value) if isinstance(value, (dt.date, dt.datetime)) else value


RULES: list[Rule] = [
    Rule(
        "charge_without_consent",
        CRITICAL,
        "A household was charged without an approved application (家长申请、班级审核、学校审批), "
        "or for service days before the application was approved.",
        charge_without_consent,
    ),
    Rule(
        "household_adjustment",
        REVIEW,
        "A manual adjustment entry touches a household's account: listed for review.",
        household_adjustment,
    ),
    Rule(
        "charge_above_standard",
        CRITICAL,
        "A parent share above the approved fee standard, outside its validity, or under an item "
        "it does not list (严禁乱收费).",
        charge_above_standard,
    ),
    Rule(
        "charged_despite_waiver",
        CRITICAL,
        "A household charged for a period covered by verified hardship status or an approved "
        "waiver.",
        charged_despite_waiver,
    ),
    Rule(
        "duplicate_charge",
        CRITICAL,
        "Two live charges for the same student, programme and period.",
        duplicate_or_stray_charge,
    ),
    Rule(
        "charge_outside_enrolment",
        HIGH,
        "A charge after the enrolment's withdrawal or outside the term.",
        None,
    ),
    Rule(
        "payment_not_to_school_bank",
        CRITICAL,
        "A household payment received by anything but the school's bank account "
        "(不得由第三方代收费).",
        payment_not_to_school_bank,
    ),
    Rule(
        "vendor_bill_not_allowed",
        CRITICAL,
        "A vendor bill from a vendor off the whitelist, inactive on the service date, without an "
        "agreement or above its price.",
        vendor_bill_not_allowed,
    ),
    Rule(
        "pay_for_invalid_hours",
        HIGH,
        "A stipend or labour fee paid for hours on a non-service day, beyond the schedule or not "
        "approved.",
        pay_for_invalid_hours,
    ),
    Rule(
        "unbalanced_entry",
        CRITICAL,
        "An entry whose postings do not sum to zero, or with fewer than two postings.",
        unbalanced_entry,
    ),
    Rule(
        "balance_mismatch",
        CRITICAL,
        "A materialized balance different from the sum of its postings.",
        balance_mismatch,
    ),
    Rule("broken_chain", CRITICAL, "The hash chain of a book does not verify.", broken_chain),
    Rule(
        "entry_in_closed_period",
        CRITICAL,
        "An entry recorded after the period it is dated in was closed.",
        entry_in_closed_period,
    ),
]

_CHECKS = [r for r in RULES if r.check is not None]
SEVERITY = {r.code: r.severity for r in RULES}


def run_audit(db: Session, scope: Scope, rules: list[str] | None = None) -> list[Finding]:
    """Run the rules (all, or those named) over a scope; findings with acknowledgements."""
    wanted = set(rules) if rules is not None else {r.code for r in RULES}
    unknown = wanted - {r.code for r in RULES}
    if unknown:
        raise RuleBroken(
            "unknown_rule", f"no audit rule {', '.join(sorted(unknown))}", field="rules"
        )
    findings = [f for rule in _CHECKS for f in rule.check(db, scope) if f.rule in wanted]
    acks = (
        {
            (a.rule, a.subject): a
            for a in db.scalars(
                select(FindingAcknowledgement).where(
                    FindingAcknowledgement.subject.in_({f.subject for f in findings})
                )
            )
        }
        if findings
        else {}
    )
    for f in findings:
        a = acks.get((f.rule, f.subject))
        if a is not None:
            f.acknowledged = {
                "note": a.note,
                "by": a.acknowledged_by,
                "at": _iso(a.acknowledged_at),
            }
    findings.sort(key=lambda f: (f.school, f.rule, f.subject))
    return findings


def acknowledge(
    db: Session, *, rule: str, subject: str, note: str, actor: str
) -> FindingAcknowledgement:
    """Acknowledge a finding with a note (once per rule and subject; never deleted)."""
    if rule not in SEVERITY:
        raise RuleBroken("unknown_rule", f"no audit rule {rule}", field="rule")
    if not note or not note.strip():
        raise RuleBroken("note_required", "an acknowledgement needs a note", field="note")
    if db.scalar(
        select(FindingAcknowledgement.id).where(
            FindingAcknowledgement.rule == rule, FindingAcknowledgement.subject == subject
        )
    ):
        raise Conflict("already_acknowledged", f"{rule} on {subject} is already acknowledged")
    ack = FindingAcknowledgement(
        rule=rule, subject=subject, note=note.strip(), acknowledged_by=actor
    )
    db.add(ack)
    db.flush()
    return ack


def scope_for(db: Session, schools: list[School], start: dt.date, end: dt.date) -> Scope:
    if end < start:
        raise RuleBroken("invalid_dates", "the range ends before it starts", field="to")
    return Scope(schools, start, end)
