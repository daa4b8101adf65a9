"""Every SQL statement about deliverables."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from procurement.deliverables.models import Deliverable
from service_kit.pagination import fetch_page


async def exists_for_booking(session: AsyncSession, booking_id: uuid.UUID) -> bool:
    found = await session.scalar(select(Deliverable.id).where(Deliverable.booking_id == booking_id))
    return found is not None


async def add(session: AsyncSession, deliverable: Deliverable) -> Deliverable:
    session.add(deliverable)
    await session.flush()
    return deliverable


async def totals_by_offering(
    session: AsyncSession, contract_ids: Iterable[uuid.UUID]
) -> dict[tuple[uuid.UUID, uuid.UUID], tuple[int, int]]:
    """``(contract_id, offering_id) -> (delivered count, delivered value in fen)``."""
    ids = list(contract_ids)
    if not ids:
        return {}
    result = await session.execute(
        select(
            Deliverable.contract_id,
            Deliverable.offering_id,
            func.count(),
            func.coalesce(func.sum(Deliverable.unit_price_fen), 0),
        )
        .where(Deliverable.contract_id.in_(ids))
        .group_by(Deliverable.contract_id, Deliverable.offering_id)
    )
    return {(row[0], row[1]): (int(row[2]), int(row[3])) for row in result.all()}


async def list_page(
    session: AsyncSession, contract_id: uuid.UUID, *, limit: int, offset: int
) -> tuple[Sequence[Deliverable], int]:
    query = (
        select(Deliverable)
        .where(Deliverable.contract_id == contract_id)
        .order_by(Deliverable.delivered_at.desc(), Deliverable.id)
    )
    return await fetch_page(session, query, limit=limit, offset=offset)
