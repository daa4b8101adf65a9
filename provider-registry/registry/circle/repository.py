"""The circle's queries, on one table and a spatial index (``registry.circle.area``): the index narrows to the
search areas that hold the point (door-to-door) or overlap the walking circle's box (walked-to); the exact
distance decides after. The provider's standing, name and score are read from the offering row."""

import math
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy import ColumnElement, Select, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from registry.circle.area import DOOR_TO_DOOR_TABLE, WALK_TABLE
from registry.offerings.models import WALK_BAND, Offering, OfferingMode, OfferingServiceCommunity, OfferingStatus
from service_kit.geo import EARTH_RADIUS_M, BoundingBox, bounding_box

WALK_KIND = 0
DOOR_TO_DOOR_KIND = 1


@dataclass(frozen=True)
class Candidate:
    offering: Offering
    provider_name: str
    provider_score: float


@dataclass(frozen=True)
class SqlFilters:
    category_code: str | None = None
    free_only: bool = False


def _area_table(name: str) -> sa.TableClause:
    columns = ("min_lat", "max_lat", "min_lng", "max_lng")
    return sa.table(name, sa.column("id", sa.Integer), *(sa.column(c, sa.Float) for c in columns))


_AREAS = {WALK_KIND: _area_table(WALK_TABLE), DOOR_TO_DOOR_KIND: _area_table(DOOR_TO_DOOR_TABLE)}
_AREA_KEY: sa.ColumnClause[Any] = sa.literal_column("offering.area_key")
_SEARCH_AREA: sa.ColumnClause[Any] = sa.literal_column("offering.search_area")


def _bookable(filters: SqlFilters) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = [
        Offering.status == OfferingStatus.published,
        Offering.provider_verified == sa.true(),
    ]
    if filters.category_code is not None:
        conditions.append(
            or_(
                Offering.category_code == filters.category_code,
                Offering.category_code.startswith(filters.category_code + ".", autoescape=True),
            )
        )
    if filters.free_only:
        conditions.append(Offering.price_fen == 0)
    return conditions


def _in_area(dialect: str, kind: int, box: BoundingBox) -> Select[Offering]:
    """Offerings of ``kind`` whose search area overlaps ``box`` (a point when its sides are zero)."""
    if dialect == "sqlite":
        area = _AREAS[kind]
        return (
            select(Offering)
            .select_from(area)
            .join(Offering, area.c.id == _AREA_KEY)
            .where(
                area.c.min_lat <= box.max_lat,
                area.c.max_lat >= box.min_lat,
                area.c.min_lng <= box.max_lng,
                area.c.max_lng >= box.min_lng,
            )
        )
    band = Offering.search_band == WALK_BAND if kind == WALK_KIND else Offering.search_band > WALK_BAND
    corners = sa.func.point(box.min_lng, box.min_lat), sa.func.point(box.max_lng, box.max_lat)
    return select(Offering).where(band, _SEARCH_AREA.op("&&")(sa.func.box(*corners)))


def _within(lat: float, lng: float, reach_m: ColumnElement[Any] | float) -> ColumnElement[bool]:
    """The haversine distance from (lat, lng) is at most ``reach_m`` plus a metre: the database drops the box's
    corners before the rows are loaded; ``service_kit.geo.haversine_m`` still decides, on what is left."""
    phi1, lmb1 = math.radians(lat), math.radians(lng)
    half_dphi = (sa.func.radians(Offering.lat) - phi1) / 2
    half_dlmb = (sa.func.radians(Offering.lng) - lmb1) / 2
    sin_dphi, sin_dlmb = sa.func.sin(half_dphi), sa.func.sin(half_dlmb)
    a = sin_dphi * sin_dphi + math.cos(phi1) * sa.func.cos(sa.func.radians(Offering.lat)) * sin_dlmb * sin_dlmb
    return 2 * EARTH_RADIUS_M * sa.func.asin(sa.func.sqrt(a)) <= reach_m + 1


def walkable_query(dialect: str, lat: float, lng: float, walk_m: float, *, filters: SqlFilters) -> Select[Offering]:
    """Walked-to offerings within about ``walk_m`` of (lat, lng)."""
    return _in_area(dialect, WALK_KIND, bounding_box(lat, lng, walk_m)).where(
        *_bookable(filters), _within(lat, lng, walk_m)
    )


def door_to_door_query(dialect: str, lat: float, lng: float, *, filters: SqlFilters) -> Select[Offering]:
    """Door-to-door offerings whose service radius holds (lat, lng), about."""
    return _in_area(dialect, DOOR_TO_DOOR_KIND, BoundingBox(lat, lat, lng, lng)).where(
        *_bookable(filters), _within(lat, lng, Offering.service_radius_m.expression)
    )


async def _candidates(session: AsyncSession, query: Select[Offering]) -> list[Candidate]:
    return [Candidate(o, o.provider_name, o.provider_score) for o in (await session.scalars(query)).all()]


def _dialect(session: AsyncSession) -> str:
    return session.get_bind().dialect.name


async def walkable(
    session: AsyncSession, lat: float, lng: float, walk_m: float, *, filters: SqlFilters
) -> list[Candidate]:
    return await _candidates(session, walkable_query(_dialect(session), lat, lng, walk_m, filters=filters))


async def door_to_door_at(session: AsyncSession, lat: float, lng: float, *, filters: SqlFilters) -> list[Candidate]:
    return await _candidates(session, door_to_door_query(_dialect(session), lat, lng, filters=filters))


async def located_within(session: AsyncSession, lat: float, lng: float, radius_m: float) -> list[Offering]:
    """Findable offerings whose point is within about ``radius_m`` of (lat, lng), walked-to or door-to-door (a
    door-to-door offering's search area holds its point, so it overlaps the box when its point is inside)."""
    box = bounding_box(lat, lng, radius_m)
    found: list[Offering] = []
    for kind in (WALK_KIND, DOOR_TO_DOOR_KIND):
        query = _in_area(_dialect(session), kind, box).where(*_bookable(SqlFilters()), _within(lat, lng, radius_m))
        found.extend((await session.scalars(query)).all())
    return found


async def serving_community(session: AsyncSession, community_code: str, *, filters: SqlFilters) -> list[Candidate]:
    """Published door-to-door offerings that list ``community_code`` in their service area."""
    return await _candidates(
        session,
        select(Offering)
        .join(OfferingServiceCommunity, OfferingServiceCommunity.offering_id == Offering.id)
        .where(
            OfferingServiceCommunity.community_code == community_code,
            Offering.mode == OfferingMode.door_to_door,
            *_bookable(filters),
        ),
    )
