"""Events the evaluations module listens to (feedback-service): providers' scores from residents' ratings, and each
rating itself, so an evaluation reads the ratings of its own contract's funded bookings."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from procurement.evaluations import service
from service_kit.events.consumer import Subscription
from service_kit.events.contracts import RatingSubmitted, ScoreUpdated
from service_kit.events.envelope import Envelope

subscription = Subscription("evaluations")
# A durable consumer of its own: the ratings of bookings, joined with the deliverables when a contract is evaluated.
ratings_subscription = Subscription("evaluation-ratings")


@subscription.on(ScoreUpdated)
async def track_satisfaction(session: AsyncSession, event: ScoreUpdated, envelope: Envelope) -> None:
    await service.apply_score(session, event, at=envelope.time)


@ratings_subscription.on(RatingSubmitted)
async def keep_rating(session: AsyncSession, event: RatingSubmitted, envelope: Envelope) -> None:
    await service.apply_rating(session, event)
