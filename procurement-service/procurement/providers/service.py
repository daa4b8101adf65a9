"""The provider projection and the eligibility rule calls apply: verified, of an admitted kind, not sanctioned.

Events may arrive out of order (redelivery, several relays); each part of the projection keeps the time of
the fact it holds and ignores an older one.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from procurement.providers.models import ProviderStanding
from service_kit.errors import ValidationFailed
from service_kit.events.contracts import ProviderSanctionChanged, ProviderSanctioned, ProviderStatusChanged
from service_kit.timeutil import SHANGHAI

ELIGIBLE_STATUSES = frozenset({"verified", "active"})


async def _standing(session: AsyncSession, provider_id: uuid.UUID) -> ProviderStanding:
    standing = await session.get(ProviderStanding, provider_id, with_for_update=True)
    if standing is None:
        standing = ProviderStanding(provider_id=provider_id, sanctioned=False)
        session.add(standing)
    return standing


async def apply_status(session: AsyncSession, event: ProviderStatusChanged, *, at: datetime) -> None:
    standing = await _standing(session, event.provider_id)
    if standing.status_at is not None and standing.status_at > at:
        return
    standing.name, standing.kind, standing.status, standing.status_at = event.name, event.kind, event.status, at
    await session.flush()


async def apply_sanction(session: AsyncSession, event: ProviderSanctionChanged) -> None:
    standing = await _standing(session, event.provider_id)
    if standing.sanction_at is not None and standing.sanction_at > event.occurred_at:
        return
    standing.sanctioned = isinstance(event, ProviderSanctioned)
    standing.sanction_until = event.until if standing.sanctioned else None
    standing.sanction_reason = event.reason
    standing.sanction_at = event.occurred_at
    await session.flush()


async def check_eligible(
    session: AsyncSession, provider_id: uuid.UUID, *, kinds: list[str], now: datetime
) -> ProviderStanding:
    """The provider's standing, or a 422 naming why it may not apply."""
    standing = await session.get(ProviderStanding, provider_id, populate_existing=True)
    if standing is None or standing.status not in ELIGIBLE_STATUSES:
        raise ValidationFailed(
            "Only a provider verified by the registry may apply.",
            code="provider_not_verified",
            provider_status=standing.status if standing else None,
        )
    if standing.sanctioned and (standing.sanction_until is None or standing.sanction_until >= _today(now)):
        raise ValidationFailed(
            "The provider is under a sanction and may not apply.",
            code="provider_sanctioned",
            sanction_until=standing.sanction_until.isoformat() if standing.sanction_until else None,
        )
    if kinds and standing.kind not in kinds:
        raise ValidationFailed(
            f"This call admits providers of kind {', '.join(kinds)}; the provider is {standing.kind}.",
            code="provider_kind_not_eligible",
        )
    return standing


def _today(now: datetime) -> date:
    return now.astimezone(SHANGHAI).date()
