"""A booking service whose notifier runs on a clock the test holds (10:00 in Beijing today unless moved), with the
fake SMS sender the test reads; the delivery worker's own loop stays out of the way (tests deliver by hand)."""

import uuid
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from booking.app import SERVICE_DIR, create_app
from booking.config import Settings
from booking.notifications import delivery
from booking.notifications.consumers import subscription as notifications_subscription
from booking.notifications.models import Channel, NotificationDelivery
from service_kit.events.consumer import apply_event
from service_kit.events.contracts import BookingChanged, BookingConfirmed, EventData, OfferingSnapshot
from service_kit.events.envelope import Envelope
from service_kit.notify.sms import FakeSmsSender
from service_kit.testing import Clock, service_settings
from service_kit.timeutil import SHANGHAI, local_now


def today_at(hour: int, minute: int = 0) -> datetime:
    return datetime.combine(local_now().date(), time(hour, minute), tzinfo=SHANGHAI)


@pytest.fixture
def clock() -> Clock:
    return Clock(today_at(10))


@pytest.fixture
def sender() -> FakeSmsSender:
    return FakeSmsSender()


# The consumers run; the periodic jobs do not: the tests deliver SMS and remind by hand, and a pass of the worker's
# own loop (with the fake sender) must never deliver between a test's event and its own pass.
settings = service_settings(Settings, SERVICE_DIR, run_background_jobs=False)


@pytest.fixture
def app(settings: Settings, sender: FakeSmsSender, clock: Clock) -> FastAPI:
    return create_app(settings, sender=sender, clock=clock)


INBOX = "/api/v1/notifications"


@dataclass
class Notes:
    """What the notification tests share: events built and applied as the consumer applies them, the inbox as
    the resident's app reads it, the SMS deliveries as stored, and the delivery worker's pass."""

    world: Any
    app: FastAPI
    sender: FakeSmsSender
    clock: Clock
    settings: Settings

    @property
    def sessionmaker(self) -> async_sessionmaker[AsyncSession]:
        maker: async_sessionmaker[AsyncSession] = self.world.sessionmaker
        return maker

    def confirmed(
        self, offering: OfferingSnapshot, resident: dict[str, Any], slot_start: datetime, **overrides: Any
    ) -> BookingChanged:
        values: dict[str, Any] = {
            "booking_id": uuid.uuid4(),
            "offering_id": offering.offering_id,
            "provider_id": offering.provider_id,
            "resident_id": uuid.UUID(resident["id"]),
            "status": "confirmed",
            "channel": "phone",
            "slot_start": slot_start,
            "slot_end": slot_start + timedelta(hours=1),
            "price_fen": 3000,
            "actor": "provider_admin:someone",
            "occurred_at": slot_start - timedelta(days=1),
        }
        event_class = overrides.pop("event_class", BookingConfirmed)
        values.update(overrides)
        event: BookingChanged = event_class(**values)
        return event

    async def apply(self, event: EventData, *, event_id: str | None = None, source: str = "booking") -> bool:
        """Apply ``event`` as the notifications consumer does, at the test's clock."""
        handler = notifications_subscription(self.clock).handler_for(event.type)
        assert handler is not None
        envelope = Envelope.wrap(event, source=source, event_id=event_id)
        return await apply_event(self.sessionmaker, "test-notifications", handler, envelope)

    async def inbox(self, resident: dict[str, Any], **params: Any) -> dict[str, Any]:
        response = await self.world.client.get(INBOX, params=params, headers=self.world.resident_headers(resident))
        assert response.status_code == 200, response.text
        page: dict[str, Any] = response.json()
        return page

    async def sms(self, resident: dict[str, Any] | None = None) -> list[NotificationDelivery]:
        async with self.sessionmaker() as session:
            query = select(NotificationDelivery).where(NotificationDelivery.channel == Channel.sms)
            if resident is not None:
                query = query.where(NotificationDelivery.resident_id == uuid.UUID(resident["id"]))
            rows = await session.scalars(query.order_by(NotificationDelivery.created_at, NotificationDelivery.id))
            return list(rows)

    async def deliver(self, sender: Any = None) -> int:
        return await delivery.deliver_due(
            self.sessionmaker, sender or self.sender, settings=self.settings, now=self.clock()
        )


@pytest.fixture
def notes(world: Any, app: FastAPI, sender: FakeSmsSender, clock: Clock, settings: Settings) -> Notes:
    return Notes(world, app, sender, clock, settings)
