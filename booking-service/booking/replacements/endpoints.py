import uuid
from typing import Annotated

from fastapi import Depends

from booking.deps import SettingsDep
from booking.replacements import schemas as s
from booking.replacements import service
from booking.replacements.models import ReplacementStatus
from service_kit.auth import Principal, Role, require_roles
from service_kit.db import SessionDep
from service_kit.errors import error_responses
from service_kit.pagination import Page, PaginationDep
from service_kit.routing import service_router

router = service_router(prefix="/api/v1/bookings/replacements", tags=["bookings"])

Staff = Annotated[Principal, Depends(require_roles(Role.operator, Role.official))]
Operator = Annotated[Principal, Depends(require_roles(Role.operator))]

WHAT_HAPPENS = (
    "When a contract's funding of an offering ends (the contract is terminated, an amendment drops the offering, "
    "or its last day passes), each upcoming booking of that offering by a resident the contract funded is listed "
    "here. The booking itself is not changed: it keeps the price and the subsidy it was booked with, so the "
    "resident never pays more than they were told, and it can still be delivered. A sanction of the provider "
    "alone lists nothing: its contracts continue until they end."
)


@router.get(
    "",
    response_model=Page[s.Replacement],
    summary="Residents whose funded booking lost its contract, with equivalent funded services near home",
    description=WHAT_HAPPENS
    + " Each open entry suggests equivalent funded services in the resident's 15-minute circle (same category, "
    "another active contract's funded offering the resident is eligible for, with quota left), nearest first. "
    "Operators, officials and admins; status=open (default) lists who still needs one.",
    responses=error_responses(401, 403, 422),
)
async def list_replacements(
    session: SessionDep,
    principal: Staff,
    settings: SettingsDep,
    page: PaginationDep,
    status: ReplacementStatus | None = ReplacementStatus.open,
) -> Page[s.Replacement]:
    items, total = await service.list_page(
        session, status=status, by=principal, settings=settings, limit=page.limit, offset=page.offset
    )
    return page.of(items, total)


@router.post(
    "/{replacement_id}/handle",
    response_model=s.Replacement,
    summary="Close a replacement: the resident was rebooked onto an alternative, or declined one",
    description=(
        "rebooked names the new booking (made first through POST /api/v1/bookings); the old booking, if still "
        "upcoming, is then cancelled and its slot given back. declined leaves the old booking as it is, at the "
        "price it was booked with. Operators and admins; recorded in the resident's acting-for audit. A "
        "replacement is handled once: a second close answers 409 replacement_already_handled."
    ),
    responses=error_responses(401, 403, 404, 409, 422),
)
async def handle_replacement(
    replacement_id: uuid.UUID,
    data: s.ReplacementHandle,
    session: SessionDep,
    principal: Operator,
    settings: SettingsDep,
) -> s.Replacement:
    return await service.handle(session, replacement_id, data, by=principal, settings=settings)
