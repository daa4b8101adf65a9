"""Every SQL statement of the needs module."""

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, select
from sqlalchemy.ext.asyncio import AsyncSession

from feedback.needs.models import Need, NeedGroup
from service_kit.db import upsert
from service_kit.pagination import Pagination, fetch_page


async def count_into_group(
    session: AsyncSession, *, group_key: str, category_code: str, community_code: str | None, now: datetime
) -> int:
    """Add one to the group (creating it), atomically, and return the new count."""
    statement = (
        upsert(session, NeedGroup)
        .values(
            group_key=group_key,
            category_code=category_code,
            community_code=community_code,
            count=1,
            first_at=now,
            last_at=now,
        )
        .on_conflict_do_update(index_elements=["group_key"], set_={"count": NeedGroup.count + 1, "last_at": now})
        .returning(NeedGroup.count)
    )
    result = await session.execute(statement)
    return int(result.scalar_one())


async def insert_need(session: AsyncSession, need: Need) -> Need:
    session.add(need)
    await session.flush()
    return need


async def get_need(session: AsyncSession, need_id: uuid.UUID) -> Need | None:
    return await session.get(Need, need_id)


async def list_needs(
    session: AsyncSession, *, where: Sequence[ColumnElement[bool]], page: Pagination
) -> tuple[list[Need], int]:
    query = select(Need).where(*where).order_by(Need.created_at.desc(), Need.id)
    rows, total = await fetch_page(session, query, limit=page.limit, offset=page.offset)
    return list(rows), total


async def list_groups(
    session: AsyncSession, *, where: Sequence[ColumnElement[bool]], page: Pagination
) -> tuple[list[NeedGroup], int]:
    query = (
        select(NeedGroup).where(*where).order_by(NeedGroup.count.desc(), NeedGroup.last_at.desc(), NeedGroup.group_key)
    )
    rows, total = await fetch_page(session, query, limit=page.limit, offset=page.offset)
    return list(rows), total
