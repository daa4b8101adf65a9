"""HSDS 3.0 read API (Open Referral): public, no login. Paging follows HSDS (``page`` from 1, ``per_page``)."""

import uuid
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Query, Request

from registry.opendata import hsds_openapi, repository, service
from registry.opendata.service import HsdsPage, ServiceFilters
from service_kit.db import ReadSessionDep
from service_kit.errors import error_responses
from service_kit.links import public_base_url, public_url
from service_kit.operation_ids import prefixed
from service_kit.routing import service_router
from service_kit.timeutil import Instant

# hsdsListServices: HSDS's names, apart from Linli's own and Open311's.
router = service_router(
    prefix="/open-data/hsds", tags=["open data (HSDS 3.0)"], generate_unique_id_function=prefixed("hsds")
)


@dataclass(frozen=True)
class Paging:
    page: int
    per_page: int

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.per_page


async def _paging(
    page: Annotated[int, Query(ge=1, le=100_000, description="Page number, from 1.")] = 1,
    per_page: Annotated[int, Query(ge=1, le=200, description="Items per page.")] = 50,
) -> Paging:
    return Paging(page, per_page)


PagingDep = Annotated[Paging, Depends(_paging)]


async def _filters(
    taxonomy_term_id: uuid.UUID | None = None,
    organization_id: uuid.UUID | None = None,
    modified_after: Instant | None = None,
    proximity: Annotated[int | None, Query(ge=1, le=50_000, description="Metres from the origin.")] = None,
    lat: Annotated[float | None, Query(ge=-90, le=90)] = None,
    lng: Annotated[float | None, Query(ge=-180, le=180)] = None,
    community_code: Annotated[
        str | None, Query(min_length=1, max_length=32, description="Origin of ``proximity``: a community centroid.")
    ] = None,
) -> ServiceFilters:
    return ServiceFilters(
        taxonomy_term_id=taxonomy_term_id,
        organization_id=organization_id,
        modified_after=modified_after,
        proximity_m=proximity,
        lat=lat,
        lng=lng,
        community_code=community_code,
    )


FiltersDep = Annotated[ServiceFilters, Depends(_filters)]


@router.get("/")
async def about(request: Request) -> dict[str, str]:
    """Which HSDS version and profile this API follows, and where its OpenAPI document is (at the configured
    public address)."""
    return {
        "version": service.HSDS_VERSION,
        "profile": service.HSDS_PROFILE,
        "openapi_url": public_url(request, f"{hsds_openapi.PREFIX}/openapi.json"),
    }


@router.get("/openapi.json")
async def openapi_document(request: Request) -> dict[str, Any]:
    """This API as an HSDS 3.0 OpenAPI document: Open Referral's, with its server the public address and only
    the operations and parameters answered here."""
    return hsds_openapi.document(request.app.openapi(), public_base_url(request), service.HSDS_VERSION)


@router.get("/services", responses=error_responses(404, 422))
async def list_services(session: ReadSessionDep, paging: PagingDep, filters: FiltersDep) -> dict[str, Any]:
    """Published services (``service_list``), filtered by taxonomy term, organization, modification time and
    proximity to a point or community."""
    rows, total, _ = await service.services(session, filters, page=paging.page, per_page=paging.per_page)
    return HsdsPage([service.service(o, org) for o, org in rows], total, paging.page, paging.per_page).render()


@router.get("/services/{service_id}", responses=error_responses(404, 422))
async def get_service(service_id: uuid.UUID, session: ReadSessionDep) -> dict[str, Any]:
    """One service, fully nested: schedules, cost options, service areas, taxonomy, locations."""
    return await service.service_by_id(session, service_id)


@router.get("/service_at_locations", responses=error_responses(404, 422))
async def list_service_at_locations(session: ReadSessionDep, paging: PagingDep, filters: FiltersDep) -> dict[str, Any]:
    """Where each located service is given (a service center or the offering's own point)."""
    rows, total, ctx = await service.services(
        session, filters, page=paging.page, per_page=paging.per_page, located_only=True
    )
    contents = [service.service_at_location(o, org, ctx) for o, org in rows]
    return HsdsPage(contents, total, paging.page, paging.per_page).render()


@router.get("/organizations", responses=error_responses(422))
async def list_organizations(session: ReadSessionDep, paging: PagingDep) -> dict[str, Any]:
    rows, total = await repository.organizations_page(session, limit=paging.per_page, offset=paging.offset)
    return HsdsPage([service.organization(o) for o in rows], total, paging.page, paging.per_page).render()


@router.get("/organizations/{organization_id}", responses=error_responses(404, 422))
async def get_organization(organization_id: uuid.UUID, session: ReadSessionDep) -> dict[str, Any]:
    return await service.organization_by_id(session, organization_id)


@router.get("/taxonomies", responses=error_responses(422))
async def list_taxonomies(paging: PagingDep) -> dict[str, Any]:
    contents = [service.taxonomy()] if paging.page == 1 else []
    return HsdsPage(contents, 1, paging.page, paging.per_page).render()


@router.get("/taxonomy_terms", responses=error_responses(422))
async def list_taxonomy_terms(
    session: ReadSessionDep, paging: PagingDep, taxonomy_id: uuid.UUID | None = None
) -> dict[str, Any]:
    terms = list((await repository.categories(session)).values())
    if taxonomy_id is not None and taxonomy_id != service.TAXONOMY_ID:
        terms = []
    contents = [service.taxonomy_term(c) for c in terms[paging.offset : paging.offset + paging.per_page]]
    return HsdsPage(contents, len(terms), paging.page, paging.per_page).render()
