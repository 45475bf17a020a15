"""Bank statements: read a CSV export, keep each line once, and turn incoming money into
household payments.

Reading. A statement is a CSV file as online banking exports it, in UTF-8
(with or without a byte-order mark) or GBK/GB18030: the bytes are tried as
strict UTF-8 first, then GBK, then GB18030. A :class:`ColumnMapping` names the
columns (date, description, income, expense, and optionally counterparty
name and account, and balance); :data:`CN_ONLINE_BANKING` is the common
Chinese export (交易日期, 摘要, 收入金额, 支出金额, 对方户名, 对方账号, 余额).
Rows above the header (account number, period) are skipped; blank rows too.
Amounts are read strictly into integer fen (:func:`parse_bank_amount`): the
thousands separators that bank exports print ("1,200.00") are accepted when
they group by three, anything else is refused. A file with any line that
cannot be read is refused as a whole (:class:`BankFileMalformed`, with the
line number and the reason), and nothing of it is stored.

Keeping each line once. The same file (by SHA-256) is imported once; a
second import answers with the first. Each line has a fingerprint (date,
amounts, counterparty, description, balance, and how many identical lines
came before it in the same file), unique per school, so statements whose
periods overlap record a line seen before only once.

Matching incoming lines (money in):

* the description names an invoice number of the school (``Invoice.number``,
  compared without case, spaces or separators, full-width characters read as
  ASCII) — the line is that household's when the amount is what the named
  invoices, or all the household's open invoices, still ask for; the payment's
  reference is the invoice;
* otherwise the description names a student number (``Student.student_no``)
  — the line is that student's household's when the amount is what one open
  invoice (then the payment's reference) or all of them still ask for;
* numbers that point at two households, an amount that fits nothing, or a
  payment of the same amount on the same day already recorded by hand for
  that household (a likely duplicate) leave the line ``unmatched``.

A matched line becomes a household payment (:func:`ledger.school.payments.
record_payment`, method ``bank_transfer``, idempotency key from the line's
fingerprint): ``Dr 1002 / Cr 1122.H`` and 2241.H for any rest. An unmatched
line is still money in the bank, so it waits in unidentified receipts
(DESIGN.md): ``Dr 1002 / Cr 2299``. Finance then either assigns it to a
household (:func:`assign_line`) — ``Dr 2299 / Cr 1122.H`` (2241.H for the
rest), settling invoices exactly as a payment does — or ignores it with a
note (:func:`ignore_line`), which reverses the suspense entry: the money is
recorded elsewhere (a subsidy receipt, a payment entered by hand) or is not
the programme's, and the bank reconciliation shows it if it is in no entry.

Outgoing lines (money out) are stored as ``outgoing`` and not matched here:
payouts are posted by the payout batches when they are paid, and matching
bank debits to them is left for later; until then the bank reconciliation
(:mod:`ledger.audit.reconcile`) shows any difference they leave.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger import books
from ledger.books.models import utcnow
from ledger.money import MAX_FEN, format_fen
from ledger.school import payments
from ledger.school.errors import Conflict, NotFound, RuleBroken
from ledger.school.models import Household, Invoice, Payment, School, Student
from ledger.school.receivables import OPEN, invoice_outstanding

from .models import BankLine, BankStatement

__all__ = [
    "CN_ONLINE_BANKING",
    "MAPPINGS",
    "BankFileMalformed",
    "ColumnMapping",
    "ImportResult",
    "ParsedLine",
    "ParsedStatement",
    "Suggestion",
    "assign_line",
    "get_line",
    "get_statement",
    "ignore_line",
    "import_statement",
    "mapping_from_dict",
    "parse_bank_amount",
    "parse_statement",
    "suggest",
]

BANK_METHOD = "bank_transfer"
#: Lines above the header row that are read as a preamble (account number, period…).
HEADER_SEARCH_ROWS = 30
MAX_LINES = 100_000


class BankFileMalformed(RuleBroken):
    """A bank file that cannot be read; ``line`` is the line of the file (1-based) at fault."""

    def __init__(self, line: int | None, reason: str) -> None:
        where = f"line {line}: " if line is not None else ""
        super().__init__(
            "bank_file_malformed", f"{where}{reason}; nothing was imported", field="file"
        )
        self.line = line
        self.reason = reason


# --------------------------------------------------------------------------- mapping


@dataclass(frozen=True)
class ColumnMapping:
    """Which header names hold which field. ``income`` and ``expense`` may name the same
    column: it then holds a signed amount (money in positive, money out negative)."""

    date: str
    description: str
    income: str
    expense: str
    counterparty_name: str | None = None
    counterparty_account: str | None = None
    balance: str | None = None
    delimiter: str = ","

    def columns(self) -> dict[str, str]:
        named = {
            "date": self.date,
            "description": self.description,
            "income": self.income,
            "expense": self.expense,
            "counterparty_name": self.counterparty_name,
            "counterparty_account": self.counterparty_account,
            "balance": self.balance,
        }
        return {k: v for k, v in named.items() if v is not None}


CN_ONLINE_BANKING = ColumnMapping(
    date="交易日期",
    description="摘要",
    income="收入金额",
    expense="支出金额",
    counterparty_name="对方户名",
    counterparty_account="对方账号",
    balance="余额",
)
MAPPINGS: dict[str, ColumnMapping] = {"cn_online_banking": CN_ONLINE_BANKING}
_REQUIRED = ("date", "description", "income", "expense")
_OPTIONAL = ("counterparty_name", "counterparty_account", "balance")
_DELIMITERS = (",", ";", "\t", "|")


def mapping_from_dict(data: Mapping[str, Any]) -> ColumnMapping:
    """A custom mapping from ``{"date": "记账日期", "description": …}``; refused
    (``invalid_mapping``) when a required column is missing or a key is unknown."""
    if not isinstance(data, Mapping):
        raise RuleBroken("invalid_mapping", "the mapping must be a JSON object", field="mapping")
    known = set(_REQUIRED) | set(_OPTIONAL) | {"delimiter"}
    unknown = sorted(set(data) - known)
    if unknown:
        raise RuleBroken(
            "invalid_mapping",
            f"unknown mapping keys {', '.join(unknown)}; known: {', '.join(sorted(known))}",
            field="mapping",
        )
    values: dict[str, Any] = {}
    for key in (*_REQUIRED, *_OPTIONAL):
        value = data.get(key)
        if value is None and key in _OPTIONAL:
            continue
        if not isinstance(value, str) or not value.strip() or len(value) > 100:
            raise RuleBroken(
                "invalid_mapping",
                f"mapping {key!r} must name a column header (1–100 characters)",
                field="mapping",
            )
        values[key] = value.strip()
    delimiter = data.get("delimiter", ",")
    if delimiter not in _DELIMITERS:
        raise RuleBroken(
            "invalid_mapping",
            f"delimiter must be one of {', '.join(repr(d) for d in _DELIMITERS)}",
            field="mapping",
        )
    # Only income and expense may share a column (a signed amount).
    names = [v for k, v in values.items() if not (k == "expense" and v == values["income"])]
    if len(names) != len(set(names)):
        raise RuleBroken(
            "invalid_mapping",
            "two fields name the same column (only income and expense may share a signed one)",
            field="mapping",
        )
    return ColumnMapping(**values, delimiter=delimiter)


# --------------------------------------------------------------------------- reading


@dataclass(frozen=True)
class ParsedLine:
    line_no: int
    booked_on: dt.date
    description: str
    income: int
    expense: int
    counterparty_name: str | None
    counterparty_account: str | None
    balance: int | None


@dataclass(frozen=True)
class ParsedStatement:
    encoding: str
    lines: list[ParsedLine]


_AMOUNT = re.compile(r"(0|[1-9][0-9]{0,2}(?:,[0-9]{3})+|[1-9][0-9]*)(?:\.([0-9]{1,2}))?")


def parse_bank_amount(text: str, *, allow_negative: bool = False) -> int:
    """A bank export's amount as integer fen: ``"1,200.00"``, ``"1200.5"``, ``"0.00"``.

    Thousands separators are accepted only in groups of three (``"1,20.00"``
    is refused), at most two decimals, no currency signs, no exponent, no
    spaces inside; ``-`` only where a signed amount is expected. Never a float.
    """
    if not isinstance(text, str):
        raise ValueError("an amount must be text")
    negative = allow_negative and text.startswith("-")
    body = text[1:] if negative else text
    m = _AMOUNT.fullmatch(body)
    if m is None:
        raise ValueError(f"{text!r} is not an amount such as 1,200.00")
    whole = int(m.group(1).replace(",", ""))
    cents = (m.group(2) or "").ljust(2, "0")
    fen = whole * 100 + int(cents)
    if fen > MAX_FEN:
        raise ValueError(f"{text!r} is too large")
    return -fen if negative else fen


_DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%Y%m%d", "%Y.%m.%d")
_DATE = re.compile(
    r"(\d{4}-\d{1,2}-\d{1,2}|\d{4}/\d{1,2}/\d{1,2}|\d{8}|\d{4}\.\d{1,2}\.\d{1,2})"
    r"(?:[ T]\d{1,2}:\d{2}(?::\d{2})?)?"
)
_CN_DATE = re.compile(r"(\d{4})年(\d{1,2})月(\d{1,2})日(?:\s*\d{1,2}:\d{2}(?::\d{2})?)?")


def _parse_date(text: str) -> dt.date:
    m = _CN_DATE.fullmatch(text)
    if m:
        return dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    m = _DATE.fullmatch(text)
    if m:
        for fmt in _DATE_FORMATS:
            try:
                return dt.datetime.strptime(m.group(1), fmt).date()
            except ValueError:
                continue
    raise ValueError(f"{text!r} is not a date such as 2026-09-05")


def _decode(data: bytes) -> tuple[str, str]:
    if data.startswith(b"\xef\xbb\xbf"):
        candidates = [("utf-8-sig", data[3:], "utf-8")]
    elif data.startswith((b"\xff\xfe", b"\xfe\xff")):
        candidates = [("utf-16", data, "utf-16")]
    else:
        candidates = [("utf-8", data, "utf-8"), ("gbk", data, "gbk"), ("gb18030", data, "gb18030")]
    error: UnicodeDecodeError | None = None
    for name, raw, codec in candidates:
        try:
            return raw.decode(codec), name
        except UnicodeDecodeError as exc:
            error = exc if error is None else error
    line = data[: error.start].count(b"\n") + 1 if error is not None else None
    raise BankFileMalformed(line, "the file is neither UTF-8 nor GBK/GB18030 text")


def _cell(text: str) -> str:
    text = text.strip()
    # Excel-protected text as some banks write it: ="6222021234".
    if len(text) >= 3 and text.startswith('="') and text.endswith('"'):
        text = text[2:-1].strip()
    return text


def _find_header(
    rows: Iterable[tuple[int, list[str]]], wanted: dict[str, str]
) -> tuple[int, dict[str, int]]:
    for n, (line_no, row) in enumerate(rows):
        cells = [_cell(c) for c in row]
        if all(name in cells for name in wanted.values()):
            index = {}
            for key, name in wanted.items():
                if cells.count(name) > 1:
                    raise BankFileMalformed(line_no, f"the header names column {name!r} twice")
                index[key] = cells.index(name)
            return line_no, index
        if n + 1 >= HEADER_SEARCH_ROWS:
            break
    names = ", ".join(dict.fromkeys(wanted.values()))
    raise BankFileMalformed(
        None, f"no header row with the columns {names} in the first {HEADER_SEARCH_ROWS} rows"
    )


def _numbered_rows(reader: Any) -> Iterable[tuple[int, list[str]]]:
    start = 1
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise BankFileMalformed(reader.line_num, f"the CSV cannot be read ({exc})") from None
        yield start, row
        start = reader.line_num + 1


def parse_statement(data: bytes, mapping: ColumnMapping) -> ParsedStatement:
    """Read a whole statement, or refuse it at its first bad line (:class:`BankFileMalformed`)."""
    text, encoding = _decode(data)
    if "\x00" in text:
        raise BankFileMalformed(text[: text.index("\x00")].count("\n") + 1, "the line holds NUL")
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=mapping.delimiter, strict=True)
    rows = _numbered_rows(reader)
    header_line, index = _find_header(rows, mapping.columns())
    signed = mapping.income == mapping.expense
    width = max(index.values()) + 1
    lines: list[ParsedLine] = []
    for line_no, row in rows:
        cells = [_cell(c) for c in row]
        if not any(cells):
            continue
        if len(cells) < width:
            raise BankFileMalformed(
                line_no, f"the line has {len(cells)} cells; the columns need {width}"
            )
        lines.append(_read_line(line_no, cells, index, mapping.columns(), signed))
        if len(lines) > MAX_LINES:
            raise BankFileMalformed(line_no, f"a statement holds at most {MAX_LINES} lines")
    if not lines:
        raise BankFileMalformed(header_line, "the header is followed by no transaction line")
    return ParsedStatement(encoding, lines)


def _read_line(
    line_no: int, cells: list[str], index: dict[str, int], names: dict[str, str], signed: bool
) -> ParsedLine:
    def cell(key: str) -> str | None:
        return cells[index[key]] if key in index else None

    def amount(key: str, *, negative: bool = False) -> int:
        text = cell(key) or ""
        if text == "":
            return 0
        try:
            return parse_bank_amount(text, allow_negative=negative)
        except ValueError as exc:
            raise BankFileMalformed(line_no, f"column {names[key]}: {exc}") from None

    try:
        booked_on = _parse_date(cell("date") or "")
    except ValueError as exc:
        raise BankFileMalformed(line_no, f"column {names['date']}: {exc}") from None
    if signed:
        value = amount("income", negative=True)
        income, expense = max(value, 0), max(-value, 0)
    else:
        income, expense = amount("income"), amount("expense")
    if income and expense:
        raise BankFileMalformed(line_no, "the line has both an income and an expense amount")
    if not income and not expense:
        raise BankFileMalformed(line_no, "the line moves no money (no income, no expense)")
    balance_text = cell("balance")
    balance = amount("balance", negative=True) if balance_text else None
    limits = {"description": 500, "counterparty_name": 200, "counterparty_account": 64}
    for key, most in limits.items():
        value = cell(key)
        if value is not None and len(value) > most:
            raise BankFileMalformed(
                line_no, f"column {names[key]} is longer than {most} characters"
            )
    return ParsedLine(
        line_no=line_no,
        booked_on=booked_on,
        description=cell("description") or "",
        income=income,
        expense=expense,
        counterparty_name=cell("counterparty_name") or None,
        counterparty_account=cell("counterparty_account") or None,
        balance=balance,
    )


def fingerprints(lines: Iterable[ParsedLine]) -> list[str]:
    """One fingerprint per line; identical lines of one file differ by their occurrence."""
    seen: dict[str, int] = defaultdict(int)
    out = []
    for line in lines:
        content = "\x1f".join(
            [
                "bank-line-v1",
                line.booked_on.isoformat(),
                str(line.income),
                str(line.expense),
                line.counterparty_name or "",
                line.counterparty_account or "",
                line.description,
                "" if line.balance is None else str(line.balance),
            ]
        )
        seen[content] += 1
        out.append(hashlib.sha256(f"{content}\x1f{seen[content]}".encode()).hexdigest())
    return out


# --------------------------------------------------------------------------- matching


#: A number in a description: letters and digits, joined by ``-`` or ``_`` (``S1-2026-000001``).
_TOKEN = re.compile(r"[A-Z0-9]+(?:[-_][A-Z0-9]+)*")
_DIGITS = re.compile(r"[0-9]{4,}")
_SEPARATORS = re.compile(r"[-_\s]")


def _squash(text: str) -> str:
    return _SEPARATORS.sub("", unicodedata.normalize("NFKC", text).upper())


def _keys(description: str) -> list[str]:
    """Numbers a description may name, squashed: whole tokens, then long digit runs in them."""
    text = unicodedata.normalize("NFKC", description).upper()
    out: list[str] = []
    for m in _TOKEN.finditer(text):
        token = _squash(m.group())
        out.append(token)
        out.extend(d.group() for d in _DIGITS.finditer(token) if d.group() != token)
    return list(dict.fromkeys(out))


@dataclass
class _Index:
    """The school's invoice numbers and student numbers, squashed, for one import."""

    invoices: dict[str, list[tuple[int, int, str]]] = field(default_factory=dict)
    students: dict[str, set[int]] = field(default_factory=dict)

    @classmethod
    def load(cls, db: Session, school: School) -> _Index:
        index = cls()
        for invoice_id, household_id, number in db.execute(
            select(Invoice.id, Invoice.household_id, Invoice.number).where(
                Invoice.school_id == school.id
            )
        ):
            index.invoices.setdefault(_squash(number), []).append(
                (invoice_id, household_id, number)
            )
        for household_id, student_no in db.execute(
            select(Student.household_id, Student.student_no).where(
                Student.school_id == school.id, Student.student_no.is_not(None)
            )
        ):
            if student_no.strip():
                index.students.setdefault(_squash(student_no), set()).add(household_id)
        return index


@dataclass(frozen=True)
class Suggestion:
    """What matching makes of a line: the household when it is sure, and why (or why not)."""

    matched: bool
    reason: str
    household_id: int | None = None
    reference: str | None = None
    via: str | None = None
    candidates: tuple[int, ...] = ()


def _identify(index: _Index, description: str) -> tuple[list[tuple[int, int, str]], set[int]]:
    invoices: list[tuple[int, int, str]] = []
    students: set[int] = set()
    for key in _keys(description):
        for hit in index.invoices.get(key, ()):
            if hit not in invoices:
                invoices.append(hit)
        students |= index.students.get(key, set())
    return invoices, students


def _open_outstanding(db: Session, school: School, household_id: int) -> list[tuple[str, int]]:
    out = []
    for invoice in payments.open_invoices(db, school, household_id):
        owed = invoice_outstanding(db, invoice)
        if owed > 0:
            out.append((invoice.number, owed))
    return out


def _match(
    db: Session, school: School, index: _Index, description: str, amount: int, on: dt.date
) -> Suggestion:
    invoices, students = _identify(index, description)
    households = {h for _, h, _ in invoices} | students
    if not households:
        return Suggestion(False, "the description names no invoice or student number of the school")
    if len(households) > 1:
        return Suggestion(
            False,
            "the numbers in the description point at more than one household",
            candidates=tuple(sorted(households)),
        )
    (household_id,) = households
    open_ = _open_outstanding(db, school, household_id)
    owed = dict(open_)
    total = sum(owed.values())
    reference: str | None = None
    if invoices:
        via = "invoice"
        named = [number for _, _, number in invoices]
        asked = sum(owed.get(n, 0) for n in named)
        reference = next((n for n in named if owed.get(n, 0) > 0), named[0])
        fits = amount in (asked, total) and amount > 0
        what = f"invoice {', '.join(named)} still asks {format_fen(asked)}"
    else:
        via = "student"
        single = [n for n, o in open_ if o == amount]
        if len(single) == 1:
            reference = single[0]
        fits = bool(single) or (amount == total and total > 0)
        what = f"the household's open invoices ask {format_fen(total)}"
    if not fits:
        return Suggestion(
            False,
            f"the amount {format_fen(amount)} does not fit: {what}",
            household_id,
            reference,
            via,
            (household_id,),
        )
    twin = db.scalar(
        select(Payment.id)
        .where(
            Payment.school_id == school.id,
            Payment.household_id == household_id,
            Payment.amount == amount,
            Payment.received_on == on,
            Payment.returned_entry_id.is_(None),
            Payment.id.not_in(
                select(BankLine.payment_id).where(
                    BankLine.school_id == school.id, BankLine.payment_id.is_not(None)
                )
            ),
        )
        .limit(1)
    )
    if twin is not None:
        return Suggestion(
            False,
            f"payment {twin} of the same amount on the same day is already recorded for the "
            "household: a likely duplicate",
            household_id,
            reference,
            via,
            (household_id,),
        )
    return Suggestion(True, f"matched by {via} number and amount", household_id, reference, via)


def suggest(db: Session, line: BankLine) -> Suggestion:
    """What matching would make of an unmatched line now (for the queue finance works through)."""
    school = db.get(School, line.school_id)
    if line.expense:
        return Suggestion(False, "money out: payouts are not matched to bank lines yet")
    return _match(
        db, school, _Index.load(db, school), line.description, line.income, line.booked_on
    )


# --------------------------------------------------------------------------- importing


@dataclass
class ImportResult:
    statement: BankStatement
    #: True when the same file had been imported before: nothing was written now.
    replayed: bool = False
    new_lines: list[BankLine] = field(default_factory=list)
    #: Lines of the file recorded before by another statement (overlapping periods).
    already_known: int = 0


def _suspense_key(fingerprint: str) -> str:
    return f"bank-suspense:{fingerprint}"


def _line_memo(line: BankLine) -> str:
    who = f" {line.counterparty_name}" if line.counterparty_name else ""
    text = f" {line.description}" if line.description else ""
    return f"银行流水 bank line {line.booked_on}{who}{text}"[:1000]


def import_statement(
    db: Session,
    school: School,
    data: bytes,
    *,
    filename: str,
    mapping: ColumnMapping,
    mapping_name: str,
    actor: str,
) -> ImportResult:
    """Import a statement file: store its new lines, match and post them (see the module).

    The same file again answers with its first import (``replayed``). The
    whole file is read before anything is written: a malformed file is
    refused (``bank_file_malformed``) with nothing stored or posted.
    """
    sha = hashlib.sha256(data).hexdigest()
    # Serialise imports (and every posting) of the school's book: two imports of one file at
    # the same time must not both get past the check below.
    books.hold_book(db, school.book_id)
    first = db.scalar(
        select(BankStatement).where(
            BankStatement.school_id == school.id, BankStatement.sha256 == sha
        )
    )
    if first is not None:
        return ImportResult(first, replayed=True)
    parsed = parse_statement(data, mapping)
    prints = fingerprints(parsed.lines)
    known: set[str] = set()
    for i in range(0, len(prints), 500):
        known.update(
            db.scalars(
                select(BankLine.fingerprint).where(
                    BankLine.school_id == school.id, BankLine.fingerprint.in_(prints[i : i + 500])
                )
            )
        )
    statement = BankStatement(
        school_id=school.id,
        filename=(filename or "statement.csv")[:255],
        sha256=sha,
        encoding=parsed.encoding,
        mapping=mapping_name[:40],
        lines=len(parsed.lines),
        imported_by=actor,
    )
    db.add(statement)
    db.flush()
    result = ImportResult(statement)
    index = _Index.load(db, school)
    # Oldest first (files listing the newest line first are common), the file's order within
    # a day, so that payments settle invoices in the order the money came.
    ordered = sorted(zip(parsed.lines, prints, strict=True), key=lambda p: p[0].booked_on)
    for parsed_line, fingerprint in ordered:
        if fingerprint in known:
            result.already_known += 1
            continue
        known.add(fingerprint)
        line = BankLine(
            statement_id=statement.id,
            school_id=school.id,
            line_no=parsed_line.line_no,
            booked_on=parsed_line.booked_on,
            description=parsed_line.description,
            income=parsed_line.income,
            expense=parsed_line.expense,
            counterparty_name=parsed_line.counterparty_name,
            counterparty_account=parsed_line.counterparty_account,
            balance=parsed_line.balance,
            fingerprint=fingerprint,
            status="outgoing" if parsed_line.expense else "unmatched",
        )
        db.add(line)
        db.flush()
        result.new_lines.append(line)
        if line.expense:
            continue
        match = _match(db, school, index, line.description, line.income, line.booked_on)
        if match.matched:
            paid = payments.record_payment(
                db,
                school,
                db.get(Household, match.household_id),
                amount=line.income,
                received_on=line.booked_on,
                method=BANK_METHOD,
                actor=actor,
                reference=match.reference,
                idempotency_key=f"bank:{fingerprint}",
            )
            line.status = "matched"
            line.household_id = match.household_id
            line.payment_id = paid.payment.id
            db.flush()
        else:
            books.post_entry(
                db,
                school.book_id,
                books.EntryDraft(
                    effective_date=line.booked_on,
                    memo=f"待查明收款 unidentified receipt: {_line_memo(line)}",
                    kind="payment",
                    source_ref=f"bank-line:{line.id}",
                    idempotency_key=_suspense_key(fingerprint),
                    postings=[
                        books.PostingDraft(payments.SCHOOL_BANK, line.income),
                        books.PostingDraft(payments.UNIDENTIFIED, -line.income),
                    ],
                ),
                actor=actor,
            )
    return result


# --------------------------------------------------------------------------- the queue


def get_statement(db: Session, school: School, statement_id: int) -> BankStatement:
    statement = db.get(BankStatement, statement_id)
    if statement is None or statement.school_id != school.id:
        raise NotFound(f"no bank statement {statement_id} at school {school.code}")
    return statement


def get_line(db: Session, line_id: int) -> BankLine:
    line = db.get(BankLine, line_id)
    if line is None:
        raise NotFound(f"no bank line {line_id}")
    return line


def _check_waiting(line: BankLine) -> None:
    if line.status != "unmatched":
        raise Conflict(
            "bank_line_not_waiting",
            f"bank line {line.id} is {line.status}; only unmatched lines can be assigned or "
            "ignored",
            field="line",
        )


def _suspense_entry(db: Session, school: School, line: BankLine) -> int:
    entry_id = db.scalar(
        select(books.Entry.id).where(
            books.Entry.book_id == school.book_id,
            books.Entry.idempotency_key == _suspense_key(line.fingerprint),
        )
    )
    if entry_id is None:  # pragma: no cover - every unmatched line was posted on import
        raise Conflict("bank_line_not_in_suspense", f"bank line {line.id} is not in 2299")
    return entry_id


def assign_line(
    db: Session,
    line: BankLine,
    household: Household,
    *,
    on: dt.date,
    actor: str,
    invoice: Invoice | None = None,
) -> payments.PaymentResult:
    """Finance says whose money an unmatched line is: it becomes that household's payment.

    ``Dr 2299 / Cr 1122.H`` (2241.H for what no invoice asks), dated ``on``;
    the payment settles ``invoice`` first when named, then the oldest open
    invoices, as any payment does, and is received on the bank's date.
    Refused: a line that is not waiting (``bank_line_not_waiting``), a
    household of another district, an invoice of another household.
    """
    _check_waiting(line)
    school = db.get(School, line.school_id)
    books.hold_book(db, school.book_id)
    db.refresh(line)
    _check_waiting(line)
    if invoice is not None and (
        invoice.school_id != school.id or invoice.household_id != household.id
    ):
        raise NotFound(f"no invoice {invoice.number} for household {household.id}")
    if invoice is not None and invoice.status not in OPEN:
        raise Conflict(
            "invoice_not_open", f"invoice {invoice.number} is {invoice.status}", field="invoice"
        )
    _suspense_entry(db, school, line)
    result = payments.record_payment(
        db,
        school,
        household,
        amount=line.income,
        received_on=line.booked_on,
        method=BANK_METHOD,
        actor=actor,
        reference=invoice.number if invoice is not None else None,
        idempotency_key=f"bank-assign:{line.fingerprint}",
        from_suspense_on=on,
    )
    line.status = "assigned"
    line.household_id = household.id
    line.payment_id = result.payment.id
    line.decided_by = actor
    line.decided_at = utcnow()
    db.flush()
    return result


def ignore_line(db: Session, line: BankLine, *, note: str, on: dt.date, actor: str) -> int:
    """Finance says an unmatched line is no household's payment: it leaves 2299.

    The suspense entry is reversed (``Dr 2299 / Cr 1002``), dated ``on``: the
    money is in the books elsewhere (a subsidy receipt, a payment entered by
    hand) or is not the programme's. A note is required (``note_required``).
    Returns the reversal's entry id.
    """
    if not note or not note.strip():
        raise RuleBroken("note_required", "say why the line is ignored", field="note")
    _check_waiting(line)
    school = db.get(School, line.school_id)
    books.hold_book(db, school.book_id)
    db.refresh(line)
    _check_waiting(line)
    reversal = books.reverse_entry(
        db,
        school.book_id,
        _suspense_entry(db, school, line),
        effective_date=on,
        actor=actor,
        memo=f"忽略 bank line {line.id} ignored: {note.strip()}"[:2000],
    )
    line.status = "ignored"
    line.note = note.strip()
    line.decided_by = actor
    line.decided_at = utcnow()
    db.flush()
    return reversal.entry_id
