"""The expiry sweep runs by itself in the service's worker."""

import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy import update

from booking.app import SERVICE_DIR
from booking.bookings.models import Booking
from booking.config import Settings
from service_kit.testing import eventually, service_settings
from service_kit.timeutil import utcnow

settings = service_settings(Settings, SERVICE_DIR, expiry_sweep_seconds=0.1)


async def test_the_worker_expires_overdue_bookings_on_its_own(world: Any) -> None:
    offering = await world.offering()
    booking = (await world.book(offering, await world.resident(), world.at(world.tomorrow(), 9))).json()
    waiting = (await world.book(offering, await world.resident(), world.at(world.tomorrow(), 10))).json()
    async with world.sessionmaker() as session:
        await session.execute(
            update(Booking)
            .where(Booking.id == uuid.UUID(booking["id"]))
            .values(confirm_by=utcnow() - timedelta(seconds=1))
        )
        await session.commit()

    async def status() -> str | None:
        response = await world.client.get(f"/api/v1/bookings/{booking['id']}", headers=world.keys.headers("operator"))
        value: str = response.json()["status"]
        return value if value == "expired" else None

    assert await eventually(status, timeout=10) == "expired"
    still = await world.client.get(f"/api/v1/bookings/{waiting['id']}", headers=world.keys.headers("operator"))
    assert still.json()["status"] == "requested"
