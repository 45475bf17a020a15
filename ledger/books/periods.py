"""Accounting periods: defined, then closed. Nothing may be posted into a closed period."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from .errors import InvalidPeriod, NotFound, PeriodAlreadyClosed, PeriodOverlap
from .journal import lock_book
from .models import Book, Period, utcnow


def create_period(session: Session, book: Book, *, start: dt.date, end: dt.date) -> Period:
    if end < start:
        raise InvalidPeriod(
            f"period end {end.isoformat()} is before its start {start.isoformat()}", field="end"
        )
    lock_book(session.connection(), book.id)
    clash = session.scalar(
        select(Period).where(Period.book_id == book.id, Period.start <= end, Period.end >= start)
    )
    if clash is not None:
        raise PeriodOverlap(
            f"{start.isoformat()}–{end.isoformat()} overlaps period {clash.id} "
            f"({clash.start.isoformat()}–{clash.end.isoformat()})"
        )
    period = Period(book_id=book.id, start=start, end=end, is_closed=False)
    session.add(period)
    session.flush()
    return period


def get_period(session: Session, book: Book, period_id: int) -> Period:
    period = session.scalar(select(Period).where(Period.book_id == book.id, Period.id == period_id))
    if period is None:
        raise NotFound(f"no period {period_id} in book {book.code!r}")
    return period


def close_period(session: Session, book: Book, period_id: int, *, actor: str) -> Period:
    lock_book(session.connection(), book.id)
    period = get_period(session, book, period_id)
    session.refresh(period)
    if period.is_closed:
        raise PeriodAlreadyClosed(f"period {period_id} is already closed")
    period.is_closed = True
    period.closed_at = utcnow()
    period.closed_by = actor
    session.flush()
    return period


def list_periods(session: Session, book: Book) -> list[Period]:
    return list(
        session.scalars(select(Period).where(Period.book_id == book.id).order_by(Period.start))
    )
