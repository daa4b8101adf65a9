"""Availability: the future slots of an offering between two dates, with the units still free in each."""

import uuid
from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession

from booking.availability import schedule
from booking.availability import schemas as s
from booking.bookings import service as bookings_service
from booking.catalog import service as catalog_service
from booking.config import Settings
from booking.rules import service as rules_service
from service_kit.errors import NotFound, ValidationFailed
from service_kit.timeutil import utcnow

MAX_DAYS = 31


async def for_offering(
    session: AsyncSession, offering_id: uuid.UUID, first: date, last: date, settings: Settings
) -> s.Availability:
    if last < first:
        raise ValidationFailed("to: must not be before from.", code="invalid_date_range")
    if (last - first).days + 1 > MAX_DAYS:
        raise ValidationFailed(f"to: at most {MAX_DAYS} days from from.", code="date_range_too_long")
    offering = await catalog_service.get_offering(session, offering_id)
    if offering is None:
        raise NotFound("No such offering.", code="offering_not_found")
    result = s.Availability(
        offering_id=offering.id,
        timezone=offering.timezone,
        from_date=first,
        to_date=last,
        bookable=False,
        slots=[],
    )
    reason = await catalog_service.why_not_bookable(session, offering)
    if reason is not None:
        result.unavailable_reason = reason
        return result
    result.bookable = True
    now = utcnow()
    rules = await rules_service.for_offering(session, offering.id, settings)
    earliest, latest = rules.bookable_from(now), rules.bookable_until(now)
    slots = [
        slot
        for slot in schedule.slots_between(
            first,
            last,
            weekly_rules=offering.weekly_rules,
            exceptions=offering.exceptions,
            duration_minutes=offering.duration_minutes,
            timezone=offering.timezone,
        )
        if earliest <= slot.start <= latest
    ]
    if not slots:
        return result
    held = await bookings_service.units_held(session, offering.id, slots[0].start, slots[-1].end)
    capacity = offering.capacity_per_slot
    result.slots = [
        s.SlotAvailability(
            start=slot.start,
            end=slot.end,
            capacity=capacity,
            remaining=max(capacity - held.get(slot.start, 0), 0),
        )
        for slot in slots
    ]
    return result
