"""Books and their accounts: creating, listing, closing."""

from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.orm import Session

from .errors import AccountExists, AccountNotZero, BookExists, InvalidAccount, NotFound
from .journal import lock_book
from .models import Account, AccountType, Balance, Book, utcnow

_CODE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


def create_book(session: Session, *, code: str, name: str, created_by: str | None) -> Book:
    if not _CODE_RE.match(code or "") or len(code) > 32:
        raise InvalidAccount(
            "book code must be 1–32 letters, digits, '.', '_' or '-'", field="code"
        )
    if not name or not name.strip():
        raise InvalidAccount("book name is required", field="name")
    if session.scalar(select(Book.id).where(Book.code == code)) is not None:
        raise BookExists(f"a book with code {code!r} exists", field="code")
    book = Book(code=code, name=name.strip(), created_by=created_by)
    session.add(book)
    session.flush()
    return book


def get_book(session: Session, code: str) -> Book:
    book = session.scalar(select(Book).where(Book.code == code))
    if book is None:
        raise NotFound(f"no book {code!r}")
    return book


def create_account(
    session: Session,
    book: Book,
    *,
    code: str,
    name: str,
    type: str,
    parent: str | None = None,
    owner_ref: str | None = None,
) -> Account:
    if not _CODE_RE.match(code or ""):
        raise InvalidAccount(
            "account code must be 1–64 letters, digits, '.', '_' or '-'", field="code"
        )
    if not name or not name.strip():
        raise InvalidAccount("account name is required", field="name")
    try:
        account_type = AccountType(type)
    except ValueError:
        known = ", ".join(t.value for t in AccountType)
        raise InvalidAccount(f"type must be one of {known}", field="type") from None
    parent_account = None
    if parent is not None:
        parent_account = session.scalar(
            select(Account).where(Account.book_id == book.id, Account.code == parent)
        )
        if parent_account is None:
            raise InvalidAccount(f"no parent account {parent!r} in this book", field="parent")
        if parent_account.type != account_type.value:
            raise InvalidAccount(
                f"a {account_type.value} account cannot sit under the "
                f"{parent_account.type} account {parent!r}",
                field="parent",
            )
    if (
        session.scalar(select(Account.id).where(Account.book_id == book.id, Account.code == code))
        is not None
    ):
        raise AccountExists(f"account {code!r} exists in this book", field="code")
    account = Account(
        book_id=book.id,
        code=code,
        name=name.strip(),
        type=account_type.value,
        parent_id=parent_account.id if parent_account else None,
        owner_ref=owner_ref,
    )
    session.add(account)
    session.flush()
    session.add(Balance(account_id=account.id, debit=0, credit=0))
    session.flush()
    return account


def get_account(session: Session, book: Book, code: str) -> Account:
    account = session.scalar(
        select(Account).where(Account.book_id == book.id, Account.code == code)
    )
    if account is None:
        raise NotFound(f"no account {code!r} in book {book.code!r}")
    return account


def close_account(session: Session, book: Book, code: str) -> Account:
    """Close an account to new postings; only an account whose balance is zero can close."""
    lock_book(session.connection(), book.id)
    account = get_account(session, book, code)
    balance = session.get(Balance, account.id, populate_existing=True)
    if balance is not None and balance.debit != balance.credit:
        raise AccountNotZero(
            f"account {code!r} has a balance of {balance.debit - balance.credit} fen; "
            "settle it before closing"
        )
    if not account.is_closed:
        account.is_closed = True
        account.closed_at = utcnow()
        session.flush()
    return account


def create_accounts_bulk(
    session: Session,
    book: Book,
    specs: list[tuple[str, str, str, str | None, str | None]],
) -> int:
    """Create many accounts at once: ``(code, name, type, parent_code, owner_ref)``.

    The same rules as :func:`create_account` (known type, parent in the book and
    of the same type, code unused), checked for all before anything is written;
    written with one multi-row statement per table, for the billing run that
    opens accounts for thousands of households. Returns how many were created.
    """
    from .rawsql import Raw

    if not specs:
        return 0
    codes = [s[0] for s in specs]
    if len(set(codes)) != len(codes):
        raise AccountExists("the same account code appears twice in one batch", field="code")
    parents = {s[3] for s in specs if s[3] is not None}
    parent_rows = (
        {
            code: (account_id, type_)
            for code, account_id, type_ in session.execute(
                select(Account.code, Account.id, Account.type).where(
                    Account.book_id == book.id, Account.code.in_(parents)
                )
            )
        }
        if parents
        else {}
    )
    for code, name, type_, parent, _ in specs:
        if not _CODE_RE.match(code or ""):
            raise InvalidAccount(f"account code {code!r} is not valid", field="code")
        if not name or not name.strip():
            raise InvalidAccount(f"account {code!r} needs a name", field="name")
        if type_ not in {t.value for t in AccountType}:
            raise InvalidAccount(f"account {code!r}: unknown type {type_!r}", field="type")
        if parent is not None:
            hit = parent_rows.get(parent)
            if hit is None:
                raise InvalidAccount(f"no parent account {parent!r} in this book", field="parent")
            if hit[1] != type_:
                raise InvalidAccount(
                    f"a {type_} account cannot sit under the {hit[1]} account {parent!r}",
                    field="parent",
                )
    for i in range(0, len(codes), 500):
        clash = session.scalar(
            select(Account.code).where(
                Account.book_id == book.id, Account.code.in_(codes[i : i + 500])
            )
        )
        if clash is not None:
            raise AccountExists(f"account {clash!r} exists in this book", field="code")
    db = Raw(session.connection())
    try:
        if db.pg:
            ids = [
                r[0]
                for r in db.all(
                    "SELECT nextval(pg_get_serial_sequence('accounts', 'id')) "
                    "FROM generate_series(1, :n)",
                    {"n": len(specs)},
                )
            ]
        else:
            (top,) = db.one("SELECT coalesce(max(id), 0) FROM accounts")
            ids = list(range(top + 1, top + 1 + len(specs)))
        now = utcnow()
        rows = [
            (
                account_id,
                book.id,
                code,
                name.strip(),
                type_,
                parent_rows[parent][0] if parent is not None else None,
                owner,
            )
            for account_id, (code, name, type_, parent, owner) in zip(ids, specs, strict=True)
        ]
        if db.pg:
            with db.cur.copy(
                "COPY accounts (id, book_id, code, name, type, parent_id, owner_ref, "
                "is_closed, created_at) FROM STDIN"
            ) as copy:
                for row in rows:
                    copy.write_row((*row, False, now))
            with db.cur.copy("COPY balances (account_id, debit, credit) FROM STDIN") as copy:
                for account_id in ids:
                    copy.write_row((account_id, 0, 0))
        else:
            stamp = db.timestamp(now)
            db.cur.executemany(
                "INSERT INTO accounts (id, book_id, code, name, type, parent_id, owner_ref, "
                "is_closed, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, 0, ?)",
                [(*row, stamp) for row in rows],
            )
            db.cur.executemany(
                "INSERT INTO balances (account_id, debit, credit) VALUES (?, 0, 0)",
                [(account_id,) for account_id in ids],
            )
    finally:
        db.close()
    return len(specs)
