"""Every SQL statement about the needs pool."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from procurement.guarded import move_if
from procurement.needs.models import Need, NeedStatus
from service_kit.pagination import fetch_page


async def add(session: AsyncSession, need: Need) -> None:
    session.add(need)
    await session.flush()


async def get(session: AsyncSession, need_id: uuid.UUID) -> Need | None:
    return await session.get(Need, need_id, populate_existing=True)


async def of_group(session: AsyncSession, group_key: str) -> Need | None:
    """The need pooling a group of residents' suggestions (one per group)."""
    return (await session.execute(select(Need).where(Need.group_key == group_key))).scalar_one_or_none()


async def merged_into(session: AsyncSession, need_id: uuid.UUID) -> uuid.UUID | None:
    return await session.scalar(select(Need.merged_into_id).where(Need.id == need_id))


async def group_keys(session: AsyncSession, need_ids: Sequence[uuid.UUID]) -> list[str | None]:
    return list((await session.execute(select(Need.group_key).where(Need.id.in_(need_ids)))).scalars().all())


async def merged_into_any(session: AsyncSession, need_ids: Sequence[uuid.UUID]) -> list[uuid.UUID]:
    """The needs merged into any of ``need_ids``."""
    return list((await session.execute(select(Need.id).where(Need.merged_into_id.in_(need_ids)))).scalars().all())


async def found(session: AsyncSession, need_ids: Sequence[uuid.UUID], *, fresh: bool = False) -> list[Need]:
    """Those of ``need_ids`` the pool holds, in rank order; ``fresh`` re-reads needs already in the session."""
    statement = select(Need).where(Need.id.in_(need_ids)).order_by(Need.rank)
    if fresh:
        statement = statement.execution_options(populate_existing=True)
    return list((await session.execute(statement)).scalars().all())


async def list_page(
    session: AsyncSession,
    *,
    status: NeedStatus | None,
    category_code: str | None,
    street_code: str | None,
    limit: int,
    offset: int,
) -> tuple[list[Need], int]:
    """A page of the pool: ranked needs first in the officials' order, then the most asked-for."""
    conditions: list[Any] = []
    if street_code is not None:
        conditions.append(Need.street_code == street_code)
    if status is not None:
        conditions.append(Need.status == status)
    if category_code is not None:
        conditions.append(Need.category_code == category_code)
    query = (
        select(Need)
        .where(*conditions)
        .order_by(Need.rank.is_(None), Need.rank, Need.count.desc(), Need.created_at, Need.id)
    )
    rows, total = await fetch_page(session, query, limit=limit, offset=offset)
    return list(rows), total


async def update_need(session: AsyncSession, need_id: uuid.UUID, **values: Any) -> None:
    await session.execute(update(Need).where(Need.id == need_id).values(**values))


async def add_to_count(session: AsyncSession, need_id: uuid.UUID, rise: int, **values: Any) -> None:
    """Add ``rise`` residents to the need's count, in the database (racing additions both count)."""
    await session.execute(update(Need).where(Need.id == need_id).values(count=Need.count + rise, **values))


async def move_open(session: AsyncSession, need_id: uuid.UUID, **values: Any) -> bool:
    """One guarded UPDATE: whether the need was still open (and now has ``values``)."""
    return await move_if(session, Need, need_id, NeedStatus.open, **values)


async def refresh_status(session: AsyncSession, need: Need) -> None:
    await session.refresh(need, ["status"])


async def unrank_all(session: AsyncSession) -> None:
    await session.execute(update(Need).where(Need.rank.is_not(None)).values(rank=None))
