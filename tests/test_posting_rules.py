"""The posting engine refuses every broken rule with its own exception and writes nothing.

Domain level, through ``ledger.books`` with a session in the test's rolled-back
transaction. A refusal is checked *before* any rollback: the engine itself must
not have written a row, moved a balance or the book's head.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from engine_helpers import (
    assert_books_sound,
    book_state,
    draft,
    entry_numbers,
    make_book,
    net_balances,
    total_rows,
)
from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger.books import (
    Book,
    EntryDraft,
    PostingDraft,
    account_balance,
    close_account,
    close_period,
    create_account,
    create_period,
    get_account,
    post_entries_bulk,
    post_entry,
    reverse_entry,
    trial_balance,
    verify_chain,
)
from ledger.books.errors import (
    AccountClosed,
    AccountNotZero,
    AlreadyReversed,
    CannotReverseReversal,
    DomainError,
    IdempotencyConflict,
    InvalidEntry,
    InvalidPeriod,
    InvalidPostingAmount,
    NotFound,
    PeriodAlreadyClosed,
    PeriodClosed,
    PeriodOverlap,
    TooFewPostings,
    UnbalancedEntry,
    UnknownAccount,
)
from ledger.books.models import Entry

D = dt.date(2026, 9, 1)
ACTOR = "clerk@test"


def fee(amount: int = 1000, day: dt.date = D, **kw: Any) -> EntryDraft:
    return draft(day, ("1002", amount), ("4001", -amount), **kw)


class Ledger:
    """Book A with entries, a closed August, an open September and a closed account 2299.

    Book B has an account 7777 that A lacks.
    """

    def __init__(self, db: Session) -> None:
        self.db = db
        self.a = make_book(db)
        create_account(db, self.a, code="2299", name="closed", type="liability")
        close_account(db, self.a, "2299")
        self.august = create_period(db, self.a, start=dt.date(2026, 8, 1), end=dt.date(2026, 8, 31))
        self.first = post_entry(
            db, self.a.id, fee(5000, dt.date(2026, 8, 20), key="k1"), actor=ACTOR
        )
        close_period(db, self.a, self.august.id, actor=ACTOR)
        self.september = create_period(
            db, self.a, start=dt.date(2026, 9, 1), end=dt.date(2026, 9, 30)
        )
        self.second = post_entry(db, self.a.id, fee(700, key="k2"), actor=ACTOR)
        self.b = make_book(db, chart={"7777": "asset", "1002": "asset"})
        post_entry(db, self.b.id, draft(D, ("1002", 300), ("7777", -300)), actor=ACTOR)

    def state(self) -> tuple[Any, ...]:
        return (
            book_state(self.db, self.a.id),
            book_state(self.db, self.b.id),
            total_rows(self.db),
        )

    def refused(
        self, exc: type[DomainError], code: str, call: Callable[[], object], field: str | None = ""
    ) -> DomainError:
        before = self.state()
        with pytest.raises(exc) as info:
            call()
        assert type(info.value) is exc
        assert info.value.code == code
        if field != "":
            assert info.value.field == field
        assert self.state() == before
        assert_books_sound(self.db, self.a)
        return info.value

    def post(self, d: EntryDraft, book: Book | None = None) -> Any:
        return post_entry(self.db, (book or self.a).id, d, actor=ACTOR)


@pytest.fixture
def ledger(db: Session) -> Ledger:
    return Ledger(db)


# --------------------------------------------------------------------------- single entries

REFUSED = [
    pytest.param(
        draft(D, ("1002", 1000), ("4001", -999)),
        UnbalancedEntry,
        "unbalanced_entry",
        "postings",
        id="unbalanced",
    ),
    pytest.param(
        draft(D, ("1002", 1000), ("4001", -500), ("4001", -501)),
        UnbalancedEntry,
        "unbalanced_entry",
        "postings",
        id="unbalanced-three-lines",
    ),
    pytest.param(
        draft(D, ("1002", 1000), ("4001", -1000), ("1002", 1)),
        UnbalancedEntry,
        "unbalanced_entry",
        "postings",
        id="unbalanced-by-one-fen",
    ),
    pytest.param(
        draft(D, ("1002", 1000)), TooFewPostings, "too_few_postings", "postings", id="one-posting"
    ),
    pytest.param(draft(D), TooFewPostings, "too_few_postings", "postings", id="no-postings"),
    pytest.param(
        draft(D, ("1002", 0), ("4001", 0)),
        InvalidPostingAmount,
        "invalid_posting_amount",
        "postings.0.amount",
        id="zero",
    ),
    pytest.param(
        draft(D, ("1002", 1000), ("4001", -1000), ("5001", 0)),
        InvalidPostingAmount,
        "invalid_posting_amount",
        "postings.2.amount",
        id="zero-third-line",
    ),
    pytest.param(
        EntryDraft(D, "float", (PostingDraft("1002", 10.0), PostingDraft("4001", -10.0))),  # type: ignore[arg-type]
        InvalidPostingAmount,
        "invalid_posting_amount",
        "postings.0.amount",
        id="float-amount",
    ),
    pytest.param(
        EntryDraft(D, "bool", (PostingDraft("1002", True), PostingDraft("4001", -1))),
        InvalidPostingAmount,
        "invalid_posting_amount",
        "postings.0.amount",
        id="bool-amount",
    ),
    pytest.param(
        draft(D, ("1002", 1000), ("9999", -1000)),
        UnknownAccount,
        "unknown_account",
        "postings.1.account",
        id="unknown-account",
    ),
    pytest.param(
        draft(D, ("1002", 1000), ("7777", -1000)),
        UnknownAccount,
        "unknown_account",
        "postings.1.account",
        id="account-of-another-book",
    ),
    pytest.param(
        fee(day=dt.date(2026, 8, 15)),
        PeriodClosed,
        "period_closed",
        "effective_date",
        id="closed-period",
    ),
    pytest.param(
        fee(day=dt.date(2026, 8, 1)),
        PeriodClosed,
        "period_closed",
        "effective_date",
        id="closed-period-first-day",
    ),
    pytest.param(
        fee(day=dt.date(2026, 8, 31)),
        PeriodClosed,
        "period_closed",
        "effective_date",
        id="closed-period-last-day",
    ),
    pytest.param(
        draft(D, ("1002", 1000), ("2299", -1000)),
        AccountClosed,
        "account_closed",
        "postings.1.account",
        id="closed-account",
    ),
    pytest.param(
        fee(kind="reversal"), InvalidEntry, "invalid_entry", "kind", id="posted-reversal-kind"
    ),
    pytest.param(fee(kind="gift"), InvalidEntry, "invalid_entry", "kind", id="unknown-kind"),
    pytest.param(fee(memo="  "), InvalidEntry, "invalid_entry", "memo", id="blank-memo"),
    pytest.param(
        draft(dt.datetime(2026, 9, 1, 12, 0), ("1002", 1), ("4001", -1)),  # type: ignore[arg-type]
        InvalidEntry,
        "invalid_entry",
        "effective_date",
        id="datetime-not-date",
    ),
]


@pytest.mark.parametrize(("entry", "exc", "code", "field"), REFUSED)
def test_a_broken_rule_is_refused_by_name_and_writes_nothing(
    ledger: Ledger, entry: EntryDraft, exc: type[DomainError], code: str, field: str
) -> None:
    ledger.refused(exc, code, lambda: ledger.post(entry), field)
    # The same draft with a key is refused too, and the key is not spent by the refusal.
    keyed = EntryDraft(**{**entry.__dict__, "idempotency_key": "refused"})
    ledger.refused(exc, code, lambda: ledger.post(keyed), field)
    assert ledger.post(fee(1, key="refused")).number == 3


def test_the_kinds_of_refusal_map_to_the_right_class_of_error() -> None:
    assert UnbalancedEntry.kind == "invalid"
    assert IdempotencyConflict.kind == "conflict"
    assert AlreadyReversed.kind == "conflict"
    assert CannotReverseReversal.kind == "invalid"
    assert PeriodOverlap.kind == "conflict"
    assert NotFound.kind == "not_found"


def test_a_refused_entry_leaves_no_gap_in_the_numbers(ledger: Ledger) -> None:
    with pytest.raises(UnbalancedEntry):
        ledger.post(draft(D, ("1002", 10), ("4001", -9)))
    assert ledger.post(fee()).number == 3
    with pytest.raises(PeriodClosed):
        ledger.post(fee(day=dt.date(2026, 8, 2)))
    assert ledger.post(fee()).number == 4
    assert entry_numbers(ledger.db, ledger.a.id) == [1, 2, 3, 4]
    assert_books_sound(ledger.db, ledger.a, entries=4)


def test_dates_outside_every_period_are_allowed(ledger: Ledger) -> None:
    for day in (dt.date(2026, 7, 31), dt.date(2026, 10, 1), dt.date(1999, 1, 1)):
        assert ledger.post(fee(day=day)).replayed is False
    assert_books_sound(ledger.db, ledger.a, entries=5)


def test_an_account_code_names_the_account_of_the_entrys_own_book(ledger: Ledger) -> None:
    ledger.post(fee(250))
    assert net_balances(ledger.db, ledger.a.id)["1002"] == 5000 + 700 + 250
    assert net_balances(ledger.db, ledger.b.id)["1002"] == 300


# --------------------------------------------------------------------------- idempotency


def test_a_replayed_key_with_the_same_content_returns_the_first_entry(ledger: Ledger) -> None:
    before = ledger.state()
    again = ledger.post(fee(700, key="k2"))
    assert again.replayed is True
    assert (again.entry_id, again.number) == (ledger.second.entry_id, ledger.second.number)
    assert ledger.state() == before


def test_a_replay_is_answered_even_after_its_period_closed(ledger: Ledger) -> None:
    """The first entry was posted; answering the retry does not post into the closed period."""
    again = ledger.post(fee(5000, dt.date(2026, 8, 20), key="k1"))
    assert again.replayed is True
    assert again.entry_id == ledger.first.entry_id


@pytest.mark.parametrize(
    "other",
    [
        pytest.param(fee(701, key="k2"), id="amount"),
        pytest.param(fee(700, dt.date(2026, 9, 2), key="k2"), id="date"),
        pytest.param(fee(700, key="k2", memo="other memo"), id="memo"),
        pytest.param(fee(700, key="k2", kind="charge"), id="kind"),
        pytest.param(fee(700, key="k2", source_ref="enrolment:1"), id="source-ref"),
        pytest.param(draft(D, ("1122", 700), ("4001", -700), key="k2"), id="account"),
        pytest.param(draft(D, ("4001", -700), ("1002", 700), key="k2"), id="posting-order"),
        pytest.param(
            draft(D, ("1002", 300), ("1002", 400), ("4001", -700), key="k2"), id="split-lines"
        ),
    ],
)
def test_a_reused_key_with_other_content_is_refused(ledger: Ledger, other: EntryDraft) -> None:
    error = ledger.refused(
        IdempotencyConflict, "idempotency_key_reused", lambda: ledger.post(other), "Idempotency-Key"
    )
    assert f"#{ledger.second.number}" in error.message


def test_idempotency_keys_are_scoped_per_book(ledger: Ledger) -> None:
    other = ledger.post(draft(D, ("1002", 5), ("7777", -5), key="k2"), book=ledger.b)
    assert other.replayed is False
    assert other.entry_id != ledger.second.entry_id


def test_a_memo_cannot_be_crafted_to_collide_with_another_drafts_content() -> None:
    a = draft(D, ("1002", 1), ("4001", -1), memo="x|y", source_ref="z")
    b = draft(D, ("1002", 1), ("4001", -1), memo="x", source_ref="y|z")
    assert a.content_hash() != b.content_hash()
    assert (
        a.content_hash()
        == draft(D, ("1002", 1), ("4001", -1), memo="x|y", source_ref="z").content_hash()
    )


# --------------------------------------------------------------------------- reversals


def test_a_reversal_mirrors_the_entry_and_links_to_it(ledger: Ledger) -> None:
    entry = ledger.post(draft(D, ("1002", 1200), ("1122", 300), ("4001", -1500)))
    before = net_balances(ledger.db, ledger.a.id)
    rev = reverse_entry(ledger.db, ledger.a.id, entry.entry_id, effective_date=D, actor=ACTOR)
    assert rev.number == entry.number + 1
    row = ledger.db.get(Entry, rev.entry_id)
    assert row is not None
    assert row.kind == "reversal"
    assert row.reverses_id == entry.entry_id
    assert row.memo == f"Reversal of entry #{entry.number}"
    assert [(p.account_id, p.amount) for p in row.postings] == [
        (p.account_id, -p.amount) for p in ledger.db.get(Entry, entry.entry_id).postings
    ]
    after = net_balances(ledger.db, ledger.a.id)
    assert after["1002"] == before["1002"] - 1200
    assert after["1122"] == before["1122"] - 300
    assert after["4001"] == before["4001"] + 1500
    assert_books_sound(ledger.db, ledger.a, entries=4)


def test_a_second_reversal_is_refused(ledger: Ledger) -> None:
    rev = reverse_entry(
        ledger.db, ledger.a.id, ledger.second.entry_id, effective_date=D, actor=ACTOR
    )
    error = ledger.refused(
        AlreadyReversed,
        "already_reversed",
        lambda: reverse_entry(
            ledger.db, ledger.a.id, ledger.second.entry_id, effective_date=D, actor=ACTOR
        ),
    )
    assert f"#{rev.number}" in error.message
    # A key does not open the door to a second reversal either.
    ledger.refused(
        AlreadyReversed,
        "already_reversed",
        lambda: reverse_entry(
            ledger.db,
            ledger.a.id,
            ledger.second.entry_id,
            effective_date=D,
            actor=ACTOR,
            memo="again",
            idempotency_key="second",
        ),
    )


def test_a_reversal_of_a_reversal_is_refused(ledger: Ledger) -> None:
    rev = reverse_entry(
        ledger.db, ledger.a.id, ledger.second.entry_id, effective_date=D, actor=ACTOR
    )
    ledger.refused(
        CannotReverseReversal,
        "cannot_reverse_reversal",
        lambda: reverse_entry(ledger.db, ledger.a.id, rev.entry_id, effective_date=D, actor=ACTOR),
    )


def test_a_reversal_dated_in_a_closed_period_is_refused(ledger: Ledger) -> None:
    ledger.refused(
        PeriodClosed,
        "period_closed",
        lambda: reverse_entry(
            ledger.db,
            ledger.a.id,
            ledger.first.entry_id,
            effective_date=dt.date(2026, 8, 21),
            actor=ACTOR,
        ),
        "effective_date",
    )
    # The entry itself stays reversible on an open date.
    rev = reverse_entry(
        ledger.db, ledger.a.id, ledger.first.entry_id, effective_date=D, actor=ACTOR
    )
    assert rev.replayed is False


def test_a_reversal_touching_a_closed_account_is_refused(ledger: Ledger) -> None:
    entry = ledger.post(draft(D, ("5001", 40), ("1122", -40)))
    ledger.post(draft(D, ("5001", -40), ("1122", 40)))  # settle 5001 so that it can close
    close_account(ledger.db, ledger.a, "5001")
    ledger.refused(
        AccountClosed,
        "account_closed",
        lambda: reverse_entry(
            ledger.db, ledger.a.id, entry.entry_id, effective_date=D, actor=ACTOR
        ),
    )


@pytest.mark.parametrize("where", ["missing", "other-book"])
def test_reversing_an_entry_outside_the_book_is_not_found(ledger: Ledger, where: str) -> None:
    if where == "missing":
        target = 10**12
    else:
        target = ledger.post(draft(D, ("1002", 3), ("7777", -3)), book=ledger.b).entry_id
    ledger.refused(
        NotFound,
        "not_found",
        lambda: reverse_entry(ledger.db, ledger.a.id, target, effective_date=D, actor=ACTOR),
    )


def test_a_reversal_replays_with_its_key_and_refuses_other_content(ledger: Ledger) -> None:
    def rev(memo: str, key: str) -> Any:
        return reverse_entry(
            ledger.db,
            ledger.a.id,
            ledger.second.entry_id,
            effective_date=D,
            actor=ACTOR,
            memo=memo,
            idempotency_key=key,
        )

    first = rev("wrong amount", "r1")
    before = ledger.state()
    again = rev("wrong amount", "r1")
    assert again.replayed is True
    assert again.entry_id == first.entry_id
    assert ledger.state() == before
    ledger.refused(IdempotencyConflict, "idempotency_key_reused", lambda: rev("other", "r1"))
    # A key spent on a posted entry cannot name a reversal.
    ledger.refused(IdempotencyConflict, "idempotency_key_reused", lambda: rev("x", "k1"))


@pytest.mark.parametrize("memo", ["", "   "])
def test_a_reversal_with_a_blank_memo_is_refused(ledger: Ledger, memo: str) -> None:
    ledger.refused(
        InvalidEntry,
        "invalid_entry",
        lambda: reverse_entry(
            ledger.db, ledger.a.id, ledger.second.entry_id, effective_date=D, actor=ACTOR, memo=memo
        ),
        "memo",
    )


# --------------------------------------------------------------------------- bulk path


def batch(n: int, prefix: str = "bulk", start: int = 1) -> list[EntryDraft]:
    """``n`` varied, valid drafts with keys ``prefix-<i>``."""
    out = []
    for i in range(start, start + n):
        amount = 100 + 37 * i
        day = dt.date(2026, 9, 1 + i % 28)
        if i % 3 == 0:
            lines = [("1122", amount), ("4001", -amount)]
        elif i % 3 == 1:
            lines = [("1002", amount), ("1122", -amount)]
        else:
            lines = [("5001", amount), ("1002", -amount + 1), ("2241", -1)]
        out.append(draft(day, *lines, memo=f"bulk {i}", key=f"{prefix}-{i}"))
    return out


@pytest.mark.parametrize(
    ("bad", "exc", "code"),
    [
        pytest.param(
            draft(D, ("1002", 1), ("4001", -2)),
            UnbalancedEntry,
            "unbalanced_entry",
            id="unbalanced",
        ),
        pytest.param(draft(D, ("1002", 1)), TooFewPostings, "too_few_postings", id="one-posting"),
        pytest.param(
            draft(D, ("1002", 0), ("4001", 0)),
            InvalidPostingAmount,
            "invalid_posting_amount",
            id="zero",
        ),
        pytest.param(
            draft(D, ("1002", 1), ("9999", -1)), UnknownAccount, "unknown_account", id="unknown"
        ),
        pytest.param(
            draft(D, ("1002", 1), ("7777", -1)),
            UnknownAccount,
            "unknown_account",
            id="other-book-account",
        ),
        pytest.param(
            draft(D, ("1002", 1), ("2299", -1)),
            AccountClosed,
            "account_closed",
            id="closed-account",
        ),
        pytest.param(
            fee(day=dt.date(2026, 8, 10)), PeriodClosed, "period_closed", id="closed-period"
        ),
        pytest.param(
            fee(5000, dt.date(2026, 8, 20), key="k1", memo="changed"),
            IdempotencyConflict,
            "idempotency_key_reused",
            id="key-reused-with-other-content",
        ),
        pytest.param(
            fee(1, key="bulk-2"),
            IdempotencyConflict,
            "idempotency_key_reused",
            id="key-twice-in-batch-with-other-content",
        ),
    ],
)
def test_bulk_refuses_a_batch_with_one_bad_draft_and_writes_nothing(
    ledger: Ledger, bad: EntryDraft, exc: type[DomainError], code: str
) -> None:
    drafts = batch(5)
    drafts.insert(3, bad)
    error = ledger.refused(
        exc, code, lambda: post_entries_bulk(ledger.db, ledger.a.id, drafts, actor=ACTOR)
    )
    if code != "idempotency_key_reused":
        assert error.message.startswith("entry 3: ")
    # Without the bad draft the batch goes through.
    drafts.pop(3)
    result = post_entries_bulk(ledger.db, ledger.a.id, drafts, actor=ACTOR)
    assert (result.posted, result.replayed) == (5, 0)
    assert_books_sound(ledger.db, ledger.a, entries=7)


@pytest.mark.parametrize(
    ("bad", "exc", "code"),
    [
        pytest.param(
            draft(D, ("1002", 1), ("9999", -1)), UnknownAccount, "unknown_account", id="unknown"
        ),
        pytest.param(
            fee(day=dt.date(2026, 8, 10)), PeriodClosed, "period_closed", id="closed-period"
        ),
    ],
)
def test_a_bulk_refusal_names_the_drafts_position_in_the_batch_after_replays(
    ledger: Ledger, bad: EntryDraft, exc: type[DomainError], code: str
) -> None:
    drafts = batch(3)
    post_entries_bulk(ledger.db, ledger.a.id, drafts, actor=ACTOR)
    error = ledger.refused(
        exc, code, lambda: post_entries_bulk(ledger.db, ledger.a.id, [*drafts, bad], actor=ACTOR)
    )
    # The three replayed drafts are skipped, but the message still counts them.
    assert error.message.startswith("entry 3: "), error.message


def test_bulk_posts_numbers_the_chain_and_balances_like_single_posts(db: Session) -> None:
    bulk_book, single_book = make_book(db), make_book(db)
    drafts = batch(40)
    result = post_entries_bulk(db, bulk_book.id, drafts, actor=ACTOR)
    assert (result.posted, result.replayed) == (40, 0)
    assert (result.first_number, result.last_number) == (1, 40)
    assert len(result.entry_ids) == len(set(result.entry_ids)) == 40
    numbers = dict(
        db.execute(select(Entry.id, Entry.number).where(Entry.id.in_(result.entry_ids))).all()
    )
    assert [numbers[i] for i in result.entry_ids] == list(range(1, 41))
    for d in drafts:
        post_entry(db, single_book.id, d, actor=ACTOR)
    assert net_balances(db, bulk_book.id) == net_balances(db, single_book.id)
    assert_books_sound(db, bulk_book, entries=40)
    assert_books_sound(db, single_book, entries=40)
    # The chain continues seamlessly from the bulk path into single posts and back.
    post_entry(db, bulk_book.id, fee(1), actor=ACTOR)
    post_entries_bulk(db, bulk_book.id, batch(3, prefix="more"), actor=ACTOR)
    assert_books_sound(db, bulk_book, entries=44)


def test_bulk_rerun_with_the_same_keys_posts_nothing_new(db: Session) -> None:
    book = make_book(db)
    drafts = batch(25)
    first = post_entries_bulk(db, book.id, drafts, actor=ACTOR)
    assert (first.posted, first.replayed) == (25, 0)
    before = book_state(db, book.id)
    again = post_entries_bulk(db, book.id, drafts, actor=ACTOR)
    assert (again.posted, again.replayed) == (0, 25)
    assert again.entry_ids == []
    assert book_state(db, book.id) == before


def test_an_interrupted_batch_run_again_ends_with_exactly_the_full_result(db: Session) -> None:
    drafts = batch(30)
    whole, interrupted = make_book(db), make_book(db)
    post_entries_bulk(db, whole.id, drafts, actor=ACTOR)

    # The first half was posted (and committed) before the run was cut off ...
    half = post_entries_bulk(db, interrupted.id, drafts[:15], actor=ACTOR)
    assert half.posted == 15
    db.commit()
    # ... and the whole batch is simply run again.
    rerun = post_entries_bulk(db, interrupted.id, drafts, actor=ACTOR)
    assert (rerun.posted, rerun.replayed) == (15, 15)
    assert (rerun.first_number, rerun.last_number) == (16, 30)

    def journal(book: Book) -> list[tuple]:
        return list(
            db.execute(
                select(Entry.number, Entry.memo, Entry.idempotency_key, Entry.effective_date)
                .where(Entry.book_id == book.id)
                .order_by(Entry.number)
            )
        )

    assert journal(interrupted) == journal(whole)
    assert net_balances(db, interrupted.id) == net_balances(db, whole.id)
    assert_books_sound(db, interrupted, entries=30)


def test_a_key_twice_in_one_batch_with_the_same_content_posts_once(db: Session) -> None:
    book = make_book(db)
    d = fee(123, key="dup")
    result = post_entries_bulk(db, book.id, [d, fee(1, key="other"), d], actor=ACTOR)
    assert (result.posted, result.replayed) == (2, 1)
    assert net_balances(db, book.id)["1002"] == 124
    assert_books_sound(db, book, entries=2)


def test_bulk_and_single_posts_share_idempotency_keys(db: Session) -> None:
    book = make_book(db)
    single = post_entry(db, book.id, fee(10, key="shared"), actor=ACTOR)
    result = post_entries_bulk(db, book.id, [fee(10, key="shared"), fee(20)], actor=ACTOR)
    assert (result.posted, result.replayed) == (1, 1)
    replay = post_entry(db, book.id, fee(10, key="shared"), actor=ACTOR)
    assert replay.entry_id == single.entry_id
    assert replay.replayed is True


def test_an_empty_batch_posts_nothing(db: Session) -> None:
    book = make_book(db)
    result = post_entries_bulk(db, book.id, [], actor=ACTOR)
    assert (result.posted, result.replayed, result.entry_ids) == (0, 0, [])
    assert book_state(db, book.id).last_number == 0


# --------------------------------------------------------------------------- reading the books


def test_balance_as_of_a_date_counts_postings_up_to_and_including_it(db: Session) -> None:
    book = make_book(db)
    create_account(db, book, code="1122.H1", name="household 1", type="asset", parent="1122")
    create_account(db, book, code="1122.H2", name="household 2", type="asset", parent="1122")
    days = [dt.date(2026, 9, d) for d in (1, 5, 10)]
    post_entry(db, book.id, draft(days[0], ("1122.H1", 1000), ("4001", -1000)), actor=ACTOR)
    post_entry(db, book.id, draft(days[1], ("1122.H2", 2500), ("4001", -2500)), actor=ACTOR)
    post_entry(db, book.id, draft(days[2], ("1002", 1000), ("1122.H1", -1000)), actor=ACTOR)
    post_entry(db, book.id, draft(days[2], ("1122", 7), ("4001", -7)), actor=ACTOR)

    def bal(code: str, as_of: dt.date | None = None) -> tuple[int, int, int]:
        b = account_balance(db, get_account(db, book, code), as_of)
        return b.debit, b.credit, b.balance

    assert bal("1122.H1", dt.date(2026, 8, 31)) == (0, 0, 0)
    assert bal("1122.H1", days[0]) == (1000, 0, 1000)
    assert bal("1122.H1", dt.date(2026, 9, 9)) == (1000, 0, 1000)
    assert bal("1122.H1", days[2]) == (1000, 1000, 0)
    # The parent counts its children and its own postings.
    assert bal("1122", days[0]) == (1000, 0, 1000)
    assert bal("1122", days[1]) == (3500, 0, 3500)
    assert bal("1122", days[2]) == (3507, 1000, 2507)
    assert bal("1122") == (3507, 1000, 2507)
    assert bal("4001", days[1]) == (0, 3500, -3500)
    # Without a date the materialized balance answers, and agrees with the postings.
    for code in ("1002", "1122", "1122.H1", "1122.H2", "4001"):
        assert bal(code) == bal(code, dt.date(2100, 1, 1))


def test_trial_balance_totals_agree_and_each_account_sits_in_one_column(db: Session) -> None:
    book = make_book(db)
    post_entry(db, book.id, draft(D, ("1122", 10000), ("4001", -10000)), actor=ACTOR)
    post_entry(db, book.id, draft(D, ("1002", 6000), ("1122", -6000)), actor=ACTOR)
    post_entry(
        db, book.id, draft(dt.date(2026, 9, 20), ("5001", 2500), ("2241", -2500)), actor=ACTOR
    )
    tb = trial_balance(db, book)
    lines = {line.code: (line.debit, line.credit) for line in tb.lines}
    assert lines == {
        "1002": (6000, 0),
        "1122": (4000, 0),
        "2241": (0, 2500),
        "4001": (0, 10000),
        "5001": (2500, 0),
    }
    assert tb.total_debit == tb.total_credit == 12500
    assert [line.code for line in tb.lines] == sorted(lines)
    early = trial_balance(db, book, dt.date(2026, 9, 19))
    assert {line.code: (line.debit, line.credit) for line in early.lines}["5001"] == (0, 0)
    assert early.total_debit == early.total_credit == 10000


def test_verify_chain_sees_entries_posted_after_the_book_was_loaded(db: Session) -> None:
    """The book's head is read fresh, not from the session's identity map."""
    book = make_book(db)
    assert verify_chain(db, book.id).ok
    post_entry(db, book.id, fee(), actor=ACTOR)
    report = verify_chain(db, book.id)
    assert report.ok, report
    assert report.entries_checked == 1


# --------------------------------------------------------------------------- periods and accounts


@pytest.mark.parametrize(
    ("start", "end"),
    [
        (dt.date(2026, 9, 15), dt.date(2026, 10, 15)),
        (dt.date(2026, 7, 15), dt.date(2026, 8, 1)),
        (dt.date(2026, 9, 30), dt.date(2026, 9, 30)),
        (dt.date(2026, 7, 1), dt.date(2026, 12, 31)),
    ],
)
def test_an_overlapping_period_is_refused(ledger: Ledger, start: dt.date, end: dt.date) -> None:
    ledger.refused(
        PeriodOverlap,
        "period_overlap",
        lambda: create_period(ledger.db, ledger.a, start=start, end=end),
    )
    # Other books are not affected, and adjacent periods are fine.
    create_period(ledger.db, ledger.b, start=start, end=end)
    create_period(ledger.db, ledger.a, start=dt.date(2026, 10, 1), end=dt.date(2026, 10, 31))


def test_a_period_ending_before_it_starts_is_refused(ledger: Ledger) -> None:
    ledger.refused(
        InvalidPeriod,
        "invalid_period",
        lambda: create_period(
            ledger.db, ledger.a, start=dt.date(2026, 11, 30), end=dt.date(2026, 11, 1)
        ),
        "end",
    )


def test_closing_a_closed_period_is_refused(ledger: Ledger) -> None:
    ledger.refused(
        PeriodAlreadyClosed,
        "period_already_closed",
        lambda: close_period(ledger.db, ledger.a, ledger.august.id, actor=ACTOR),
    )


def test_closing_a_period_stops_posting_into_it(ledger: Ledger) -> None:
    ledger.post(fee(day=dt.date(2026, 9, 30)))
    close_period(ledger.db, ledger.a, ledger.september.id, actor=ACTOR)
    ledger.refused(
        PeriodClosed, "period_closed", lambda: ledger.post(fee(day=dt.date(2026, 9, 30)))
    )


def test_an_account_with_a_balance_cannot_close(ledger: Ledger) -> None:
    ledger.refused(
        AccountNotZero, "account_not_zero", lambda: close_account(ledger.db, ledger.a, "1002")
    )


def test_an_account_settled_to_zero_closes_and_keeps_its_history(ledger: Ledger) -> None:
    ledger.post(draft(D, ("5001", 40), ("1122", -40)))
    ledger.refused(
        AccountNotZero, "account_not_zero", lambda: close_account(ledger.db, ledger.a, "5001")
    )
    ledger.post(draft(D, ("1122", 40), ("5001", -40)))
    account = close_account(ledger.db, ledger.a, "5001")
    assert account.is_closed
    b = account_balance(ledger.db, account)
    assert (b.debit, b.credit) == (40, 40)
    ledger.refused(
        AccountClosed,
        "account_closed",
        lambda: ledger.post(draft(D, ("5001", 1), ("1122", -1))),
        "postings.0.account",
    )
