"""A Hypothesis state machine posts, reverses and closes at random; the books stay sound.

Two books (fresh, uniquely coded, per example) share some account codes and
each has one of its own and one closed account. The machine posts random
entries (valid and invalid, some with reused idempotency keys), reverses
random entries (including second reversals, reversals of reversals and
entries of the other book), posts random batches, creates and closes periods.
A small model predicts each outcome: the exact exception, a replay, or the
new entry. After every step both books must satisfy: trial balance zero,
materialized balances equal the sum of postings and the model, chain
verifies, entry numbers gap-free; and every refused step changed nothing.
"""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass, field, replace

from engine_helpers import (
    assert_books_sound,
    book_state,
    make_book,
    net_balances,
    total_rows,
    unique_code,
)
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from ledger.books import (
    EntryDraft,
    PostingDraft,
    close_account,
    close_period,
    create_account,
    create_period,
    post_entries_bulk,
    post_entry,
    reverse_entry,
)
from ledger.books.errors import (
    AccountClosed,
    AlreadyReversed,
    CannotReverseReversal,
    DomainError,
    IdempotencyConflict,
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

ACTOR = "machine@test"
SHARED = {"1002": "asset", "1122": "asset", "2241": "liability", "4001": "revenue"}
OWN = ("A-only", "B-only")
CLOSED = "2299"
KEYS = [f"key-{i}" for i in range(6)]
YEAR = 2026
FIRST_DAY, LAST_DAY = dt.date(YEAR, 1, 1), dt.date(YEAR, 6, 30)
MISSING_ENTRY = 10**12

OWN_CODE = "<own>"  # stands for the book's own account, resolved when the rule runs
OTHER_CODE = "<other>"  # the other book's own account
VALID = [*SHARED, OWN_CODE]
DEFECTS = {
    "unbalanced": UnbalancedEntry,
    "single": TooFewPostings,
    "zero": InvalidPostingAmount,
    "unknown": UnknownAccount,
    "other-book": UnknownAccount,
    "closed-account": AccountClosed,
}
#: Any day, or one on the edge of the opening periods (January and February).
days = st.one_of(
    st.dates(min_value=FIRST_DAY, max_value=LAST_DAY),
    st.sampled_from([dt.date(YEAR, m, d) for m, d in ((1, 1), (1, 31), (2, 1), (2, 28), (3, 1))]),
)
FRESH = "<fresh>"  # a key never used before, numbered when the rule runs
#: No key, a fresh key, or one of a few shared keys (which may clash with earlier content).
keys = st.sampled_from([None, FRESH, FRESH, *KEYS])
#: Now and then a date on the edge of one of the book's periods: (which period, which edge).
edges = st.one_of(
    st.none(),
    st.none(),
    st.tuples(st.integers(min_value=0), st.sampled_from(["before", "start", "end", "after"])),
)
memos = st.sampled_from(["fee", "payment", "adjustment |x|", "费用"])
books = st.sampled_from([0, 1])


@st.composite
def drafts(draw: st.DrawFn, defects: str = "some") -> EntryDraft:
    """Drafts with ``defects`` "some" (about one in three has one), "none" or "one"."""
    n = draw(st.integers(min_value=2, max_value=4))
    codes = draw(st.lists(st.sampled_from(VALID), min_size=n, max_size=n))
    debits = draw(st.lists(st.integers(1, 10**7), min_size=n - 1, max_size=n - 1))
    lines = [*zip(codes, debits, strict=False), (codes[-1], -sum(debits))]
    lines = draw(st.permutations(lines))
    choices = {"some": [None] * 12 + [*DEFECTS], "none": [None], "one": [*DEFECTS]}[defects]
    defect = draw(st.sampled_from(choices))
    where = draw(st.integers(min_value=0, max_value=n - 1))
    if defect == "unbalanced":
        lines[where] = (lines[where][0], lines[where][1] + draw(st.sampled_from([1, -1, 10**6])))
        if lines[where][1] == 0:
            lines[where] = (lines[where][0], 7)
    elif defect == "single":
        lines = lines[:1]
    elif defect == "zero":
        lines[where] = (lines[where][0], 0)
    elif defect is not None:
        code = {"unknown": "9999", "other-book": OTHER_CODE, "closed-account": CLOSED}[defect]
        lines[where] = (code, lines[where][1])
    return EntryDraft(
        effective_date=draw(days),
        memo=draw(memos),
        postings=tuple(PostingDraft(c, a) for c, a in lines),
        kind=draw(st.sampled_from(["adjustment", "charge", "payment"])),
        idempotency_key=draw(keys),
    )


@dataclass
class Model:
    """What one book should hold."""

    accounts: set[str]
    closed_accounts: set[str]
    balances: dict[str, int]
    periods: list[tuple[int, dt.date, dt.date, bool]] = field(default_factory=list)
    count: int = 0
    #: idempotency key -> (what was asked, entry id)
    keys: dict[str, tuple[object, int]] = field(default_factory=dict)

    def closed_on(self, day: dt.date) -> bool:
        return any(closed and start <= day <= end for _, start, end, closed in self.periods)


@dataclass(frozen=True)
class Posted:
    book: int
    entry_id: int
    lines: tuple[tuple[str, int], ...]
    is_reversal: bool


def month(m: int) -> tuple[dt.date, dt.date]:
    return dt.date(YEAR, m, 1), dt.date(YEAR, m, calendar.monthrange(YEAR, m)[1])


class JournalMachine(RuleBasedStateMachine):
    engine: Engine  # set by the test before the machine runs

    def __init__(self) -> None:
        super().__init__()
        self.conn = self.engine.connect()
        self.trans = self.conn.begin()
        self.db = Session(bind=self.conn, expire_on_commit=False)
        self.books = []
        self.models = []
        for own in OWN:
            book = make_book(self.db, unique_code("SM"), chart={**SHARED, own: "expense"})
            create_account(self.db, book, code=CLOSED, name="closed", type="liability")
            close_account(self.db, book, CLOSED)
            model = Model(
                accounts={*SHARED, own, CLOSED},
                closed_accounts={CLOSED},
                balances={code: 0 for code in (*SHARED, own, CLOSED)},
            )
            for m in (1, 2):
                start, end = month(m)
                period = create_period(self.db, book, start=start, end=end)
                model.periods.append((period.id, start, end, False))
            self.books.append(book)
            self.models.append(model)
        self.posted: list[Posted] = []
        self.reversed: set[int] = set()
        self.serial = 0
        # A few entries in each book from the start, so that reversals have targets.
        for b in (0, 1):
            for i, (debit, credit) in enumerate(
                [("1002", "4001"), ("1122", OWN[b]), ("1002", "1122")]
            ):
                d = EntryDraft(
                    dt.date(YEAR, 3, 1 + i),
                    f"opening {i}",
                    (PostingDraft(debit, 1000 * (i + 1)), PostingDraft(credit, -1000 * (i + 1))),
                    idempotency_key=f"opening-{i}",
                )
                self._post(b, d)

    def teardown(self) -> None:
        self.db.close()
        self.trans.rollback()
        self.conn.close()

    # ------------------------------------------------------------------ helpers

    def edge_day(self, b: int, edge: tuple[int, str] | None, day: dt.date) -> dt.date:
        """The day before, the first, the last or the day after one of the book's periods."""
        if edge is None:
            return day
        periods = self.models[b].periods
        _, start, end, _ = periods[edge[0] % len(periods)]
        one = dt.timedelta(days=1)
        return {"before": start - one, "start": start, "end": end, "after": end + one}[edge[1]]

    def resolve(self, d: EntryDraft, b: int, edge: tuple[int, str] | None = None) -> EntryDraft:
        """Fill in the placeholders: the book's own account, the other book's, a fresh key."""
        names = {OWN_CODE: OWN[b], OTHER_CODE: OWN[1 - b]}
        key = d.idempotency_key
        if key == FRESH:
            self.serial += 1
            key = f"fresh-{self.serial}"
        return replace(
            d,
            effective_date=self.edge_day(b, edge, d.effective_date),
            idempotency_key=key,
            postings=tuple(replace(p, account=names.get(p.account, p.account)) for p in d.postings),
        )

    def state(self) -> tuple:
        return (*(book_state(self.db, b.id) for b in self.books), total_rows(self.db))

    def refused(self, exc: type[DomainError], call) -> None:  # type: ignore[no-untyped-def]
        before = self.state()
        try:
            call()
        except DomainError as error:
            assert type(error) is exc, (error, exc)
        else:
            raise AssertionError(f"expected {exc.__name__}")
        assert self.state() == before

    def check_draft(self, d: EntryDraft) -> type[DomainError] | None:
        if len(d.postings) < 2:
            return TooFewPostings
        if any(p.amount == 0 for p in d.postings):
            return InvalidPostingAmount
        if sum(p.amount for p in d.postings) != 0:
            return UnbalancedEntry
        return None

    def check_accounts(self, model: Model, d: EntryDraft) -> type[DomainError] | None:
        for p in d.postings:
            if p.account not in model.accounts:
                return UnknownAccount
            if p.account in model.closed_accounts:
                return AccountClosed
        return None

    def apply(self, b: int, entry_id: int, lines, *, is_reversal: bool = False) -> None:  # type: ignore[no-untyped-def]
        model = self.models[b]
        for code, amount in lines:
            model.balances[code] += amount
        model.count += 1
        self.posted.append(Posted(b, entry_id, tuple(lines), is_reversal))

    # ------------------------------------------------------------------ rules

    @rule(b=books, ds=st.lists(st.tuples(drafts(), edges), min_size=1, max_size=3))
    def post(self, b: int, ds: list[tuple[EntryDraft, tuple[int, str] | None]]) -> None:
        for d, edge in ds:
            self._post(b, self.resolve(d, b, edge))

    @rule(b=books, pick=st.integers(min_value=0), change=st.booleans())
    def post_again_with_a_used_key(self, b: int, pick: int, change: bool) -> None:
        model = self.models[b]
        used = sorted(k for k, (asked, _) in model.keys.items() if isinstance(asked, EntryDraft))
        if not used:
            return
        d = model.keys[used[pick % len(used)]][0]
        assert isinstance(d, EntryDraft)
        self._post(b, replace(d, memo=d.memo + " (changed)") if change else d)

    def _post(self, b: int, d: EntryDraft) -> None:
        model, book = self.models[b], self.books[b]
        expected = self.check_draft(d)
        if expected is None and d.idempotency_key in model.keys:
            asked, entry_id = model.keys[d.idempotency_key]
            if asked != d:
                expected = IdempotencyConflict
            else:
                before = self.state()
                result = post_entry(self.db, book.id, d, actor=ACTOR)
                assert (result.entry_id, result.replayed) == (entry_id, True)
                assert self.state() == before
                return
        if expected is None:
            expected = self.check_accounts(model, d)
        if expected is None and model.closed_on(d.effective_date):
            expected = PeriodClosed
        if expected is not None:
            self.refused(expected, lambda: post_entry(self.db, book.id, d, actor=ACTOR))
            return
        result = post_entry(self.db, book.id, d, actor=ACTOR)
        assert (result.number, result.replayed) == (model.count + 1, False)
        self.apply(b, result.entry_id, [(p.account, p.amount) for p in d.postings])
        if d.idempotency_key is not None:
            model.keys[d.idempotency_key] = (d, result.entry_id)

    @rule(
        b=books,
        pick=st.integers(min_value=0),
        foreign=st.integers(min_value=0, max_value=9),
        day=days,
        edge=edges,
        memo=st.one_of(st.none(), memos),
        key=keys,
    )
    def reverse(
        self,
        b: int,
        pick: int,
        foreign: int,
        day: dt.date,
        edge: tuple[int, str] | None,
        memo: str | None,
        key: str | None,
    ) -> None:
        model, book = self.models[b], self.books[b]
        day = self.edge_day(b, edge, day)
        if key == FRESH:
            self.serial += 1
            key = f"fresh-{self.serial}"
        own = [p for p in self.posted if p.book == b]
        # Mostly an entry of this book; sometimes the other book's or one that does not exist.
        targets = own if own and foreign > 0 else [p for p in self.posted if p.book != b] + [None]
        target = targets[pick % len(targets)]
        entry_id = MISSING_ENTRY if target is None else target.entry_id
        asked = ("reverse", entry_id, day, memo)

        def call():  # type: ignore[no-untyped-def]
            return reverse_entry(
                self.db,
                book.id,
                entry_id,
                effective_date=day,
                actor=ACTOR,
                memo=memo,
                idempotency_key=key,
            )

        expected: type[DomainError] | None = None
        if key is not None and key in model.keys:
            if model.keys[key][0] != asked:
                expected = IdempotencyConflict
            else:
                before = self.state()
                result = call()
                assert (result.entry_id, result.replayed) == (model.keys[key][1], True)
                assert self.state() == before
                return
        if expected is None:
            if target is None or target.book != b:
                expected = NotFound
            elif target.is_reversal:
                expected = CannotReverseReversal
            elif entry_id in self.reversed:
                expected = AlreadyReversed
            elif model.closed_on(day):
                expected = PeriodClosed
        if expected is not None:
            self.refused(expected, call)
            return
        assert target is not None
        result = call()
        assert (result.number, result.replayed) == (model.count + 1, False)
        self.reversed.add(entry_id)
        self.apply(b, result.entry_id, [(c, -a) for c, a in target.lines], is_reversal=True)
        if key is not None:
            model.keys[key] = (asked, result.entry_id)

    @rule(
        b=books,
        batch=st.lists(st.tuples(drafts(defects="none"), edges), min_size=1, max_size=5),
        replays=st.lists(st.integers(min_value=0), max_size=2),
        twice=st.booleans(),
        bad=st.one_of(st.none(), st.none(), drafts(defects="one")),
    )
    def post_batch(
        self,
        b: int,
        batch: list[tuple[EntryDraft, tuple[int, str] | None]],
        replays: list[int],
        twice: bool,
        bad: EntryDraft | None,
    ) -> None:
        """A batch of valid drafts, some posted before, one perhaps twice, perhaps one bad."""
        model, book = self.models[b], self.books[b]
        entries = [self.resolve(d, b, edge) for d, edge in batch]
        if twice:  # the same draft again in the same batch
            entries.append(entries[0])
        if bad is not None:
            entries.insert(len(entries) // 2, self.resolve(bad, b))
        used = sorted(k for k, (asked, _) in model.keys.items() if isinstance(asked, EntryDraft))
        if used:
            for i, pick in enumerate(replays):
                d = model.keys[used[pick % len(used)]][0]
                assert isinstance(d, EntryDraft)
                entries.insert(pick % (len(entries) + 1) if i else 0, d)

        def call():  # type: ignore[no-untyped-def]
            return post_entries_bulk(self.db, book.id, entries, actor=ACTOR)

        expected: type[DomainError] | None = None
        for d in entries:
            expected = expected or self.check_draft(d)
        todo: list[EntryDraft] = []
        if expected is None:
            seen: dict[str, EntryDraft] = {}
            for d in entries:
                key = d.idempotency_key
                if key is None:
                    todo.append(d)
                    continue
                if seen.setdefault(key, d) != d or (key in model.keys and model.keys[key][0] != d):
                    expected = IdempotencyConflict
                    break
                if key in model.keys or any(t.idempotency_key == key for t in todo):
                    continue  # posted before, or earlier in this batch: a replay
                todo.append(d)
        if expected is None:
            for d in todo:
                if model.closed_on(d.effective_date):
                    expected = PeriodClosed
                else:
                    expected = self.check_accounts(model, d)
                if expected is not None:
                    break
        if expected is not None:
            self.refused(expected, call)
            return
        result = call()
        assert (result.posted, result.replayed) == (len(todo), len(entries) - len(todo))
        assert len(result.entry_ids) == len(todo)
        if todo:
            assert (result.first_number, result.last_number) == (
                model.count + 1,
                model.count + len(todo),
            )
        for d, entry_id in zip(todo, result.entry_ids, strict=True):
            self.apply(b, entry_id, [(p.account, p.amount) for p in d.postings])
            if d.idempotency_key is not None:
                model.keys[d.idempotency_key] = (d, entry_id)

    @precondition(lambda self: any(not p[3] for m in self.models for p in m.periods))
    @rule(b=books, pick=st.integers(min_value=0))
    def close_a_period(self, b: int, pick: int) -> None:
        """Close an open period (of the other book if this one has none), sometimes twice."""
        if all(p[3] for p in self.models[b].periods):
            b = 1 - b
        model, book = self.models[b], self.books[b]
        open_ = [i for i, period in enumerate(model.periods) if not period[3]]
        i = open_[pick % len(open_)]
        period_id, start, end, _ = model.periods[i]
        close_period(self.db, book, period_id, actor=ACTOR)
        model.periods[i] = (period_id, start, end, True)
        if pick % 3 == 0:
            self.refused(
                PeriodAlreadyClosed, lambda: close_period(self.db, book, period_id, actor=ACTOR)
            )

    @rule(b=books, start=days, length=st.integers(min_value=-3, max_value=40))
    def create_a_period(self, b: int, start: dt.date, length: int) -> None:
        model, book = self.models[b], self.books[b]
        end = start + dt.timedelta(days=length)

        def call():  # type: ignore[no-untyped-def]
            return create_period(self.db, book, start=start, end=end)

        if end < start:
            self.refused(InvalidPeriod, call)
        elif any(s <= end and e >= start for _, s, e, _ in model.periods):
            self.refused(PeriodOverlap, call)
        else:
            period = call()
            model.periods.append((period.id, start, end, False))

    # ------------------------------------------------------------------ invariants

    @invariant()
    def books_are_sound(self) -> None:
        for book, model in zip(self.books, self.models, strict=True):
            assert_books_sound(self.db, book, entries=model.count)
            assert net_balances(self.db, book.id) == model.balances


def test_the_journal_keeps_its_invariants_under_random_operations(engine: Engine) -> None:
    JournalMachine.engine = engine
    run_state_machine_as_test(JournalMachine, settings=settings(stateful_step_count=20))
