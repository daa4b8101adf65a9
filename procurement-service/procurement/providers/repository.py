"""Every SQL statement about procurement's projection of the registry's providers and their offerings."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from procurement.providers.models import ProviderOffering, ProviderStanding


async def standing_for_update(session: AsyncSession, provider_id: uuid.UUID) -> ProviderStanding:
    """The provider's standing, locked for the rest of the transaction; a new one (written on flush) if the
    projection has none yet."""
    standing = await session.get(ProviderStanding, provider_id, with_for_update=True)
    if standing is None:
        standing = ProviderStanding(provider_id=provider_id, sanctioned=False)
        session.add(standing)
    return standing


async def offering_for_update(session: AsyncSession, offering_id: uuid.UUID) -> ProviderOffering:
    """The offering, locked for the rest of the transaction; a new one at version -1 (written on flush) if the
    projection has none yet."""
    offering = await session.get(ProviderOffering, offering_id, with_for_update=True)
    if offering is None:
        offering = ProviderOffering(offering_id=offering_id, version=-1)
        session.add(offering)
    return offering


async def flush(session: AsyncSession) -> None:
    await session.flush()


async def standing(session: AsyncSession, provider_id: uuid.UUID) -> ProviderStanding | None:
    return await session.get(ProviderStanding, provider_id, populate_existing=True)


async def lock_standing(session: AsyncSession, provider_id: uuid.UUID) -> None:
    await session.execute(
        select(ProviderStanding.provider_id).where(ProviderStanding.provider_id == provider_id).with_for_update()
    )


async def offerings(session: AsyncSession, offering_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, ProviderOffering]:
    """Those of the offerings the projection knows, by id."""
    result = await session.execute(select(ProviderOffering).where(ProviderOffering.offering_id.in_(list(offering_ids))))
    return {offering.offering_id: offering for offering in result.scalars()}


async def names(session: AsyncSession, provider_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, str | None]:
    result = await session.execute(
        select(ProviderStanding.provider_id, ProviderStanding.name).where(
            ProviderStanding.provider_id.in_(provider_ids)
        )
    )
    return {provider_id: name for provider_id, name in result.all()}
