"""Events of residents booking-service announces: helper grants and merged records. Handlers run inside the
consumer's transaction with the event's inbox row: a redelivery changes nothing."""

from sqlalchemy.ext.asyncio import AsyncSession

from feedback.residents import service
from service_kit.events.consumer import Subscription
from service_kit.events.contracts import ResidentHelperGranted, ResidentHelperRevoked, ResidentMerged
from service_kit.events.envelope import Envelope

subscription = Subscription("residents")


@subscription.on(ResidentHelperGranted)
async def store_granted(session: AsyncSession, event: ResidentHelperGranted, envelope: Envelope) -> None:
    await service.store_granted(session, event)


@subscription.on(ResidentHelperRevoked)
async def store_revoked(session: AsyncSession, event: ResidentHelperRevoked, envelope: Envelope) -> None:
    await service.store_revoked(session, event)


@subscription.on(ResidentMerged)
async def apply_merge(session: AsyncSession, event: ResidentMerged, envelope: Envelope) -> None:
    await service.apply_merge(session, event)
