"""An offering's slots, computed from its weekly rules and dated exceptions in the offering's time zone.

Rules say when the provider works each weekday; a ``closed`` exception removes a day (or, with hours, part
of it), an ``open`` exception with hours adds working time (a make-up working day, an extra session). Each
window is cut into back-to-back slots of the offering's duration; a slot never runs past its window.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo


@dataclass(frozen=True, order=True)
class Slot:
    start: datetime
    end: datetime


def _minutes(hhmm: str) -> int:
    hours, minutes = hhmm.split(":")
    return int(hours) * 60 + int(minutes)


def _at(day: date, minutes: int, zone: ZoneInfo) -> datetime:
    """Local wall time ``minutes`` after midnight of ``day`` (``24:00`` is the next midnight)."""
    return datetime.combine(day, time(0), tzinfo=zone) + timedelta(minutes=minutes)


def slots_on(
    day: date,
    *,
    weekly_rules: Iterable[Mapping[str, Any]],
    exceptions: Iterable[Mapping[str, Any]],
    duration_minutes: int,
    timezone: str,
) -> list[Slot]:
    zone = ZoneInfo(timezone)
    todays = [e for e in exceptions if e.get("date") == day.isoformat()]
    windows: list[tuple[int, int]] = []
    closed: list[tuple[int, int]] = []
    day_closed = False
    for exception in todays:
        hours = (exception.get("start"), exception.get("end"))
        if exception.get("kind") == "closed":
            if hours[0] and hours[1]:
                closed.append((_minutes(hours[0]), _minutes(hours[1])))
            else:
                day_closed = True
        elif exception.get("kind") == "open" and hours[0] and hours[1]:
            windows.append((_minutes(hours[0]), _minutes(hours[1])))
    if not day_closed:
        windows.extend(
            (_minutes(rule["start"]), _minutes(rule["end"]))
            for rule in weekly_rules
            if rule["weekday"] == day.weekday()
        )
    starts: set[int] = set()
    for window_start, window_end in windows:
        minute = window_start
        while minute + duration_minutes <= window_end:
            end = minute + duration_minutes
            if not any(minute < c_end and c_start < end for c_start, c_end in closed):
                starts.add(minute)
            minute = end
    return [Slot(_at(day, minute, zone), _at(day, minute + duration_minutes, zone)) for minute in sorted(starts)]


def slots_between(
    first: date,
    last: date,
    *,
    weekly_rules: Iterable[Mapping[str, Any]],
    exceptions: Iterable[Mapping[str, Any]],
    duration_minutes: int,
    timezone: str,
) -> list[Slot]:
    """Every slot whose local date lies in ``first`` … ``last`` (inclusive)."""
    rules, dated = list(weekly_rules), list(exceptions)
    slots: list[Slot] = []
    day = first
    while day <= last:
        slots.extend(
            slots_on(day, weekly_rules=rules, exceptions=dated, duration_minutes=duration_minutes, timezone=timezone)
        )
        day += timedelta(days=1)
    return slots


def find_slot(
    start: datetime,
    *,
    weekly_rules: Iterable[Mapping[str, Any]],
    exceptions: Iterable[Mapping[str, Any]],
    duration_minutes: int,
    timezone: str,
) -> Slot | None:
    """The schedule's slot beginning exactly at ``start`` (any offset), or None if there is none."""
    local_day = start.astimezone(ZoneInfo(timezone)).date()
    for slot in slots_on(
        local_day,
        weekly_rules=weekly_rules,
        exceptions=exceptions,
        duration_minutes=duration_minutes,
        timezone=timezone,
    ):
        if slot.start == start:
            return slot
    return None
