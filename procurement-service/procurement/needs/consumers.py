"""Residents' needs, grouped by feedback-service (``need.submitted``)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from procurement.needs import service
from service_kit.events.consumer import Subscription
from service_kit.events.contracts import NeedSubmitted
from service_kit.events.envelope import Envelope

subscription = Subscription("needs")


@subscription.on(NeedSubmitted)
async def pool_need(session: AsyncSession, event: NeedSubmitted, envelope: Envelope) -> None:
    await service.record_submitted(session, event, at=event.submitted_at)
