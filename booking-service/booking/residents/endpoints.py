import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from booking.residents import schemas as s
from booking.residents import service
from service_kit.auth import CurrentPrincipal, Principal, Role, require_roles
from service_kit.db import SessionDep
from service_kit.errors import error_responses

router = APIRouter(prefix="/api/v1/residents", tags=["residents"])

Operator = Annotated[Principal, Depends(require_roles(Role.operator))]


@router.post(
    "",
    status_code=201,
    response_model=s.Resident,
    summary="Register a resident (operator), with consent and eligibility tags",
    responses=error_responses(401, 403, 409, 422),
)
async def register_resident(data: s.ResidentCreate, session: SessionDep, principal: Operator) -> s.Resident:
    resident = await service.register(session, data, by=principal)
    return service.to_schema(resident, principal)


@router.get(
    "",
    response_model=s.ResidentList,
    summary="Find a resident by exact phone number (operator)",
    responses=error_responses(401, 403, 422),
)
async def find_residents(
    session: SessionDep,
    principal: Operator,
    phone: Annotated[str, Query(min_length=3, max_length=32)],
) -> s.ResidentList:
    residents = await service.find_by_phone(session, phone)
    return s.ResidentList(items=[service.to_schema(r, principal) for r in residents])


@router.get(
    "/{resident_id}",
    response_model=s.Resident,
    summary="A resident (operator; a resident only themself)",
    responses=error_responses(401, 404, 422),
)
async def get_resident(resident_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal) -> s.Resident:
    resident = await service.get_visible(session, resident_id, by=principal)
    return service.to_schema(resident, principal)
