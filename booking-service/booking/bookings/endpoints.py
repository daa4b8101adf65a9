import uuid
from datetime import date
from typing import Annotated, Any, Literal

from fastapi import Body, Query

from booking.bookings import examples, service
from booking.bookings import schemas as s
from booking.bookings.models import BookingStatus
from booking.clock import Now
from booking.deps import Caller, SettingsDep
from service_kit.db import SessionDep
from service_kit.errors import error_responses
from service_kit.pagination import Page, PaginationDep
from service_kit.routing import service_router
from service_kit.timeutil import Day, Instant

router = service_router(prefix="/api/v1/bookings", tags=["bookings"])


@router.post(
    "",
    status_code=201,
    response_model=s.Booking,
    summary="Book one unit of a slot (operator for a resident, a resident for themself, a provider)",
    responses=error_responses(401, 403, 404, 409, 422),
    openapi_extra=examples.CREATE,
)
async def create_booking(
    data: s.BookingCreate, session: SessionDep, principal: Caller, settings: SettingsDep, now: Now
) -> s.Booking:
    return await service.book(session, data, by=principal, settings=settings, now=now)


@router.get(
    "",
    response_model=Page[s.Booking],
    summary="Bookings: a resident's own, a provider's own, or any resident's (operator), with search filters",
    description=(
        "Filters narrow what the caller may see, never widen it: a resident sees only their own bookings and a "
        "provider only its own whatever the filters. Operators and admins may also search by the resident's "
        "phone (a whole number, or its last 4 to 10 digits)."
    ),
    responses=error_responses(401, 403, 404, 422),
    openapi_extra=examples.LIST,
)
async def list_bookings(
    session: SessionDep,
    principal: Caller,
    page: PaginationDep,
    resident_id: uuid.UUID | None = None,
    status: BookingStatus | None = None,
    provider_id: uuid.UUID | None = None,
    phone: Annotated[
        str | None,
        Query(min_length=4, max_length=32, description="The resident's phone, or its last 4 to 10 digits."),
    ] = None,
    day: Annotated[Day | None, Query(alias="date", description="The slot's local (Beijing) date.")] = None,
    from_day: Annotated[Day | None, Query(alias="from", description="First local date of the slots.")] = None,
    to_day: Annotated[Day | None, Query(alias="to", description="Last local date of the slots (inclusive).")] = None,
    created_from: Annotated[Instant | None, Query(description="Made at or after this instant.")] = None,
    created_before: Annotated[Instant | None, Query(description="Made before this instant.")] = None,
) -> Page[s.Booking]:
    search = service.BookingSearch(
        resident_id=resident_id,
        status=status,
        provider_id=provider_id,
        phone=phone,
        day=day,
        from_day=from_day,
        to_day=to_day,
        created_from=created_from,
        created_before=created_before,
    )
    bookings, total = await service.list_visible(
        session, by=principal, search=search, limit=page.limit, offset=page.offset
    )
    items = await service.to_schemas(session, bookings, viewer=principal)
    return page.of(items, total)


@router.get(
    "/quote",
    response_model=s.Quote,
    summary="What a resident would pay for an offering if booked now: the funded price and the subsidy",
    description=(
        "Nothing is booked and no quota is drawn: the quota may be used up by the time the booking is made, and "
        "the booking then carries the offering's own price. Residents quote for themselves."
    ),
    responses=error_responses(401, 403, 404, 422),
    operation_id="quoteBooking",
    openapi_extra=examples.QUOTE,
)
async def quote(
    session: SessionDep,
    principal: Caller,
    offering_id: uuid.UUID,
    settings: SettingsDep,
    resident_id: uuid.UUID | None = None,
    day: Annotated[date | None, Query(alias="date", description="The slot's local date (default today).")] = None,
    contract_id: Annotated[
        uuid.UUID | None, Query(description="Quote under this programme (422 not_eligible when she is not).")
    ] = None,
) -> s.Quote:
    return await service.quote(
        session, offering_id, resident_id, day, by=principal, settings=settings, contract_id=contract_id
    )


@router.get(
    "/provider-missed",
    response_model=Page[s.Booking],
    summary="Visits the provider did not come to (no check-in by the end of the slot): operators' alerts",
    description=(
        "Oldest first. By default only open alerts; ``state=all`` includes the ones operators closed. Each booking "
        "carries ``provider_missed`` (when it was marked, and who closed it with what note). Operators, officials "
        "and admins."
    ),
    responses=error_responses(401, 403, 422),
)
async def list_provider_missed(
    session: SessionDep,
    principal: Caller,
    page: PaginationDep,
    state: Annotated[Literal["open", "all"], Query(description="open (default) or all.")] = "open",
) -> Page[s.Booking]:
    bookings, total = await service.provider_missed_alerts(
        session, by=principal, open_only=state == "open", limit=page.limit, offset=page.offset
    )
    items = await service.to_schemas(session, bookings, viewer=principal)
    return page.of(items, total)


@router.post(
    "/{booking_id}/provider-missed/close",
    response_model=s.Booking,
    summary="Close a provider-missed alert with a note of what was done (operators, officials, admins; audited)",
    responses=error_responses(401, 403, 404, 409, 422),
)
async def close_provider_missed(
    booking_id: uuid.UUID, data: s.ProviderMissedClose, session: SessionDep, principal: Caller, now: Now
) -> s.Booking:
    booking = await service.close_provider_missed(session, booking_id, data.note, by=principal, now=now)
    return (await service.to_schemas(session, [booking], viewer=principal))[0]


@router.get(
    "/{booking_id}",
    response_model=s.Booking,
    summary="One booking (its resident, its provider, or staff)",
    responses=error_responses(401, 404, 422),
)
async def get_booking(booking_id: uuid.UUID, session: SessionDep, principal: Caller) -> s.Booking:
    booking = await service.view(session, booking_id, by=principal)
    return (await service.to_schemas(session, [booking], viewer=principal))[0]


@router.post(
    "/{booking_id}/reschedule",
    response_model=s.Booking,
    summary="Move a requested or confirmed booking to another slot of its offering, atomically",
    description=(
        "The new slot's place is taken first, then the old one is given back; when the new slot is full the "
        "booking is left unchanged (409 slot_full). A resident may reschedule only outside the cancellation "
        "window. A subsidised booking moved into another month (or week) gives its entitlement unit back to the "
        "old one and draws one in the new; when the new one's allowance is used up the booking is left unchanged "
        "(409 entitlement_used_up, naming the period and what is left). Emits booking.rescheduled."
    ),
    responses=error_responses(401, 403, 404, 409, 422),
)
async def reschedule_booking(
    booking_id: uuid.UUID,
    data: s.BookingReschedule,
    session: SessionDep,
    principal: Caller,
    settings: SettingsDep,
    now: Now,
) -> s.Booking:
    booking = await service.reschedule(session, booking_id, data, by=principal, settings=settings, now=now)
    return (await service.to_schemas(session, [booking], viewer=principal))[0]


@router.post(
    "/{booking_id}/assign",
    response_model=s.Booking,
    summary="Assign the provider's staff member who delivers a requested or confirmed booking",
    description=(
        "By the provider's administrator (its own bookings) or an operator. A later assignment replaces an "
        "earlier one. A check-in by another provider staff member is still accepted but flagged "
        "(visit.staff_mismatch)."
    ),
    responses=error_responses(401, 403, 404, 409, 422),
)
async def assign_staff(
    booking_id: uuid.UUID, data: s.BookingAssign, session: SessionDep, principal: Caller
) -> s.Booking:
    booking = await service.assign(session, booking_id, data, by=principal)
    return (await service.to_schemas(session, [booking], viewer=principal))[0]


@router.get(
    "/{booking_id}/visit-details",
    response_model=s.VisitDetails,
    summary="The address, access notes and a number to call, for the staff member assigned to a home visit",
    description=(
        "Only the provider_staff member assigned to a confirmed door-to-door booking, from "
        "`LINLI_VISIT_DETAILS_LEAD_MINUTES` (120) before its slot until the slot ends; each look is recorded in the "
        "resident's log (`GET /api/v1/residents/{id}/acting-for`, action `visit_details`). The number is the "
        "provider's relay number for the visit when it set one at assignment, else the resident's phone. Others, "
        "the provider's admin and API keys included, are refused (403) and plan from the booking's `visit_area`."
    ),
    responses=error_responses(401, 403, 404, 409, 422),
    operation_id="getVisitDetails",
)
async def get_visit_details(
    booking_id: uuid.UUID, session: SessionDep, principal: Caller, settings: SettingsDep, now: Now
) -> s.VisitDetails:
    return await service.visit_details(session, booking_id, by=principal, now=now, settings=settings)


TransitionBody = Annotated[s.BookingTransition | None, Body()]


def _transition_route(action: str, path: str, summary: str, openapi_extra: dict[str, Any] | None = None) -> None:
    async def transition(
        booking_id: uuid.UUID,
        session: SessionDep,
        principal: Caller,
        settings: SettingsDep,
        now: Now,
        data: TransitionBody = None,
    ) -> s.Booking:
        booking = await service.change(
            session,
            booking_id,
            action,
            by=principal,
            reason=data.reason if data is not None else None,
            position=data.position if data is not None else None,
            settings=settings,
            now=now,
        )
        return (await service.to_schemas(session, [booking], viewer=principal))[0]

    transition.__name__ = f"{action}_booking"
    router.add_api_route(
        f"/{{booking_id}}/{path}",
        transition,
        methods=["POST"],
        response_model=s.Booking,
        summary=summary,
        responses=error_responses(401, 403, 404, 409, 422),
        openapi_extra=openapi_extra,
    )


_transition_route("confirm", "confirm", "Confirm a requested booking (its provider, or an operator)")
_transition_route("reject", "reject", "Reject a requested booking, with a reason (its provider, or an operator)")
_transition_route(
    "cancel",
    "cancel",
    "Cancel a booking, with a reason (its resident, its provider, or an operator)",
    openapi_extra=examples.CANCEL,
)
_transition_route(
    "start",
    "start",
    "Check in: start the service of a confirmed booking, with an optional position (provider, operator); "
    "not earlier than the configured margin before the slot (409 visit_too_early, with may_start_at)",
)
_transition_route(
    "complete",
    "complete",
    "Check out: complete a booking in service, with an optional position (provider, operator); not before the "
    "configured share of the slot's duration has passed since the check-in (409 visit_too_short, may_complete_at)",
)
_transition_route("no_show", "no-show", "Record that the resident did not come (its provider, or an operator)")
