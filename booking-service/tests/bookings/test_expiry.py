"""Requested bookings the provider does not confirm in time expire: a sweep, safe with several replicas and
against a confirmation racing it."""

import asyncio
import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy import update

from booking.app import SERVICE_DIR
from booking.bookings.models import Booking
from booking.bookings.service import expire_overdue
from booking.config import Settings
from service_kit.testing import service_settings
from service_kit.timeutil import utcnow

BOOKINGS = "/api/v1/bookings"

# The tests sweep by hand; the worker's own sweep would expire an overdue booking before a test's sweep counts it.
settings = service_settings(Settings, SERVICE_DIR, run_background_jobs=False)


async def requested(world: Any, offering: Any, hour: int = 9) -> dict[str, Any]:
    response = await world.book(offering, await world.resident(), world.at(world.tomorrow(), hour))
    assert response.status_code == 201, response.text
    booking: dict[str, Any] = response.json()
    return booking


async def test_an_unconfirmed_booking_expires_and_gives_its_place_back(world: Any) -> None:
    offering = await world.offering(capacity_per_slot=1)
    booking = await requested(world, offering)
    slot = world.at(world.tomorrow(), 9)
    assert booking["confirm_by"] is not None
    assert await expire_overdue(world.sessionmaker, batch=10) == 0

    assert await expire_overdue(world.sessionmaker, batch=10, now=utcnow() + timedelta(days=2)) == 1
    expired = await world.client.get(f"{BOOKINGS}/{booking['id']}", headers=world.keys.headers("operator"))
    assert expired.json()["status"] == "expired"
    assert await world.units_held(offering, slot) == 0
    events = await world.emitted(booking["id"])
    assert events[-1][0] == "linli.booking.expired.v1"
    assert events[-1][1]["actor"] == "system:expiry"
    late = await world.client.post(f"{BOOKINGS}/{booking['id']}/confirm", headers=world.provider_headers(offering))
    assert late.status_code == 409
    assert late.json()["current_status"] == "expired"
    assert (await world.book(offering, await world.resident(), slot)).status_code == 201


async def test_the_deadline_is_the_rule_or_the_slot_start_whichever_is_first(world: Any) -> None:
    offering = await world.offering()
    await world.client.put(
        f"/api/v1/availability/{offering.offering_id}/rules",
        json={"confirm_within_minutes": 30},
        headers=world.provider_headers(offering),
    )
    booking = await requested(world, offering)
    created = world.at(world.tomorrow(), 9)
    confirm_by = booking["confirm_by"]
    assert confirm_by < created.isoformat()
    auto = await requested(world, await world.offering(auto_confirm=True))
    assert auto["confirm_by"] is None


async def test_a_confirmation_after_the_deadline_is_refused(world: Any) -> None:
    offering = await world.offering()
    booking = await requested(world, offering)
    async with world.sessionmaker() as session:
        await session.execute(
            update(Booking)
            .where(Booking.id == uuid.UUID(booking["id"]))
            .values(confirm_by=utcnow() - timedelta(minutes=1))
        )
        await session.commit()
    late = await world.client.post(f"{BOOKINGS}/{booking['id']}/confirm", headers=world.provider_headers(offering))
    assert late.status_code == 409
    assert late.json()["code"] == "confirmation_deadline_passed"
    assert await expire_overdue(world.sessionmaker, batch=10) == 1


async def test_two_sweeping_replicas_expire_each_booking_once(world: Any) -> None:
    offering = await world.offering(capacity_per_slot=20)
    bookings = [await requested(world, offering) for _ in range(8)]
    later = utcnow() + timedelta(days=2)

    counts = await asyncio.gather(*(expire_overdue(world.sessionmaker, batch=100, now=later) for _ in range(2)))

    assert sum(counts) == 8
    assert await world.units_held(offering, world.at(world.tomorrow(), 9)) == 0
    for booking in bookings:
        types = [t for t, _ in await world.emitted(booking["id"])]
        assert types.count("linli.booking.expired.v1") == 1


async def test_a_confirmation_racing_the_sweep_wins_or_loses_cleanly(world: Any) -> None:
    offering = await world.offering(capacity_per_slot=20)
    bookings = [await requested(world, offering) for _ in range(6)]
    later = utcnow() + timedelta(days=2)
    provider = world.provider_headers(offering)

    sweep, *confirmations = await asyncio.gather(
        expire_overdue(world.sessionmaker, batch=100, now=later),
        *(world.client.post(f"{BOOKINGS}/{b['id']}/confirm", headers=provider) for b in bookings),
    )

    confirmed = [r for r in confirmations if r.status_code == 200]
    assert {r.status_code for r in confirmations} <= {200, 409}
    assert sweep + len(confirmed) == 6
    assert await world.units_held(offering, world.at(world.tomorrow(), 9)) == len(confirmed)
    for booking in bookings:
        types = [t for t, _ in await world.emitted(booking["id"])]
        assert types.count("linli.booking.expired.v1") + types.count("linli.booking.confirmed.v1") == 1
