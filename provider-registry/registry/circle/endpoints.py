from datetime import date
from typing import Annotated

from fastapi import Depends, Query

from registry.circle import examples, service
from registry.circle.schemas import CirclePage, CoverageRow, StreetGaps
from registry.circle.service import CategoryLevel, Filters
from registry.config import Settings, SettingsDep
from registry.offerings.models import OfferingMode
from service_kit.auth import Principal, Role, require_roles
from service_kit.db import ReadSessionDep, SessionDep
from service_kit.errors import error_responses
from service_kit.pagination import Page, PaginationDep
from service_kit.routing import service_router

router = service_router(prefix="/api/v1/circle", tags=["15-minute circle"])

Planner = Annotated[Principal, Depends(require_roles(Role.official, Role.admin))]
Minutes = Annotated[int, Query(ge=1, le=120, description="Minutes on foot (default 15).")]
CommunityCode = Annotated[str | None, Query(min_length=1, max_length=32)]
StreetCode = Annotated[str | None, Query(min_length=1, max_length=32)]


@router.get(
    "/offerings",
    response_model=CirclePage,
    responses=error_responses(404, 422),
    operation_id="searchNearbyOfferings",
    openapi_extra=examples.SEARCH,
)
async def search_circle(
    session: ReadSessionDep,
    settings: SettingsDep,
    page: PaginationDep,
    lat: Annotated[float | None, Query(ge=-90, le=90)] = None,
    lng: Annotated[float | None, Query(ge=-180, le=180)] = None,
    community_code: CommunityCode = None,
    minutes: Minutes = 15,
    category_code: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
    mode: OfferingMode | None = None,
    target_group: Annotated[str | None, Query(min_length=1, max_length=40)] = None,
    free_only: bool = False,
    open_on: date | None = None,
) -> CirclePage:
    """Offerings a resident reaches within ``minutes`` on foot from a point or a community, and door-to-door
    offerings whose service area holds it; nearest first, then by the provider's score. Online offerings are
    not part of the circle."""
    origin = await service.locate(session, lat=lat, lng=lng, community_code=community_code)
    filters = Filters(
        category_code=category_code, mode=mode, target_group=target_group, free_only=free_only, open_on=open_on
    )
    speed = settings.walking_speed_m_per_min
    items, total = await service.search(
        session, origin, minutes=minutes, speed_m_per_min=speed, filters=filters, page=page
    )
    return CirclePage(
        origin=origin,
        minutes=minutes,
        reach_m=round(minutes * speed),
        items=items,
        total=total,
        limit=page.limit,
        offset=page.offset,
    )


async def _coverage(
    session: SessionDep, settings: Settings, *, minutes: int, level: CategoryLevel, street_code: str | None
) -> list[CoverageRow]:
    return await service.coverage(
        session,
        minutes=minutes,
        speed_m_per_min=settings.walking_speed_m_per_min,
        search_m=settings.coverage_search_m,
        level=level,
        street_code=street_code,
    )


@router.get("/coverage", response_model=Page[CoverageRow], responses=error_responses(401, 403, 404, 422))
async def circle_coverage(
    session: ReadSessionDep,
    settings: SettingsDep,
    page: PaginationDep,
    _principal: Planner,
    minutes: Minutes = 15,
    level: CategoryLevel = CategoryLevel.top,
    street_code: StreetCode = None,
) -> Page[CoverageRow]:
    """For each community × category (top-level or leaf), the nearest reachable offering and whether it lies
    inside the circle: what officials plan purchases with."""
    rows = await _coverage(session, settings, minutes=minutes, level=level, street_code=street_code)
    return page.of(rows[page.offset : page.offset + page.limit], len(rows))


@router.get("/gaps", response_model=Page[CoverageRow], responses=error_responses(401, 403, 404, 422))
async def circle_gaps(
    session: ReadSessionDep,
    settings: SettingsDep,
    page: PaginationDep,
    _principal: Planner,
    minutes: Minutes = 15,
    level: CategoryLevel = CategoryLevel.top,
    street_code: StreetCode = None,
) -> Page[CoverageRow]:
    """The community × category pairs with nothing inside the circle, district-wide or of one street."""
    rows = [
        r
        for r in await _coverage(session, settings, minutes=minutes, level=level, street_code=street_code)
        if not r.within_circle
    ]
    return page.of(rows[page.offset : page.offset + page.limit], len(rows))


@router.get("/gaps/by-street", response_model=Page[StreetGaps], responses=error_responses(401, 403, 422))
async def circle_gaps_by_street(
    session: ReadSessionDep,
    settings: SettingsDep,
    page: PaginationDep,
    _principal: Planner,
    minutes: Minutes = 15,
    level: CategoryLevel = CategoryLevel.top,
) -> Page[StreetGaps]:
    """How many gaps each street has: where to buy services first."""
    rows = await _coverage(session, settings, minutes=minutes, level=level, street_code=None)
    summary = await service.gaps_by_street(session, rows)
    return page.of(summary[page.offset : page.offset + page.limit], len(summary))
