"""What procurement tells of the needs pool (``need.progressed``): each need of the group takes the step. The
handler runs in the consumer's transaction with the event's inbox row, so a redelivery changes nothing."""

from sqlalchemy.ext.asyncio import AsyncSession

from feedback.needs import service
from service_kit.events.consumer import Subscription
from service_kit.events.contracts import NeedProgressed
from service_kit.events.envelope import Envelope

subscription = Subscription("need-progress")


@subscription.on(NeedProgressed)
async def record_progress(session: AsyncSession, event: NeedProgressed, envelope: Envelope) -> None:
    await service.record_progress(session, event, event_id=envelope.id)
