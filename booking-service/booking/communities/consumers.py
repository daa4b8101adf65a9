"""Keeps the known communities current from the registry's gazetteer (``community.upserted``), each event applied
once through the inbox; a late event never takes a community back to an older version."""

from sqlalchemy.ext.asyncio import AsyncSession

from booking.communities import service
from service_kit.events.consumer import Subscription
from service_kit.events.contracts import CommunityUpserted
from service_kit.events.envelope import Envelope

subscription = Subscription("communities")


@subscription.on(CommunityUpserted)
async def store_community(session: AsyncSession, event: CommunityUpserted, envelope: Envelope) -> None:
    await service.store(session, event)
