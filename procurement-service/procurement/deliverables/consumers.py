"""Events the deliverables module listens to: bookings completed by providers (from booking-service)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from procurement.deliverables import service
from service_kit.events.consumer import Subscription
from service_kit.events.contracts import BookingCompleted
from service_kit.events.envelope import Envelope

subscription = Subscription("deliverables")


@subscription.on(BookingCompleted)
async def count_completed_booking(session: AsyncSession, event: BookingCompleted, envelope: Envelope) -> None:
    await service.record_completed_booking(session, event, event_id=envelope.id)
