"""Reminders: one message (inbox and SMS) before each confirmed booking, written once however many replicas."""

import asyncio
import uuid
from datetime import timedelta
from typing import Any

import pytest
from pydantic import ValidationError
from sqlalchemy import select, update

from booking.app import SERVICE_DIR
from booking.bookings import reminders
from booking.config import Settings
from booking.notifications.models import Notification
from booking.residents.models import Resident
from service_kit.notify.settings import sms_sender
from service_kit.notify.sms import FakeSmsSender
from service_kit.testing import service_settings

BOOKINGS = "/api/v1/bookings"
DAY = timedelta(hours=24)


# The worker's own sweep stays out of the way: these tests sweep by hand, at chosen times.
settings = service_settings(Settings, SERVICE_DIR, reminder_sweep_seconds=3600)


async def reminded(world: Any) -> list[tuple[str, str]]:
    """The reminders written so far: (resident id, text), oldest first."""
    async with world.sessionmaker() as session:
        rows = await session.execute(
            select(Notification.resident_id, Notification.body)
            .where(Notification.kind == "booking_reminder")
            .order_by(Notification.created_at, Notification.id)
        )
        return [(str(row.resident_id), row.body) for row in rows]


async def test_only_confirmed_bookings_within_the_lead_of_reachable_residents(world: Any) -> None:
    offering = await world.offering(capacity_per_slot=5)
    slot = world.at(world.tomorrow(), 9)
    due = await world.confirmed(offering, "13900001111")
    erased = await world.confirmed(offering, "13900002222")
    requested = (await world.book(offering, await world.resident(phone="13900003333"), slot)).json()
    cancelled = await world.confirmed(offering, "13900004444")
    cancel = await world.client.post(
        f"{BOOKINGS}/{cancelled['id']}/cancel", json={"reason": "住院"}, headers=world.keys.headers("operator")
    )
    assert cancel.status_code == 200
    async with world.sessionmaker() as session:
        await session.execute(
            update(Resident)
            .where(Resident.id == uuid.UUID(erased["resident_id"]))
            .values(phone_sealed=None, phone_index=None, phone_last4_index=None, erased_at=slot - 2 * DAY)
        )
        await session.commit()

    too_early = await reminders.send_due(world.sessionmaker, lead=DAY, batch=10, now=slot - DAY - DAY / 24)
    assert (too_early, await reminded(world)) == (0, [])
    sent = await reminders.send_due(world.sessionmaker, lead=DAY, batch=10, now=slot - DAY + DAY / 24)
    assert sent == 1
    assert [resident for resident, _ in await reminded(world)] == [due["resident_id"]]
    after = await reminders.send_due(world.sessionmaker, lead=DAY, batch=10, now=slot - DAY / 2)
    assert after == 0
    started = await reminders.send_due(world.sessionmaker, lead=DAY, batch=10, now=slot + DAY / 24)
    assert started == 0
    operator = world.keys.headers("operator")
    for booking, expected in ((due, True), (erased, False), (requested, False), (cancelled, False)):
        shown = await world.client.get(f"{BOOKINGS}/{booking['id']}", headers=operator)
        assert (shown.json()["reminded_at"] is not None) is expected, booking


async def test_two_replicas_racing_send_each_reminder_once(world: Any) -> None:
    offering = await world.offering(capacity_per_slot=10)
    phones = [f"1390000{n:04d}" for n in range(6)]
    for phone in phones:
        await world.confirmed(offering, phone)
    slot = world.at(world.tomorrow(), 9)
    counts = await asyncio.gather(
        *(reminders.send_due(world.sessionmaker, lead=DAY, batch=100, now=slot - DAY / 2) for _ in range(3))
    )
    assert sum(counts) == len(phones)
    assert len(await reminded(world)) == len(phones)
    assert len({resident for resident, _ in await reminded(world)}) == len(phones)


def test_the_settings_pick_the_fake_sender_unless_the_provider_is_configured(service_env: dict[str, Any]) -> None:
    assert isinstance(sms_sender(Settings(**service_env)), FakeSmsSender)
    with pytest.raises(ValidationError):
        Settings(**service_env, sms_sender="aliyun")
    with pytest.raises(ValidationError, match="LINLI_SMS_TENCENT_SECRET_ID"):
        Settings(**service_env, sms_sender="tencent")


async def test_a_rescheduled_booking_is_reminded_again_of_its_new_time(world: Any) -> None:
    offering = await world.offering()
    booking = await world.confirmed(offering, "13900001111")
    slot = world.at(world.tomorrow(), 9)
    assert await reminders.send_due(world.sessionmaker, lead=DAY, batch=10, now=slot - DAY / 2) == 1
    new_slot = world.at(world.tomorrow() + timedelta(days=1), 10)
    moved = await world.client.post(
        f"{BOOKINGS}/{booking['id']}/reschedule",
        json={"slot_start": new_slot.isoformat()},
        headers=world.keys.headers("operator"),
    )
    assert moved.status_code == 200, moved.text
    assert moved.json()["reminded_at"] is None
    assert await reminders.send_due(world.sessionmaker, lead=DAY, batch=10, now=slot - DAY / 2) == 0
    assert await reminders.send_due(world.sessionmaker, lead=DAY, batch=10, now=new_slot - DAY / 2) == 1
    messages = await reminded(world)
    assert len(messages) == 2
    assert "10:00" in messages[1][1]
