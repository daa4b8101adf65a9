import uuid

from booking.clock import Now
from booking.deps import Caller, SettingsDep
from booking.series import schemas as s
from booking.series import service
from service_kit.db import SessionDep
from service_kit.errors import error_responses
from service_kit.routing import service_router

router = service_router(prefix="/api/v1/bookings/series", tags=["series"])


@router.post(
    "",
    status_code=201,
    response_model=s.Series,
    summary="Book a recurring series: weekly on chosen weekdays or every working day, to an end date or a count",
    description=(
        "Each date inside the booking horizon is booked at once as a booking of its own (skipped, rescheduled or "
        "cancelled alone with the bookings' operations); later dates are booked as the horizon reaches them. A "
        "date whose slot is full is reported (``outcome`` full), and waitlisted with ``waitlist_when_full``. "
        "Working days follow China's official calendar (public holidays off, make-up working days on). Send an "
        "Idempotency-Key: a retried request books nothing twice."
    ),
    responses=error_responses(401, 403, 404, 409, 422),
    operation_id="bookSeries",
)
async def book_series(
    data: s.SeriesCreate, session: SessionDep, principal: Caller, settings: SettingsDep, now: Now
) -> s.Series:
    series = await service.create(session, data, by=principal, settings=settings, now=now)
    return await service.to_schema(session, series, viewer=principal)


@router.get(
    "/{series_id}",
    response_model=s.Series,
    summary="A series with each planned date: its booking, or why it has none",
    responses=error_responses(401, 404, 422),
    operation_id="getSeries",
)
async def get_series(series_id: uuid.UUID, session: SessionDep, principal: Caller) -> s.Series:
    series, _ = await service.get_visible(session, series_id, by=principal)
    return await service.to_schema(session, series, viewer=principal)


@router.post(
    "/{series_id}/confirm",
    response_model=s.Series,
    summary="Confirm a series once (its provider, or an operator): its requested dates now, later ones as booked",
    responses=error_responses(401, 403, 404, 409, 422),
    operation_id="confirmSeries",
)
async def confirm_series(
    series_id: uuid.UUID, session: SessionDep, principal: Caller, settings: SettingsDep, now: Now
) -> s.Series:
    series = await service.confirm(session, series_id, by=principal, settings=settings, now=now)
    return await service.to_schema(session, series, viewer=principal)


@router.post(
    "/{series_id}/cancel",
    response_model=s.Series,
    summary="Cancel this date and all future ones, and stop the series; dates that could not be are named",
    responses=error_responses(401, 403, 404, 409, 422),
    operation_id="cancelSeries",
)
async def cancel_series(
    series_id: uuid.UUID, data: s.SeriesCancel, session: SessionDep, principal: Caller, settings: SettingsDep, now: Now
) -> s.Series:
    series, kept = await service.cancel(session, series_id, data, by=principal, settings=settings, now=now)
    return await service.to_schema(session, series, viewer=principal, not_cancelled=kept)
