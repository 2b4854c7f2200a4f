"""Business-hours arithmetic: opening hours per weekday in a time zone, minus holidays."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from plugins.service.business_hours import (
    DEFAULT_HOURS,
    BusinessHours,
    CalendarError,
    add_business_seconds,
    business_seconds_between,
)

HOUR = 3600
SHANGHAI = BusinessHours.build("Asia/Shanghai", DEFAULT_HOURS, ())


def cst(*args: int) -> datetime:
    """A Shanghai wall-clock time as aware UTC (Shanghai is UTC+8, no DST)."""
    return datetime(*args, tzinfo=UTC) - timedelta(hours=8)


def test_within_one_day() -> None:
    monday_10 = cst(2026, 11, 23, 10, 0)
    assert add_business_seconds(monday_10, 2 * HOUR, SHANGHAI) == cst(2026, 11, 23, 12, 0)


def test_rolls_over_the_night_and_the_weekend() -> None:
    friday_16 = cst(2026, 11, 27, 16, 0)
    # one hour left on Friday, then Monday 9:00 + 3h
    assert add_business_seconds(friday_16, 4 * HOUR, SHANGHAI) == cst(2026, 11, 30, 12, 0)


def test_outside_hours_starts_at_the_next_opening() -> None:
    saturday = cst(2026, 11, 28, 11, 0)
    assert add_business_seconds(saturday, 0, SHANGHAI) == cst(2026, 11, 30, 9, 0)
    assert add_business_seconds(saturday, HOUR, SHANGHAI) == cst(2026, 11, 30, 10, 0)


def test_holidays_are_skipped() -> None:
    hours = BusinessHours.build("Asia/Shanghai", DEFAULT_HOURS, [date(2026, 11, 30)])
    friday_16 = cst(2026, 11, 27, 16, 0)
    assert add_business_seconds(friday_16, 4 * HOUR, hours) == cst(2026, 12, 1, 12, 0)


def test_between_counts_only_opening_hours() -> None:
    friday_16 = cst(2026, 11, 27, 16, 0)
    monday_12 = cst(2026, 11, 30, 12, 0)
    assert business_seconds_between(friday_16, monday_12, SHANGHAI) == 4 * HOUR
    assert business_seconds_between(monday_12, friday_16, SHANGHAI) == -4 * HOUR
    # adding what lies between gives the end back
    assert add_business_seconds(friday_16, 4 * HOUR, SHANGHAI) == monday_12


def test_daylight_saving_keeps_wall_clock_hours() -> None:
    berlin = BusinessHours.build("Europe/Berlin", DEFAULT_HOURS, ())
    # Friday 2026-10-23 16:00 CEST (UTC+2) + 2h -> Monday 2026-10-26 10:00 CET (UTC+1)
    start = datetime(2026, 10, 23, 14, 0, tzinfo=UTC)
    assert add_business_seconds(start, 2 * HOUR, berlin) == datetime(2026, 10, 26, 9, 0, tzinfo=UTC)


def test_midnight_end_and_night_shift() -> None:
    hours = BusinessHours.build("UTC", {"mon": [["20:00", "24:00"]]}, ())
    monday_21 = datetime(2026, 11, 23, 21, 0, tzinfo=UTC)
    # three hours until midnight, the fourth on the next Monday evening
    assert add_business_seconds(monday_21, 4 * HOUR, hours) == datetime(
        2026, 11, 30, 21, 0, tzinfo=UTC
    )


@pytest.mark.parametrize(
    "zone, hours",
    [
        ("Mars/Olympus", DEFAULT_HOURS),
        ("UTC", {"mon": [["17:00", "09:00"]]}),
        ("UTC", {"mon": [["9am", "5pm"]]}),
        ("UTC", {day: [] for day in DEFAULT_HOURS}),
    ],
)
def test_unusable_calendars_are_refused(zone: str, hours: dict) -> None:
    with pytest.raises(CalendarError):
        BusinessHours.build(zone, hours, ())


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError):
        add_business_seconds(datetime(2026, 11, 23, 10), HOUR, SHANGHAI)
