"""Events that providers' systems may receive become webhook deliveries, exactly once per event and endpoint."""

from sqlalchemy.ext.asyncio import AsyncSession

from registry.webhooks import service
from registry.webhooks.catalogue import WEBHOOK_EVENTS
from service_kit.events.consumer import Subscription
from service_kit.events.contracts import EventData
from service_kit.events.envelope import Envelope

# Only events an endpoint subscribes to open a write transaction; the rest are acknowledged after one read.
subscription = Subscription("webhooks", wanted=service.wanted)


@subscription.on(*WEBHOOK_EVENTS.values())
async def on_provider_event(session: AsyncSession, event: EventData, envelope: Envelope) -> None:
    await service.enqueue(session, event, envelope)
