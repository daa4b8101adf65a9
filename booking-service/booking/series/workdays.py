"""China's official calendar of days off and make-up working days (调休), from the ``holidays`` package.

Its China calendar has the State Council's published schedule (2026: each holiday's substituted days off and the
Saturdays and Sundays worked in their place) and, for a year whose schedule is not yet published in the installed
release, the statutory holidays by rule without make-up days: upgrading the package brings the schedule once it is
out (``holidays`` is released monthly)."""

from __future__ import annotations

from datetime import date
from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import holidays


@lru_cache(maxsize=16)
def _year(year: int) -> holidays.HolidayBase:
    # Imported here: the package and its China calendar take about a second to load, which a service start (and
    # every test stack's) should not pay; ``warm`` loads them in a thread once the service runs.
    import holidays

    return holidays.country_holidays("CN", years=year, language="zh_CN")


def warm(today: date) -> None:
    """Load this year's and next year's calendar, so no resident's first series waits for it."""
    _year(today.year)
    _year(today.year + 1)


def is_working_day(day: date) -> bool:
    """A day people work: Monday to Friday unless a holiday or a day off, and the make-up Saturdays and Sundays."""
    return bool(_year(day.year).is_working_day(day))


def is_day_off(day: date) -> bool:
    """A public holiday or a substituted day off (not an ordinary weekend)."""
    return day in _year(day.year)


def name_of(day: date) -> str | None:
    name = _year(day.year).get(day)
    return str(name) if name is not None else None
