"""Reminders: one SMS to the resident before each confirmed booking (by default the day before)."""

import uuid
from datetime import datetime, timedelta

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from booking.bookings import repository
from booking.bookings.models import Booking
from booking.catalog import service as catalog_service
from booking.notifications import SmsSender
from booking.residents import service as residents_service
from service_kit.timeutil import SHANGHAI, utcnow

log = structlog.get_logger("linli.booking.reminders")


async def send_due(
    sessionmaker: async_sessionmaker[AsyncSession],
    sender: SmsSender,
    *,
    lead: timedelta,
    batch: int,
    now: datetime | None = None,
) -> int:
    """Remind the residents of confirmed bookings starting within ``lead``; the number reminded.

    Each booking is claimed by a guarded write (``reminded_at`` still empty, status still confirmed) in its own
    transaction, and the message is sent before that transaction commits: a replica racing for the same
    booking waits for the claim and then finds it taken, so a resident never gets the reminder twice; a failed
    send rolls the claim back and the next sweep tries again. Erased residents (no phone) are never reminded.
    """
    now = now or utcnow()
    async with sessionmaker() as session:
        due = await repository.due_reminders(
            session, now=now, until=now + lead, reachable=residents_service.reachable_ids(), limit=batch
        )
    reminded = 0
    for booking_id in due:
        async with sessionmaker() as session:
            if await _remind(session, sender, booking_id, now):
                await session.commit()
                reminded += 1
            else:
                await session.rollback()
    return reminded


async def _remind(session: AsyncSession, sender: SmsSender, booking_id: uuid.UUID, now: datetime) -> bool:
    if not await repository.claim_reminder(session, booking_id, now):
        return False
    booking = await repository.get(session, booking_id)
    assert booking is not None
    resident = await residents_service.get(session, booking.resident_id)
    if resident is None or resident.phone is None or resident.erased_at is not None:
        return False
    try:
        await sender.send(resident.phone, await _text(session, booking, resident.name))
    except Exception:
        log.exception("reminder not sent", booking_id=str(booking_id))
        return False
    return True


async def _text(session: AsyncSession, booking: Booking, resident_name: str) -> str:
    offering = await catalog_service.get_offering(session, booking.offering_id)
    what = offering.name_zh if offering is not None else "社区服务"
    start = booking.slot_start.astimezone(SHANGHAI)
    return (
        f"【邻里】{resident_name}您好，您预约的{what}将于{start.month}月{start.day}日 {start:%H:%M}开始。"
        "如需取消或改期，请致电社区服务热线。"
    )
