"""Events about providers: the registry's verification and suspension, sanctions and their lifting."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from procurement.providers import service
from service_kit.events.consumer import Subscription
from service_kit.events.contracts import (
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


@subscription.on(ProviderVerified, ProviderSuspended, ProviderReinstated)
async def track_status(session: AsyncSession, event: ProviderStatusChanged, envelope: Envelope) -> None:
    # The registry's status events carry no time of their own; the envelope's is when the registry emitted it.
    await service.apply_status(session, event, at=envelope.time)


@subscription.on(ProviderSanctioned, ProviderRestored)
async def track_sanction(session: AsyncSession, event: ProviderSanctionChanged, envelope: Envelope) -> None:
    await service.apply_sanction(session, event)
