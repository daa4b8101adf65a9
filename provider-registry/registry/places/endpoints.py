import uuid
from typing import Annotated, Any

from fastapi import Depends, Path, Query, Request, Response
from pydantic import TypeAdapter

from registry.places import service
from registry.places.schemas import (
    Community,
    CommunityCreate,
    CommunityUpdate,
    ServiceCenter,
    ServiceCenterCreate,
    ServiceCenterUpdate,
    Street,
    StreetCreate,
    StreetUpdate,
)
from registry.reference.answers import PUBLIC_MINUTE, READ_MOSTLY
from service_kit.auth import Principal, Role, require_roles
from service_kit.db import ReadSessionDep, SessionDep
from service_kit.errors import error_responses
from service_kit.pagination import Page, PaginationDep
from service_kit.routing import service_router

router = service_router(prefix="/api/v1", tags=["gazetteer"])

Official = Annotated[Principal, Depends(require_roles(Role.official, Role.admin))]
StreetCodePath = Annotated[str, Path(min_length=1, max_length=32)]
CommunityCodePath = Annotated[str, Path(min_length=1, max_length=32)]


@router.get("/streets", response_model=Page[Street], responses=error_responses(422))
async def list_streets(session: ReadSessionDep, page: PaginationDep) -> Page[Street]:
    """The district's streets and towns (街道/乡镇) with their centroids."""
    items, total = await service.list_streets(session, limit=page.limit, offset=page.offset)
    return page.of([Street.model_validate(s) for s in items], total)


@router.get("/streets/{code}", response_model=Street, responses=error_responses(404, 422))
async def get_street(code: StreetCodePath, session: ReadSessionDep) -> Street:
    return Street.model_validate(await service.get_street(session, code))


@router.post("/streets", status_code=201, response_model=Street, responses=error_responses(401, 403, 409, 422))
async def add_street(data: StreetCreate, session: SessionDep, _principal: Official) -> Street:
    """An official adds a street or town to the gazetteer."""
    return Street.model_validate(await service.add_street(session, data))


@router.patch("/streets/{code}", response_model=Street, responses=error_responses(401, 403, 404, 422))
async def update_street(code: StreetCodePath, data: StreetUpdate, session: SessionDep, _principal: Official) -> Street:
    return Street.model_validate(await service.update_street(session, code, data))


COMMUNITIES, COMMUNITY = TypeAdapter(Page[Community]), TypeAdapter(Community)
CENTERS, CENTER = TypeAdapter(Page[ServiceCenter]), TypeAdapter(ServiceCenter)
NOT_MODIFIED: dict[int | str, dict[str, Any]] = {304: {"description": "Not modified (If-None-Match)."}}


@router.get("/communities", response_model=Page[Community], responses={**error_responses(404, 422), **NOT_MODIFIED})
async def list_communities(
    request: Request,
    session: ReadSessionDep,
    page: PaginationDep,
    street_code: Annotated[str | None, Query(min_length=1, max_length=32)] = None,
) -> Response:
    """Communities (社区), all of the district or of one street. Served from memory until a community changes."""

    async def render() -> Page[Community]:
        items, total = await service.list_communities(
            session, street_code=street_code, limit=page.limit, offset=page.offset
        )
        return page.of([Community.model_validate(c) for c in items], total)

    return await READ_MOSTLY.answer(request, "communities", render, COMMUNITIES, cache_control=PUBLIC_MINUTE)


@router.get("/communities/{code}", response_model=Community, responses={**error_responses(404, 422), **NOT_MODIFIED})
async def get_community(request: Request, code: CommunityCodePath, session: ReadSessionDep) -> Response:
    async def render() -> Community:
        return Community.model_validate(await service.get_community(session, code))

    return await READ_MOSTLY.answer(request, "communities", render, COMMUNITY, cache_control=PUBLIC_MINUTE)


@router.post(
    "/communities", status_code=201, response_model=Community, responses=error_responses(401, 403, 404, 409, 422)
)
async def add_community(data: CommunityCreate, session: SessionDep, _principal: Official) -> Community:
    """An official adds a community to a street; its code starts with the street's code."""
    return Community.model_validate(await service.add_community(session, data))


@router.patch("/communities/{code}", response_model=Community, responses=error_responses(401, 403, 404, 422))
async def update_community(
    code: CommunityCodePath, data: CommunityUpdate, session: SessionDep, _principal: Official
) -> Community:
    return Community.model_validate(await service.update_community(session, code, data))


@router.get("/service-centers", response_model=Page[ServiceCenter], responses={**error_responses(422), **NOT_MODIFIED})
async def list_service_centers(
    request: Request, session: ReadSessionDep, page: PaginationDep, operator_id: uuid.UUID | None = None
) -> Response:
    """Regional community service centers (区域性社区综合服务中心). Served from memory until a center changes."""

    async def render() -> Page[ServiceCenter]:
        items, total = await service.list_centers(
            session, operator_id=operator_id, limit=page.limit, offset=page.offset
        )
        return page.of([ServiceCenter.model_validate(c) for c in items], total)

    return await READ_MOSTLY.answer(request, "service_centers", render, CENTERS, cache_control=PUBLIC_MINUTE)


@router.get(
    "/service-centers/{center_id}",
    response_model=ServiceCenter,
    responses={**error_responses(404, 422), **NOT_MODIFIED},
)
async def get_service_center(request: Request, center_id: uuid.UUID, session: ReadSessionDep) -> Response:
    async def render() -> ServiceCenter:
        return ServiceCenter.model_validate(await service.get_center(session, center_id))

    return await READ_MOSTLY.answer(request, "service_centers", render, CENTER, cache_control=PUBLIC_MINUTE)


@router.post(
    "/service-centers", status_code=201, response_model=ServiceCenter, responses=error_responses(401, 403, 404, 422)
)
async def add_service_center(data: ServiceCenterCreate, session: SessionDep, _principal: Official) -> ServiceCenter:
    """An official registers a service center: where it is, who runs it, when it opens, whom it serves."""
    return ServiceCenter.model_validate(await service.add_center(session, data))


@router.patch(
    "/service-centers/{center_id}", response_model=ServiceCenter, responses=error_responses(401, 403, 404, 422)
)
async def update_service_center(
    center_id: uuid.UUID, data: ServiceCenterUpdate, session: SessionDep, _principal: Official
) -> ServiceCenter:
    """Change a center; offerings given at the center move with it."""
    return ServiceCenter.model_validate(await service.update_center(session, center_id, data))
