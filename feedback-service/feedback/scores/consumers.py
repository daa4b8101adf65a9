"""Events the scores module listens to: how bookings ended, for the no-show and complaint rates."""

from sqlalchemy.ext.asyncio import AsyncSession

from feedback.scores import service
from feedback.scores.models import Outcome
from service_kit.events.consumer import Subscription
from service_kit.events.contracts import BookingCompleted, BookingNoShow
from service_kit.events.envelope import Envelope

subscription = Subscription("score-facts")


@subscription.on(BookingCompleted)
async def count_completed(session: AsyncSession, event: BookingCompleted, envelope: Envelope) -> None:
    await service.record_outcome(session, event, Outcome.completed)


@subscription.on(BookingNoShow)
async def count_no_show(session: AsyncSession, event: BookingNoShow, envelope: Envelope) -> None:
    await service.record_outcome(session, event, Outcome.no_show)
