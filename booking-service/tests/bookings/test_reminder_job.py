"""The reminder job runs by itself in the service's worker; its SMS go through the sender the app was given."""

from datetime import datetime, time
from typing import Any

import pytest
from fastapi import FastAPI

from booking.app import SERVICE_DIR, create_app
from booking.bookings import reminders
from booking.config import Settings
from service_kit.notify.sms import FakeSmsSender
from service_kit.testing import Clock, eventually, service_settings
from service_kit.timeutil import SHANGHAI, local_now

BOOKINGS = "/api/v1/bookings"


@pytest.fixture
def sender() -> FakeSmsSender:
    return FakeSmsSender()


settings = service_settings(
    Settings, SERVICE_DIR, reminder_sweep_seconds=0.1, reminder_lead_hours=48, notification_sweep_seconds=0.1
)


@pytest.fixture
def app(settings: Settings, sender: FakeSmsSender) -> FastAPI:
    # Ten in the morning in Beijing, whenever the suite runs: outside the quiet hours, the SMS goes at once.
    morning = datetime.combine(local_now().date(), time(10), tzinfo=SHANGHAI)
    return create_app(settings, sender=sender, clock=Clock(morning))


async def test_the_worker_reminds_each_confirmed_booking_once(
    world: Any, sender: FakeSmsSender, monkeypatch: pytest.MonkeyPatch
) -> None:
    sweeps = 0
    send_due = reminders.send_due

    async def counted(*args: Any, **kwargs: Any) -> int:
        nonlocal sweeps
        sent = await send_due(*args, **kwargs)
        sweeps += 1
        return sent

    monkeypatch.setattr(reminders, "send_due", counted)
    offering = await world.offering(name_zh="老年餐桌午餐")
    booking = await world.confirmed(offering, "13900001111")
    far = await world.confirmed(offering, "13900002222", days=5)
    assert booking["reminded_at"] is None

    async def reminded() -> str | None:
        response = await world.client.get(f"{BOOKINGS}/{booking['id']}", headers=world.keys.headers("operator"))
        value: str | None = response.json()["reminded_at"]
        return value

    assert (await eventually(reminded)).endswith("Z")

    def reminders_sent() -> list[Any]:
        return [message for message in sender.messages if message.kind == "booking_reminder"]

    await eventually(reminders_sent)  # the delivery worker sends it
    after = sweeps
    await eventually(lambda: sweeps >= after + 3)  # several more sweeps: still one message
    assert [message.phone for message in reminders_sent()] == ["+8613900001111"]
    assert "老年餐桌午餐" in reminders_sent()[0].text
    assert "09:00" in reminders_sent()[0].text
    later = await world.client.get(f"{BOOKINGS}/{far['id']}", headers=world.keys.headers("operator"))
    assert later.json()["reminded_at"] is None
