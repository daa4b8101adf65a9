import uuid
from typing import Annotated

from fastapi import Depends, Query

from registry.offerings import service
from registry.offerings.models import OfferingStatus
from registry.offerings.schemas import Offering, OfferingCreate, OfferingUpdate
from service_kit.auth import OptionalPrincipal, Principal, Role, require_roles
from service_kit.db import ReadSessionDep, SessionDep
from service_kit.errors import error_responses
from service_kit.pagination import Page, PaginationDep
from service_kit.routing import service_router

router = service_router(prefix="/api/v1/offerings", tags=["offerings"])

Manager = Annotated[Principal, Depends(require_roles(Role.official, Role.provider_admin, Role.provider_system))]


@router.post("", status_code=201, response_model=Offering, responses=error_responses(401, 403, 404, 422))
async def create_offering(data: OfferingCreate, session: SessionDep, principal: Manager) -> Offering:
    """A draft offering of ``provider_id``, by that provider's admin or an official."""
    return Offering.model_validate(await service.create(session, data, by=principal))


@router.get("", response_model=Page[Offering], responses=error_responses(401, 422))
async def list_offerings(
    session: ReadSessionDep,
    principal: OptionalPrincipal,
    page: PaginationDep,
    provider_id: uuid.UUID | None = None,
    category_code: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
    status: OfferingStatus | None = None,
) -> Page[Offering]:
    """Published offerings; staff and a provider's own people also see drafts and withdrawn ones.
    ``category_code`` may name a top-level category to list all its leaves."""
    items, total = await service.list_visible(
        session,
        principal,
        provider_id=provider_id,
        category_code=category_code,
        status=status,
        limit=page.limit,
        offset=page.offset,
    )
    return page.of([Offering.model_validate(o) for o in items], total)


@router.get("/{offering_id}", response_model=Offering, responses=error_responses(401, 404, 422))
async def get_offering(offering_id: uuid.UUID, session: ReadSessionDep, principal: OptionalPrincipal) -> Offering:
    return Offering.model_validate(await service.get_visible(session, offering_id, principal))


@router.patch("/{offering_id}", response_model=Offering, responses=error_responses(401, 403, 404, 409, 422))
async def update_offering(
    offering_id: uuid.UUID, data: OfferingUpdate, session: SessionDep, principal: Manager
) -> Offering:
    """Change fields of an offering; a published one announces its new version to booking."""
    return Offering.model_validate(await service.update(session, offering_id, data, by=principal))


@router.post("/{offering_id}/publish", response_model=Offering, responses=error_responses(401, 403, 404, 409, 422))
async def publish_offering(offering_id: uuid.UUID, session: SessionDep, principal: Manager) -> Offering:
    """Make the offering bookable (the provider must be verified); emits ``offering.published``."""
    return Offering.model_validate(await service.publish(session, offering_id, by=principal))


@router.post("/{offering_id}/withdraw", response_model=Offering, responses=error_responses(401, 403, 404, 409, 422))
async def withdraw_offering(offering_id: uuid.UUID, session: SessionDep, principal: Manager) -> Offering:
    """Stop new bookings of the offering; emits ``offering.withdrawn``."""
    return Offering.model_validate(await service.withdraw(session, offering_id, by=principal))
