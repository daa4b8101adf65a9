"""The circle's queries, on one table and a spatial index (``registry.circle.area``): the index narrows to the
search areas that hold the point (door-to-door) or overlap the walking circle's box (walked-to); the exact
distance decides after. The provider's standing, name and score are read from the offering row.

A search reads *hits*: plain rows of the few columns the exact distance and the order need (``RANK_COLUMNS``),
in one round trip for walked-to, door-to-door and community-served offerings; only the page a resident sees is
read whole (``offerings_by_id``). The statements are built once per shape and cached, with the point, the box and
the filters as parameters; the predicates a partial GiST index is defined by are literals in the SQL, so that a
prepared statement's generic plan on PostgreSQL still uses the index."""

import math
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy import ColumnElement, Row, Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from registry.circle.area import AUX_COLUMNS, DOOR_TO_DOOR_TABLE, WALK_TABLE, aux_name
from registry.offerings.models import WALK_BAND, Offering, OfferingMode, OfferingServiceCommunity, OfferingStatus
from service_kit.geo import EARTH_RADIUS_M, bounding_box

WALK_KIND = 0
DOOR_TO_DOOR_KIND = 1
SERVING_KIND = 2  # door-to-door, found through the communities it lists as served

_OFFERING: Any = Offering.__table__
_SERVED: Any = OfferingServiceCommunity.__table__
# What ranks a hit: where it is (the exact distance), how far it reaches, the provider's score, the name, the id.
RANK_COLUMNS = ("id", "lat", "lng", "service_radius_m", "provider_score", "name_zh")
# What the schedule filters read (``target_group``, ``open_on``): asked for only when a filter needs them.
SCHEDULE_COLUMNS = ("target_groups", "weekly_rules", "exceptions")
# What the officials' coverage report names of the nearest offering.
NEAREST_COLUMNS = ("category_code", "provider_id", "provider_name", "mode")


@dataclass(frozen=True)
class SqlFilters:
    category_code: str | None = None
    free_only: bool = False


def _area_table(name: str) -> sa.TableClause:
    box = ("min_lat", "max_lat", "min_lng", "max_lng")
    # The auxiliary columns as the driver gives them: the id as its text (``as_uuid``), numbers, the name.
    aux = (sa.column(aux_name(c), sa.String if c == "id" else _OFFERING.c[c].type) for c in AUX_COLUMNS)
    return sa.table(name, sa.column("id", sa.Integer), *(sa.column(c, sa.Float) for c in box), *aux)


_AREAS = {WALK_KIND: _area_table(WALK_TABLE), DOOR_TO_DOOR_KIND: _area_table(DOOR_TO_DOOR_TABLE)}
_AREA_KEY: sa.ColumnClause[Any] = sa.literal_column("offering.area_key")
_SEARCH_AREA: sa.ColumnClause[Any] = sa.literal_column("offering.search_area")


def _param(name: str, type_: Any = sa.Float) -> sa.BindParameter[Any]:
    return sa.bindparam(name, type_=type_)


def _bookable(*, category: bool, free_only: bool, table: Any = _OFFERING) -> list[ColumnElement[bool]]:
    """Published, by a verified provider; the status and the standing are literals (the partial indexes' own
    predicates), the category a parameter: ``category_code`` itself, or below it (``category_prefix``).

    On an R*Tree (``table``) the first two hold of every entry: the tree holds the findable offerings only."""
    conditions: list[ColumnElement[bool]] = []
    if table is _OFFERING:
        conditions += [
            _OFFERING.c.status == sa.literal_column(f"'{OfferingStatus.published.value}'"),
            _OFFERING.c.provider_verified == sa.true(),
        ]
    if category:
        conditions.append(
            sa.or_(
                table.c.category_code == _param("category_code", sa.String),
                table.c.category_code.like(_param("category_prefix", sa.String), escape="/"),
            )
        )
    if free_only:
        conditions.append(table.c.price_fen == sa.literal_column("0"))
    return conditions


def _box_params(prefix: str, lat: float, lng: float, radius_m: float) -> dict[str, float]:
    box = bounding_box(lat, lng, radius_m)
    return {
        f"{prefix}_min_lat": box.min_lat,
        f"{prefix}_max_lat": box.max_lat,
        f"{prefix}_min_lng": box.min_lng,
        f"{prefix}_max_lng": box.max_lng,
    }


def _overlaps(prefix: str) -> tuple[sa.BindParameter[Any], ...]:
    return tuple(_param(f"{prefix}_{side}") for side in ("min_lat", "max_lat", "min_lng", "max_lng"))


def _in_area(dialect: str, kind: int, prefix: str, columns: Sequence[ColumnElement[Any]]) -> Select[Any]:
    """``columns`` of the offerings of ``kind`` whose search area overlaps the box of the parameters
    ``{prefix}_min_lat`` … ``{prefix}_max_lng`` (a point when its sides are equal)."""
    min_lat, max_lat, min_lng, max_lng = _overlaps(prefix)
    if dialect == "sqlite":
        area = _AREAS[kind]
        return (
            select(*columns)
            .select_from(area)
            .join(_OFFERING, area.c.id == _AREA_KEY)
            .where(
                area.c.min_lat <= max_lat,
                area.c.max_lat >= min_lat,
                area.c.min_lng <= max_lng,
                area.c.max_lng >= min_lng,
            )
        )
    band: sa.ColumnClause[int] = sa.literal_column(str(WALK_BAND))
    in_band = _OFFERING.c.search_band == band if kind == WALK_KIND else _OFFERING.c.search_band > band
    corners = sa.func.point(min_lng, min_lat), sa.func.point(max_lng, max_lat)
    return select(*columns).where(in_band, _SEARCH_AREA.op("&&")(sa.func.box(*corners)))


def _tree_only(kind: int, prefix: str, query: "HitQuery", reach: ColumnElement[Any] | str) -> Select[Any]:
    """SQLite: the part of ``kind`` read from its R*Tree alone, when every column asked for is one its entries
    carry (``area.AUX_COLUMNS``)."""
    area = _AREAS[kind]
    min_lat, max_lat, min_lng, max_lng = _overlaps(prefix)
    columns = [area.c[aux_name(name)].label(name) for name in query.columns]
    return select(*columns, sa.literal_column(str(kind)).label("kind")).where(
        area.c.min_lat <= max_lat,
        area.c.max_lat >= min_lat,
        area.c.min_lng <= max_lng,
        area.c.max_lng >= min_lng,
        *_bookable(category=query.category, free_only=query.free_only, table=area),
        _within(reach, area),
    )


def _within(reach_m: ColumnElement[Any] | str, table: Any = _OFFERING) -> ColumnElement[bool]:
    """The haversine distance from the point (parameters ``phi``, ``lambda``, ``cos_phi``: its latitude and
    longitude in radians, the latitude's cosine) to ``table``'s ``lat``/``lng`` is at most ``reach_m`` (an
    expression, or the name of ``table``'s column) plus a metre: the database drops the box's corners before the
    rows are read; ``service_kit.geo.haversine_m`` still decides, on what is left."""
    reach = table.c[reach_m] if isinstance(reach_m, str) else reach_m
    half_dphi = (sa.func.radians(table.c.lat) - _param("phi")) / 2
    half_dlmb = (sa.func.radians(table.c.lng) - _param("lambda")) / 2
    sin_dphi, sin_dlmb = sa.func.sin(half_dphi), sa.func.sin(half_dlmb)
    a = sin_dphi * sin_dphi + _param("cos_phi") * sa.func.cos(sa.func.radians(table.c.lat)) * sin_dlmb * sin_dlmb
    return 2 * EARTH_RADIUS_M * sa.func.asin(sa.func.sqrt(a)) <= reach + 1


@dataclass(frozen=True)
class HitQuery:
    """What one search reads: which kinds, the filters the database applies, the columns the caller needs."""

    walk: bool
    door_to_door: bool
    community: bool
    category: bool
    free_only: bool
    columns: tuple[str, ...]


@cache
def hits_statement(dialect: str, query: HitQuery) -> Select[Any] | sa.CompoundSelect:
    """One statement for every kind the search reads, each part on its own index, with a ``kind`` column."""
    bookable = _bookable(category=query.category, free_only=query.free_only)

    def column(name: str) -> ColumnElement[Any]:
        # The id as the driver gives it (SQLite: its 32 hex digits), not converted to a UUID for each of the
        # ~1,400 hits of a dense search: it is only compared, and the page's ids are converted (``as_uuid``).
        return sa.type_coerce(_OFFERING.c.id, sa.String).label("id") if name == "id" else _OFFERING.c[name]

    def columns(kind: int) -> list[ColumnElement[Any]]:
        return [*(column(name) for name in query.columns), sa.literal_column(str(kind)).label("kind")]

    def in_area(kind: int, prefix: str, reach: ColumnElement[Any] | str) -> Select[Any]:
        if dialect == "sqlite" and set(query.columns) <= set(AUX_COLUMNS):
            return _tree_only(kind, prefix, query, reach)
        return _in_area(dialect, kind, prefix, columns(kind)).where(*bookable, _within(reach))

    parts: list[Select[Any]] = []
    if query.walk:
        parts.append(in_area(WALK_KIND, "walk", _param("walk_m")))
    if query.door_to_door:
        parts.append(in_area(DOOR_TO_DOOR_KIND, "at", "service_radius_m"))
    if query.community:
        parts.append(
            select(*columns(SERVING_KIND))
            .join(_SERVED, _SERVED.c.offering_id == _OFFERING.c.id)
            .where(
                _SERVED.c.community_code == _param("community_code", sa.String),
                _OFFERING.c.mode == sa.literal_column(f"'{OfferingMode.door_to_door.value}'"),
                *bookable,
            )
        )
    return parts[0] if len(parts) == 1 else sa.union_all(*parts)


def hits_parameters(
    lat: float, lng: float, walk_m: float, *, community_code: str | None, filters: SqlFilters
) -> dict[str, Any]:
    phi = math.radians(lat)
    parameters: dict[str, Any] = {
        "phi": phi,
        "lambda": math.radians(lng),
        "cos_phi": math.cos(phi),
        "walk_m": walk_m,
        **_box_params("walk", lat, lng, walk_m),
        **{"at_min_lat": lat, "at_max_lat": lat, "at_min_lng": lng, "at_max_lng": lng},
    }
    if community_code is not None:
        parameters["community_code"] = community_code
    if filters.category_code is not None:
        escaped = filters.category_code.replace("/", "//").replace("%", "/%").replace("_", "/_")
        parameters["category_code"] = filters.category_code
        parameters["category_prefix"] = escaped + ".%"
    return parameters


async def hits(
    session: AsyncSession,
    lat: float,
    lng: float,
    *,
    walk_m: float | None,
    door_to_door: bool,
    community_code: str | None,
    filters: SqlFilters,
    columns: tuple[str, ...] = RANK_COLUMNS,
) -> Sequence[Row[Any]]:
    """Rows (``columns``, which begin with ``RANK_COLUMNS``, and ``kind`` last) of the offerings within about
    ``walk_m`` on foot of (lat, lng) (when given), of the door-to-door ones whose radius holds it (with
    ``door_to_door``) and of those that list ``community_code`` as served; an offering may come twice, by radius
    and by community."""
    community = door_to_door and community_code is not None
    assert columns[: len(RANK_COLUMNS)] == RANK_COLUMNS, "the circle reads a hit's rank columns by position"
    if walk_m is None and not door_to_door:
        return []
    query = HitQuery(
        walk=walk_m is not None,
        door_to_door=door_to_door,
        community=community,
        category=filters.category_code is not None,
        free_only=filters.free_only,
        columns=columns,
    )
    statement = hits_statement(session.get_bind().dialect.name, query)
    parameters = hits_parameters(
        lat, lng, walk_m or 0.0, community_code=community_code if community else None, filters=filters
    )
    return (await session.execute(statement, parameters)).all()


def as_uuid(offering_id: Any) -> uuid.UUID:
    """A hit's id (its text, or the driver's UUID) as a ``uuid.UUID``."""
    return offering_id if isinstance(offering_id, uuid.UUID) else uuid.UUID(offering_id)


_BY_ID = select(_OFFERING).where(_OFFERING.c.id.in_(sa.bindparam("ids", expanding=True)))


async def offerings_by_id(session: AsyncSession, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Row[Any]]:
    """The whole rows of ``ids`` (the page a resident sees), as plain rows."""
    if not ids:
        return {}
    rows = await session.execute(_BY_ID, {"ids": list(ids)})
    return {row.id: row for row in rows}


async def located_within(session: AsyncSession, lat: float, lng: float, radius_m: float) -> Sequence[Row[Any]]:
    """Findable offerings (id, lat, lng) whose point is within about ``radius_m`` of (lat, lng), walked-to or
    door-to-door (a door-to-door offering's search area holds its point, so it overlaps the box when its point is
    inside)."""
    dialect = session.get_bind().dialect.name
    columns = [_OFFERING.c.id, _OFFERING.c.lat, _OFFERING.c.lng]
    within = _within(_param("walk_m"))
    statement = sa.union_all(
        *(
            _in_area(dialect, kind, "walk", columns).where(*_bookable(category=False, free_only=False), within)
            for kind in (WALK_KIND, DOOR_TO_DOOR_KIND)
        )
    )
    parameters = hits_parameters(lat, lng, radius_m, community_code=None, filters=SqlFilters())
    return (await session.execute(statement, parameters)).all()
