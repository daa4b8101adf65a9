"""Every SQL statement of the urgent safety calls."""

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from booking.urgent.models import UrgentCall
from service_kit.db import reassign
from service_kit.pagination import fetch_page


async def add(session: AsyncSession, call: UrgentCall) -> None:
    session.add(call)
    await session.flush()


async def get(session: AsyncSession, call_id: uuid.UUID) -> UrgentCall | None:
    return await session.get(UrgentCall, call_id, populate_existing=True)


async def get_many(session: AsyncSession, call_ids: Sequence[uuid.UUID]) -> Sequence[UrgentCall]:
    if not call_ids:
        return []
    result = await session.execute(select(UrgentCall).where(UrgentCall.id.in_(list(set(call_ids)))))
    return result.scalars().all()


async def open_of(session: AsyncSession, resident_id: uuid.UUID) -> UrgentCall | None:
    return await session.scalar(select(UrgentCall).where(UrgentCall.open_resident_id == resident_id))


async def of_resident(
    session: AsyncSession, resident_id: uuid.UUID, *, limit: int, offset: int
) -> tuple[Sequence[UrgentCall], int]:
    query = (
        select(UrgentCall)
        .where(UrgentCall.resident_id == resident_id)
        .order_by(UrgentCall.opened_at.desc(), UrgentCall.id)
    )
    return await fetch_page(session, query, limit=limit, offset=offset)


async def still_open(session: AsyncSession, *, limit: int, offset: int) -> tuple[Sequence[UrgentCall], int]:
    """Urgent calls not resolved, the oldest first."""
    query = select(UrgentCall).where(UrgentCall.status != "resolved").order_by(UrgentCall.opened_at, UrgentCall.id)
    return await fetch_page(session, query, limit=limit, offset=offset)


async def step(session: AsyncSession, call_id: uuid.UUID, expected: str, values: dict[str, Any]) -> bool:
    """Move an urgent call on from ``expected``; False when it is no longer in that state (another operator)."""
    result = await session.execute(
        update(UrgentCall)
        .where(UrgentCall.id == call_id, UrgentCall.status == expected)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def opened_by_operator(
    session: AsyncSession, since: datetime, until: datetime
) -> dict[str, tuple[str | None, int]]:
    query = (
        select(UrgentCall.opened_by, func.max(UrgentCall.opened_by_name), func.count())
        .where(UrgentCall.opened_at >= since, UrgentCall.opened_at < until)
        .group_by(UrgentCall.opened_by)
    )
    return {subject: (name, count) for subject, name, count in (await session.execute(query)).all()}


async def forget_resident(session: AsyncSession, resident_id: uuid.UUID) -> None:
    """Erasure: what operators wrote about the resident and their contact's name go; the steps and times stay."""
    await session.execute(
        update(UrgentCall)
        .where(UrgentCall.resident_id == resident_id)
        .values(note="", contact_name=None, contacted_note=None, resolved_note=None)
        .execution_options(synchronize_session=False)
    )


async def move_resident(session: AsyncSession, from_id: uuid.UUID, to_id: uuid.UUID) -> int:
    """A merged duplicate's urgent calls become the survivor's (an open one keeps holding its resident, now the
    survivor): how many moved. The caller makes sure the survivor has no open call of their own first."""
    await reassign(session, UrgentCall.open_resident_id, from_id, to_id)
    return await reassign(session, UrgentCall.resident_id, from_id, to_id)
