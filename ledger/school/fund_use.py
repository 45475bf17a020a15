"""Where a term's money came from and where it went (经费使用情况), from the book itself.

Every figure is a sum of postings dated inside the term, so each can be traced
to its entries:

- income by payer: what charges (less credits) put on the government's
  receivable 1123, the school's 1124 and the households' 1122 — the fees
  earned (4001) less waivers absorbed (4901);
- spending by kind: stipends 5001, labour fees 5002, purchased services 5003
  and any other expense (5901 write-offs …), closing entries left out;
- the share of spending that paid the people who ran the service
  ((5001 + 5002) ÷ all spending), and the balance left (income − spending).
"""

from __future__ import annotations

from collections import defaultdict
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ledger.books import Account, Entry, Posting

from .models import School, Term

__all__ = ["fund_use"]

_PAYERS = {"1123": "government", "1124": "school", "1122": "households"}
_SPENDING = {"5001": "stipends", "5002": "labour_fees", "5003": "vendors"}


def fund_use(db: Session, school: School, term: Term) -> dict:
    """The fund-use report of a school for a term (amounts in fen)."""
    rows = db.execute(
        select(Account.code, Entry.kind, func.sum(Posting.amount))
        .join(Account, Account.id == Posting.account_id)
        .join(Entry, Entry.id == Posting.entry_id)
        .where(
            Posting.book_id == school.book_id,
            Posting.effective_date >= term.start,
            Posting.effective_date <= term.end,
            Entry.kind != "closing",
        )
        .group_by(Account.code, Entry.kind)
    ).all()
    income: dict[str, int] = defaultdict(int)
    spending: dict[str, int] = defaultdict(int)
    revenue = absorbed = 0
    for code, kind, total in rows:
        top = code.split(".")[0]
        total = int(total)
        if kind in ("charge", "credit") and top in _PAYERS:
            income[_PAYERS[top]] += total
        if top == "4001":
            revenue -= total
        elif top == "4901":
            absorbed += total
        elif top.startswith("5"):
            spending[_SPENDING.get(top, "other")] += total
    income_out = {p: income.get(p, 0) for p in ("government", "school", "households")}
    spending_out = {k: spending.get(k, 0) for k in ("stipends", "labour_fees", "vendors", "other")}
    total_income = sum(income_out.values())
    total_spending = sum(spending_out.values())
    people = spending_out["stipends"] + spending_out["labour_fees"]
    share = (
        (Decimal(people) * 100 / Decimal(total_spending)).quantize(
            Decimal("0.01"), rounding=ROUND_HALF_UP
        )
        if total_spending
        else None
    )
    return {
        "school": school.code,
        "term": term.id,
        "start": term.start,
        "end": term.end,
        "income": income_out,
        "total_income": total_income,
        "fees_earned": revenue,
        "waivers_absorbed": absorbed,
        "spending": spending_out,
        "total_spending": total_spending,
        "people_share_percent": share,
        "balance": total_income - total_spending,
    }
