"""Closing billing periods, terms and the school year; the district roll-up."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from sqlalchemy import select

from ledger.books import Account, Posting
from ledger.books.models import Period
from ledger.school import closing
from ledger.school.models import Term, YearClosing

from .. import audit, replay
from ..auth import actor, roles
from ..database import session
from ..models import Role
from ..scope import district_whole_in_scope, school_in_scope
from ..settlement_schemas import (
    ClosePeriodIn,
    ClosePeriodOut,
    CloseYearIn,
    CloseYearOut,
    RollupArgs,
    RollupOut,
)
from . import Blueprint
from .books import _idempotency_key
from .schools import term_in_school

blp = Blueprint(
    "closing",
    __name__,
    url_prefix="/api/v1",
    description="Closing periods, terms and the school year; the district roll-up",
)


def _periods_over(book_id: int, start: Any, end: Any) -> list[Period]:
    return list(
        session().scalars(
            select(Period)
            .where(Period.book_id == book_id, Period.start <= end, Period.end >= start)
            .order_by(Period.start)
        )
    )


def _month(text: str | None) -> tuple[int, int] | None:
    if not text:
        return None
    year, month = text.split("-")
    return int(year), int(month)


@blp.route("/schools/<school>/close-period")
class ClosePeriod(MethodView):
    @roles(Role.FINANCE)
    @blp.arguments(ClosePeriodIn)
    @blp.response(201, ClosePeriodOut)
    @blp.alt_response(200, schema=ClosePeriodOut, description="Replay of an earlier request")
    def post(self, data: dict[str, Any], school: str) -> Any:
        """Close a billing period: one month of a term (``month``), or the whole term.

        No entry may then be dated inside it (charges, credits, payments,
        reversals are all refused with ``period_closed``); closing the whole
        term also stops it being billed. Requires ``Idempotency-Key``; a retry
        with the same key answers 200 with the periods as closed.
        Refused: ``term_closed``, ``span_already_closed``, ``period_straddles_span``.
        """
        from ledger.school.billing import billing_period

        s = school_in_scope(session(), school)
        key = _idempotency_key(required=True)
        term = term_in_school(s, data["term"])
        month = _month(data["month"])
        target = f"school:{school}/term:{term.id}/{data['month'] or 'term'}"
        _, start, end = billing_period(term, month)
        if replay.seen("period.close", target, key):
            return self._view(s, term, data["month"], start, end), 200
        closing.close_billing_period(session(), s, term, actor=actor(), month=month)
        view = self._view(s, term, data["month"], start, end)
        audit.commit("period.close", target, {"key": key, "start": str(start), "end": str(end)})
        return view

    @staticmethod
    def _view(s: Any, term: Term, month: str | None, start: Any, end: Any) -> dict[str, Any]:
        return {
            "school": s.code,
            "term": term.id,
            "month": month,
            "term_closed": term.is_closed,
            "periods": _periods_over(s.book_id, start, end),
        }


def _postings(entry_id: int) -> list[tuple[str, int]]:
    """``(account code, signed fen)`` of an entry's postings, in order."""
    rows = session().execute(
        select(Account.code, Posting.amount)
        .join(Account, Account.id == Posting.account_id)
        .where(Posting.entry_id == entry_id)
        .order_by(Posting.id)
    )
    return [(code, amount) for code, amount in rows]


@blp.route("/schools/<school>/close-year")
class CloseYear(MethodView):
    @roles(Role.FINANCE)
    @blp.arguments(CloseYearIn)
    @blp.response(201, CloseYearOut)
    @blp.alt_response(200, schema=CloseYearOut, description="Replay of an earlier request")
    def post(self, data: dict[str, Any], school: str) -> Any:
        """Close the school year: one closing entry to net assets 3001, then every date of it.

        The closing entry, dated ``year_end``, takes every revenue and expense
        account to zero and puts the year's surplus (or deficit) on 3001; then
        the year's dates and its terms are closed. Requires ``Idempotency-Key``.
        Refused: ``year_already_closed``, ``period_closed`` (the year end is in
        a closed period), ``invalid_period``.
        """
        s = school_in_scope(session(), school)
        key = _idempotency_key(required=True)
        target = f"school:{school}/year:{data['year_end'].isoformat()}"
        if replay.seen("year.close", target, key):
            done = session().scalar(
                select(YearClosing).where(
                    YearClosing.school_id == s.id, YearClosing.year_end == data["year_end"]
                )
            )
            moved = []
            if done.entry_id is not None:
                moved = [
                    {"account": code, "balance": -amount}
                    for code, amount in _postings(done.entry_id)
                    if code != closing.NET_ASSETS
                ]
            return self._view(s, done, moved), 200
        result = closing.close_year(
            session(),
            s,
            year_start=data["year_start"],
            year_end=data["year_end"],
            actor=actor(),
            name=data["name"],
        )
        view = self._view(
            s, result.closing, [{"account": c, "balance": b} for c, b in result.moved]
        )
        audit.commit(
            "year.close",
            target,
            {"key": key, "entry": result.closing.entry_id, "net": result.closing.net_result},
        )
        return view

    @staticmethod
    def _view(s: Any, done: YearClosing, moved: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            "school": s.code,
            "name": done.name,
            "year_start": done.year_start,
            "year_end": done.year_end,
            "entry": done.entry_id,
            "net_result": done.net_result,
            "moved": moved,
            "periods": _periods_over(s.book_id, done.year_start, done.year_end),
        }


@blp.route("/districts/<district>/rollup")
class Rollup(MethodView):
    @roles(Role.FINANCE, Role.AUDITOR, Role.ADMIN)
    @blp.arguments(RollupArgs, location="query")
    @blp.response(200, RollupOut)
    def get(self, args: dict[str, Any], district: str) -> Any:
        """Every school's trial balance in the district, and the district total.

        Each school's ``summary`` rolls sub-accounts (households, programme
        kinds, funders) up to the chart's top-level accounts; ``total`` adds
        those up over the schools. ``as_of`` limits it to entries on or before
        that date. Finance see it only when they work on every school of the district.
        """
        d = district_whole_in_scope(session(), district)
        return closing.district_rollup(session(), d, as_of=args["as_of"])
