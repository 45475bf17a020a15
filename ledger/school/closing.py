"""Closing: billing periods and terms, the school year, and the district roll-up.

Closing a span of dates closes the school book's accounting periods over it
(``ledger.books.create_period`` / ``close_period``), so that the engine
refuses any entry dated inside — a charge, a credit, a payment, a reversal.
Periods already defined inside the span are closed as they are; the gaps
between them become new periods; a period that reaches outside the span is
refused (``period_straddles_span``), since closing it would close dates the
caller did not name. Closing a term also marks the term closed, which stops
billing it.

Closing the school year first posts one closing entry (kind ``closing``)
dated the year end, moving the balance of every revenue and expense account
(4xxx, 5xxx) to net assets 3001::

    Dr 4001.<kind> / Cr 4901 / Cr 5xxx ...   each account's balance, to zero
    Cr (or Dr) 3001 Net assets               the year's surplus (or deficit)

then closes the year's dates. After it, every revenue and expense account is
zero as of the year end and 3001 holds the year's result.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger import books
from ledger.books.models import Period

from .billing import billing_period
from .errors import Conflict, RuleBroken
from .models import District, School, Term, YearClosing

__all__ = [
    "DistrictRollup",
    "RollupLine",
    "SchoolTrialBalance",
    "close_billing_period",
    "close_span",
    "close_year",
    "district_rollup",
]

NET_ASSETS = "3001"
CLOSED_TYPES = ("revenue", "expense")


def close_span(
    db: Session, school: School, *, start: dt.date, end: dt.date, actor: str
) -> list[Period]:
    """Close the school book over ``start``–``end``; returns the periods closed now.

    Refused: ``end`` before ``start`` (``invalid_period``), a defined period
    reaching outside the span (``period_straddles_span``), and every date
    already closed (``span_already_closed``).
    """
    if end < start:
        raise RuleBroken("invalid_period", f"{end} is before {start}", field="end")
    book = db.get(books.Book, school.book_id)
    existing = list(
        db.scalars(
            select(Period)
            .where(Period.book_id == book.id, Period.start <= end, Period.end >= start)
            .order_by(Period.start)
        )
    )
    for period in existing:
        if (period.start < start or period.end > end) and not period.is_closed:
            raise Conflict(
                "period_straddles_span",
                f"the open period {period.start}–{period.end} reaches outside {start}–{end}; "
                "close the whole period, or close a span that contains it",
                field="period",
            )
    gaps: list[tuple[dt.date, dt.date]] = []
    cursor = start
    for period in existing:
        if period.start > cursor:
            gaps.append((cursor, period.start - dt.timedelta(days=1)))
        cursor = max(cursor, period.end + dt.timedelta(days=1))
    if cursor <= end:
        gaps.append((cursor, end))
    to_close = [p for p in existing if not p.is_closed]
    if not gaps and not to_close:
        raise Conflict("span_already_closed", f"{start}–{end} is already closed")
    closed = []
    for gap_start, gap_end in gaps:
        to_close.append(books.create_period(db, book, start=gap_start, end=gap_end))
    for period in sorted(to_close, key=lambda p: p.start):
        closed.append(books.close_period(db, book, period.id, actor=actor))
    return closed


def close_billing_period(
    db: Session,
    school: School,
    term: Term,
    *,
    actor: str,
    month: tuple[int, int] | None = None,
) -> list[Period]:
    """Close a billing period: a month of the term, or (``month=None``) the whole term.

    Closing the term also marks it closed, so it can no longer be billed.
    Refused: a term of another school (``term_of_other_school``), a term
    already closed (``term_closed``), and the rules of :func:`close_span`.
    """
    if term.school_id != school.id:
        raise RuleBroken("term_of_other_school", "the term is at another school", field="term")
    if term.is_closed:
        raise Conflict("term_closed", f"the term {term.name} is already closed")
    _, start, end = billing_period(term, month)
    closed = close_span(db, school, start=start, end=end, actor=actor)
    if month is None:
        term.is_closed = True
        db.flush()
    return closed


@dataclass
class YearClosingResult:
    closing: YearClosing
    #: ``(account code, balance moved)``: what each revenue and expense account held.
    moved: list[tuple[str, int]]
    periods: list[Period]


def close_year(
    db: Session,
    school: School,
    *,
    year_start: dt.date,
    year_end: dt.date,
    actor: str,
    name: str | None = None,
) -> YearClosingResult:
    """Close the school year: the closing entry to 3001, then every date of the year.

    The closing entry is dated ``year_end`` (idempotency key
    ``closing:<year end>``); the terms inside the year are marked closed.
    Refused: a year closed before (``year_already_closed``), a year end
    that falls in a period already closed (``period_closed``: the closing
    entry could not be dated), and the rules of :func:`close_span`.
    """
    if year_end < year_start:
        raise RuleBroken("invalid_period", f"{year_end} is before {year_start}", field="year_end")
    earlier = db.scalar(
        select(YearClosing).where(
            YearClosing.school_id == school.id,
            YearClosing.year_start <= year_end,
            YearClosing.year_end >= year_start,
        )
    )
    if earlier is not None:
        raise Conflict(
            "year_already_closed",
            f"{earlier.name} ({earlier.year_start}–{earlier.year_end}) is already closed",
        )
    book = db.get(books.Book, school.book_id)
    locked = db.scalar(
        select(Period).where(
            Period.book_id == book.id,
            Period.is_closed.is_(True),
            Period.start <= year_end,
            Period.end >= year_end,
        )
    )
    if locked is not None:
        raise RuleBroken(
            "period_closed",
            f"the year end {year_end} is in the closed period {locked.start}–{locked.end}; "
            "the closing entry must be dated on it",
            field="year_end",
        )
    moved = [
        (line.code, line.debit - line.credit)
        for line in books.trial_balance(db, book, as_of=year_end).lines
        if line.type in CLOSED_TYPES and line.debit != line.credit
    ]
    result = sum(-balance for _, balance in moved)  # revenue (credit) less expense (debit)
    label = name or f"{year_start.year}-{year_end.year}学年"
    entry_id = None
    if moved:
        postings = [books.PostingDraft(code, -balance) for code, balance in moved]
        if result:
            postings.append(books.PostingDraft(NET_ASSETS, -result))
        entry_id = books.post_entry(
            db,
            book.id,
            books.EntryDraft(
                effective_date=year_end,
                memo=f"年终结转 year-end closing {label}: revenue and expense to net assets",
                kind="closing",
                source_ref=f"school:{school.id}",
                idempotency_key=f"closing:{year_end.isoformat()}",
                postings=postings,
            ),
            actor=actor,
        ).entry_id
    closing = YearClosing(
        school_id=school.id,
        name=label,
        year_start=year_start,
        year_end=year_end,
        entry_id=entry_id,
        net_result=result,
        closed_by=actor,
    )
    db.add(closing)
    db.flush()
    periods = close_span(db, school, start=year_start, end=year_end, actor=actor)
    for term in db.scalars(
        select(Term).where(
            Term.school_id == school.id, Term.start >= year_start, Term.end <= year_end
        )
    ):
        term.is_closed = True
    db.flush()
    return YearClosingResult(closing, moved, periods)


# --------------------------------------------------------------------------- district roll-up


@dataclass(frozen=True)
class RollupLine:
    """One top-level account, its sub-accounts (households, kinds, funders) summed in."""

    code: str
    name: str
    type: str
    debit: int
    credit: int


@dataclass
class SchoolTrialBalance:
    school_code: str
    school_name: str
    #: Every account's own balance, as ``ledger.books.trial_balance`` gives it.
    lines: list[books.TrialBalanceLine]
    #: The same, rolled up to the top-level accounts of the chart.
    summary: list[RollupLine]

    @property
    def total_debit(self) -> int:
        return sum(line.debit for line in self.lines)

    @property
    def total_credit(self) -> int:
        return sum(line.credit for line in self.lines)


@dataclass
class DistrictRollup:
    district_code: str
    as_of: dt.date | None
    schools: list[SchoolTrialBalance] = field(default_factory=list)
    #: The district total per top-level account, summed over its schools.
    total: list[RollupLine] = field(default_factory=list)

    @property
    def total_debit(self) -> int:
        return sum(line.debit for line in self.total)

    @property
    def total_credit(self) -> int:
        return sum(line.credit for line in self.total)


def _roots(db: Session, book_id: int) -> dict[str, books.Account]:
    """Each account code of a book mapped to its top-level ancestor."""
    accounts = list(db.scalars(select(books.Account).where(books.Account.book_id == book_id)))
    by_id = {a.id: a for a in accounts}
    out = {}
    for account in accounts:
        root = account
        while root.parent_id is not None:
            root = by_id[root.parent_id]
        out[account.code] = root
    return out


def _line(code: str, name: str, type_: str, net: int) -> RollupLine:
    return RollupLine(code, name, type_, max(net, 0), max(-net, 0))


def district_rollup(
    db: Session, district: District, *, as_of: dt.date | None = None
) -> DistrictRollup:
    """Every school's trial balance, and the district total per top-level account.

    A district sees the sum of its schools' books (DESIGN.md, "The books");
    each school's lines are its own, and the district total adds up the
    schools' top-level accounts (household and funder sub-accounts summed in).
    """
    rollup = DistrictRollup(district.code, as_of)
    totals: dict[str, list] = {}
    for school in db.scalars(
        select(School).where(School.district_id == district.id).order_by(School.code)
    ):
        book = db.get(books.Book, school.book_id)
        tb = books.trial_balance(db, book, as_of=as_of)
        roots = _roots(db, book.id)
        summed: dict[str, list] = {}
        for line in tb.lines:
            root = roots[line.code]
            entry = summed.setdefault(root.code, [root.name, root.type, 0])
            entry[2] += line.debit - line.credit
        summary = [
            _line(code, name, type_, net) for code, (name, type_, net) in sorted(summed.items())
        ]
        rollup.schools.append(SchoolTrialBalance(school.code, school.name, tb.lines, summary))
        for line in summary:
            entry = totals.setdefault(line.code, [line.name, line.type, 0])
            entry[2] += line.debit - line.credit
    rollup.total = [
        _line(code, name, type_, net) for code, (name, type_, net) in sorted(totals.items())
    ]
    return rollup
