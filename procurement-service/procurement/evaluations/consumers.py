"""Events the evaluations module listens to: providers' scores from residents' ratings (feedback-service)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from procurement.evaluations import service
from service_kit.events.consumer import Subscription
from service_kit.events.contracts import ScoreUpdated
from service_kit.events.envelope import Envelope

subscription = Subscription("evaluations")


@subscription.on(ScoreUpdated)
async def track_satisfaction(session: AsyncSession, event: ScoreUpdated, envelope: Envelope) -> None:
    await service.apply_score(session, event, at=envelope.time)
