"""Books, their accounts, entries, periods, trial balance and hash chain."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import g, request
from flask.views import MethodView
from flask_smorest import abort
from sqlalchemy import exists, select

from ledger import books as engine
from ledger.books import Account, Book, Entry, Period, Posting
from ledger.books.errors import NotFound

from .. import audit
from ..auth import actor, current_user, roles, visible_books_filter
from ..database import session
from ..models import BookAccess, Role
from ..schemas import (
    AccountIn,
    AccountOut,
    AccountPage,
    BalanceArgs,
    BalanceOut,
    BookIn,
    BookOut,
    BookPage,
    ChainOut,
    EntryIn,
    EntryListArgs,
    EntryOut,
    EntryPage,
    ListArgs,
    PeriodIn,
    PeriodList,
    PeriodOut,
    ReverseIn,
    TrialBalanceOut,
    encode_cursor,
)
from . import MAX_ID, Blueprint

blp = Blueprint(
    "books", __name__, url_prefix="/api/v1/books", description="Books, accounts and the journal"
)

READERS = (Role.FINANCE, Role.AUDITOR, Role.ADMIN)
WRITERS = (Role.FINANCE,)


def _book() -> Book:
    return g.book


def _idempotency_key(required: bool) -> str | None:
    key = request.headers.get("Idempotency-Key")
    if key is None or not key.strip():
        if required:
            abort(
                422,
                message="the Idempotency-Key header is required for posting an entry",
                errors={"Idempotency-Key": ["required"]},
                code="idempotency_key_required",
            )
        return None
    if len(key) > 200 or "\x00" in key:
        abort(
            422,
            message="the Idempotency-Key header is longer than 200 characters or holds NUL",
            errors={"Idempotency-Key": ["at most 200 characters, no NUL"]},
            code="idempotency_key_invalid",
        )
    return key.strip()


# --------------------------------------------------------------------------- books


@blp.route("")
class Books(MethodView):
    @roles(*READERS)
    @blp.arguments(ListArgs, location="query")
    @blp.response(200, BookPage)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """List the books the caller may see."""
        q = select(Book).where(visible_books_filter(current_user())).order_by(Book.code)
        cursor = page_cursor(args, str)
        if cursor is not None:
            q = q.where(Book.code > cursor)
        rows = list(session().scalars(q.limit(args["limit"] + 1)))
        return _page(rows, args["limit"], lambda b: b.code)

    @roles(*WRITERS)
    @blp.arguments(BookIn)
    @blp.response(201, BookOut)
    def post(self, data: dict[str, Any]) -> Book:
        """Create a book with no accounts; its creator works on it."""
        db = session()
        book = engine.create_book(
            db, code=data["code"], name=data["name"], created_by=f"user:{current_user().id}"
        )
        db.add(BookAccess(user_id=current_user().id, book_id=book.id))
        audit.commit("book.create", f"book:{book.code}")
        return book


def page_cursor(args: dict[str, Any], kind: type) -> Any:
    """The decoded ``cursor`` if it has the type of the keys this list pages by, else a 422."""
    cursor = args["cursor"]
    if cursor is not None and (type(cursor) is not kind or (kind is int and abs(cursor) > MAX_ID)):
        abort(
            422,
            message="not a cursor this API returned",
            errors={"cursor": ["not a cursor this API returned"]},
            code="invalid_cursor",
        )
    return cursor


def _page(rows: list[Any], limit: int, key: Any, view: Any = None) -> dict[str, Any]:
    more = len(rows) > limit
    rows = rows[:limit]
    return {
        "items": view(rows) if view else rows,
        "next_cursor": encode_cursor(key(rows[-1])) if more and rows else None,
    }


@blp.route("/<book>")
class OneBook(MethodView):
    @roles(*READERS)
    @blp.response(200, BookOut)
    def get(self, book: str) -> Book:
        return _book()


# --------------------------------------------------------------------------- accounts


def _account_view(accounts: list[Account]) -> list[dict[str, Any]]:
    parent_ids = {a.parent_id for a in accounts if a.parent_id}
    codes = (
        dict(
            session()
            .execute(select(Account.id, Account.code).where(Account.id.in_(parent_ids)))
            .all()
        )
        if parent_ids
        else {}
    )
    return [
        {
            "code": a.code,
            "name": a.name,
            "type": a.type,
            "parent": codes.get(a.parent_id),
            "owner": a.owner_ref,
            "is_closed": a.is_closed,
            "closed_at": a.closed_at,
        }
        for a in accounts
    ]


@blp.route("/<book>/accounts")
class Accounts(MethodView):
    @roles(*READERS)
    @blp.arguments(ListArgs, location="query")
    @blp.response(200, AccountPage)
    def get(self, args: dict[str, Any], book: str) -> dict[str, Any]:
        q = select(Account).where(Account.book_id == _book().id).order_by(Account.code)
        cursor = page_cursor(args, str)
        if cursor is not None:
            q = q.where(Account.code > cursor)
        rows = list(session().scalars(q.limit(args["limit"] + 1)))
        return _page(rows, args["limit"], lambda a: a.code, _account_view)

    @roles(*WRITERS)
    @blp.arguments(AccountIn)
    @blp.response(201, AccountOut)
    def post(self, data: dict[str, Any], book: str) -> dict[str, Any]:
        account = engine.create_account(
            session(),
            _book(),
            code=data["code"],
            name=data["name"],
            type=data["type"],
            parent=data["parent"],
        )
        audit.commit("account.create", f"book:{book}/account:{account.code}")
        return _account_view([account])[0]


@blp.route("/<book>/accounts/<code>")
class OneAccount(MethodView):
    @roles(*READERS)
    @blp.response(200, AccountOut)
    def get(self, book: str, code: str) -> dict[str, Any]:
        return _account_view([engine.get_account(session(), _book(), code)])[0]


@blp.route("/<book>/accounts/<code>/close")
class CloseAccount(MethodView):
    @roles(*WRITERS)
    @blp.response(200, AccountOut)
    def post(self, book: str, code: str) -> dict[str, Any]:
        """Close an account to new postings; its balance must be zero."""
        account = engine.close_account(session(), _book(), code)
        audit.commit("account.close", f"book:{book}/account:{code}")
        return _account_view([account])[0]


@blp.route("/<book>/accounts/<code>/balance")
class AccountBalance(MethodView):
    @roles(*READERS)
    @blp.arguments(BalanceArgs, location="query")
    @blp.response(200, BalanceOut)
    def get(self, args: dict[str, Any], book: str, code: str) -> dict[str, Any]:
        """Debit and credit totals of the account and its children up to ``as_of``."""
        account = engine.get_account(session(), _book(), code)
        bal = engine.account_balance(session(), account, args["as_of"])
        return {
            "account": code,
            "as_of": args["as_of"],
            "debit": bal.debit,
            "credit": bal.credit,
            "balance": bal.balance,
        }


# --------------------------------------------------------------------------- entries


def entry_views(entries: list[Entry]) -> list[dict[str, Any]]:
    """Entries as the API shows them, with posting account codes and reversal links."""
    if not entries:
        return []
    db = session()
    ids = [e.id for e in entries]
    postings: dict[int, list[tuple[str, int]]] = {}
    for entry_id, code, amount in db.execute(
        select(Posting.entry_id, Account.code, Posting.amount)
        .join(Account, Account.id == Posting.account_id)
        .where(Posting.entry_id.in_(ids))
        .order_by(Posting.entry_id, Posting.id)
    ):
        postings.setdefault(entry_id, []).append((code, amount))
    reversed_by = dict(
        db.execute(select(Entry.reverses_id, Entry.id).where(Entry.reverses_id.in_(ids))).all()
    )
    return [
        {
            "id": e.id,
            "number": e.number,
            "kind": e.kind,
            "effective_date": e.effective_date,
            "recorded_at": e.recorded_at,
            "posted_by": e.posted_by,
            "memo": e.memo,
            "source_ref": e.source_ref,
            "reverses": e.reverses_id,
            "reversed_by": reversed_by.get(e.id),
            "prev_hash": e.prev_hash,
            "hash": e.hash,
            "postings": [
                {
                    "account": code,
                    "direction": "debit" if amount > 0 else "credit",
                    "amount": abs(amount),
                }
                for code, amount in postings.get(e.id, [])
            ],
        }
        for e in entries
    ]


def _entry(entry_id: int) -> Entry:
    entry = session().scalar(select(Entry).where(Entry.book_id == _book().id, Entry.id == entry_id))
    if entry is None:
        raise NotFound(f"no entry {entry_id} in book {_book().code!r}")
    return entry


@blp.route("/<book>/entries")
class Entries(MethodView):
    @roles(*READERS)
    @blp.arguments(EntryListArgs, location="query")
    @blp.response(200, EntryPage)
    def get(self, args: dict[str, Any], book: str) -> dict[str, Any]:
        """Journal entries in number order, filtered by account, dates and kind."""
        q = select(Entry).where(Entry.book_id == _book().id).order_by(Entry.number)
        if args["account"] is not None:
            account = engine.get_account(session(), _book(), args["account"])
            q = q.where(
                exists().where(Posting.entry_id == Entry.id, Posting.account_id == account.id)
            )
        if args["from_"] is not None:
            q = q.where(Entry.effective_date >= args["from_"])
        if args["to"] is not None:
            q = q.where(Entry.effective_date <= args["to"])
        if args["kind"] is not None:
            q = q.where(Entry.kind == args["kind"])
        cursor = page_cursor(args, int)
        if cursor is not None:
            q = q.where(Entry.number > cursor)
        rows = list(session().scalars(q.limit(args["limit"] + 1)))
        return _page(rows, args["limit"], lambda e: e.number, entry_views)

    @roles(*WRITERS)
    @blp.arguments(EntryIn)
    @blp.response(201, EntryOut)
    @blp.alt_response(200, schema=EntryOut, description="Replay of an earlier request")
    def post(self, data: dict[str, Any], book: str) -> Any:
        """Post a balanced entry. Requires an ``Idempotency-Key`` header."""
        key = _idempotency_key(required=True)
        draft = engine.EntryDraft(
            effective_date=data["effective_date"],
            memo=data["memo"],
            kind=data["kind"],
            source_ref=data["source_ref"],
            idempotency_key=key,
            postings=[
                engine.PostingDraft(
                    p["account"], p["amount"] if p["direction"] == "debit" else -p["amount"]
                )
                for p in data["postings"]
            ],
        )
        result = engine.post_entry(session(), _book().id, draft, actor=actor())
        if result.replayed:
            session().rollback()
            return entry_views([_entry(result.entry_id)])[0], 200
        audit.commit("entry.post", f"book:{book}/entry:{result.entry_id}", {"key": key})
        return _new_entry_view(draft, result)


def _new_entry_view(draft: engine.EntryDraft, result: engine.PostResult) -> dict[str, Any]:
    """The entry just posted, as :func:`entry_views` shows it, from what the engine wrote:
    reading it back would cost a transaction and three queries per posting request."""
    written = result.written
    assert written is not None
    return {
        "id": result.entry_id,
        "number": result.number,
        "kind": draft.kind,
        "effective_date": draft.effective_date,
        "recorded_at": written.recorded_at,
        "posted_by": written.posted_by,
        "memo": draft.memo,
        "source_ref": draft.source_ref,
        "reverses": None,
        "reversed_by": None,
        "prev_hash": written.prev_hash,
        "hash": written.hash,
        "postings": [
            {
                "account": p.account,
                "direction": "debit" if p.amount > 0 else "credit",
                "amount": abs(p.amount),
            }
            for p in draft.postings
        ],
    }


@blp.route("/<book>/entries/<int:entry_id>")
class OneEntry(MethodView):
    @roles(*READERS)
    @blp.response(200, EntryOut)
    def get(self, book: str, entry_id: int) -> dict[str, Any]:
        return entry_views([_entry(entry_id)])[0]


@blp.route("/<book>/entries/<int:entry_id>/reverse")
class ReverseEntry(MethodView):
    @roles(*WRITERS)
    @blp.arguments(ReverseIn)
    @blp.response(201, EntryOut)
    @blp.alt_response(200, schema=EntryOut, description="Replay of an earlier request")
    def post(self, data: dict[str, Any], book: str, entry_id: int) -> Any:
        """Post the mirror image of an entry. An entry can be reversed once."""
        key = _idempotency_key(required=False)
        result = engine.reverse_entry(
            session(),
            _book().id,
            entry_id,
            effective_date=data["effective_date"] or dt.date.today(),
            memo=data["memo"],
            actor=actor(),
            idempotency_key=key,
        )
        if result.replayed:
            session().rollback()
            return entry_views([_entry(result.entry_id)])[0], 200
        audit.commit(
            "entry.reverse", f"book:{book}/entry:{entry_id}", {"reversal": result.entry_id}
        )
        return entry_views([_entry(result.entry_id)])[0]


# --------------------------------------------------------------------------- periods


@blp.route("/<book>/periods")
class Periods(MethodView):
    @roles(*READERS)
    @blp.response(200, PeriodList)
    def get(self, book: str) -> dict[str, Any]:
        return {"items": engine.list_periods(session(), _book()), "next_cursor": None}

    @roles(*WRITERS)
    @blp.arguments(PeriodIn)
    @blp.response(201, PeriodOut)
    def post(self, data: dict[str, Any], book: str) -> Period:
        """Define an accounting period; periods of a book never overlap."""
        period = engine.create_period(session(), _book(), start=data["start"], end=data["end"])
        audit.commit("period.create", f"book:{book}/period:{period.id}")
        return period


@blp.route("/<book>/periods/<int:period_id>/close")
class ClosePeriod(MethodView):
    @roles(*WRITERS)
    @blp.response(200, PeriodOut)
    def post(self, book: str, period_id: int) -> Period:
        """Close a period: no entry may be dated inside it afterwards."""
        period = engine.close_period(session(), _book(), period_id, actor=actor())
        audit.commit("period.close", f"book:{book}/period:{period_id}")
        return period


# --------------------------------------------------------------------------- checks


@blp.route("/<book>/trial-balance")
class TrialBalance(MethodView):
    @roles(*READERS)
    @blp.arguments(BalanceArgs, location="query")
    @blp.response(200, TrialBalanceOut)
    def get(self, args: dict[str, Any], book: str) -> dict[str, Any]:
        tb = engine.trial_balance(session(), _book(), args["as_of"])
        return {
            "as_of": args["as_of"],
            "items": tb.lines,
            "total_debit": tb.total_debit,
            "total_credit": tb.total_credit,
        }


@blp.route("/<book>/chain")
class Chain(MethodView):
    @roles(*READERS)
    @blp.response(200, ChainOut)
    def get(self, book: str) -> Any:
        """Recompute the book's hash chain and name the first entry that does not match."""
        return engine.verify_chain(session(), _book().id)
