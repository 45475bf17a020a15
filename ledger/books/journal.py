"""Posting to the journal: single entries, reversals, and the bulk path.

Every function here takes a session, flushes its writes and never commits:
the caller commits once. All writes to a book start by locking the book's
row (``SELECT … FOR UPDATE`` on PostgreSQL; on SQLite the engine opens every
transaction with ``BEGIN IMMEDIATE``), which serialises numbering, the hash
chain and idempotency checks per book, so concurrent clerks never see a gap,
a fork of the chain or a duplicate.

The hot paths use SQLAlchemy Core statements (and, for the bulk path, the
driver's ``executemany``/``COPY``) because the ORM's unit of work costs
several times the database's own insert time.
"""

from __future__ import annotations

import bisect
import datetime as dt
import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from sqlalchemy import Connection
from sqlalchemy.orm import Session

from .chain import digest
from .errors import (
    AccountClosed,
    AlreadyReversed,
    CannotReverseReversal,
    DomainError,
    IdempotencyConflict,
    InvalidEntry,
    InvalidPostingAmount,
    NotFound,
    PeriodClosed,
    TooFewPostings,
    UnbalancedEntry,
    UnknownAccount,
)
from .models import EntryKind, utcnow
from .rawsql import Raw

_KINDS = frozenset(k.value for k in EntryKind)
_CHUNK = 500


@dataclass(frozen=True)
class PostingDraft:
    """One line of an entry: an account (by code) and signed fen, debit positive."""

    account: str
    amount: int
    currency: str = "CNY"


@dataclass(frozen=True)
class EntryDraft:
    effective_date: dt.date
    memo: str
    postings: Sequence[PostingDraft]
    kind: str = EntryKind.ADJUSTMENT.value
    source_ref: str | None = None
    idempotency_key: str | None = None

    def content_hash(self) -> str:
        """Hash of what was asked for, compared when an idempotency key is reused."""
        parts = [
            "draft-v1",
            self.kind,
            self.effective_date.isoformat(),
            f"{len(self.memo)}:{self.memo}",
            "-" if self.source_ref is None else f"{len(self.source_ref)}:{self.source_ref}",
        ]
        parts.extend(f"{len(p.account)}:{p.account}:{p.amount}:{p.currency}" for p in self.postings)
        return hashlib.sha256("|".join(parts).encode()).hexdigest()


@dataclass(frozen=True)
class Written:
    """What :func:`post_entry` wrote besides the draft, so a caller can show the new
    entry without reading it back."""

    recorded_at: dt.datetime
    posted_by: str
    prev_hash: str
    hash: str


@dataclass(frozen=True)
class PostResult:
    entry_id: int
    number: int
    #: True when an idempotency key named an entry posted before: nothing new was written.
    replayed: bool
    #: Set when this call wrote the entry (not on a replay).
    written: Written | None = None


@dataclass
class BulkResult:
    posted: int = 0
    replayed: int = 0
    first_number: int | None = None
    last_number: int | None = None
    entry_ids: list[int] = field(default_factory=list)


# --------------------------------------------------------------------------- checks


def check_draft(draft: EntryDraft) -> None:
    """The rules an entry must meet before the database is touched."""
    if draft.kind not in _KINDS:
        raise InvalidEntry(f"unknown entry kind {draft.kind!r}", field="kind")
    if draft.kind == EntryKind.REVERSAL:
        raise InvalidEntry(
            "reversals are made by reversing an entry, not posted directly", field="kind"
        )
    if not isinstance(draft.effective_date, dt.date) or isinstance(
        draft.effective_date, dt.datetime
    ):
        raise InvalidEntry("effective_date must be a date", field="effective_date")
    if not isinstance(draft.memo, str) or not draft.memo.strip():
        raise InvalidEntry("memo is required", field="memo")
    postings = draft.postings
    if len(postings) < 2:
        raise TooFewPostings(
            f"an entry needs at least two postings, got {len(postings)}", field="postings"
        )
    total = 0
    single_currency = True
    for i, p in enumerate(postings):
        amount = p.amount
        if type(amount) is not int:
            raise InvalidPostingAmount(
                f"posting {i}: amount must be an integer of fen", field=f"postings.{i}.amount"
            )
        if amount == 0:
            raise InvalidPostingAmount(
                f"posting {i}: amount must not be zero", field=f"postings.{i}.amount"
            )
        if p.currency != "CNY":
            single_currency = False
            if not isinstance(p.currency, str) or len(p.currency) != 3:
                raise InvalidPostingAmount(
                    f"posting {i}: currency must be a 3-letter code",
                    field=f"postings.{i}.currency",
                )
        total += amount
    if single_currency and total == 0:
        return
    totals: dict[str, int] = {}
    for p in postings:
        totals[p.currency] = totals.get(p.currency, 0) + p.amount
    for currency, total in totals.items():
        if total != 0:
            debit = sum(p.amount for p in postings if p.currency == currency and p.amount > 0)
            credit = -sum(p.amount for p in postings if p.currency == currency and p.amount < 0)
            raise UnbalancedEntry(
                f"debits ({debit} fen) and credits ({credit} fen) in {currency} differ "
                f"by {abs(total)} fen",
                field="postings",
            )


@dataclass(frozen=True)
class _Head:
    id: int
    code: str
    last_number: int
    last_hash: str


_LOCK_PG = "SELECT id, code, last_number, last_hash FROM books WHERE id = :id FOR UPDATE"
_LOCK_SQLITE = "SELECT id, code, last_number, last_hash FROM books WHERE id = :id"


def _lock(db: Raw, book_id: int) -> _Head:
    row = db.one(_LOCK_PG if db.pg else _LOCK_SQLITE, {"id": book_id})
    if row is None:
        raise NotFound(f"no book {book_id}")
    return _Head(*row)


def lock_book(conn: Connection, book_id: int) -> _Head:
    """Lock a book's row for the rest of the transaction and read the journal's head.

    On SQLite the transaction already holds the database's write lock
    (``BEGIN IMMEDIATE``); on PostgreSQL this is ``SELECT … FOR UPDATE``.
    """
    db = Raw(conn)
    try:
        return _lock(db, book_id)
    finally:
        db.close()


def hold_book(session: Session, book_id: int) -> None:
    """Serialise the caller's transaction with every other writer of the book.

    For domain work that reads, decides and then posts (a pay run choosing the
    unpaid hours, a payout checking the bank balance): taken first, no other
    transaction can post to the book until this one ends.
    """
    lock_book(session.connection(), book_id)


def _resolve_accounts(db: Raw, book_id: int, codes: Iterable[str]) -> dict[str, tuple[int, bool]]:
    wanted = sorted(set(codes))
    found: dict[str, tuple[int, bool]] = {}
    for i in range(0, len(wanted), _CHUNK):
        chunk = wanted[i : i + _CHUNK]
        names = {f"c{j}": code for j, code in enumerate(chunk)}
        rows = db.all(
            "SELECT code, id, is_closed FROM accounts WHERE book_id = :book AND code IN ("
            + ", ".join(f":{n}" for n in names)
            + ")",
            {"book": book_id, **names},
        )
        for code, account_id, closed in rows:
            found[code] = (account_id, bool(closed))
    return found


def _account_ids(
    found: dict[str, tuple[int, bool]], draft: EntryDraft, *, where: str = ""
) -> list[int]:
    ids = []
    for i, p in enumerate(draft.postings):
        hit = found.get(p.account)
        if hit is None:
            raise UnknownAccount(
                f"{where}posting {i}: no account {p.account!r} in this book",
                field=f"postings.{i}.account",
            )
        if hit[1]:
            raise AccountClosed(
                f"{where}posting {i}: account {p.account!r} is closed",
                field=f"postings.{i}.account",
            )
        ids.append(hit[0])
    return ids


class _ClosedPeriods:
    """A book's closed periods, loaded once, for checking many dates."""

    def __init__(self, db: Raw, book_id: int) -> None:
        rows = db.all(
            'SELECT start, "end" FROM periods WHERE book_id = :book AND is_closed = :t '
            "ORDER BY start",
            {"book": book_id, "t": db.true},
        )
        self._rows = [(db.to_date(a), db.to_date(b)) for a, b in rows]
        self._starts = [r[0] for r in self._rows]

    def check(self, day: dt.date, *, where: str = "") -> None:
        i = bisect.bisect_right(self._starts, day) - 1
        # Periods of one book never overlap, so only the last one starting on or
        # before the day can contain it.
        if i >= 0 and self._rows[i][1] >= day:
            start, end = self._rows[i]
            raise PeriodClosed(
                f"{where}{day.isoformat()} falls in the closed period "
                f"{start.isoformat()}–{end.isoformat()}",
                field="effective_date",
            )


def _check_open_period(db: Raw, book_id: int, day: dt.date) -> None:
    row = db.one(
        'SELECT start, "end" FROM periods WHERE book_id = :book AND is_closed = :t '
        'AND start <= :day AND "end" >= :day',
        {"book": book_id, "t": db.true, "day": db.date(day)},
    )
    if row is not None:
        raise PeriodClosed(
            f"{day.isoformat()} falls in the closed period "
            f"{db.to_date(row[0]).isoformat()}–{db.to_date(row[1]).isoformat()}",
            field="effective_date",
        )


def _replay(db: Raw, book_id: int, key: str, content_hash: str) -> PostResult | None:
    row = db.one(
        "SELECT id, number, request_hash FROM entries "
        "WHERE book_id = :book AND idempotency_key = :key",
        {"book": book_id, "key": key},
    )
    if row is None:
        return None
    if row[2] != content_hash:
        raise IdempotencyConflict(
            f"idempotency key {key!r} was used for entry #{row[1]} with other content",
            field="Idempotency-Key",
        )
    return PostResult(row[0], row[1], True)


# --------------------------------------------------------------------------- single path

_INSERT_ENTRY = (
    "INSERT INTO entries (book_id, number, kind, effective_date, recorded_at, memo, source_ref, "
    "posted_by, idempotency_key, request_hash, reverses_id, prev_hash, hash) VALUES "
    "(:book_id, :number, :kind, :effective_date, :recorded_at, :memo, :source_ref, :posted_by, "
    ":idempotency_key, :request_hash, :reverses_id, :prev_hash, :hash) RETURNING id"
)
_BALANCE_UPDATE = (
    "UPDATE balances SET debit = debit + :d, credit = credit + :c WHERE account_id = :a"
)


def _postings_insert(n: int) -> str:
    return _POSTINGS_INSERT_CACHE.get(n) or _POSTINGS_INSERT_CACHE.setdefault(
        n,
        "INSERT INTO postings (entry_id, book_id, account_id, effective_date, amount, currency) "
        "VALUES " + ", ".join(f"(:e, :b, :a{i}, :d, :m{i}, :c{i})" for i in range(n)),
    )


_POSTINGS_INSERT_CACHE: dict[int, str] = {}


def _write_entry(
    db: Raw,
    head: _Head,
    *,
    kind: str,
    effective_date: dt.date,
    memo: str,
    source_ref: str | None,
    actor: str,
    idempotency_key: str | None,
    request_hash: str | None,
    reverses_id: int | None,
    lines: list[tuple[int, int, str]],
) -> PostResult:
    number = head.last_number + 1
    recorded_at = utcnow()
    entry_digest = digest(
        head.last_hash,
        head.code,
        number,
        kind,
        effective_date.isoformat(),
        recorded_at.isoformat(timespec="microseconds"),
        memo,
        source_ref,
        actor,
        reverses_id,
        lines,
    )
    day = db.date(effective_date)
    (entry_id,) = db.one(
        _INSERT_ENTRY,
        {
            "book_id": head.id,
            "number": number,
            "kind": kind,
            "effective_date": day,
            "recorded_at": db.timestamp(recorded_at),
            "memo": memo,
            "source_ref": source_ref,
            "posted_by": actor,
            "idempotency_key": idempotency_key,
            "request_hash": request_hash,
            "reverses_id": reverses_id,
            "prev_hash": head.last_hash,
            "hash": entry_digest,
        },
    )
    # One statement for all postings of the entry: PostgreSQL's trigger checks
    # that each INSERT statement's postings balance per entry.
    params: dict[str, object] = {"e": entry_id, "b": head.id, "d": day}
    for i, (account_id, amount, currency) in enumerate(lines):
        params[f"a{i}"] = account_id
        params[f"m{i}"] = amount
        params[f"c{i}"] = currency
    db.run(_postings_insert(len(lines)), params)
    _apply_balances(db, _sum_by_account(lines))
    db.run(
        "UPDATE books SET last_number = :n, last_hash = :h WHERE id = :id",
        {"n": number, "h": entry_digest, "id": head.id},
    )
    return PostResult(
        entry_id, number, False, Written(recorded_at, actor, head.last_hash, entry_digest)
    )


def _sum_by_account(lines: Iterable[tuple[int, int, str]]) -> dict[int, list[int]]:
    sums: dict[int, list[int]] = {}
    for account_id, amount, _ in lines:
        s = sums.get(account_id)
        if s is None:
            s = sums[account_id] = [0, 0]
        if amount > 0:
            s[0] += amount
        else:
            s[1] -= amount
    return sums


def _apply_balances(db: Raw, sums: dict[int, list[int]]) -> None:
    # Sorted, so concurrent transactions touch balance rows in one order.
    rows = [{"a": a, "d": d, "c": c} for a, (d, c) in sorted(sums.items())]
    if len(rows) <= 4:
        for row in rows:
            db.run(_BALANCE_UPDATE, row)
    else:
        db.many(_BALANCE_UPDATE, rows)


def post_entry(session: Session, book_id: int, draft: EntryDraft, *, actor: str) -> PostResult:
    """Post one balanced entry; with an idempotency key, a repeat returns the first entry."""
    check_draft(draft)
    db = Raw(session.connection())
    try:
        head = _lock(db, book_id)
        content_hash = draft.content_hash() if draft.idempotency_key is not None else None
        if draft.idempotency_key is not None:
            replay = _replay(db, book_id, draft.idempotency_key, content_hash)
            if replay is not None:
                return replay
        found = _resolve_accounts(db, book_id, (p.account for p in draft.postings))
        account_ids = _account_ids(found, draft)
        _check_open_period(db, book_id, draft.effective_date)
        return _write_entry(
            db,
            head,
            kind=draft.kind,
            effective_date=draft.effective_date,
            memo=draft.memo,
            source_ref=draft.source_ref,
            actor=actor,
            idempotency_key=draft.idempotency_key,
            request_hash=content_hash,
            reverses_id=None,
            lines=[
                (a, p.amount, p.currency) for a, p in zip(account_ids, draft.postings, strict=True)
            ],
        )
    finally:
        db.close()


def reverse_entry(
    session: Session,
    book_id: int,
    entry_id: int,
    *,
    effective_date: dt.date,
    actor: str,
    memo: str | None = None,
    idempotency_key: str | None = None,
) -> PostResult:
    """Post the mirror image of an entry, linked to it. An entry is reversed at most once."""
    if not isinstance(effective_date, dt.date) or isinstance(effective_date, dt.datetime):
        raise InvalidEntry("effective_date must be a date", field="effective_date")
    if memo is not None and not memo.strip():
        raise InvalidEntry("memo must not be blank", field="memo")
    db = Raw(session.connection())
    try:
        head = _lock(db, book_id)
        content_hash = hashlib.sha256(
            f"reverse-v1|{entry_id}|{effective_date.isoformat()}|{memo!r}".encode()
        ).hexdigest()
        if idempotency_key is not None:
            replay = _replay(db, book_id, idempotency_key, content_hash)
            if replay is not None:
                return replay
        original = db.one(
            "SELECT id, number, kind FROM entries WHERE book_id = :book AND id = :id",
            {"book": book_id, "id": entry_id},
        )
        if original is None:
            raise NotFound(f"no entry {entry_id} in this book")
        if original[2] == EntryKind.REVERSAL:
            raise CannotReverseReversal(
                f"entry #{original[1]} is itself a reversal; post the original entry again instead"
            )
        done = db.one("SELECT number FROM entries WHERE reverses_id = :id", {"id": entry_id})
        if done is not None:
            raise AlreadyReversed(f"entry #{original[1]} was already reversed by entry #{done[0]}")
        _check_open_period(db, book_id, effective_date)
        lines = db.all(
            "SELECT p.account_id, p.amount, p.currency, a.code, a.is_closed FROM postings p "
            "JOIN accounts a ON a.id = p.account_id WHERE p.entry_id = :id ORDER BY p.id",
            {"id": entry_id},
        )
        for _, _, _, code, closed in lines:
            if closed:
                raise AccountClosed(f"account {code!r} is closed; the entry cannot be reversed")
        return _write_entry(
            db,
            head,
            kind=EntryKind.REVERSAL.value,
            effective_date=effective_date,
            memo=memo if memo is not None else f"Reversal of entry #{original[1]}",
            source_ref=f"entry:{entry_id}",
            actor=actor,
            idempotency_key=idempotency_key,
            request_hash=content_hash if idempotency_key is not None else None,
            reverses_id=entry_id,
            lines=[(a, -amount, cur) for a, amount, cur, _, _ in lines],
        )
    finally:
        db.close()


# --------------------------------------------------------------------------- bulk path


def post_entries_bulk(
    session: Session, book_id: int, drafts: Iterable[EntryDraft], *, actor: str
) -> BulkResult:
    """Post many entries in the caller's transaction at close to raw insert speed.

    Same rules as :func:`post_entry`, checked for every draft before anything
    is written; any broken rule refuses the whole batch. Drafts whose
    idempotency key was posted before with the same content are skipped (and
    counted as replayed), so a batch that was interrupted can simply be run
    again.
    """
    drafts = list(drafts)
    for i, d in enumerate(drafts):
        try:
            check_draft(d)
        except DomainError as exc:
            raise type(exc)(f"entry {i}: {exc.message}", field=exc.field) from exc
    result = BulkResult()
    if not drafts:
        return result
    db = Raw(session.connection())
    try:
        return _bulk(db, book_id, drafts, actor, result)
    finally:
        db.close()


def _bulk(db: Raw, book_id: int, drafts: list[EntryDraft], actor: str, result: BulkResult):
    head = _lock(db, book_id)

    # Idempotency: skip what was posted before, refuse what differs.
    hashes = [d.content_hash() if d.idempotency_key is not None else None for d in drafts]
    keyed: dict[str, str] = {}
    for d, h in zip(drafts, hashes, strict=True):
        if d.idempotency_key is not None and keyed.setdefault(d.idempotency_key, h) != h:
            raise IdempotencyConflict(
                f"idempotency key {d.idempotency_key!r} appears twice with other content"
            )
    existing: set[str] = set()
    keys = sorted(keyed)
    for i in range(0, len(keys), _CHUNK):
        names = {f"k{j}": k for j, k in enumerate(keys[i : i + _CHUNK])}
        for key, number, rh in db.all(
            "SELECT idempotency_key, number, request_hash FROM entries WHERE book_id = :book "
            "AND idempotency_key IN (" + ", ".join(f":{n}" for n in names) + ")",
            {"book": book_id, **names},
        ):
            if rh != keyed[key]:
                raise IdempotencyConflict(
                    f"idempotency key {key!r} was used for entry #{number} with other content"
                )
            existing.add(key)

    todo: list[tuple[int, EntryDraft, str | None]] = []  # (position in the batch, draft, hash)
    in_batch: set[str] = set()
    for pos, (d, h) in enumerate(zip(drafts, hashes, strict=True)):
        key = d.idempotency_key
        if key is not None:
            if key in existing or key in in_batch:
                result.replayed += 1
                continue
            in_batch.add(key)
        todo.append((pos, d, h))
    if not todo:
        return result

    found = _resolve_accounts(db, book_id, {p.account for _, d, _ in todo for p in d.postings})
    closed = _ClosedPeriods(db, book_id)
    ids = _reserve_entry_ids(db, len(todo))
    recorded_at = utcnow()
    recorded_iso = recorded_at.isoformat(timespec="microseconds")
    recorded_db = db.timestamp(recorded_at)
    day_cache: dict[dt.date, tuple[str, object]] = {}
    prev = head.last_hash
    number = head.last_number
    code = head.code
    entry_rows: list[tuple] = []
    posting_rows: list[tuple] = []
    sums: dict[int, list[int]] = {}
    for (i, d, h), entry_id in zip(todo, ids, strict=True):
        day = day_cache.get(d.effective_date)
        if day is None:
            closed.check(d.effective_date, where=f"entry {i}: ")
            day = day_cache[d.effective_date] = (
                d.effective_date.isoformat(),
                db.date(d.effective_date),
            )
        lines = []
        for p in d.postings:
            hit = found.get(p.account)
            if hit is None or hit[1]:
                _account_ids(found, d, where=f"entry {i}: ")  # raises with the right message
            account_id = hit[0]
            amount = p.amount
            lines.append((account_id, amount, p.currency))
            posting_rows.append((entry_id, book_id, account_id, day[1], amount, p.currency))
            s = sums.get(account_id)
            if s is None:
                s = sums[account_id] = [0, 0]
            if amount > 0:
                s[0] += amount
            else:
                s[1] -= amount
        number += 1
        entry_digest = digest(
            prev,
            code,
            number,
            d.kind,
            day[0],
            recorded_iso,
            d.memo,
            d.source_ref,
            actor,
            None,
            lines,
        )
        entry_rows.append(
            (
                entry_id,
                book_id,
                number,
                d.kind,
                day[1],
                recorded_db,
                d.memo,
                d.source_ref,
                actor,
                d.idempotency_key,
                h,
                None,
                prev,
                entry_digest,
            )
        )
        prev = entry_digest
    _copy_rows(db, entry_rows, posting_rows)
    _apply_balances(db, sums)
    db.run(
        "UPDATE books SET last_number = :n, last_hash = :h WHERE id = :id",
        {"n": number, "h": prev, "id": book_id},
    )
    result.entry_ids = list(ids)
    result.posted = len(todo)
    result.first_number = head.last_number + 1
    result.last_number = number
    return result


_ENTRY_COLUMNS = (
    "id",
    "book_id",
    "number",
    "kind",
    "effective_date",
    "recorded_at",
    "memo",
    "source_ref",
    "posted_by",
    "idempotency_key",
    "request_hash",
    "reverses_id",
    "prev_hash",
    "hash",
)
_POSTING_COLUMNS = ("entry_id", "book_id", "account_id", "effective_date", "amount", "currency")


def _reserve_entry_ids(db: Raw, n: int) -> list[int]:
    if db.pg:
        rows = db.all(
            "SELECT nextval(pg_get_serial_sequence('entries', 'id')) FROM generate_series(1, :n)",
            {"n": n},
        )
        return sorted(r[0] for r in rows)
    # SQLite: the write lock is held (BEGIN IMMEDIATE), so nothing else can take ids.
    (top,) = db.one("SELECT coalesce(max(id), 0) FROM entries")
    return list(range(top + 1, top + 1 + n))


def _copy_rows(db: Raw, entry_rows: list[tuple], posting_rows: list[tuple]) -> None:
    if db.pg:
        with db.cur.copy(f"COPY entries ({', '.join(_ENTRY_COLUMNS)}) FROM STDIN") as copy:
            for row in entry_rows:
                copy.write_row(row)
        # One COPY for all postings: one statement, so the balance trigger sees whole entries.
        with db.cur.copy(f"COPY postings ({', '.join(_POSTING_COLUMNS)}) FROM STDIN") as copy:
            for row in posting_rows:
                copy.write_row(row)
        return
    db.cur.executemany(
        f"INSERT INTO entries ({', '.join(_ENTRY_COLUMNS)}) "
        f"VALUES ({', '.join('?' * len(_ENTRY_COLUMNS))})",
        entry_rows,
    )
    db.cur.executemany(
        f"INSERT INTO postings ({', '.join(_POSTING_COLUMNS)}) "
        f"VALUES ({', '.join('?' * len(_POSTING_COLUMNS))})",
        posting_rows,
    )
