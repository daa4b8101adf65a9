"""The provider's standing, kept from other services' events: ratings (feedback), contracts (procurement)."""

from sqlalchemy.ext.asyncio import AsyncSession

from registry.organizations import service
from service_kit.events.consumer import Subscription
from service_kit.events.contracts import ContractSigned, ContractTerminated, RatingSubmitted
from service_kit.events.envelope import Envelope

subscription = Subscription("organization-standing")


@subscription.on(RatingSubmitted)
async def on_rating_submitted(session: AsyncSession, event: RatingSubmitted, _envelope: Envelope) -> None:
    await service.count_rating(session, event)


@subscription.on(ContractSigned, ContractTerminated)
async def on_contract_changed(
    session: AsyncSession, event: ContractSigned | ContractTerminated, _envelope: Envelope
) -> None:
    await service.record_contract(session, event)
