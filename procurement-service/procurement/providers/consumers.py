"""Events about providers: the registry's verification and suspension, sanctions and their lifting, and the
offerings the registry publishes (what a provider may promise and a contract may fund)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from procurement.providers import service
from service_kit.events.consumer import Subscription
from service_kit.events.contracts import (
    OfferingPublished,
    OfferingSnapshot,
    OfferingUpdated,
    OfferingWithdrawn,
    ProviderReinstated,
    ProviderRestored,
    ProviderSanctionChanged,
    ProviderSanctioned,
    ProviderStatusChanged,
    ProviderSuspended,
    ProviderVerified,
)
from service_kit.events.envelope import Envelope

subscription = Subscription("providers")
# A consumer of its own (procurement-offerings): a new durable consumer reads the stream from its start.
offerings_subscription = Subscription("offerings")


@subscription.on(ProviderVerified, ProviderSuspended, ProviderReinstated)
async def track_status(session: AsyncSession, event: ProviderStatusChanged, envelope: Envelope) -> None:
    # The registry's status events carry no time of their own; the envelope's is when the registry emitted it.
    await service.apply_status(session, event, at=envelope.time)


@subscription.on(ProviderSanctioned, ProviderRestored)
async def track_sanction(session: AsyncSession, event: ProviderSanctionChanged, envelope: Envelope) -> None:
    await service.apply_sanction(session, event)


@offerings_subscription.on(OfferingPublished, OfferingUpdated, OfferingWithdrawn)
async def track_offering(session: AsyncSession, event: OfferingSnapshot, envelope: Envelope) -> None:
    await service.apply_offering(session, event, at=envelope.time)
