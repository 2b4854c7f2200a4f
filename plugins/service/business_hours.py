"""Business-hours arithmetic in a calendar: opening hours per weekday in a time zone, minus
holidays. Pure functions on aware datetimes (UTC in, UTC out); no database.

``add_business_seconds(start, seconds, hours)`` is when ``seconds`` of working time after
``start`` have passed (an SLA due time); ``business_seconds_between(start, end, hours)`` is
how much working time lies between two moments (time left on a clock, time spent).
Days are walked in the calendar's time zone, so daylight-saving changes move the opening
hours with the wall clock, as people expect.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
#: Mon-Fri 9:00-17:00: the hours a new workspace starts with.
DEFAULT_HOURS: dict[str, list[list[str]]] = {
    day: ([["09:00", "17:00"]] if day not in ("sat", "sun") else []) for day in WEEKDAYS
}
#: How far ahead a due time is searched for (a calendar with almost no hours).
MAX_DAYS = 3 * 366
_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$|^24:00$")


class CalendarError(ValueError):
    """Opening hours that cannot be used (bad times, nothing open, unknown time zone)."""


@dataclass(frozen=True)
class BusinessHours:
    """Opening hours per weekday (0 = Monday) in ``zone``, and the holidays (local dates)."""

    zone: ZoneInfo
    week: tuple[tuple[tuple[time, time | None], ...], ...]  # ``None`` end = midnight
    holidays: frozenset[date] = frozenset()

    @classmethod
    def build(
        cls, timezone: str, hours: Mapping[str, Iterable[Iterable[str]]], holidays: Iterable[date]
    ) -> BusinessHours:
        """From stored values: ``hours`` like :data:`DEFAULT_HOURS`; raises CalendarError."""
        try:
            zone = ZoneInfo(timezone or "UTC")
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise CalendarError(f"unknown time zone {timezone!r}") from exc
        week = tuple(tuple(_interval(pair) for pair in hours.get(day) or ()) for day in WEEKDAYS)
        if not any(week):
            raise CalendarError("the calendar has no opening hours")
        return cls(zone, week, frozenset(holidays))

    def open_intervals(self, start: datetime) -> Iterator[tuple[datetime, datetime]]:
        """Opening intervals (UTC) from the local day of ``start`` on, in order."""
        day = start.astimezone(self.zone).date()
        for offset in range(MAX_DAYS):
            current = day + timedelta(days=offset)
            if current in self.holidays:
                continue
            for opens, closes in self.week[current.weekday()]:
                begin = datetime.combine(current, opens, tzinfo=self.zone).astimezone(UTC)
                if closes is None:
                    end_local = datetime.combine(current + timedelta(days=1), time(0), self.zone)
                else:
                    end_local = datetime.combine(current, closes, tzinfo=self.zone)
                yield begin, end_local.astimezone(UTC)


def _parse(value: str) -> time | None:
    if not _HHMM.match(value or ""):
        raise CalendarError(f"{value!r} is not a time of day (HH:MM)")
    if value == "24:00":
        return None
    hours, minutes = value.split(":")
    return time(int(hours), int(minutes))


def _interval(pair: Iterable[str]) -> tuple[time, time | None]:
    values = list(pair)
    if len(values) != 2:
        raise CalendarError("an interval is a pair of times")
    opens, closes = _parse(values[0]), _parse(values[1])
    if opens is None or (closes is not None and closes <= opens):
        raise CalendarError(f"{values[0]}-{values[1]} does not end after it starts")
    return opens, closes


def _utc(at: datetime) -> datetime:
    if at.tzinfo is None:
        raise ValueError("business-hours arithmetic needs aware datetimes")
    return at.astimezone(UTC)


def add_business_seconds(start: datetime, seconds: float, hours: BusinessHours) -> datetime:
    """The moment when ``seconds`` of opening time have passed after ``start`` (UTC).

    ``0`` seconds gives ``start`` itself if the calendar is open then, else the next opening.
    """
    start = _utc(start)
    left = max(0.0, float(seconds))
    for begin, end in hours.open_intervals(start):
        if end <= start:
            continue
        begin = max(begin, start)
        available = (end - begin).total_seconds()
        if left <= available:
            return begin + timedelta(seconds=left)
        left -= available
    raise CalendarError("no opening hours within the search window")


def business_seconds_between(start: datetime, end: datetime, hours: BusinessHours) -> int:
    """Opening time between ``start`` and ``end`` in whole seconds (negative if reversed)."""
    start, end = _utc(start), _utc(end)
    if end < start:
        return -business_seconds_between(end, start, hours)
    total = 0.0
    for begin, close in hours.open_intervals(start):
        if begin >= end:
            break
        if close <= start:
            continue
        total += (min(close, end) - max(begin, start)).total_seconds()
    return int(total)


def check_hours(hours: Mapping[str, Iterable[Iterable[str]]], timezone: str) -> None:
    """Raise CalendarError when stored hours or the time zone cannot be used."""
    BusinessHours.build(timezone, hours, ())
