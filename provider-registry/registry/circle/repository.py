"""The circle's queries, on one table and a spatial index (``registry.circle.area``): the index narrows to the
search areas that hold the point (door-to-door) or overlap the walking circle's box (walked-to); the exact
distance decides after. The provider's standing, name and score are read from the offering row."""

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy import ColumnElement, Select, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from registry.circle.area import DOOR_TO_DOOR_KIND, WALK_KIND
from registry.offerings.models import WALK_BAND, Offering, OfferingMode, OfferingServiceCommunity, OfferingStatus
from service_kit.geo import BoundingBox, bounding_box


@dataclass(frozen=True)
class Candidate:
    offering: Offering
    provider_name: str
    provider_score: float


@dataclass(frozen=True)
class SqlFilters:
    category_code: str | None = None
    free_only: bool = False


_AREA = sa.table(
    "offering_area",
    sa.column("id", sa.Integer),
    sa.column("min_kind", sa.Float),
    sa.column("max_kind", sa.Float),
    sa.column("min_lat", sa.Float),
    sa.column("max_lat", sa.Float),
    sa.column("min_lng", sa.Float),
    sa.column("max_lng", sa.Float),
)
_AREA_KEY = sa.literal_column("offering.area_key")
_SEARCH_AREA = sa.literal_column("offering.search_area")


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


def _in_area(dialect: str, kind: int, box: BoundingBox) -> Select[tuple[Offering]]:
    """Offerings of ``kind`` whose search area overlaps ``box`` (a point when its sides are zero)."""
    if dialect == "sqlite":
        return (
            select(Offering)
            .select_from(_AREA)
            .join(Offering, _AREA.c.id == _AREA_KEY)
            .where(
                _AREA.c.min_kind <= kind,
                _AREA.c.max_kind >= kind,
                _AREA.c.min_lat <= box.max_lat,
                _AREA.c.max_lat >= box.min_lat,
                _AREA.c.min_lng <= box.max_lng,
                _AREA.c.max_lng >= box.min_lng,
            )
        )
    band = Offering.search_band == WALK_BAND if kind == WALK_KIND else Offering.search_band > WALK_BAND
    envelope = sa.func.ST_MakeEnvelope(box.min_lng, box.min_lat, box.max_lng, box.max_lat, 4326)
    return select(Offering).where(band, _SEARCH_AREA.op("&&")(envelope))


def walkable_query(
    dialect: str, lat: float, lng: float, walk_m: float, *, filters: SqlFilters
) -> Select[tuple[Offering]]:
    """Walked-to offerings whose point lies in the bounding box of ``walk_m`` around (lat, lng)."""
    return _in_area(dialect, WALK_KIND, bounding_box(lat, lng, walk_m)).where(*_bookable(filters))


def door_to_door_query(dialect: str, lat: float, lng: float, *, filters: SqlFilters) -> Select[tuple[Offering]]:
    """Door-to-door offerings whose service radius's bounding box holds (lat, lng)."""
    return _in_area(dialect, DOOR_TO_DOOR_KIND, BoundingBox(lat, lat, lng, lng)).where(*_bookable(filters))


async def _candidates(session: AsyncSession, query: Select[tuple[Offering]]) -> list[Candidate]:
    return [Candidate(o, o.provider_name, o.provider_score) for o in (await session.scalars(query)).all()]


def _dialect(session: AsyncSession) -> str:
    return session.get_bind().dialect.name


async def walkable(
    session: AsyncSession, lat: float, lng: float, walk_m: float, *, filters: SqlFilters
) -> list[Candidate]:
    return await _candidates(session, walkable_query(_dialect(session), lat, lng, walk_m, filters=filters))


async def door_to_door_at(session: AsyncSession, lat: float, lng: float, *, filters: SqlFilters) -> list[Candidate]:
    return await _candidates(session, door_to_door_query(_dialect(session), lat, lng, filters=filters))


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
