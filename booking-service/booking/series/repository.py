"""Every SQL statement of the series module."""

import uuid
from collections.abc import Sequence
from datetime import date
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from booking.series.models import BookingSeries, SeriesOccurrence
from service_kit.db import reassign


async def add(session: AsyncSession, series: BookingSeries) -> None:
    session.add(series)
    await session.flush()


async def get(session: AsyncSession, series_id: uuid.UUID) -> BookingSeries | None:
    return await session.get(BookingSeries, series_id)


async def claim(session: AsyncSession, series_id: uuid.UUID, *, was: date | None, through: date) -> bool:
    """Claim the dates after ``was`` up to ``through`` for planning, if nobody planned them meanwhile: a second run
    of the extension job (or another replica) finds the series moved on and plans nothing."""
    planned = BookingSeries.planned_through
    result = await session.execute(
        update(BookingSeries)
        .where(
            BookingSeries.id == series_id,
            BookingSeries.status == "active",
            planned.is_(None) if was is None else planned == was,
        )
        .values(planned_through=through)
        .execution_options(synchronize_session=False)
    )
    return getattr(result, "rowcount", 0) == 1


async def lock_uncancelled(session: AsyncSession, series_id: uuid.UUID) -> bool:
    """Hold the series' row until the commit, first of what its cancellation locks (the lock order of
    ``booking.bookings.service``, as the extension job's claim holds it); False when it is cancelled already."""
    result = await session.execute(
        update(BookingSeries)
        .where(BookingSeries.id == series_id, BookingSeries.status != "cancelled")
        .values(status=BookingSeries.status)
        .execution_options(synchronize_session=False)
    )
    return getattr(result, "rowcount", 0) == 1


async def update_series(session: AsyncSession, series_id: uuid.UUID, values: dict[str, Any]) -> None:
    await session.execute(
        update(BookingSeries)
        .where(BookingSeries.id == series_id)
        .values(**values)
        .execution_options(synchronize_session=False)
    )


async def add_occurrences(session: AsyncSession, occurrences: Sequence[SeriesOccurrence]) -> None:
    if occurrences:
        await session.execute(
            insert(SeriesOccurrence),
            [
                {column.key: getattr(o, column.key) for column in SeriesOccurrence.__table__.columns}
                for o in occurrences
            ],
        )


async def occurrences(session: AsyncSession, series_id: uuid.UUID) -> Sequence[SeriesOccurrence]:
    result = await session.scalars(
        select(SeriesOccurrence).where(SeriesOccurrence.series_id == series_id).order_by(SeriesOccurrence.day)
    )
    return result.all()


async def active_to_extend(session: AsyncSession, limit: int, after: uuid.UUID | None) -> Sequence[uuid.UUID]:
    query = select(BookingSeries.id).where(BookingSeries.status == "active").order_by(BookingSeries.id).limit(limit)
    if after is not None:
        query = query.where(BookingSeries.id > after)
    result = await session.scalars(query)
    return result.all()


async def move_resident(session: AsyncSession, from_id: uuid.UUID, to_id: uuid.UUID) -> int:
    """A merged duplicate's series (and those it made as a helper) become the survivor's: the extension job books
    their later dates for the survivor. How many series were the duplicate's own."""
    moved = await reassign(session, BookingSeries.resident_id, from_id, to_id)
    await reassign(session, BookingSeries.helper_resident_id, from_id, to_id)
    return moved
