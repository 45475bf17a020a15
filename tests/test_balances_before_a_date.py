"""``nets_before``: an account's balance before a date, read as the materialized balance less
what moved since — always equal to summing every posting dated before it."""

from __future__ import annotations

import datetime as dt

from engine_helpers import draft, make_book
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from ledger.books import Account, nets_before, post_entry

DAYS = st.integers(min_value=0, max_value=60).map(
    lambda n: dt.date(2026, 9, 1) + dt.timedelta(days=n)
)
MOVES = st.lists(
    st.tuples(DAYS, st.sampled_from(["1122", "2241"]), st.integers(1, 10**9)),
    min_size=0,
    max_size=12,
)


@settings(max_examples=25, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(moves=MOVES, day=DAYS)
def test_nets_before_a_day_equal_the_sum_of_the_postings_before_it(db, moves, day):
    nested = db.begin_nested()
    try:
        book = make_book(db)
        for when, account, fen in moves:
            post_entry(db, book.id, draft(when, (account, fen), ("1002", -fen)), actor="t")
        accounts = {
            a.code: a.id for a in db.scalars(select(Account).where(Account.book_id == book.id))
        }
        got = nets_before(db, list(accounts.values()), day)
        for code, account_id in accounts.items():
            expected = sum(
                fen if code == account else -fen if code == "1002" else 0
                for when, account, fen in moves
                if when < day
            )
            assert got[account_id] == expected, code
    finally:
        nested.rollback()


def test_no_accounts_no_query(db):
    assert nets_before(db, [], dt.date(2026, 9, 1)) == {}
