"""Every SQL statement of the residents module."""

import uuid
from collections.abc import Iterable, Sequence

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from booking.residents.models import Resident


async def add(session: AsyncSession, resident: Resident) -> bool:
    """Insert ``resident``; False when its phone is already registered (the unique key decides, even in a race)."""
    try:
        async with session.begin_nested():
            session.add(resident)
            await session.flush()
    except IntegrityError:
        return False
    return True


async def get(session: AsyncSession, resident_id: uuid.UUID) -> Resident | None:
    return await session.get(Resident, resident_id)


async def find_by_phone(session: AsyncSession, phone: str) -> Resident | None:
    result = await session.execute(select(Resident).where(Resident.phone == phone))
    return result.scalar_one_or_none()


async def get_many(session: AsyncSession, resident_ids: Iterable[uuid.UUID]) -> Sequence[Resident]:
    ids = list(set(resident_ids))
    if not ids:
        return []
    result = await session.execute(select(Resident).where(Resident.id.in_(ids)))
    return result.scalars().all()
