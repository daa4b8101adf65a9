import uuid

from fastapi import APIRouter

from booking.bookings import schemas as booking_schemas
from booking.bookings import service as bookings_service
from booking.clock import Now
from booking.deps import Caller, SettingsDep
from booking.waitlist import schemas as s
from booking.waitlist import service
from service_kit.db import SessionDep
from service_kit.errors import error_responses
from service_kit.timeutil import Instant

router = APIRouter(prefix="/api/v1/bookings/waitlist", tags=["waitlist"])


@router.post(
    "",
    status_code=201,
    response_model=s.WaitlistEntry,
    summary="Wait in line for a full slot (a resident for themself, their helper, an operator); position shown",
    description=(
        "Only a full slot has a line: a slot with a free place is 409 slot_not_full (book it instead). When a place "
        "frees, the first in line is offered it, held for them for a set time, with a message."
    ),
    responses=error_responses(401, 403, 404, 409, 422),
    operation_id="joinWaitlist",
)
async def join(data: s.WaitlistJoin, session: SessionDep, principal: Caller, now: Now) -> s.WaitlistEntry:
    entry = await service.join(session, data, by=principal, now=now)
    return await service.to_schema(session, entry)


@router.get(
    "",
    response_model=list[s.WaitlistEntry],
    summary="A slot's waitlist in order (operators, and the offering's provider)",
    responses=error_responses(401, 403, 404, 422),
    operation_id="listWaitlist",
)
async def in_line(
    offering_id: uuid.UUID, slot_start: Instant, session: SessionDep, principal: Caller
) -> list[s.WaitlistEntry]:
    return await service.in_line(session, offering_id, slot_start, by=principal)


@router.get(
    "/{entry_id}",
    response_model=s.WaitlistEntry,
    summary="A place in a waitlist: position, or the offered place and until when it is held",
    responses=error_responses(401, 404, 422),
    operation_id="getWaitlistEntry",
)
async def get_entry(entry_id: uuid.UUID, session: SessionDep, principal: Caller) -> s.WaitlistEntry:
    entry, _ = await service.get_visible(session, entry_id, by=principal)
    return await service.to_schema(session, entry)


@router.post(
    "/{entry_id}/accept",
    status_code=201,
    response_model=booking_schemas.Booking,
    summary="Book the place offered from the waitlist, before the offer ends (409 offer_expired after)",
    responses=error_responses(401, 403, 404, 409, 422),
    operation_id="acceptWaitlistOffer",
)
async def accept(
    entry_id: uuid.UUID, session: SessionDep, principal: Caller, settings: SettingsDep, now: Now
) -> booking_schemas.Booking:
    booking = await service.accept(session, entry_id, by=principal, settings=settings, now=now)
    return (await bookings_service.to_schemas(session, [booking], viewer=principal))[0]


@router.post(
    "/{entry_id}/leave",
    response_model=s.WaitlistEntry,
    summary="Leave a waitlist (the resident, their helper, or an operator managing it); a held place passes on",
    responses=error_responses(401, 403, 404, 409, 422),
    operation_id="leaveWaitlist",
)
async def leave(
    entry_id: uuid.UUID, session: SessionDep, principal: Caller, settings: SettingsDep, now: Now
) -> s.WaitlistEntry:
    entry = await service.leave(session, entry_id, by=principal, terms=service.OfferTerms.of(settings), now=now)
    return await service.to_schema(session, entry)
