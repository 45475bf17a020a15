"""Reconciliation reports: what the books say against what others say.

* **Subsidy claims against receipts** — :func:`subsidy_claims`, which is
  :func:`ledger.school.subsidies.reconcile_school` (claims, receipts, what is
  due today per student, the funder's receivable in the books); it is not
  computed a second time here.
* **Household receivables aging** — :func:`receivables_aging`: what each
  household still owes on each invoice as of a date, by days past the
  invoice's due date (0–30, 31–60, 61–90, over 90; an invoice not yet due is
  in 0–30 and also counted in ``not_yet_due``). Outstanding amounts are
  computed as of the date from the entries that moved them (a charge, a
  payment not returned by then, a credit note, household credit applied and
  not undone by then, an approved write-off), each counted from its entry's
  effective date; so the total equals the households' receivable (1122) in
  the books as of that date, and the report shows both and the difference.
* **Collection rate** — :func:`collection`: of the household part of the
  invoices issued in a date range, what was collected (payments, household
  credit applied) by the range's end, written off, and still outstanding;
  the rate is collected ÷ billed, as an exact two-decimal percentage string.
* **Bank balance** — :func:`bank_balance`: the balance on the last statement
  line booked on or before a date against the bank account 1002 in the books
  as of that date, with the difference and the lines that usually explain
  one (money out not yet posted, lines ignored).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, aliased

from ledger import books
from ledger.books import Entry
from ledger.school import subsidies
from ledger.school.errors import RuleBroken
from ledger.school.models import (
    ChargeRecord,
    CreditApplication,
    CreditRecord,
    Household,
    Invoice,
    Payment,
    PaymentAllocation,
    School,
    WriteOff,
    WriteOffLine,
)

from .models import BankLine

__all__ = [
    "BUCKETS",
    "Aging",
    "BankBalance",
    "Collection",
    "bank_balance",
    "bucket_of",
    "collection",
    "percent",
    "receivables_aging",
    "subsidy_claims",
]

BUCKETS = ("0-30", "31-60", "61-90", "over_90")


def subsidy_claims(db: Session, school: School) -> subsidies.SchoolReconciliation:
    """Subsidy claims against receipts: the school domain's reconciliation, as it is."""
    return subsidies.reconcile_school(db, school)


# --------------------------------------------------------------------------- aging


def bucket_of(days_past_due: int) -> str:
    """The aging bucket of an invoice ``days_past_due`` days after its due date (≤ 0: not due)."""
    if days_past_due <= 30:
        return "0-30"
    if days_past_due <= 60:
        return "31-60"
    if days_past_due <= 90:
        return "61-90"
    return "over_90"


@dataclass(frozen=True)
class AgingInvoice:
    number: str
    due_date: dt.date
    days_past_due: int
    bucket: str
    outstanding: int


@dataclass
class AgingHousehold:
    household_id: int
    name: str
    buckets: dict[str, int] = field(default_factory=lambda: dict.fromkeys(BUCKETS, 0))
    invoices: list[AgingInvoice] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(self.buckets.values())


@dataclass
class Aging:
    school_code: str
    as_of: dt.date
    households: list[AgingHousehold]
    #: Of the 0–30 bucket: invoices whose due date is ``as_of`` or later.
    not_yet_due: int
    #: The households' receivable (1122 and its sub-accounts) in the books as of the date.
    books_receivable: int

    @property
    def totals(self) -> dict[str, int]:
        out = dict.fromkeys(BUCKETS, 0)
        for h in self.households:
            for bucket, amount in h.buckets.items():
                out[bucket] += amount
        return out

    @property
    def total(self) -> int:
        return sum(h.total for h in self.households)

    @property
    def difference(self) -> int:
        """The books less the invoices: zero when every receivable movement names its invoice."""
        return self.books_receivable - self.total


def _sums(db: Session, stmt) -> dict[int, int]:  # type: ignore[no-untyped-def]
    return {invoice_id: int(total or 0) for invoice_id, total in db.execute(stmt)}


@dataclass(frozen=True)
class _Movements:
    """Per invoice id: what moved its household part up to a date, each a sum in fen."""

    charged: dict[int, int]
    paid: dict[int, int]
    credited: dict[int, int]
    applied: dict[int, int]
    written_off: dict[int, int]

    def outstanding(self, invoice_id: int) -> int:
        return (
            self.charged.get(invoice_id, 0)
            - self.paid.get(invoice_id, 0)
            - self.credited.get(invoice_id, 0)
            - self.applied.get(invoice_id, 0)
            - self.written_off.get(invoice_id, 0)
        )


def _movements(db: Session, school: School, as_of: dt.date) -> _Movements:
    """Charges, payments, credit notes, credit applied and write-offs per invoice by ``as_of``."""
    posted = aliased(Entry)
    undone = aliased(Entry)
    charged = _sums(
        db,
        select(ChargeRecord.invoice_id, func.sum(ChargeRecord.household))
        .join(posted, posted.id == ChargeRecord.entry_id)
        .where(
            ChargeRecord.school_id == school.id,
            ChargeRecord.invoice_id.is_not(None),
            posted.effective_date <= as_of,
        )
        .group_by(ChargeRecord.invoice_id),
    )
    paid = _sums(
        db,
        select(PaymentAllocation.invoice_id, func.sum(PaymentAllocation.amount))
        .join(Payment, Payment.id == PaymentAllocation.payment_id)
        .join(posted, posted.id == Payment.entry_id)
        .outerjoin(undone, undone.id == Payment.returned_entry_id)
        .where(
            Payment.school_id == school.id,
            posted.effective_date <= as_of,
            or_(Payment.returned_entry_id.is_(None), undone.effective_date > as_of),
        )
        .group_by(PaymentAllocation.invoice_id),
    )
    credited = _sums(
        db,
        select(ChargeRecord.invoice_id, func.sum(CreditRecord.to_invoice))
        .join(ChargeRecord, ChargeRecord.id == CreditRecord.charge_id)
        .join(posted, posted.id == CreditRecord.entry_id)
        .where(
            ChargeRecord.school_id == school.id,
            ChargeRecord.invoice_id.is_not(None),
            posted.effective_date <= as_of,
        )
        .group_by(ChargeRecord.invoice_id),
    )
    applied = _sums(
        db,
        select(CreditApplication.invoice_id, func.sum(CreditApplication.amount))
        .join(posted, posted.id == CreditApplication.entry_id)
        .outerjoin(undone, undone.id == CreditApplication.undone_entry_id)
        .where(
            CreditApplication.school_id == school.id,
            posted.effective_date <= as_of,
            or_(CreditApplication.undone_entry_id.is_(None), undone.effective_date > as_of),
        )
        .group_by(CreditApplication.invoice_id),
    )
    written_off = _sums(
        db,
        select(WriteOffLine.invoice_id, func.sum(WriteOffLine.amount))
        .join(WriteOff, WriteOff.id == WriteOffLine.write_off_id)
        .join(posted, posted.id == WriteOff.entry_id)
        .where(
            WriteOff.school_id == school.id,
            WriteOff.status == "approved",
            posted.effective_date <= as_of,
        )
        .group_by(WriteOffLine.invoice_id),
    )
    return _Movements(charged, paid, credited, applied, written_off)


def _outstanding_as_of(db: Session, school: School, as_of: dt.date) -> dict[int, int]:
    """What each of the school's invoices still asked on ``as_of``, by the entries' dates."""
    moved = _movements(db, school, as_of)
    return {invoice_id: moved.outstanding(invoice_id) for invoice_id in moved.charged}


def _receivable_in_books(db: Session, school: School, as_of: dt.date) -> int:
    book = db.get(books.Book, school.book_id)
    account = db.scalar(
        select(books.Account).where(books.Account.book_id == book.id, books.Account.code == "1122")
    )
    return 0 if account is None else books.account_balance(db, account, as_of).balance


def receivables_aging(db: Session, school: School, as_of: dt.date) -> Aging:
    """Household receivables aging of the school as of a date (see the module docstring)."""
    owed = {i: o for i, o in _outstanding_as_of(db, school, as_of).items() if o > 0}
    households: dict[int, AgingHousehold] = {}
    not_yet_due = 0
    rows = (
        db.execute(
            select(Invoice, Household.name)
            .join(Household, Household.id == Invoice.household_id)
            .where(Invoice.id.in_(owed))
            .order_by(Invoice.household_id, Invoice.due_date, Invoice.seq)
        ).all()
        if owed
        else []
    )
    for invoice, name in rows:
        days = (as_of - invoice.due_date).days
        bucket = bucket_of(days)
        amount = owed[invoice.id]
        h = households.setdefault(invoice.household_id, AgingHousehold(invoice.household_id, name))
        h.buckets[bucket] += amount
        h.invoices.append(AgingInvoice(invoice.number, invoice.due_date, days, bucket, amount))
        if days <= 0:
            not_yet_due += amount
    return Aging(
        school_code=school.code,
        as_of=as_of,
        households=[households[k] for k in sorted(households)],
        not_yet_due=not_yet_due,
        books_receivable=_receivable_in_books(db, school, as_of),
    )


# --------------------------------------------------------------------------- collection


@dataclass(frozen=True)
class Collection:
    """What households were billed on the invoices issued in a range, and what came in by its end.

    ``billed`` is the invoices' household part less credit notes on them
    (withdrawals, absences, late waivers, cancellations) dated up to ``end``;
    ``collected`` the payments allocated to them and not returned by then plus
    household credit applied to them and not undone; ``written_off`` approved
    small-balance write-offs; ``outstanding`` what is left, the same figure
    :func:`receivables_aging` shows for these invoices as of ``end``. So
    ``billed == collected + written_off + outstanding``.
    """

    school_code: str
    start: dt.date
    end: dt.date
    invoices: int
    billed: int
    collected: int
    written_off: int
    outstanding: int

    @property
    def rate_percent(self) -> str | None:
        """Collected ÷ billed in percent, two decimals (half up); ``None`` when nothing billed."""
        return percent(self.collected, self.billed)


def percent(part: int, whole: int) -> str | None:
    """``part`` ÷ ``whole`` × 100 as a string with two decimals, rounded half up, from integers."""
    if whole == 0:
        return None
    hundredths, rest = divmod(abs(part) * 10000, abs(whole))
    if rest * 2 >= abs(whole):
        hundredths += 1
    sign = "-" if (part < 0) != (whole < 0) and hundredths else ""
    return f"{sign}{hundredths // 100}.{hundredths % 100:02d}"


def collection(db: Session, school: School, start: dt.date, end: dt.date) -> Collection:
    """Collection on the school's invoices issued from ``start`` to ``end`` (both included)."""
    if end < start:
        raise RuleBroken("invalid_dates", "the range ends before it starts", field="to")
    ids = list(
        db.scalars(
            select(Invoice.id).where(
                Invoice.school_id == school.id,
                Invoice.issued_on >= start,
                Invoice.issued_on <= end,
            )
        )
    )
    moved = _movements(db, school, end)
    billed = sum(moved.charged.get(i, 0) - moved.credited.get(i, 0) for i in ids)
    collected = sum(moved.paid.get(i, 0) + moved.applied.get(i, 0) for i in ids)
    written_off = sum(moved.written_off.get(i, 0) for i in ids)
    return Collection(
        school_code=school.code,
        start=start,
        end=end,
        invoices=len(ids),
        billed=billed,
        collected=collected,
        written_off=written_off,
        outstanding=billed - collected - written_off,
    )


# --------------------------------------------------------------------------- bank balance


@dataclass(frozen=True)
class LineTotal:
    count: int
    amount: int


@dataclass
class BankBalance:
    school_code: str
    as_of: dt.date
    #: The statement line whose balance is taken: the last one booked on or before ``as_of``.
    line_id: int | None
    statement_id: int | None
    booked_on: dt.date | None
    statement_balance: int | None
    #: The bank account 1002 in the books as of the line's date (or ``as_of`` without a line).
    book_balance: int
    #: Money out on the statement up to that date (posted by payouts, not matched here).
    outgoing: LineTotal
    #: Lines finance ignored up to that date (their suspense entry reversed).
    ignored: LineTotal
    #: Lines still waiting in 2299 (in the books, but no household's yet).
    unmatched: LineTotal

    @property
    def difference(self) -> int | None:
        """The statement less the books; ``None`` when no statement line has a balance."""
        if self.statement_balance is None:
            return None
        return self.statement_balance - self.book_balance


def _closing_line(db: Session, lines: list[BankLine]) -> BankLine:
    """The last of several lines booked on one day.

    By the balances first: the line no other line continues from (a line
    continues from another when its balance less its own movement is the
    other's balance). When that does not settle it, by the file's order in the
    most recent statement: its last line if the file lists oldest first, its
    first if newest first.
    """
    continued = {line.balance - line.income + line.expense for line in lines}
    last = [line for line in lines if line.balance not in continued]
    if len(last) == 1:
        return last[0]
    statement_id = max(line.statement_id for line in lines)
    first_no, last_no = db.execute(
        select(func.min(BankLine.line_no), func.max(BankLine.line_no)).where(
            BankLine.statement_id == statement_id
        )
    ).one()
    first_day, last_day = (
        db.scalar(
            select(BankLine.booked_on).where(
                BankLine.statement_id == statement_id, BankLine.line_no == n
            )
        )
        for n in (first_no, last_no)
    )
    mine = sorted((x for x in lines if x.statement_id == statement_id), key=lambda x: x.line_no)
    return mine[0] if first_day > last_day else mine[-1]


def _line_total(db: Session, school: School, status: str, as_of: dt.date) -> LineTotal:
    amount = BankLine.income + BankLine.expense
    count, total = db.execute(
        select(func.count(BankLine.id), func.coalesce(func.sum(amount), 0)).where(
            BankLine.school_id == school.id,
            BankLine.status == status,
            BankLine.booked_on <= as_of,
        )
    ).one()
    return LineTotal(int(count), int(total))


def bank_balance(db: Session, school: School, as_of: dt.date) -> BankBalance:
    """The last statement balance on or before ``as_of`` against 1002 in the books that day."""
    day = db.scalar(
        select(func.max(BankLine.booked_on)).where(
            BankLine.school_id == school.id,
            BankLine.balance.is_not(None),
            BankLine.booked_on <= as_of,
        )
    )
    line = None
    if day is not None:
        candidates = list(
            db.scalars(
                select(BankLine)
                .where(
                    BankLine.school_id == school.id,
                    BankLine.balance.is_not(None),
                    BankLine.booked_on == day,
                )
                .order_by(BankLine.id)
            )
        )
        line = _closing_line(db, candidates)
    on = line.booked_on if line is not None else as_of
    book = db.get(books.Book, school.book_id)
    bank = books.get_account(db, book, "1002")
    return BankBalance(
        school_code=school.code,
        as_of=as_of,
        line_id=line.id if line else None,
        statement_id=line.statement_id if line else None,
        booked_on=line.booked_on if line else None,
        statement_balance=line.balance if line else None,
        book_balance=books.account_balance(db, bank, on).balance,
        outgoing=_line_total(db, school, "outgoing", on),
        ignored=_line_total(db, school, "ignored", on),
        unmatched=_line_total(db, school, "unmatched", on),
    )
