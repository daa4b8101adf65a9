"""Every SQL statement about procurement's own sanctions on providers."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from procurement.contracts.models import Contract
from procurement.guarded import move_if
from procurement.sanctions.models import ProviderSanction, SanctionStatus
from service_kit.pagination import fetch_page


async def active_for(session: AsyncSession, provider_id: uuid.UUID) -> list[ProviderSanction]:
    """The provider's active sanctions, the earliest imposed first."""
    result = await session.execute(
        select(ProviderSanction)
        .where(ProviderSanction.provider_id == provider_id, ProviderSanction.status == SanctionStatus.active)
        .order_by(ProviderSanction.imposed_at)
    )
    return list(result.scalars().all())


async def add(session: AsyncSession, sanction: ProviderSanction) -> None:
    session.add(sanction)
    await session.flush()


async def get(session: AsyncSession, sanction_id: uuid.UUID) -> ProviderSanction | None:
    return await session.get(ProviderSanction, sanction_id, populate_existing=True)


async def active_of_contract(session: AsyncSession, contract_id: uuid.UUID) -> uuid.UUID | None:
    """The active sanction the contract caused, if any."""
    return await session.scalar(
        select(ProviderSanction.id).where(
            ProviderSanction.contract_id == contract_id, ProviderSanction.status == SanctionStatus.active
        )
    )


async def end_active(session: AsyncSession, sanction_id: uuid.UUID, **values: Any) -> bool:
    """One guarded UPDATE: whether the sanction was still active (and now has ``values``)."""
    return await move_if(session, ProviderSanction, sanction_id, SanctionStatus.active, keep_session=True, **values)


async def refresh_status(session: AsyncSession, sanction: ProviderSanction) -> None:
    await session.refresh(sanction, ["status"])


async def count_round(session: AsyncSession, *, imposed_before: datetime, at: datetime) -> list[ProviderSanction]:
    """One more round served by every active sanction imposed before ``imposed_before``; the active sanctions that
    have now served all their rounds."""
    await session.execute(
        update(ProviderSanction)
        .where(ProviderSanction.status == SanctionStatus.active, ProviderSanction.imposed_at < imposed_before)
        .values(rounds_served=ProviderSanction.rounds_served + 1, updated_at=at)
        .execution_options(synchronize_session=False)
    )
    done = await session.execute(
        select(ProviderSanction).where(
            ProviderSanction.status == SanctionStatus.active,
            ProviderSanction.rounds_served >= ProviderSanction.rounds,
        )
    )
    return list(done.scalars().all())


async def list_page(
    session: AsyncSession,
    *,
    provider_id: uuid.UUID | None,
    status: SanctionStatus | None,
    street_code: str | None,
    limit: int,
    offset: int,
) -> tuple[Sequence[ProviderSanction], int]:
    """A page of sanctions (of ``street_code``: those its contracts caused), the latest imposed first."""
    conditions: list[Any] = []
    if street_code is not None:
        conditions.append(
            ProviderSanction.contract_id.in_(select(Contract.id).where(Contract.street_code == street_code))
        )
    if provider_id is not None:
        conditions.append(ProviderSanction.provider_id == provider_id)
    if status is not None:
        conditions.append(ProviderSanction.status == status)
    query = (
        select(ProviderSanction).where(*conditions).order_by(ProviderSanction.imposed_at.desc(), ProviderSanction.id)
    )
    return await fetch_page(session, query, limit=limit, offset=offset)
