"""The delivery worker: quiet hours, preferences, the per-phone rate limit, retries with backoff, racing workers."""

import asyncio
from datetime import datetime, time, timedelta
from typing import Any

from prometheus_client import REGISTRY

from booking.app import SERVICE_DIR
from booking.config import Settings
from booking.notifications.models import DeliveryStatus
from service_kit.events.contracts import BookingCancelled
from service_kit.notify.sms import FakeSmsSender, Sms, SmsFailed
from service_kit.testing import service_settings
from service_kit.timeutil import SHANGHAI


def beijing(day: Any, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=SHANGHAI)


async def test_an_sms_in_the_quiet_hours_waits_for_eight_and_a_same_day_change_does_not(notes: Any) -> None:
    world = notes.world
    offering = await world.offering(name_zh="老年餐桌")
    resident = await world.resident(phone="13900001111")
    today = notes.clock().astimezone(SHANGHAI).date()
    notes.clock.now = beijing(today, 21, 30)
    tomorrow_morning = beijing(today + timedelta(days=1), 10)
    assert await notes.apply(notes.confirmed(offering, resident, tomorrow_morning))
    (deferred,) = await notes.sms(resident)
    assert (deferred.status, deferred.reason) == (DeliveryStatus.deferred, "quiet_hours")
    assert deferred.next_attempt_at == beijing(today + timedelta(days=1), 8)
    (message,) = (await notes.inbox(resident))["items"]  # the inbox has it at once
    assert {d["channel"]: (d["status"], d["reason"]) for d in message["deliveries"]} == {
        "inbox": ("sent", None),
        "sms": ("deferred", "quiet_hours"),
    }

    # Later tonight the provider calls off a visit due at 07:30 tomorrow, before the quiet hours end: it goes now.
    notes.clock.now = beijing(today, 23, 0)
    early = beijing(today + timedelta(days=1), 7, 30)
    cancelled = notes.confirmed(offering, resident, early, event_class=BookingCancelled, status="cancelled")
    assert await notes.apply(cancelled)
    assert await notes.deliver() == 1
    assert [m.kind for m in notes.sender.messages] == ["booking_cancelled"]

    notes.clock.now = beijing(today + timedelta(days=1), 7, 59)
    assert await notes.deliver() == 0
    notes.clock.now = beijing(today + timedelta(days=1), 8, 0)
    assert await notes.deliver() == 1
    assert [m.kind for m in notes.sender.messages] == ["booking_cancelled", "booking_confirmed"]
    statuses = {d.kind: (d.status, d.sent_at) for d in await notes.sms(resident)}
    assert statuses["booking_confirmed"] == (DeliveryStatus.sent, beijing(today + timedelta(days=1), 8))


async def test_a_kind_turned_off_reaches_the_inbox_only(notes: Any) -> None:
    world = notes.world
    offering = await world.offering()
    resident = await world.resident()
    off = await world.client.put(
        "/api/v1/notifications/preferences",
        json={"sms": {"booking_confirmed": False}},
        headers=world.resident_headers(resident),
    )
    assert off.status_code == 200, off.text
    assert off.json()["sms"]["booking_confirmed"] is False
    assert off.json()["sms"]["booking_cancelled"] is True
    assert await notes.apply(notes.confirmed(offering, resident, world.at(world.tomorrow(), 10)))
    (sms,) = await notes.sms(resident)
    assert (sms.status, sms.reason) == (DeliveryStatus.suppressed, "sms_off")
    assert await notes.deliver() == 0
    assert len((await notes.inbox(resident))["items"]) == 1


settings = service_settings(
    Settings,
    SERVICE_DIR,
    notification_sweep_seconds=3600,
    reminder_sweep_seconds=3600,
    sms_rate_limit_count=2,
    sms_rate_limit_minutes=60,
    sms_max_attempts=3,
    sms_retry_base_seconds=60,
)


async def test_beyond_the_phones_rate_limit_messages_reach_the_inbox_only(notes: Any) -> None:
    world = notes.world
    offering = await world.offering()
    resident = await world.resident(phone="13900001111")
    for hour in (9, 10, 11):
        assert await notes.apply(notes.confirmed(offering, resident, world.at(world.tomorrow(), hour)))
    assert await notes.deliver() == 2
    statuses = sorted((d.status.value, d.reason or "") for d in await notes.sms(resident))
    assert statuses == [("sent", ""), ("sent", ""), ("suppressed", "rate_limited")]
    assert len((await notes.inbox(resident))["items"]) == 3
    # An hour on, the phone may be sent to again.
    notes.clock.advance(minutes=61)
    assert await notes.apply(notes.confirmed(offering, resident, world.at(world.tomorrow(), 12)))
    assert await notes.deliver() == 1


class RefusingSender:
    """Stands in for a provider that answers with an error."""

    def __init__(self) -> None:
        self.tries = 0

    async def send(self, sms: Sms) -> str:
        self.tries += 1
        raise SmsFailed("LimitExceeded.PhoneNumberDailyLimit", "the provider refused")


def refused_count(kind: str) -> float:
    labels = {"service": "booking", "kind": kind, "code": "LimitExceeded.PhoneNumberDailyLimit"}
    return REGISTRY.get_sample_value("linli_sms_failures_total", labels) or 0.0


async def test_a_refused_sms_is_recorded_and_tried_again_with_backoff_until_the_attempts_run_out(notes: Any) -> None:
    world = notes.world
    offering = await world.offering()
    resident = await world.resident()
    assert await notes.apply(notes.confirmed(offering, resident, world.at(world.tomorrow(), 10)))
    refusing = RefusingSender()
    start = notes.clock()
    refused_before = refused_count("booking_confirmed")
    assert await notes.deliver(refusing) == 0
    (sms,) = await notes.sms(resident)
    assert (sms.status, sms.reason, sms.attempts) == (DeliveryStatus.failed, "LimitExceeded.PhoneNumberDailyLimit", 1)
    assert sms.next_attempt_at == start + timedelta(seconds=60)
    notes.clock.advance(seconds=59)
    assert await notes.deliver(refusing) == 0
    assert refusing.tries == 1  # not due yet
    notes.clock.advance(seconds=1)
    assert await notes.deliver(refusing) == 0
    (sms,) = await notes.sms(resident)
    assert (sms.attempts, sms.next_attempt_at) == (2, notes.clock() + timedelta(seconds=120))  # doubled
    notes.clock.advance(seconds=120)
    assert await notes.deliver(refusing) == 0
    (sms,) = await notes.sms(resident)
    assert (sms.status, sms.attempts, sms.next_attempt_at) == (DeliveryStatus.failed, 3, None)  # gave up
    notes.clock.advance(days=1)
    assert await notes.deliver() == 0
    assert refusing.tries == 3
    # Each refusal is counted for the on-call's SMS alert, by kind and the provider's code (never the phone).
    assert refused_count(sms.kind) - refused_before == 3


async def test_a_failed_sms_goes_on_the_retry(notes: Any) -> None:
    world = notes.world
    offering = await world.offering()
    resident = await world.resident()
    assert await notes.apply(notes.confirmed(offering, resident, world.at(world.tomorrow(), 10)))
    assert await notes.deliver(RefusingSender()) == 0
    notes.clock.advance(seconds=60)
    assert await notes.deliver() == 1
    (sms,) = await notes.sms(resident)
    assert (sms.status, sms.reason, sms.attempts, sms.phone_masked) == (
        DeliveryStatus.sent,
        None,
        2,
        resident["phone"][:6] + "****" + resident["phone"][-4:],
    )


async def test_two_workers_racing_send_each_sms_once(notes: Any) -> None:
    world = notes.world
    offering = await world.offering()
    residents = [await world.resident() for _ in range(2)]
    for resident in residents:
        assert await notes.apply(notes.confirmed(offering, resident, world.at(world.tomorrow(), 10)))
    workers = [FakeSmsSender() for _ in range(3)]
    counts = await asyncio.gather(*(notes.deliver(worker) for worker in workers))
    assert sum(counts) == 2
    assert sorted(m.phone for w in workers for m in w.messages) == sorted(r["phone"] for r in residents)
