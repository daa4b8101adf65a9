"""Every SQL statement of the needs module."""

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import ColumnElement, CursorResult, and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from feedback.needs.models import Need, NeedGroup, NeedStep
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


async def needs_of_group(session: AsyncSession, group_key: str) -> list[Need]:
    query = select(Need).where(Need.group_key == group_key).order_by(Need.created_at, Need.id)
    return list((await session.execute(query)).scalars().all())


async def insert_step(session: AsyncSession, values: dict[str, Any]) -> bool:
    """Add a step unless the need already has this event's step; whether it was added."""
    statement = (
        upsert(session, NeedStep)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["need_id", "event_id"])
        .returning(NeedStep.id)
    )
    return (await session.execute(statement)).scalar_one_or_none() is not None


async def move_status(
    session: AsyncSession, need_id: uuid.UUID, *, status: str, at: datetime, not_after: Sequence[str]
) -> bool:
    """Make ``status`` the need's current one unless it already stands at a later step: one that happened later,
    or at the same moment further along (``not_after``: the statuses this one may replace at the same moment)."""
    moved = cast(
        CursorResult[Any],
        await session.execute(
            update(Need)
            .where(
                Need.id == need_id,
                or_(
                    Need.status_at.is_(None),
                    Need.status_at < at,
                    and_(Need.status_at == at, Need.status.in_(not_after)),
                ),
            )
            .values(status=status, status_at=at)
        ),
    )
    return moved.rowcount == 1


async def steps_of(session: AsyncSession, need_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, list[NeedStep]]:
    """Each need's steps after it was received, oldest first."""
    if not need_ids:
        return {}
    query = (
        select(NeedStep)
        .where(NeedStep.need_id.in_(need_ids))
        .order_by(NeedStep.need_id, NeedStep.occurred_at, NeedStep.id)
    )
    found: dict[uuid.UUID, list[NeedStep]] = {}
    for step in (await session.execute(query)).scalars().all():
        found.setdefault(step.need_id, []).append(step)
    return found


async def latest_progressed_need(session: AsyncSession, group_key: str, *, other_than: uuid.UUID) -> Need | None:
    """The group's need that procurement's news reached last: whose story a newly received need of it joins."""
    query = (
        select(Need)
        .where(Need.group_key == group_key, Need.id != other_than, Need.status_at.is_not(None))
        .order_by(Need.status_at.desc(), Need.created_at.desc(), Need.id)
        .limit(1)
    )
    return (await session.execute(query)).scalar_one_or_none()


async def forget_texts(session: AsyncSession, resident_id: uuid.UUID, *, erased_text: str) -> None:
    await session.execute(
        update(Need)
        .where(Need.resident_id == resident_id)
        .values(text=erased_text)
        .execution_options(synchronize_session=False)
    )
