import uuid
from typing import Annotated

from fastapi import Depends

from registry.organizations import service
from registry.organizations.models import OrganizationKind, OrganizationStatus
from registry.organizations.schemas import Organization, OrganizationCreate, StatusChange, StatusChangeReason
from service_kit.auth import OptionalPrincipal, Principal, Role, require_roles
from service_kit.db import ReadSessionDep, SessionDep
from service_kit.errors import error_responses
from service_kit.pagination import Page, PaginationDep
from service_kit.routing import service_router

router = service_router(prefix="/api/v1/organizations", tags=["organizations"])

Applicant = Annotated[Principal, Depends(require_roles(Role.official, Role.provider_admin))]
Official = Annotated[Principal, Depends(require_roles(Role.official))]


@router.post("", status_code=201, response_model=Organization, responses=error_responses(401, 403, 409, 422))
async def apply_organization(data: OrganizationCreate, session: SessionDep, principal: Applicant) -> Organization:
    """Register an organization (an official) or apply as one (a provider's admin); it starts ``applied``."""
    return Organization.of(await service.apply(session, data, by=principal))


@router.get("", response_model=Page[Organization], responses=error_responses(401, 422))
async def list_organizations(
    session: ReadSessionDep,
    principal: OptionalPrincipal,
    page: PaginationDep,
    kind: OrganizationKind | None = None,
    status: OrganizationStatus | None = None,
) -> Page[Organization]:
    """Verified providers for everyone; officials, admins and operators see every status."""
    items, total = await service.list_visible(
        session, principal, kind=kind, status=status, limit=page.limit, offset=page.offset
    )
    return page.of([Organization.of(o) for o in items], total)


@router.get("/{organization_id}", response_model=Organization, responses=error_responses(401, 404, 422))
async def get_organization(
    organization_id: uuid.UUID, session: ReadSessionDep, principal: OptionalPrincipal
) -> Organization:
    return Organization.of(await service.get_visible(session, organization_id, principal))


@router.post(
    "/{organization_id}/verify", response_model=Organization, responses=error_responses(401, 403, 404, 409, 422)
)
async def verify_organization(organization_id: uuid.UUID, session: SessionDep, principal: Official) -> Organization:
    """An official checked the application: the provider may publish offerings and take bookings."""
    return Organization.of(
        await service.change_status(session, organization_id, service.VERIFY, by=principal, reason=None)
    )


@router.post(
    "/{organization_id}/suspend", response_model=Organization, responses=error_responses(401, 403, 404, 409, 422)
)
async def suspend_organization(
    organization_id: uuid.UUID, data: StatusChangeReason, session: SessionDep, principal: Official
) -> Organization:
    """Stop a verified provider from taking new bookings, for a stated reason."""
    return Organization.of(
        await service.change_status(session, organization_id, service.SUSPEND, by=principal, reason=data.reason)
    )


@router.post(
    "/{organization_id}/reinstate", response_model=Organization, responses=error_responses(401, 403, 404, 409, 422)
)
async def reinstate_organization(
    organization_id: uuid.UUID, data: StatusChangeReason, session: SessionDep, principal: Official
) -> Organization:
    """Lift a suspension: the provider is verified again."""
    return Organization.of(
        await service.change_status(session, organization_id, service.REINSTATE, by=principal, reason=data.reason)
    )


@router.get(
    "/{organization_id}/status-history",
    response_model=list[StatusChange],
    responses=error_responses(401, 403, 404, 422),
)
async def organization_status_history(
    organization_id: uuid.UUID, session: ReadSessionDep, _principal: Official
) -> list[StatusChange]:
    """The audit trail: every status the organization had, who set it, when and why."""
    return [StatusChange.of(c) for c in await service.status_history(session, organization_id)]
