"""Many household accounts opened at once obey the same rules as one."""

from __future__ import annotations

import datetime as dt

import pytest

from ledger import books
from ledger.books.errors import AccountExists, InvalidAccount


def _book(db, code="BULK"):  # type: ignore[no-untyped-def]
    book = books.create_book(db, code=code, name="Bulk", created_by=None)
    books.create_account(db, book, code="1122", name="Receivables", type="asset")
    books.create_account(db, book, code="4001", name="Fees", type="revenue")
    return book


def test_bulk_accounts_are_children_with_zero_balances_and_take_postings(db):
    book = _book(db)
    n = books.create_accounts_bulk(
        db, book, [(f"1122.H{i}", f"家庭{i}", "asset", "1122", f"household:{i}") for i in range(50)]
    )
    assert n == 50
    child = books.get_account(db, book, "1122.H7")
    assert (child.owner_ref, child.parent_id) == (
        "household:7",
        books.get_account(db, book, "1122").id,
    )
    books.post_entry(
        db,
        book.id,
        books.EntryDraft(
            dt.date(2026, 9, 1),
            "charge",
            [books.PostingDraft("1122.H7", 100), books.PostingDraft("4001", -100)],
        ),
        actor="t",
    )
    parent = books.get_account(db, book, "1122")
    assert books.account_balance(db, parent).balance == 100
    assert books.balance_mismatches(db, book) == []


@pytest.mark.parametrize(
    ("spec", "error"),
    [
        (("1122.X", "x", "revenue", "1122", None), InvalidAccount),  # type differs from parent
        (("1122.X", "x", "asset", "9999", None), InvalidAccount),  # no such parent
        (("1122.X", "x", "thing", None, None), InvalidAccount),  # unknown type
        (("4001", "again", "revenue", None, None), AccountExists),  # code taken
    ],
)
def test_a_bad_spec_refuses_the_whole_batch(db, spec, error):
    book = _book(db, "BULK2")
    good = ("1122.OK", "ok", "asset", "1122", None)
    with pytest.raises(error):
        books.create_accounts_bulk(db, book, [good, spec])
    with pytest.raises(books.errors.NotFound):
        books.get_account(db, book, "1122.OK")
