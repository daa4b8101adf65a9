"""Working days in mainland China: weekends and public holidays are off, make-up workdays (调休) count."""

from __future__ import annotations

from datetime import date, timedelta
from functools import cache

import holidays


@cache
def _calendar() -> holidays.HolidayBase:
    return holidays.country_holidays("CN")


def is_working_day(day: date) -> bool:
    return bool(_calendar().is_working_day(day))


def nth_working_day_after(day: date, n: int) -> date:
    """The ``n``-th working day after ``day`` (``day`` itself is not counted)."""
    if n < 1:
        raise ValueError("n must be at least 1")
    counted = 0
    while counted < n:
        day += timedelta(days=1)
        if is_working_day(day):
            counted += 1
    return day
