"""When an SMS may go: quiet hours in Beijing and a per-phone rate limit. The inbox is never held back."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta

from service_kit.timeutil import SHANGHAI

QUIET_FROM = time(21, 0)
QUIET_UNTIL = time(8, 0)

# Sent at any hour: a code the resident is waiting for now; an urgent safety call's escalation.
ALWAYS_NOW = frozenset({"sign_in_code", "urgent_contact", "urgent_community"})


def quiet_hours_end(now: datetime) -> datetime | None:
    """The 08:00 (Beijing) that ends the quiet hours ``now`` is in (21:00–08:00); None outside them."""
    local = now.astimezone(SHANGHAI)
    if QUIET_UNTIL <= local.time() < QUIET_FROM:
        return None
    day = local.date() if local.time() < QUIET_UNTIL else local.date() + timedelta(days=1)
    return datetime.combine(day, QUIET_UNTIL, tzinfo=SHANGHAI)


def same_day(now: datetime, when: datetime | None) -> bool:
    """Whether ``when`` (the visit a message is about) falls today in Beijing or before the quiet hours end:
    a message about it that waited for 08:00 would come too late."""
    if when is None:
        return False
    if when.astimezone(SHANGHAI).date() == now.astimezone(SHANGHAI).date():
        return True
    end = quiet_hours_end(now)
    return end is not None and when <= end


def sms_not_before(
    now: datetime, kind: str, *, about: datetime | None = None, quiet_hours: bool = True
) -> datetime | None:
    """None when an SMS of ``kind`` may go at ``now``; else when it may (the end of the quiet hours). A sign-in
    code and a change to a visit due the same day go at any hour; so does everything without ``quiet_hours``."""
    if not quiet_hours or kind in ALWAYS_NOW or same_day(now, about):
        return None
    return quiet_hours_end(now)


@dataclass(frozen=True)
class RateLimit:
    """At most ``count`` SMS to one phone within ``window``; beyond it, messages reach the inbox only."""

    count: int
    window: timedelta

    def allows(self, sent_within_window: int) -> bool:
        return sent_within_window < self.count
