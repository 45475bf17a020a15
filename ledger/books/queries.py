"""Reading the books: balances (materialized and as of a date), trial balance, consistency."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from .models import Account, Balance, Book, Posting


@dataclass(frozen=True)
class AccountBalance:
    debit: int
    credit: int

    @property
    def balance(self) -> int:
        """Debit minus credit, in fen."""
        return self.debit - self.credit


def _descendants(session: Session, account: Account) -> list[int]:
    """The account and every account below it, one query per level of the tree.

    Only the subtree is read (``ix_accounts_parent_id``), not the book's whole
    chart: a household's leaf account in a book of thousands costs one query
    that finds no children.
    """
    out, level = [account.id], [account.id]
    while level:
        level = list(
            session.scalars(
                select(Account.id).where(
                    Account.book_id == account.book_id, Account.parent_id.in_(level)
                )
            )
        )
        out.extend(level)
    return out


def account_balance(
    session: Session, account: Account, as_of: dt.date | None = None
) -> AccountBalance:
    """Totals of an account and all its children, up to and including ``as_of``."""
    ids = _descendants(session, account)
    if as_of is None:
        debit, credit = session.execute(
            select(
                func.coalesce(func.sum(Balance.debit), 0),
                func.coalesce(func.sum(Balance.credit), 0),
            ).where(Balance.account_id.in_(ids))
        ).one()
    else:
        debit, credit = session.execute(
            select(
                func.coalesce(func.sum(case((Posting.amount > 0, Posting.amount), else_=0)), 0),
                func.coalesce(func.sum(case((Posting.amount < 0, -Posting.amount), else_=0)), 0),
            ).where(Posting.account_id.in_(ids), Posting.effective_date <= as_of)
        ).one()
    return AccountBalance(int(debit), int(credit))


def nets_before(session: Session, account_ids: list[int], day: dt.date) -> dict[int, int]:
    """Each account's own net balance (debit minus credit, no children) of its postings
    dated before ``day``.

    Read as the materialized balance less the postings dated on or after
    ``day`` (``ix_postings_account_id_effective_date``), so a statement of
    last month costs what last month holds, not the account's whole history.
    Exact for the same reason the materialized balance is: it is kept in the
    transaction of every posting (and :func:`balance_mismatches` checks it).
    """
    if not account_ids:
        return {}
    nets = {account_id: 0 for account_id in account_ids}
    for account_id, net in session.execute(
        select(Balance.account_id, Balance.debit - Balance.credit).where(
            Balance.account_id.in_(account_ids)
        )
    ):
        nets[account_id] = int(net)
    for account_id, since in session.execute(
        select(Posting.account_id, func.sum(Posting.amount))
        .where(Posting.account_id.in_(account_ids), Posting.effective_date >= day)
        .group_by(Posting.account_id)
    ):
        nets[account_id] -= int(since)
    return nets


@dataclass(frozen=True)
class TrialBalanceLine:
    code: str
    name: str
    type: str
    debit: int
    credit: int


@dataclass(frozen=True)
class TrialBalance:
    as_of: dt.date | None
    lines: list[TrialBalanceLine]

    @property
    def total_debit(self) -> int:
        return sum(line.debit for line in self.lines)

    @property
    def total_credit(self) -> int:
        return sum(line.credit for line in self.lines)


def trial_balance(session: Session, book: Book, as_of: dt.date | None = None) -> TrialBalance:
    """Each account's own net balance, in its debit or its credit column."""
    if as_of is None:
        net = dict(
            session.execute(
                select(Balance.account_id, Balance.debit - Balance.credit)
                .join(Account, Account.id == Balance.account_id)
                .where(Account.book_id == book.id)
            ).all()
        )
    else:
        net = dict(
            session.execute(
                select(Posting.account_id, func.sum(Posting.amount))
                .where(Posting.book_id == book.id, Posting.effective_date <= as_of)
                .group_by(Posting.account_id)
            ).all()
        )
    lines = []
    for account in session.scalars(
        select(Account).where(Account.book_id == book.id).order_by(Account.code)
    ):
        n = int(net.get(account.id, 0) or 0)
        lines.append(
            TrialBalanceLine(
                account.code, account.name, account.type, n if n > 0 else 0, -n if n < 0 else 0
            )
        )
    return TrialBalance(as_of, lines)


def balance_mismatches(session: Session, book: Book) -> list[tuple[str, int, int, int, int]]:
    """Accounts whose materialized totals differ from the sum of their postings.

    Returns ``(code, stored_debit, stored_credit, actual_debit, actual_credit)``.
    """
    actual = {
        account_id: (int(d), int(c))
        for account_id, d, c in session.execute(
            select(
                Posting.account_id,
                func.sum(case((Posting.amount > 0, Posting.amount), else_=0)),
                func.sum(case((Posting.amount < 0, -Posting.amount), else_=0)),
            )
            .where(Posting.book_id == book.id)
            .group_by(Posting.account_id)
        )
    }
    out = []
    for code, account_id, d, c in session.execute(
        select(Account.code, Account.id, Balance.debit, Balance.credit)
        .join(Balance, Balance.account_id == Account.id)
        .where(Account.book_id == book.id)
        .order_by(Account.code)
    ):
        ad, ac = actual.get(account_id, (0, 0))
        if (d, c) != (ad, ac):
            out.append((code, d, c, ad, ac))
    return out
