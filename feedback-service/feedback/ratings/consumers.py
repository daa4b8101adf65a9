"""Events the ratings module listens to."""

from sqlalchemy.ext.asyncio import AsyncSession

from feedback.ratings import service
from service_kit.events.consumer import Subscription
from service_kit.events.contracts import BookingCompleted
from service_kit.events.envelope import Envelope

subscription = Subscription("rating-invitations")


@subscription.on(BookingCompleted)
async def open_rating_invitation(session: AsyncSession, event: BookingCompleted, envelope: Envelope) -> None:
    await service.open_invitation(session, event)
