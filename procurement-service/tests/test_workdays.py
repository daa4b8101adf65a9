from datetime import date

import pytest

from procurement.workdays import is_working_day, nth_working_day_after


def test_weekends_and_public_holidays_are_off_and_make_up_days_count() -> None:
    assert is_working_day(date(2026, 9, 30))
    assert not is_working_day(date(2026, 10, 1))  # National Day
    assert not is_working_day(date(2026, 10, 11))  # a Sunday
    assert is_working_day(date(2026, 10, 10))  # a Saturday worked in exchange (调休)


def test_five_working_days_after_the_national_day_eve() -> None:
    # 8, 9, 10 (the make-up Saturday), 12, 13 October.
    assert nth_working_day_after(date(2026, 9, 30), 5) == date(2026, 10, 13)


def test_a_friday_notice_runs_into_the_next_week() -> None:
    assert nth_working_day_after(date(2026, 11, 27), 5) == date(2026, 12, 4)


def test_the_period_has_at_least_one_day() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        nth_working_day_after(date(2026, 11, 27), 0)
