import uuid
from datetime import date
from typing import Annotated

from fastapi import Depends, Query

from booking.availability import schemas as s
from booking.availability import service
from booking.deps import SettingsDep
from booking.rules import schemas as rules_schemas
from booking.rules import service as rules_service
from service_kit.auth import Principal, Role, require_roles
from service_kit.db import ReadSessionDep, SessionDep
from service_kit.errors import error_responses
from service_kit.routing import service_router

router = service_router(prefix="/api/v1/availability", tags=["availability"])


@router.get(
    "",
    response_model=s.Availability,
    response_model_by_alias=True,
    summary="Free slots of an offering between two dates (at most 31 days)",
    responses=error_responses(404, 422),
)
async def get_availability(
    session: ReadSessionDep,
    offering_id: uuid.UUID,
    from_date: Annotated[date, Query(alias="from")],
    to_date: Annotated[date, Query(alias="to")],
    settings: SettingsDep,
) -> s.Availability:
    return await service.for_offering(session, offering_id, from_date, to_date, settings)


@router.get(
    "/{offering_id}/rules",
    response_model=rules_schemas.BookingRules,
    summary="The booking rules in force for an offering (lead time, horizon, cancellation window, expiry)",
    responses=error_responses(404, 422),
)
async def get_booking_rules(
    offering_id: uuid.UUID, session: ReadSessionDep, settings: SettingsDep
) -> rules_schemas.BookingRules:
    return await rules_service.describe(session, offering_id, settings)


@router.put(
    "/{offering_id}/rules",
    response_model=rules_schemas.BookingRules,
    summary="Set an offering's own booking rules (its provider_admin, or an operator); null follows the default",
    responses=error_responses(401, 403, 404, 422),
)
async def put_booking_rules(
    offering_id: uuid.UUID,
    data: rules_schemas.BookingRulesUpdate,
    session: SessionDep,
    settings: SettingsDep,
    principal: Annotated[Principal, Depends(require_roles(Role.provider_admin, Role.operator))],
) -> rules_schemas.BookingRules:
    return await rules_service.set_rules(session, offering_id, data, by=principal, settings=settings)
