"""Every SQL statement of the acting-for audit trail."""

import uuid
from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from booking.audit.models import ActingFor


async def add(session: AsyncSession, record: ActingFor) -> None:
    session.add(record)
    await session.flush()


async def list_for_resident(
    session: AsyncSession, resident_id: uuid.UUID, *, limit: int, offset: int
) -> tuple[Sequence[ActingFor], int]:
    condition = ActingFor.resident_id == resident_id
    total = await session.scalar(select(func.count()).select_from(ActingFor).where(condition))
    result = await session.execute(
        select(ActingFor).where(condition).order_by(ActingFor.at.desc(), ActingFor.id).limit(limit).offset(offset)
    )
    return result.scalars().all(), int(total or 0)
