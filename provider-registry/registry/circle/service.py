"""The 15-minute circle: from a resident's point or community, the offerings reachable on foot within N minutes
and the door-to-door ones whose service area holds the point; and, for officials, where nothing is reachable.

Every search is bounded: a spatial index (``registry.circle.area``) selects candidates, the exact haversine
distance decides. A door-to-door offering is a candidate when its service radius's bounding box holds the point.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Any, NamedTuple, Protocol

from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncSession

from registry.categories import repository as categories_repository
from registry.circle import repository
from registry.circle.repository import SqlFilters
from registry.circle.schemas import CircleOffering, CoverageRow, NearestOffering, Origin, Reach, StreetGaps
from registry.offerings.models import OfferingMode
from registry.offerings.schemas import Offering as OfferingOut
from registry.places import repository as places_repository
from registry.places import service as places_service
from service_kit.errors import ValidationFailed
from service_kit.geo import haversine_m
from service_kit.pagination import Pagination

# A point belongs to the nearest community whose centroid is at most this far away.
COMMUNITY_SNAP_M = 3_000


class CategoryLevel(StrEnum):
    top = "top"
    leaf = "leaf"


class Scheduled(Protocol):
    """What the schedule filters read of an offering (a row of ``repository.SCHEDULE_COLUMNS``)."""

    target_groups: list[Any]
    weekly_rules: list[Any]
    exceptions: list[Any]


@dataclass(frozen=True)
class Filters:
    category_code: str | None = None
    mode: OfferingMode | None = None
    target_group: str | None = None
    free_only: bool = False
    open_on: date | None = None

    def sql(self) -> SqlFilters:
        return SqlFilters(category_code=self.category_code, free_only=self.free_only)

    def admits(self, offering: Scheduled) -> bool:
        if self.target_group is not None and self.target_group not in offering.target_groups:
            return False
        return self.open_on is None or is_open_on(offering, self.open_on)


class Found(NamedTuple):
    """An offering inside the circle, ordered by its ``rank``. A tuple, not a dataclass, and sorted as it is, with
    no key function: a search at 1,000,000 offerings finds ~1,400."""

    # Nearest first (whole metres); at equal distance the better-rated provider, then the name, then the id (the
    # driver's text or UUID: a UUID compares as its fixed-width lowercase hex does). Unique: the id is in it.
    rank: tuple[int, float, str, Any]
    hit: Row[Any]  # the offering's columns the search read (``repository.RANK_COLUMNS`` and what it asked more)
    reach: Reach
    distance_m: float


def is_open_on(offering: Scheduled, day: date) -> bool:
    """Open on ``day``: a dated exception decides; otherwise a weekly rule for its weekday."""
    for exception in offering.exceptions:
        if exception["date"] == day.isoformat():
            return bool(exception["kind"] == "open")
    return any(rule["weekday"] == day.weekday() for rule in offering.weekly_rules)


def _invalid(field: str, message: str, code: str) -> ValidationFailed:
    return ValidationFailed(
        f"{field}: {message}", code=code, errors=[{"field": field, "in": "query", "message": message, "type": code}]
    )


async def locate(session: AsyncSession, *, lat: float | None, lng: float | None, community_code: str | None) -> Origin:
    """Where the search starts: a community's centroid, or a point (snapped to its nearest community)."""
    if community_code is not None:
        if lat is not None or lng is not None:
            raise _invalid("community_code", "Search from a community or from a point, not both.", "origin_ambiguous")
        community = await places_service.get_community(session, community_code)
        return Origin(lat=community.lat, lng=community.lng, community_code=community.code)
    if lat is None or lng is None:
        raise _invalid("lat", "Give lat and lng, or a community_code.", "origin_required")
    nearby = await places_repository.communities_near(session, lat, lng, COMMUNITY_SNAP_M)
    distances = [(haversine_m(lat, lng, c.lat, c.lng), c.code) for c in nearby]
    nearest = min((d for d in distances if d[0] <= COMMUNITY_SNAP_M), default=None)
    return Origin(lat=lat, lng=lng, community_code=nearest[1] if nearest else None)


async def reachable(
    session: AsyncSession,
    origin: Origin,
    *,
    walk_m: float,
    filters: Filters,
    columns: tuple[str, ...] = repository.RANK_COLUMNS,
) -> list[Found]:
    """Offerings within ``walk_m`` on foot, and door-to-door ones whose service area holds the origin or that
    serve its community: one query for the few columns that decide and rank (and ``columns``)."""
    if filters.target_group is not None or filters.open_on is not None:
        columns += repository.SCHEDULE_COLUMNS
    hits = await repository.hits(
        session,
        origin.lat,
        origin.lng,
        walk_m=walk_m if filters.mode in (None, OfferingMode.at_center) else None,
        door_to_door=filters.mode in (None, OfferingMode.door_to_door),
        community_code=origin.community_code,
        filters=filters.sql(),
        columns=columns,
    )
    # Walked-to and door-to-door offerings are apart (by their search band): each comes once. Only one that
    # serves the community may also be door-to-door within its radius, and is then kept once.
    walked, at_door = Reach.walk, Reach.door_to_door
    found: list[Found] = []
    serving: dict[Any, Found] = {}
    lat, lng = origin.lat, origin.lng
    # By position, not name: a Row's attribute costs ~0.8 µs, ~7 ms for the ~1,400 hits of a dense search.
    for hit in hits:
        rank_columns: tuple[Any, ...] = hit[:6]  # repository.RANK_COLUMNS
        offering_id, hit_lat, hit_lng, radius_m, score, name = rank_columns
        kind = hit[-1]
        if kind == repository.WALK_KIND:
            distance = haversine_m(lat, lng, hit_lat, hit_lng)
            if distance <= walk_m:
                found.append(Found((round(distance), -score, name, offering_id), hit, walked, distance))
        # Never null in the door-to-door index: a search band needs a location and a radius.
        elif kind == repository.DOOR_TO_DOOR_KIND:
            if haversine_m(lat, lng, hit_lat, hit_lng) <= radius_m:
                found.append(Found((0, -score, name, offering_id), hit, at_door, 0.0))
        else:
            serving[offering_id] = Found((0, -score, name, offering_id), hit, at_door, 0.0)
    if serving:
        for f in found:
            serving.pop(f.rank[-1], None)
        found += serving.values()
    if filters.target_group is None and filters.open_on is None:
        return found
    return [f for f in found if filters.admits(f.hit)]


async def search(
    session: AsyncSession,
    origin: Origin,
    *,
    minutes: int,
    speed_m_per_min: float,
    filters: Filters,
    page: Pagination,
) -> tuple[list[CircleOffering], int]:
    """Everything inside the circle, nearest first; at equal distance, the better-rated provider first: the
    ``page`` of it and how many there are. Only the page's offerings are read whole."""
    found = sorted(await reachable(session, origin, walk_m=minutes * speed_m_per_min, filters=filters))
    shown = [(repository.as_uuid(f.hit.id), f) for f in found[page.offset : page.offset + page.limit]]
    rows = await repository.offerings_by_id(session, [offering_id for offering_id, _ in shown])
    items = [
        CircleOffering(
            offering=OfferingOut.model_validate(rows[offering_id]),
            provider_name=rows[offering_id].provider_name,
            provider_score=f.hit.provider_score,
            reach=f.reach,
            distance_m=round(f.distance_m),
            walk_minutes=round(f.distance_m / speed_m_per_min, 1),
        )
        for offering_id, f in shown
    ]
    return items, len(found)


async def coverage(
    session: AsyncSession,
    *,
    minutes: int,
    speed_m_per_min: float,
    search_m: int,
    level: CategoryLevel,
    street_code: str | None,
) -> list[CoverageRow]:
    """For each community × category: the nearest reachable offering and whether it is inside the circle.

    "Reachable" looks ``search_m`` around the community's centroid on foot, plus door-to-door service areas."""
    if street_code is not None:
        await places_service.get_street(session, street_code)
    communities, _ = await places_repository.list_communities(session, street_code=street_code)
    categories = [
        c
        for c in await categories_repository.list_all(session)
        if (c.parent_code is None) == (level == CategoryLevel.top)
    ]
    circle_m = minutes * speed_m_per_min
    rows: list[CoverageRow] = []
    for community in communities:
        origin = Origin(lat=community.lat, lng=community.lng, community_code=community.code)
        found = await reachable(
            session,
            origin,
            walk_m=max(search_m, circle_m),
            filters=Filters(),
            columns=repository.RANK_COLUMNS + repository.NEAREST_COLUMNS,
        )
        nearest: dict[str, Found] = {}
        for f in sorted(found):
            code = f.hit.category_code
            nearest.setdefault(code.split(".", 1)[0] if level == CategoryLevel.top else code, f)
        for category in categories:
            best = nearest.get(category.code)
            rows.append(
                CoverageRow(
                    street_code=community.street_code,
                    community_code=community.code,
                    community_name_zh=community.name_zh,
                    category_code=category.code,
                    category_name_zh=category.name_zh,
                    within_circle=best is not None and best.distance_m <= circle_m,
                    nearest=None if best is None else _nearest(best, speed_m_per_min),
                )
            )
    return rows


def _nearest(found: Found, speed_m_per_min: float) -> NearestOffering:
    hit = found.hit
    return NearestOffering(
        offering_id=repository.as_uuid(hit.id),
        name_zh=hit.name_zh,
        provider_id=hit.provider_id,
        provider_name=hit.provider_name,
        mode=hit.mode,
        reach=found.reach,
        distance_m=round(found.distance_m),
        walk_minutes=round(found.distance_m / speed_m_per_min, 1),
    )


async def gaps_by_street(session: AsyncSession, rows: Sequence[CoverageRow]) -> list[StreetGaps]:
    """How many community × category pairs of each street have nothing inside the circle."""
    streets, _ = await places_repository.list_streets(session, limit=10_000, offset=0)
    summary: list[StreetGaps] = []
    for street in streets:
        mine = [r for r in rows if r.street_code == street.code]
        summary.append(
            StreetGaps(
                street_code=street.code,
                street_name_zh=street.name_zh,
                communities=len({r.community_code for r in mine}),
                categories=len({r.category_code for r in mine}),
                gaps=sum(not r.within_circle for r in mine),
            )
        )
    return summary
