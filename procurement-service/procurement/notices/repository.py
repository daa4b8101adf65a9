"""Every SQL statement about public notices and the objections to them."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from procurement.guarded import move_if
from procurement.notices.models import Notice, Objection, ObjectionStatus
from service_kit.pagination import fetch_page


async def add(session: AsyncSession, row: Notice | Objection) -> None:
    session.add(row)
    await session.flush()


async def get(session: AsyncSession, notice_id: uuid.UUID) -> Notice | None:
    return await session.get(Notice, notice_id, populate_existing=True)


async def of_call(session: AsyncSession, call_id: uuid.UUID) -> Notice | None:
    """The call's notice (a call has one)."""
    return (await session.execute(select(Notice).where(Notice.call_id == call_id))).scalar_one_or_none()


async def call_of(session: AsyncSession, notice_id: uuid.UUID) -> uuid.UUID | None:
    return await session.scalar(select(Notice.call_id).where(Notice.id == notice_id))


async def list_page(session: AsyncSession, *, limit: int, offset: int) -> tuple[Sequence[Notice], int]:
    """A page of notices, the latest published first."""
    query = select(Notice).order_by(Notice.published_at.desc(), Notice.id)
    return await fetch_page(session, query, limit=limit, offset=offset)


async def objections_of(session: AsyncSession, notice_id: uuid.UUID) -> Sequence[Objection]:
    """The notice's objections in the order they were filed."""
    result = await session.execute(
        select(Objection).where(Objection.notice_id == notice_id).order_by(Objection.filed_at, Objection.id)
    )
    return result.scalars().all()


async def get_objection(session: AsyncSession, objection_id: uuid.UUID) -> Objection | None:
    return await session.get(Objection, objection_id, populate_existing=True)


async def answer_open(session: AsyncSession, objection_id: uuid.UUID, **values: Any) -> bool:
    """One guarded UPDATE: whether the objection was still open (and is now answered with ``values``)."""
    return await move_if(
        session, Objection, objection_id, ObjectionStatus.open, status=ObjectionStatus.answered, **values
    )


async def count_open_objections(session: AsyncSession, notice_id: uuid.UUID) -> int:
    count = await session.scalar(
        select(func.count())
        .select_from(Objection)
        .where(Objection.notice_id == notice_id, Objection.status == ObjectionStatus.open)
    )
    return int(count or 0)
