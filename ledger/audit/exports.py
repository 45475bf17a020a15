"""Exports of a book: the journal and the trial balance as CSV and XLSX, and the whole book
in Beancount's plain-text format for auditors who open it in Fava.

Spreadsheets. Amounts are yuan with two decimals: in CSV the exact text
(``"1200.00"``), in XLSX numbers (converted from integer fen through
``Decimal``; the file format stores doubles, which show two decimals exactly
at these magnitudes) formatted ``#,##0.00``. Text that a spreadsheet would
read as a formula — starting with ``=``, ``+``, ``-`` or ``@`` (or a tab or
carriage return) — is prefixed with a single quote (:func:`safe_text`), in
CSV and in XLSX alike, so that a memo such as ``=HYPERLINK(…)`` stays text.
XLSX cells are written with explicit types (string, number, date), never
guessed from their text.

Beancount. One ``open`` per account (dated the earlier of its creation and
its first posting; ``close`` for closed accounts), one transaction per
entry with its postings in CNY, in the order of the journal, with metadata
``kehou_entry_id``, ``kehou_number``, ``kehou_kind``, ``kehou_hash``,
``kehou_prev_hash``, ``kehou_posted_by``, ``kehou_recorded_at`` and
``kehou_source``, the kind as a tag and a link ``^kehou-entry-<id>`` shared by
an entry and its reversal. Closing ``balance`` assertions for every open
account (the day after the last entry), each with an explicit zero tolerance
(``~ 0.00``; Beancount would otherwise let two-decimal amounts differ by 0.01),
let ``bean-check`` itself prove that the export sums to Kehou's balances to the
fen. Account names (:func:`beancount_names`):

====================  ==========================================
Kehou type            Beancount root
====================  ==========================================
asset                 ``Assets``
liability             ``Liabilities``
net_assets            ``Equity``
revenue               ``Income``
expense               ``Expenses``
====================  ==========================================

then ``K`` and the code's first part, then each further dot-separated part
with ``_`` read as a word break (``4001.basic_care`` →
``Income:K4001:Basic-Care``, ``1122.H12`` → ``Assets:K1122:H12``); a part
that would not start with a capital letter or a digit gets an ``X`` in front.
Should two codes of one book come out the same, both get ``-`` and the first
eight hex digits of their code's SHA-256 appended. Each ``open`` carries the
Kehou code (``kehou_code``) and name.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal

import xlsxwriter
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ledger import books
from ledger.books import Account, Entry, Posting
from ledger.books.queries import TrialBalance
from ledger.money import FEN_PER_YUAN, format_fen

__all__ = [
    "BEANCOUNT_ROOTS",
    "JOURNAL_COLUMNS",
    "TRIAL_BALANCE_COLUMNS",
    "beancount_names",
    "beancount_text",
    "journal_csv",
    "journal_rows",
    "journal_xlsx",
    "safe_text",
    "trial_balance_csv",
    "trial_balance_rows",
    "trial_balance_xlsx",
]

_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_text(value: str | None) -> str:
    """Text a spreadsheet will not run: a leading ``= + - @`` (tab, CR) gets a ``'`` in front."""
    if value is None:
        return ""
    return "'" + value if value.startswith(_FORMULA_STARTS) else value


def _yuan(fen: int) -> Decimal:
    return Decimal(fen) / FEN_PER_YUAN


# --------------------------------------------------------------------------- rows

JOURNAL_COLUMNS = (
    "entry_id",
    "number",
    "effective_date",
    "kind",
    "memo",
    "source_ref",
    "reverses",
    "posted_by",
    "recorded_at",
    "account",
    "account_name",
    "debit",
    "credit",
    "currency",
    "hash",
)
_JOURNAL_TEXT = {"kind", "memo", "source_ref", "posted_by", "account", "account_name", "hash"}
_JOURNAL_MONEY = {"debit", "credit"}
TRIAL_BALANCE_COLUMNS = ("code", "name", "type", "debit", "credit")


@dataclass(frozen=True)
class JournalRow:
    entry_id: int
    number: int
    effective_date: dt.date
    kind: str
    memo: str
    source_ref: str | None
    reverses: int | None
    posted_by: str
    recorded_at: dt.datetime
    account: str
    account_name: str
    #: Fen; one of debit and credit is zero.
    debit: int
    credit: int
    currency: str
    hash: str


def _entries(
    db: Session, book: books.Book, start: dt.date | None, end: dt.date | None, batch: int = 1000
) -> Iterator[list[Entry]]:
    """The book's entries in journal order, in batches (keyset on the entry number)."""
    after = 0
    while True:
        q = select(Entry).where(Entry.book_id == book.id, Entry.number > after)
        if start is not None:
            q = q.where(Entry.effective_date >= start)
        if end is not None:
            q = q.where(Entry.effective_date <= end)
        rows = list(db.scalars(q.order_by(Entry.number).limit(batch)))
        if not rows:
            return
        yield rows
        after = rows[-1].number


def _accounts(db: Session, book: books.Book) -> dict[int, Account]:
    return {a.id: a for a in db.scalars(select(Account).where(Account.book_id == book.id))}


def _postings(db: Session, entry_ids: list[int]) -> dict[int, list[Posting]]:
    out: dict[int, list[Posting]] = {i: [] for i in entry_ids}
    for p in db.scalars(
        select(Posting).where(Posting.entry_id.in_(entry_ids)).order_by(Posting.id)
    ):
        out[p.entry_id].append(p)
    return out


def journal_rows(
    db: Session, book: books.Book, start: dt.date | None = None, end: dt.date | None = None
) -> Iterator[JournalRow]:
    """One row per posting, entries in journal order, optionally dated ``start``..``end``."""
    accounts = _accounts(db, book)
    for batch in _entries(db, book, start, end):
        postings = _postings(db, [e.id for e in batch])
        for e in batch:
            for p in postings[e.id]:
                account = accounts[p.account_id]
                yield JournalRow(
                    entry_id=e.id,
                    number=e.number,
                    effective_date=e.effective_date,
                    kind=e.kind,
                    memo=e.memo,
                    source_ref=e.source_ref,
                    reverses=e.reverses_id,
                    posted_by=e.posted_by,
                    recorded_at=e.recorded_at,
                    account=account.code,
                    account_name=account.name,
                    debit=p.amount if p.amount > 0 else 0,
                    credit=-p.amount if p.amount < 0 else 0,
                    currency=p.currency,
                    hash=e.hash,
                )


def trial_balance_rows(db: Session, book: books.Book, as_of: dt.date | None = None) -> TrialBalance:
    return books.trial_balance(db, book, as_of)


# --------------------------------------------------------------------------- CSV


def _csv_text(header: Iterable[str], rows: Iterable[list[str]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(list(header))
    writer.writerows(rows)
    return out.getvalue()


def _money_text(fen: int) -> str:
    return format_fen(fen) if fen else ""


def journal_csv(
    db: Session, book: books.Book, start: dt.date | None = None, end: dt.date | None = None
) -> str:
    """The journal as CSV (UTF-8; the caller adds a BOM for spreadsheet programs if wanted)."""
    return _csv_text(
        JOURNAL_COLUMNS,
        (
            [
                str(r.entry_id),
                str(r.number),
                r.effective_date.isoformat(),
                safe_text(r.kind),
                safe_text(r.memo),
                safe_text(r.source_ref),
                "" if r.reverses is None else str(r.reverses),
                safe_text(r.posted_by),
                r.recorded_at.isoformat(sep=" ", timespec="seconds"),
                safe_text(r.account),
                safe_text(r.account_name),
                _money_text(r.debit),
                _money_text(r.credit),
                r.currency,
                r.hash,
            ]
            for r in journal_rows(db, book, start, end)
        ),
    )


def trial_balance_csv(db: Session, book: books.Book, as_of: dt.date | None = None) -> str:
    """The trial balance as CSV: each account's own balance, then a total row."""
    tb = trial_balance_rows(db, book, as_of)
    rows = [
        [safe_text(x.code), safe_text(x.name), x.type, format_fen(x.debit), format_fen(x.credit)]
        for x in tb.lines
    ]
    rows.append(["", "合计 Total", "", format_fen(tb.total_debit), format_fen(tb.total_credit)])
    return _csv_text(TRIAL_BALANCE_COLUMNS, rows)


# --------------------------------------------------------------------------- XLSX


class _Sheet:
    """An XLSX worksheet written with explicit cell types only."""

    def __init__(self, workbook: xlsxwriter.Workbook, name: str, header: Iterable[str]) -> None:
        self.sheet = workbook.add_worksheet(name)
        self.money = workbook.add_format({"num_format": "#,##0.00"})
        self.date = workbook.add_format({"num_format": "yyyy-mm-dd"})
        self.stamp = workbook.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"})
        bold = workbook.add_format({"bold": True})
        self.row = 0
        for col, title in enumerate(header):
            self.sheet.write_string(0, col, title, bold)
        self.sheet.freeze_panes(1, 0)

    def text(self, col: int, value: str | None) -> None:
        if value:
            self.sheet.write_string(self.row, col, safe_text(value))

    def amount(self, col: int, fen: int, *, blank_zero: bool = False) -> None:
        if fen or not blank_zero:
            # Decimal first, so the only float is the file format's own number cell.
            self.sheet.write_number(self.row, col, float(_yuan(fen)), self.money)

    def integer(self, col: int, value: int | None) -> None:
        if value is not None:
            self.sheet.write_number(self.row, col, value)

    def day(self, col: int, value: dt.date) -> None:
        self.sheet.write_datetime(self.row, col, value, self.date)

    def moment(self, col: int, value: dt.datetime) -> None:
        self.sheet.write_datetime(self.row, col, value.replace(microsecond=0), self.stamp)


def _workbook(out: io.BytesIO) -> xlsxwriter.Workbook:
    workbook = xlsxwriter.Workbook(
        out,
        {
            "in_memory": True,
            "strings_to_formulas": False,
            "strings_to_urls": False,
            "strings_to_numbers": False,
        },
    )
    # A fixed creation time: the same book exports to the same bytes.
    workbook.set_properties({"created": dt.datetime(2000, 1, 1)})
    return workbook


def journal_xlsx(
    db: Session, book: books.Book, start: dt.date | None = None, end: dt.date | None = None
) -> bytes:
    """The journal as an XLSX workbook, one sheet, one row per posting."""
    out = io.BytesIO()
    workbook = _workbook(out)
    s = _Sheet(workbook, "Journal", JOURNAL_COLUMNS)
    for r in journal_rows(db, book, start, end):
        s.row += 1
        s.integer(0, r.entry_id)
        s.integer(1, r.number)
        s.day(2, r.effective_date)
        s.text(3, r.kind)
        s.text(4, r.memo)
        s.text(5, r.source_ref)
        s.integer(6, r.reverses)
        s.text(7, r.posted_by)
        s.moment(8, r.recorded_at)
        s.text(9, r.account)
        s.text(10, r.account_name)
        s.amount(11, r.debit, blank_zero=True)
        s.amount(12, r.credit, blank_zero=True)
        s.text(13, r.currency)
        s.text(14, r.hash)
    s.sheet.set_column(4, 4, 40)
    s.sheet.set_column(10, 10, 30)
    workbook.close()
    return out.getvalue()


def trial_balance_xlsx(db: Session, book: books.Book, as_of: dt.date | None = None) -> bytes:
    """The trial balance as an XLSX workbook, with a total row."""
    tb = trial_balance_rows(db, book, as_of)
    out = io.BytesIO()
    workbook = _workbook(out)
    s = _Sheet(workbook, "Trial balance", TRIAL_BALANCE_COLUMNS)
    for line in tb.lines:
        s.row += 1
        s.text(0, line.code)
        s.text(1, line.name)
        s.text(2, line.type)
        s.amount(3, line.debit)
        s.amount(4, line.credit)
    s.row += 1
    s.text(1, "合计 Total")
    s.amount(3, tb.total_debit)
    s.amount(4, tb.total_credit)
    s.sheet.set_column(1, 1, 40)
    workbook.close()
    return out.getvalue()


# --------------------------------------------------------------------------- Beancount

BEANCOUNT_ROOTS = {
    "asset": "Assets",
    "liability": "Liabilities",
    "net_assets": "Equity",
    "revenue": "Income",
    "expense": "Expenses",
}
_COMPONENT = re.compile(r"[A-Z0-9][A-Za-z0-9-]*")


def _words(part: str) -> str:
    """``basic_care`` → ``Basic-Care``: words capitalised, ``_`` read as a word break."""
    return "-".join(w[:1].upper() + w[1:] for w in part.split("_") if w)


def _readable(code: str, type_: str) -> str:
    first, *rest = code.split(".")
    parts = [BEANCOUNT_ROOTS[type_], "K" + _words(first)]
    for part in rest:
        name = _words(part)
        parts.append(name if _COMPONENT.fullmatch(name) else "X" + name)
    return ":".join(parts)


def beancount_names(accounts: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Beancount account names for ``(code, type)`` pairs (see the module docstring)."""
    pairs = list(accounts)
    names = {code: _readable(code, type_) for code, type_ in pairs}
    clashes = Counter(names.values())
    for code, name in names.items():
        if clashes[name] > 1:
            names[code] = f"{name}-{hashlib.sha256(code.encode()).hexdigest()[:8]}"
    return names


def _string(text: str | None) -> str:
    text = (text or "").replace("\\", "\\\\").replace('"', '\\"')
    return '"' + re.sub(r"[\r\n]+", " ", text) + '"'


def _amount(fen: int, currency: str) -> str:
    return f"{format_fen(fen)} {currency}"


def beancount_text(db: Session, book: books.Book) -> str:
    """The whole book as a Beancount file (see the module docstring)."""
    accounts = list(
        db.scalars(select(Account).where(Account.book_id == book.id).order_by(Account.code))
    )
    names = beancount_names((a.code, a.type) for a in accounts)
    by_id = {a.id: a for a in accounts}
    first_last = {
        account_id: (first, last)
        for account_id, first, last in db.execute(
            select(
                Posting.account_id,
                func.min(Posting.effective_date),
                func.max(Posting.effective_date),
            )
            .where(Posting.book_id == book.id)
            .group_by(Posting.account_id)
        )
    }
    reversed_by = dict(
        db.execute(
            select(Entry.reverses_id, Entry.id).where(
                Entry.book_id == book.id, Entry.reverses_id.is_not(None)
            )
        ).all()
    )
    lines = [
        f"; Kehou Ledger: book {book.code}, {book.last_number} entries, "
        f"chain head {book.last_hash}",
        "; Account names: <root>:K<code>[:<part>…] — the Kehou code is each open's kehou_code.",
        f"option {_string('title')} {_string(f'{book.name} ({book.code})')}",
        'option "operating_currency" "CNY"',
        "",
    ]
    opened: dict[int, dt.date] = {}
    for a in accounts:
        first = first_last.get(a.id, (None, None))[0]
        day = a.created_at.date() if first is None else min(a.created_at.date(), first)
        opened[a.id] = day
        lines.append(f"{day.isoformat()} open {names[a.code]} CNY")
        lines.append(f"  kehou_code: {_string(a.code)}")
        lines.append(f"  name: {_string(a.name)}")
    lines.append("")
    last_day: dt.date | None = None
    for batch in _entries(db, book, None, None):
        postings = _postings(db, [e.id for e in batch])
        for e in batch:
            link = e.reverses_id if e.reverses_id is not None else e.id
            links = f" ^kehou-entry-{link}" if e.reverses_id or e.id in reversed_by else ""
            tag = re.sub(r"[^A-Za-z0-9_-]", "-", e.kind)
            lines.append(f"{e.effective_date.isoformat()} * {_string(e.memo)} #{tag}{links}")
            lines.append(f"  kehou_entry_id: {e.id}")
            lines.append(f"  kehou_number: {e.number}")
            lines.append(f"  kehou_kind: {_string(e.kind)}")
            lines.append(f"  kehou_hash: {_string(e.hash)}")
            lines.append(f"  kehou_prev_hash: {_string(e.prev_hash)}")
            lines.append(f"  kehou_posted_by: {_string(e.posted_by)}")
            lines.append(
                f"  kehou_recorded_at: {_string(e.recorded_at.isoformat(timespec='seconds'))}"
            )
            if e.source_ref:
                lines.append(f"  kehou_source: {_string(e.source_ref)}")
            for p in postings[e.id]:
                lines.append(
                    f"  {names[by_id[p.account_id].code]}  {_amount(p.amount, p.currency)}"
                )
            lines.append("")
            last_day = e.effective_date if last_day is None else max(last_day, e.effective_date)
    if last_day is not None:
        day = max([last_day, *opened.values()]) + dt.timedelta(days=1)
        closed = []
        for a in accounts:
            if a.is_closed:
                closed.append(a)
                continue
            total = books.account_balance(db, a).balance
            # ``~ 0.00``: exact. Beancount's default tolerance for a two-decimal balance is
            # 0.01, which would let an export that is one fen off pass bean-check.
            lines.append(
                f"{day.isoformat()} balance {names[a.code]}  {format_fen(total)} ~ 0.00 CNY"
            )
        lines.append("")
        for a in closed:
            last = first_last.get(a.id, (None, None))[1]
            when = max(d for d in (a.closed_at.date() if a.closed_at else None, last, day) if d)
            lines.append(f"{when.isoformat()} close {names[a.code]}")
    return "\n".join(lines) + "\n"
