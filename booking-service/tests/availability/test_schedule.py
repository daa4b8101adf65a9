from datetime import date, datetime, time
from typing import Any

from booking.availability import schedule
from service_kit.timeutil import SHANGHAI

MONDAY = date(2026, 11, 30)
RULES = [{"weekday": 0, "start": "09:00", "end": "11:30"}, {"weekday": 2, "start": "14:00", "end": "16:00"}]


def local(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=SHANGHAI)


def starts(day: date, exceptions: list[dict[str, Any]] | None = None, duration: int = 60, **kw: Any) -> list[datetime]:
    slots = schedule.slots_on(
        day,
        weekly_rules=kw.get("rules", RULES),
        exceptions=exceptions or [],
        duration_minutes=duration,
        timezone="Asia/Shanghai",
    )
    return [s.start for s in slots]


def test_a_window_is_cut_into_whole_slots() -> None:
    # 09:00–11:30 with one-hour slots: 09:00 and 10:00; 11:00 would run past the window.
    assert starts(MONDAY) == [local(MONDAY, 9), local(MONDAY, 10)]
    assert starts(MONDAY, duration=30) == [
        local(MONDAY, 9),
        local(MONDAY, 9, 30),
        local(MONDAY, 10),
        local(MONDAY, 10, 30),
        local(MONDAY, 11),
    ]


def test_slots_are_in_beijing_time_and_end_after_the_duration() -> None:
    slot = schedule.slots_on(MONDAY, weekly_rules=RULES, exceptions=[], duration_minutes=45, timezone="Asia/Shanghai")[
        0
    ]
    assert slot.start.isoformat() == "2026-11-30T09:00:00+08:00"
    assert (slot.end - slot.start).total_seconds() == 45 * 60


def test_days_without_rules_have_no_slots() -> None:
    assert starts(date(2026, 12, 1)) == []  # a Tuesday
    assert starts(date(2026, 12, 2)) == [local(date(2026, 12, 2), 14), local(date(2026, 12, 2), 15)]


def test_a_closed_day_has_no_slots() -> None:
    assert starts(MONDAY, [{"date": "2026-11-30", "kind": "closed", "reason": "staff training"}]) == []


def test_a_closed_exception_with_hours_closes_only_those_hours() -> None:
    closed = [{"date": "2026-11-30", "kind": "closed", "start": "10:30", "end": "11:00"}]
    expected = [local(MONDAY, 9), local(MONDAY, 9, 30), local(MONDAY, 10), local(MONDAY, 11)]
    assert starts(MONDAY, closed, duration=30) == expected


def test_an_open_exception_adds_hours_even_on_a_day_off() -> None:
    saturday = date(2026, 12, 5)
    opened = [{"date": "2026-12-05", "kind": "open", "start": "08:00", "end": "10:00"}]
    assert starts(saturday, opened) == [local(saturday, 8), local(saturday, 9)]
    # On a working day it adds to the weekly hours.
    extra = [{"date": "2026-11-30", "kind": "open", "start": "15:00", "end": "16:00"}]
    assert starts(MONDAY, extra) == [local(MONDAY, 9), local(MONDAY, 10), local(MONDAY, 15)]


def test_exceptions_of_other_days_change_nothing() -> None:
    assert starts(MONDAY, [{"date": "2026-12-07", "kind": "closed"}]) == [local(MONDAY, 9), local(MONDAY, 10)]


def test_a_window_may_run_to_midnight_and_overlapping_rules_do_not_duplicate() -> None:
    rules = [{"weekday": 0, "start": "22:00", "end": "24:00"}, {"weekday": 0, "start": "22:00", "end": "23:00"}]
    assert starts(MONDAY, rules=rules) == [local(MONDAY, 22), local(MONDAY, 23)]


def test_find_slot_accepts_any_offset_but_only_real_starts() -> None:
    kwargs: dict[str, Any] = {
        "weekly_rules": RULES,
        "exceptions": [],
        "duration_minutes": 60,
        "timezone": "Asia/Shanghai",
    }
    utc_form = datetime.fromisoformat("2026-11-30T01:00:00+00:00")
    found = schedule.find_slot(utc_form, **kwargs)
    assert found is not None
    assert found.start == local(MONDAY, 9)
    assert schedule.find_slot(local(MONDAY, 9, 30), **kwargs) is None
    assert schedule.find_slot(local(MONDAY, 11), **kwargs) is None
    assert schedule.find_slot(local(date(2026, 12, 1), 9), **kwargs) is None


def test_slots_between_covers_every_day_inclusive() -> None:
    slots = schedule.slots_between(
        MONDAY, date(2026, 12, 7), weekly_rules=RULES, exceptions=[], duration_minutes=60, timezone="Asia/Shanghai"
    )
    assert [s.start.date() for s in slots] == [MONDAY] * 2 + [date(2026, 12, 2)] * 2 + [date(2026, 12, 7)] * 2
