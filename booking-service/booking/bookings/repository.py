"""Every SQL statement of the bookings module."""

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from booking.bookings.models import Booking, BookingStatus, SlotCounter
from booking.sql import upsert


async def take_slot_unit(session: AsyncSession, offering_id: uuid.UUID, slot_start: datetime, capacity: int) -> bool:
    """Hold one unit of a slot; False when all ``capacity`` units are held.

    The counter row is created if missing (a concurrent creator's row is kept), then one unit is taken by an
    ``UPDATE … WHERE used < capacity``: the database serialises writers on the row, so however many
    requests race, at most ``capacity`` of these updates match.
    """
    table = SlotCounter.__table__
    await session.execute(
        upsert(session, table)
        .values(offering_id=offering_id, slot_start=slot_start, used=0)
        .on_conflict_do_nothing(index_elements=[table.c.offering_id, table.c.slot_start])
    )
    result = await session.execute(
        update(SlotCounter)
        .where(
            SlotCounter.offering_id == offering_id,
            SlotCounter.slot_start == slot_start,
            SlotCounter.used < capacity,
        )
        .values(used=SlotCounter.used + 1)
        .execution_options(synchronize_session=False)
    )
    return _rowcount(result) == 1


async def release_slot_unit(session: AsyncSession, offering_id: uuid.UUID, slot_start: datetime) -> None:
    await session.execute(
        update(SlotCounter)
        .where(SlotCounter.offering_id == offering_id, SlotCounter.slot_start == slot_start, SlotCounter.used > 0)
        .values(used=SlotCounter.used - 1)
        .execution_options(synchronize_session=False)
    )


async def slot_usage(
    session: AsyncSession, offering_id: uuid.UUID, start: datetime, end: datetime
) -> dict[datetime, int]:
    """Units held per slot start in ``[start, end)``."""
    result = await session.execute(
        select(SlotCounter.slot_start, SlotCounter.used).where(
            SlotCounter.offering_id == offering_id,
            SlotCounter.slot_start >= start,
            SlotCounter.slot_start < end,
        )
    )
    return {slot_start: used for slot_start, used in result.all()}


async def add(session: AsyncSession, booking: Booking) -> None:
    session.add(booking)
    await session.flush()


async def get(session: AsyncSession, booking_id: uuid.UUID) -> Booking | None:
    return await session.get(Booking, booking_id)


async def change_status(
    session: AsyncSession,
    booking_id: uuid.UUID,
    *,
    current: BookingStatus,
    to: BookingStatus,
    values: dict[str, Any],
) -> bool:
    """Move a booking from ``current`` to ``to``; False if it was no longer ``current`` (another change won)."""
    result = await session.execute(
        update(Booking)
        .where(Booking.id == booking_id, Booking.status == current)
        .values(status=to, **values)
        .execution_options(synchronize_session=False)
    )
    return _rowcount(result) == 1


async def list_bookings(
    session: AsyncSession,
    *,
    resident_id: uuid.UUID | None,
    provider_id: uuid.UUID | None,
    status: BookingStatus | None,
    limit: int,
    offset: int,
) -> tuple[Sequence[Booking], int]:
    conditions = []
    if resident_id is not None:
        conditions.append(Booking.resident_id == resident_id)
    if provider_id is not None:
        conditions.append(Booking.provider_id == provider_id)
    if status is not None:
        conditions.append(Booking.status == status)
    total = await session.scalar(select(func.count()).select_from(Booking).where(*conditions))
    result = await session.execute(
        select(Booking).where(*conditions).order_by(Booking.created_at.desc(), Booking.id).limit(limit).offset(offset)
    )
    return result.scalars().all(), int(total or 0)


def _rowcount(result: Any) -> int:
    return int(result.rowcount)
