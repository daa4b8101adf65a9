"""Every SQL statement of the replacements module."""

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from booking.bookings.models import Booking, BookingStatus
from booking.catalog.models import FundedProgram
from booking.replacements.models import BookingReplacement, ReplacementStatus
from service_kit.db import upsert
from service_kit.pagination import fetch_page
from service_kit.timeutil import utcnow

# An upcoming booking still to be delivered (one in service is under way: nothing left to replace).
UPCOMING_STATUSES = (BookingStatus.requested, BookingStatus.confirmed)


async def upcoming_of_funded_residents(
    session: AsyncSession, program: FundedProgram, now: datetime
) -> Sequence[Booking]:
    """Upcoming bookings of the program's offering that it funded, and those its funded residents made of the
    same offering without funding (beyond the contract's last day): what the end of the program leaves them."""
    funded_residents = select(Booking.resident_id).where(Booking.funded_program_id == program.id)
    result = await session.execute(
        select(Booking)
        .where(
            Booking.offering_id == program.offering_id,
            Booking.status.in_(UPCOMING_STATUSES),
            Booking.slot_start > now,
            or_(
                Booking.funded_program_id == program.id,
                Booking.funded_program_id.is_(None) & Booking.resident_id.in_(funded_residents),
            ),
        )
        .order_by(Booking.slot_start, Booking.id)
    )
    return result.scalars().all()


async def add_unless_marked(session: AsyncSession, values: dict[str, Any]) -> bool:
    """Mark a booking as needing a replacement; False when it already is (the unique booking id decides, even
    when a redelivered event and the sweep race)."""
    now = utcnow()
    table = BookingReplacement.__table__
    statement = (
        upsert(session, table)
        .values(id=uuid.uuid4(), status=ReplacementStatus.open.value, created_at=now, updated_at=now, **values)
        .on_conflict_do_nothing(index_elements=[table.c.booking_id])
    )
    result = await session.execute(statement)
    return int(getattr(result, "rowcount", 0) or 0) == 1


async def get(session: AsyncSession, replacement_id: uuid.UUID) -> BookingReplacement | None:
    return await session.get(BookingReplacement, replacement_id, populate_existing=True)


async def list_page(
    session: AsyncSession, *, status: ReplacementStatus | None, limit: int, offset: int
) -> tuple[Sequence[BookingReplacement], int]:
    query = select(BookingReplacement)
    if status is not None:
        query = query.where(BookingReplacement.status == status)
    query = query.order_by(BookingReplacement.created_at, BookingReplacement.id)
    return await fetch_page(session, query, limit=limit, offset=offset)


async def bookings_by_id(session: AsyncSession, booking_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Booking]:
    if not booking_ids:
        return {}
    result = await session.execute(select(Booking).where(Booking.id.in_(list(booking_ids))))
    return {booking.id: booking for booking in result.scalars().all()}


async def close(session: AsyncSession, replacement_id: uuid.UUID, *, values: dict[str, Any]) -> bool:
    """Close an open replacement; False when it was no longer open (another operator's close won)."""
    result = await session.execute(
        update(BookingReplacement)
        .where(BookingReplacement.id == replacement_id, BookingReplacement.status == ReplacementStatus.open)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0)) == 1


async def forget_notes(session: AsyncSession, resident_id: uuid.UUID) -> None:
    """Erasure: what operators noted about the resident when offering a replacement goes; the rest stays."""
    await session.execute(
        update(BookingReplacement)
        .where(BookingReplacement.resident_id == resident_id)
        .values(note=None)
        .execution_options(synchronize_session=False)
    )
