"""A request's times at the ends of the calendar: ``Instant`` and ``Day`` refuse what a rule's arithmetic could not
carry (a 422 at the field), and hand the service only values it can convert and count from."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from pydantic import TypeAdapter, ValidationError

from service_kit.timeutil import FIRST_DAY, LAST_DAY, SHANGHAI, Day, Instant

INSTANT = TypeAdapter(Instant)
DAY = TypeAdapter(Day)


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        ("0001-01-01T00:00:00+14:00", "greater_than_equal"),  # no UTC moment at all
        ("9999-12-31T23:59:59-14:00", "less_than"),
        ("9999-12-31T23:00:00Z", "less_than"),  # UTC has it; Beijing's calendar does not (year 10000)
        ("1799-12-31T23:59:59Z", "greater_than_equal"),
        ("3000-01-01T08:00:00+08:00", "less_than"),
    ],
)
def test_an_instant_beyond_the_calendar_is_refused(value: str, kind: str) -> None:
    with pytest.raises(ValidationError) as refused:
        INSTANT.validate_python(value)
    assert refused.value.errors()[0]["type"] == kind


def test_an_instant_within_it_is_utc_and_beijing_and_arithmetic_work() -> None:
    first = INSTANT.validate_python("1800-01-01T08:00:00+08:00")
    last = INSTANT.validate_python("2999-12-31T23:59:59.999999Z")
    assert first == datetime(1800, 1, 1, tzinfo=UTC)
    assert first.tzinfo is UTC
    assert last.astimezone(SHANGHAI).date() == date(3000, 1, 1)
    assert (last + timedelta(days=3660)).year == 3010
    assert (first - timedelta(days=3660)).year == 1789
    with pytest.raises(ValidationError):
        INSTANT.validate_python("2026-12-06T09:00:00")  # a time without an offset means nothing in a request


@pytest.mark.parametrize("value", ["0001-01-01", "9999-12-31", "1799-12-31", "3000-01-01"])
def test_a_day_beyond_the_calendar_is_refused(value: str) -> None:
    with pytest.raises(ValidationError) as refused:
        DAY.validate_python(value)
    assert refused.value.errors()[0]["type"] in ("greater_than_equal", "less_than_equal")


def test_a_day_within_it_counts_years_either_way() -> None:
    assert DAY.validate_python(FIRST_DAY.isoformat()) - timedelta(days=3660) < FIRST_DAY
    assert DAY.validate_python(LAST_DAY.isoformat()) + timedelta(days=3660) > LAST_DAY
