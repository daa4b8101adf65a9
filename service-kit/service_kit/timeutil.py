"""Time is always timezone-aware; the district's local zone is Asia/Shanghai.

Answers write every date-time one way (``TIMESTAMP_CONVENTION``): RFC 3339 in UTC with a ``Z`` suffix; dates are
``YYYY-MM-DD``. ``service_kit.responses.LinliJSONResponse`` applies it to every JSON answer of every service.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Annotated
from zoneinfo import ZoneInfo

from pydantic import AfterValidator, AwareDatetime, Field

SHANGHAI = ZoneInfo("Asia/Shanghai")

TIMESTAMP_CONVENTION = (
    "Date-times in answers are RFC 3339 in UTC with a `Z` suffix (`2026-12-05T01:30:00Z`, with a fraction of a "
    "second when there is one); dates are `YYYY-MM-DD`. Requests may give any offset. Documents in an external "
    "open-data standard (OCDS, Open311 GeoReport) keep their standard's form."
)

# A whole string that is an RFC 3339 date-time with an offset (what the convention rewrites), and one that is
# already in the convention's form.
AWARE_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?(Z|[+-]\d{2}:\d{2})$")
UTC_TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z$")


def utcnow() -> datetime:
    return datetime.now(UTC)


def local_now() -> datetime:
    return datetime.now(SHANGHAI)


def as_aware(value: datetime) -> datetime:
    """SQLite returns naive datetimes for values stored in UTC; PostgreSQL returns aware ones."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def rfc3339(value: datetime) -> str:
    """``value`` as the answers write it: UTC, ``Z`` (a naive value is taken as UTC, as the database keeps it)."""
    return as_aware(value).astimezone(UTC).isoformat().replace("+00:00", "Z")


def in_utc(value: datetime) -> datetime:
    """An aware time as UTC, the way the database keeps it; a time so near year 1 or 9999 that UTC has no such
    moment (``0001-01-01T00:00+14:00``) is refused as a bad value rather than failing at the database."""
    try:
        return value.astimezone(UTC)
    except OverflowError as error:
        raise ValueError("is outside the range of dates") from error


# The calendar a request may name. Every birth, term, booking and deadline of the district's services falls within
# it, and a rule's arithmetic on it (Beijing's calendar, a term of years, a series of weeks, the day after) never
# leaves the years 1–9999 Python can represent: ``9999-12-31T23:00Z`` is already the year 10000 in Beijing, and
# ``date.max + timedelta(days=1)`` fails. A request beyond it is the caller's mistake (422 at its field), not a 500.
FIRST_DAY = date(1800, 1, 1)
LAST_DAY = date(2999, 12, 31)

#: A request's aware date-time, from ``FIRST_DAY`` (UTC) to the end of ``LAST_DAY``, converted to UTC as the
#: database keeps it; one out of range (``0001-01-01T00:00+14:00`` has no UTC moment at all) is a 422 at its field.
Instant = Annotated[
    AwareDatetime,
    Field(ge=datetime.combine(FIRST_DAY, datetime.min.time(), UTC), lt=datetime(LAST_DAY.year + 1, 1, 1, tzinfo=UTC)),
    AfterValidator(in_utc),
]

#: A request's date (a day of Beijing's calendar) from ``FIRST_DAY`` to ``LAST_DAY``: where a rule counts days from
#: it, one at the ends of the calendar is a 422 at its field.
Day = Annotated[date, Field(ge=FIRST_DAY, le=LAST_DAY)]
