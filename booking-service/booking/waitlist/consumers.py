"""A place freed in a slot goes to its waitlist, and a subsidised unit a booking gave back to its programme's quota
line; a quota place waiting for a subsidy for a booking that ended leaves the line, and one for a booking moved to
another time follows it there: booking consumes its own events
of bookings that gave a unit back
(durable ``booking-waitlist``). The offer is judged by the slot's counter, not the event, so a late or repeated
event offers nothing twice. Handlers run inside the consumer's transaction (never commit)."""

from collections.abc import Callable
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from booking.waitlist import service
from service_kit.events.consumer import Subscription
from service_kit.events.contracts import (
    BookingCancelled,
    BookingChanged,
    BookingExpired,
    BookingRejected,
    BookingRescheduled,
)
from service_kit.events.envelope import Envelope


def _freed(event: BookingChanged) -> datetime | None:
    """The slot start whose place the booking gave back (a reschedule's old slot)."""
    if isinstance(event, BookingRescheduled):
        return event.previous_slot_start
    return event.slot_start


def _gave_back_subsidy(event: BookingChanged) -> bool:
    """A subsidised booking cancelled, rejected or expired returns its unit to the programme's pool."""
    return event.funded_contract_id is not None and not isinstance(event, BookingRescheduled)


async def _someone_waits(session: AsyncSession, event: BookingChanged, envelope: Envelope) -> bool:
    # Most cancellations free a place nobody waits for: those are acknowledged without a write transaction.
    freed = _freed(event)
    if freed is not None and await service.anyone_waiting(session, event.offering_id, freed):
        return True
    if _ended(event) and await service.anyone_waiting_for_booking(session, event.booking_id):
        return True
    if isinstance(event, BookingRescheduled) and await service.anyone_following(
        session, event.booking_id, resident_id=event.resident_id, offering_id=event.offering_id, slot_start=freed
    ):
        return True
    if _gave_back_subsidy(event) and event.funded_contract_id is not None:
        return await service.quota_line_of(session, event.funded_contract_id, event.offering_id) is not None
    return False


def _ended(event: BookingChanged) -> bool:
    """The booking is over without a visit: a quota place waiting for a subsidy for it has nothing to wait for."""
    return not isinstance(event, BookingRescheduled)


def subscription(clock: Callable[[], datetime], terms: service.OfferTerms) -> Subscription:
    waitlist = Subscription("waitlist", wanted=_someone_waits)

    @waitlist.on(BookingCancelled, BookingRejected, BookingExpired, BookingRescheduled)
    async def offer_freed_place(session: AsyncSession, event: BookingChanged, envelope: Envelope) -> None:
        if _ended(event):
            await service.end_places_for_booking(session, event.booking_id, terms=terms, now=clock())
        if isinstance(event, BookingRescheduled):
            # Her place in the quota line follows her booking to its new time.
            await service.follow_rescheduled_booking(
                session,
                event.booking_id,
                resident_id=event.resident_id,
                offering_id=event.offering_id,
                previous_slot_start=event.previous_slot_start,
                slot_start=event.slot_start,
                terms=terms,
                now=clock(),
            )
        freed = _freed(event)
        if freed is not None:
            await service.offer_free_places(session, event.offering_id, freed, terms=terms, now=clock())
        if _gave_back_subsidy(event) and event.funded_contract_id is not None:
            program_id = await service.quota_line_of(session, event.funded_contract_id, event.offering_id)
            if program_id is not None:
                await service.offer_free_quota(session, program_id, terms=terms, now=clock())

    return waitlist
