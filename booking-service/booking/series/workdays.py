"""China's official calendar of days off and make-up working days (调休), from the ``holidays`` package.

Its China calendar has the State Council's published schedule (2026: each holiday's substituted days off and the
Saturdays and Sundays worked in their place) and, for a year whose schedule is not yet published in the installed
release, the statutory holidays by rule without make-up days: upgrading the package brings the schedule once it is
out (``holidays`` is released monthly)."""

from datetime import date
from functools import lru_cache

import holidays


@lru_cache(maxsize=16)
def _year(year: int) -> holidays.HolidayBase:
    return holidays.country_holidays("CN", years=year, language="zh_CN")


def is_working_day(day: date) -> bool:
    """A day people work: Monday to Friday unless a holiday or a day off, and the make-up Saturdays and Sundays."""
    return bool(_year(day.year).is_working_day(day))


def is_day_off(day: date) -> bool:
    """A public holiday or a substituted day off (not an ordinary weekend)."""
    return day in _year(day.year)


def name_of(day: date) -> str | None:
    name = _year(day.year).get(day)
    return str(name) if name is not None else None
