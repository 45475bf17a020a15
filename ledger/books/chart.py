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
