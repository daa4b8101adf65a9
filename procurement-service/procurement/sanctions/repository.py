"""Every SQL statement about procurement's own sanctions on providers."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from procurement.sanctions.models import ProviderSanction, SanctionStatus


async def active_for(session: AsyncSession, provider_id: uuid.UUID) -> list[ProviderSanction]:
    """The provider's active sanctions, the earliest imposed first."""
    result = await session.execute(
        select(ProviderSanction)
        .where(ProviderSanction.provider_id == provider_id, ProviderSanction.status == SanctionStatus.active)
        .order_by(ProviderSanction.imposed_at)
    )
    return list(result.scalars().all())
