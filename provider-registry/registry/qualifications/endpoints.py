import uuid
from typing import Annotated

from fastapi import Depends, Query

from registry.qualifications import service
from registry.qualifications.schemas import (
    Qualification,
    QualificationCreate,
    StaffCreate,
    StaffMember,
    StaffUpdate,
)
from service_kit.auth import CurrentPrincipal, OptionalPrincipal, Principal, Role, require_roles
from service_kit.db import ReadSessionDep, SessionDep
from service_kit.errors import error_responses
from service_kit.pagination import Page, PaginationDep
from service_kit.routing import service_router

router = service_router(prefix="/api/v1", tags=["qualifications and staff"])

Manager = Annotated[Principal, Depends(require_roles(Role.official, Role.admin, Role.provider_admin))]
Official = Annotated[Principal, Depends(require_roles(Role.official, Role.admin))]


@router.post(
    "/organizations/{organization_id}/qualifications",
    status_code=201,
    response_model=Qualification,
    responses=error_responses(401, 403, 404, 422),
)
async def add_qualification(
    organization_id: uuid.UUID, data: QualificationCreate, session: SessionDep, principal: Manager
) -> Qualification:
    """A license of the organization: issuer, number, validity dates (its own admin or an official)."""
    return service.describe(await service.add(session, organization_id, data, by=principal))


@router.get(
    "/organizations/{organization_id}/qualifications",
    response_model=Page[Qualification],
    responses=error_responses(401, 404, 422),
)
async def list_qualifications(
    organization_id: uuid.UUID, session: ReadSessionDep, principal: OptionalPrincipal, page: PaginationDep
) -> Page[Qualification]:
    items, total = await service.list_for(session, organization_id, principal, limit=page.limit, offset=page.offset)
    return page.of([service.describe(q) for q in items], total)


@router.get("/qualifications/expiring", response_model=Page[Qualification], responses=error_responses(401, 403, 422))
async def expiring_qualifications(
    session: ReadSessionDep,
    _principal: Official,
    page: PaginationDep,
    within_days: Annotated[int, Query(ge=0, le=3650)] = 30,
) -> Page[Qualification]:
    """Licenses valid today that end within ``within_days`` days, soonest first: whom to remind."""
    items, total = await service.expiring(session, within_days=within_days, limit=page.limit, offset=page.offset)
    return page.of([service.describe(q) for q in items], total)


@router.post(
    "/organizations/{organization_id}/staff",
    status_code=201,
    response_model=StaffMember,
    responses=error_responses(401, 403, 404, 422),
)
async def add_staff_member(
    organization_id: uuid.UUID, data: StaffCreate, session: SessionDep, principal: Manager
) -> StaffMember:
    """A caregiver, nurse or counselor of the provider, with certifications."""
    member = await service.add_staff(session, organization_id, data, by=principal)
    return service.present_staff(member, principal)


@router.get(
    "/organizations/{organization_id}/staff",
    response_model=Page[StaffMember],
    responses=error_responses(401, 404, 422),
)
async def list_staff(
    organization_id: uuid.UUID, session: ReadSessionDep, principal: CurrentPrincipal, page: PaginationDep
) -> Page[StaffMember]:
    """The provider's people, for staff and the provider itself; phones are masked for operators."""
    items, total = await service.list_staff(session, organization_id, principal, limit=page.limit, offset=page.offset)
    return page.of([service.present_staff(m, principal) for m in items], total)


@router.patch(
    "/organizations/{organization_id}/staff/{staff_id}",
    response_model=StaffMember,
    responses=error_responses(401, 403, 404, 422),
)
async def update_staff_member(
    organization_id: uuid.UUID, staff_id: uuid.UUID, data: StaffUpdate, session: SessionDep, principal: Manager
) -> StaffMember:
    member = await service.update_staff(session, organization_id, staff_id, data, by=principal)
    return service.present_staff(member, principal)
