"""Service calendars: which dates a programme runs on.

A term's service days are its weekdays (Monday to Friday unless configured
otherwise) minus holidays, plus make-up days (调休上课日) that fall on a
weekend. A programme runs on the service days that fall on its own weekdays.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field

from .errors import RuleBroken

WEEKDAYS = frozenset({1, 2, 3, 4, 5})  # ISO weekdays, Monday = 1


@dataclass(frozen=True)
class ServiceCalendar:
    start: dt.date
    end: dt.date
    holidays: frozenset[dt.date] = field(default_factory=frozenset)
    makeup_days: frozenset[dt.date] = field(default_factory=frozenset)
    weekdays: frozenset[int] = WEEKDAYS

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ValueError(f"calendar ends ({self.end}) before it starts ({self.start})")

    def is_service_day(self, day: dt.date) -> bool:
        if not (self.start <= day <= self.end):
            return False
        if day in self.makeup_days:
            return True
        return day.isoweekday() in self.weekdays and day not in self.holidays

    def service_days(
        self,
        start: dt.date | None = None,
        end: dt.date | None = None,
        *,
        programme_weekdays: Iterable[int] | None = None,
    ) -> list[dt.date]:
        """Service days between ``start`` and ``end`` (inclusive, clipped to the term).

        With ``programme_weekdays``, only days on which the programme runs: a
        make-up day counts as the weekday whose timetable it follows, which the
        calendar does not know, so make-up days count for every programme.
        """
        lo = max(self.start, start or self.start)
        hi = min(self.end, end or self.end)
        only = frozenset(programme_weekdays) if programme_weekdays is not None else None
        days = []
        day = lo
        one = dt.timedelta(days=1)
        while day <= hi:
            if self.is_service_day(day) and (
                only is None or day in self.makeup_days or day.isoweekday() in only
            ):
                days.append(day)
            day += one
        return days


def month_bounds(year: int, month: int) -> tuple[dt.date, dt.date]:
    """First and last day of a month; a month no date can hold (``0000-01``) is refused."""
    if not (year >= dt.MINYEAR and (year, month) < (dt.MAXYEAR, 12) and 1 <= month <= 12):
        raise RuleBroken(
            "invalid_month", f"{year:04d}-{month:02d} is not a month of the calendar", field="month"
        )
    first = dt.date(year, month, 1)
    nxt = dt.date(year + (month == 12), month % 12 + 1, 1)
    return first, nxt - dt.timedelta(days=1)
