import uuid
from typing import Annotated

from fastapi import Query

from booking.bookings import schemas as booking_schemas
from booking.bookings import service as bookings_service
from booking.clock import Now
from booking.deps import Caller, SettingsDep
from booking.waitlist import schemas as s
from booking.waitlist import service
from service_kit.db import SessionDep
from service_kit.errors import error_responses
from service_kit.pagination import Page, PaginationDep
from service_kit.routing import service_router
from service_kit.timeutil import Instant

router = service_router(prefix="/api/v1/bookings/waitlist", tags=["waitlist"])
# A resident's own places, beside her card's other lists.
residents_router = service_router(tags=["waitlist"])


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
    return await service.to_schema(session, entry, now)


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
    "/quota",
    response_model=Page[s.ListedWaitlistEntry],
    summary="A funded programme's quota line in order: position, status, offer held until, who (operators, officials)",
    description=(
        "Name the programme by `program_id`, or by `contract_id` and `offering_id`; `offering_id` alone lists the "
        "lines of every programme funding that service (422 `program_required` for none of these; 404 "
        "`program_not_found`, `offering_not_found`). Every status unless `status` narrows it; `position` (1 = "
        "next offered a unit in its programme's line) only while waiting."
    ),
    responses=error_responses(401, 403, 404, 422),
    operation_id="listQuotaWaitlist",
)
async def quota_line(
    session: SessionDep,
    principal: Caller,
    page: PaginationDep,
    now: Now,
    program_id: uuid.UUID | None = None,
    contract_id: uuid.UUID | None = None,
    offering_id: uuid.UUID | None = None,
    status: Annotated[s.Status | None, Query(description="Only the places in this status.")] = None,
) -> Page[s.ListedWaitlistEntry]:
    items, total = await service.quota_line(
        session,
        by=principal,
        program_id=program_id,
        contract_id=contract_id,
        offering_id=offering_id,
        status=status,
        limit=page.limit,
        offset=page.offset,
        now=now,
    )
    return page.of(items, total)


@router.get(
    "/{entry_id}",
    response_model=s.WaitlistEntry,
    summary="A place in a waitlist: position, or the offered place and until when it is held",
    responses=error_responses(401, 404, 422),
    operation_id="getWaitlistEntry",
)
async def get_entry(entry_id: uuid.UUID, session: SessionDep, principal: Caller, now: Now) -> s.WaitlistEntry:
    entry, _ = await service.get_visible(session, entry_id, by=principal)
    return await service.to_schema(session, entry, now)


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
    return await service.to_schema(session, entry, now)


@residents_router.get(
    "/api/v1/residents/{resident_id}/waitlist",
    response_model=Page[s.ListedWaitlistEntry],
    summary="A resident's places in slot and quota waitlists, soonest slot first (operators, she, her helper)",
    description="`open=true`: only the places still waiting or offered (the console's card).",
    responses=error_responses(401, 404, 422),
    operation_id="listResidentWaitlist",
)
async def of_resident(
    resident_id: uuid.UUID,
    session: SessionDep,
    principal: Caller,
    page: PaginationDep,
    now: Now,
    open_only: Annotated[bool, Query(alias="open", description="Only places still in line.")] = False,
) -> Page[s.ListedWaitlistEntry]:
    items, total = await service.of_resident(
        session, resident_id, by=principal, open_only=open_only, limit=page.limit, offset=page.offset, now=now
    )
    return page.of(items, total)
