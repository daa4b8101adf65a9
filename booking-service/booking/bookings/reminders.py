"""Reminders: one message to the resident before each confirmed booking (by default the day before), in the inbox
and by SMS through the notifications module's delivery worker (``booking.notifications``)."""

import uuid
from datetime import datetime, timedelta

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from booking.bookings import repository
from booking.catalog import service as catalog_service
from booking.notifications import service as notifications
from booking.residents import service as residents_service
from service_kit.notify.templates import local_time
from service_kit.timeutil import utcnow

log = structlog.get_logger("linli.booking.reminders")


async def send_due(
    sessionmaker: async_sessionmaker[AsyncSession],
    *,
    lead: timedelta,
    batch: int,
    now: datetime | None = None,
    quiet_hours: bool = True,
) -> int:
    """Remind the residents of confirmed bookings starting within ``lead``; the number reminded.

    Each booking is claimed by a guarded write (``reminded_at`` still empty, status still confirmed) in the same
    transaction that writes its message: a replica racing for the same booking waits for the claim and then finds
    it taken, so a resident never gets the reminder twice (and the message is unique per booking and slot besides).
    Erased residents (no phone) are never reminded. The SMS goes out with the delivery worker's next look.
    """
    now = now or utcnow()
    async with sessionmaker() as session:
        due = await repository.due_reminders(
            session, now=now, until=now + lead, reachable=residents_service.reachable_ids(), limit=batch
        )
    reminded = 0
    for booking_id in due:
        async with sessionmaker() as session:
            if await _remind(session, booking_id, now, quiet_hours):
                await session.commit()
                reminded += 1
            else:
                await session.rollback()
    return reminded


async def _remind(session: AsyncSession, booking_id: uuid.UUID, now: datetime, quiet_hours: bool) -> bool:
    if not await repository.claim_reminder(session, booking_id, now):
        return False
    booking = await repository.get(session, booking_id)
    assert booking is not None
    offering = await catalog_service.get_offering(session, booking.offering_id)
    written = await notifications.notify(
        session,
        resident_id=booking.resident_id,
        kind="booking_reminder",
        values={
            "service": offering.name_zh if offering is not None else "社区服务",
            "time": local_time(booking.slot_start),
        },
        event_id=f"reminder:{booking.id}:{booking.slot_start.isoformat()}",
        subject_id=booking.id,
        now=now,
        about_at=booking.slot_start,
        quiet_hours=quiet_hours,
    )
    return written > 0
