"""Events the supervision module listens to: residents' complaints (from feedback-service)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from procurement.supervision import service
from service_kit.events.consumer import Subscription
from service_kit.events.contracts import (
    BookingProviderMissed,
    ComplaintChanged,
    ComplaintEscalated,
    ComplaintOpened,
    ComplaintResolved,
)
from service_kit.events.envelope import Envelope

subscription = Subscription("supervision")


@subscription.on(ComplaintOpened, ComplaintResolved, ComplaintEscalated)
async def link_complaint(session: AsyncSession, event: ComplaintChanged, envelope: Envelope) -> None:
    await service.track_complaint(session, event)


@subscription.on(BookingProviderMissed)
async def record_provider_missed(session: AsyncSession, event: BookingProviderMissed, envelope: Envelope) -> None:
    await service.record_provider_missed(session, event)
