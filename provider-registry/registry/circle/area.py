"""The circle's spatial index: each findable offering's *search area*, a box that a resident's point must fall in
(door-to-door: the box around its service radius) or that a walking circle must overlap (walked-to: its point).

- SQLite: an R*Tree virtual table ``offering_area`` (dimensions: kind, latitude, longitude) kept by triggers on
  ``offering``. R*Tree ids are integers, so each offering gets a stable ``area_key`` when inserted (a column, not
  the rowid, which VACUUM and table rebuilds may renumber).
- PostgreSQL: a PostGIS column ``search_area`` generated from the row, with one GiST index per kind.

An offering is in the index exactly when the circle may find it by place: published, its provider verified, and
a search band (a location; door-to-door with a radius). The box is the one ``service_kit.geo.bounding_box``
draws, one metre larger: the index only narrows; the exact haversine distance still decides.

A migration that rebuilds ``offering`` on SQLite (Alembic's batch mode copies the table) drops its triggers:
it must run ``DROP_SQLITE`` before and ``create_sqlite()`` after.
"""

from service_kit.geo import METRES_PER_DEGREE_LAT

WALK_KIND = 0
DOOR_TO_DOOR_KIND = 1
# Added to every radius so that rounding in SQL or in the R*Tree's 32-bit coordinates never narrows a box.
MARGIN_M = 1


def _box_sql(row: str, *, least: str) -> dict[str, str]:
    """SQL expressions of the search area's box of ``row`` (``new`` in a trigger, ``offering`` elsewhere)."""
    radius = f"(CASE WHEN {row}.search_band = 0 THEN 0 ELSE {row}.service_radius_m END + {MARGIN_M})"
    dlat = f"({radius} / {METRES_PER_DEGREE_LAT!r})"
    dlng = (
        f"{least}(180.0, {radius} / ({METRES_PER_DEGREE_LAT!r} * cos(radians({least}(89.0, abs({row}.lat) + {dlat})))))"
    )
    return {
        "min_lat": f"{row}.lat - {dlat}",
        "max_lat": f"{row}.lat + {dlat}",
        "min_lng": f"{row}.lng - {dlng}",
        "max_lng": f"{row}.lng + {dlng}",
    }


def _findable(row: str) -> str:
    return (
        f"{row}.status = 'published' AND {row}.provider_verified AND {row}.search_band IS NOT NULL"
        f" AND {row}.lat IS NOT NULL AND {row}.lng IS NOT NULL"
    )


def create_sqlite() -> list[str]:
    """The R*Tree, its triggers, and an entry for every findable offering already there."""
    box = _box_sql("new", least="min")
    kind = f"(CASE WHEN new.search_band = 0 THEN {WALK_KIND} ELSE {DOOR_TO_DOOR_KIND} END)"
    statements: list[str] = []
    entry = (
        f"INSERT INTO offering_area SELECT new.area_key, {kind}, {kind}, {box['min_lat']}, {box['max_lat']},"
        f" {box['min_lng']}, {box['max_lng']} WHERE new.area_key IS NOT NULL AND {_findable('new')};"
    )
    statements.append(
        "CREATE VIRTUAL TABLE IF NOT EXISTS offering_area USING rtree(id, min_kind, max_kind, min_lat, max_lat,"
        " min_lng, max_lng)"
    )
    statements.append(
        "CREATE TRIGGER offering_area_key AFTER INSERT ON offering WHEN new.area_key IS NULL BEGIN"
        " UPDATE offering SET area_key = (SELECT coalesce(max(area_key), 0) + 1 FROM offering) WHERE id = new.id;"
        " END"
    )
    statements.append(
        f"CREATE TRIGGER offering_area_insert AFTER INSERT ON offering WHEN new.area_key IS NOT NULL BEGIN {entry} END"
    )
    statements.append(
        "CREATE TRIGGER offering_area_update AFTER UPDATE OF area_key, status, provider_verified, search_band, lat,"
        f" lng, service_radius_m ON offering BEGIN DELETE FROM offering_area WHERE id = old.area_key; {entry} END"
    )
    statements.append(
        "CREATE TRIGGER offering_area_delete AFTER DELETE ON offering BEGIN"
        " DELETE FROM offering_area WHERE id = old.area_key; END"
    )
    # Keys for the offerings already there (each update files the offering in the R*Tree through the trigger).
    statements.append("UPDATE offering SET area_key = rowid WHERE area_key IS NULL")
    return statements


DROP_SQLITE = [
    *(f"DROP TRIGGER IF EXISTS {t}" for t in ("offering_area_key", "offering_area_insert", "offering_area_update")),
    "DROP TRIGGER IF EXISTS offering_area_delete",
    "DROP TABLE IF EXISTS offering_area",
]


def create_postgresql() -> list[str]:
    """PostGIS, the generated ``search_area`` column and its GiST indexes (one per kind, findable offerings only)."""
    statements: list[str] = []
    box = _box_sql("offering", least="least")
    # A generated column may not name its table: the expressions refer to the row's own columns.
    expression = {k: v.replace("offering.", "") for k, v in box.items()}
    statements.append("CREATE EXTENSION IF NOT EXISTS postgis")
    statements.append(
        "ALTER TABLE offering ADD COLUMN search_area geometry GENERATED ALWAYS AS (CASE WHEN search_band IS NOT NULL"
        " AND lat IS NOT NULL AND lng IS NOT NULL THEN ST_MakeEnvelope("
        f"{expression['min_lng']}, {expression['min_lat']}, {expression['max_lng']}, {expression['max_lat']}, 4326)"
        " END) STORED"
    )
    findable = "status = 'published' AND provider_verified AND search_band IS NOT NULL"
    statements.append(
        f"CREATE INDEX ix_offering_area_walk ON offering USING gist (search_area) WHERE {findable} AND search_band = 0"
    )
    statements.append(
        f"CREATE INDEX ix_offering_area_door ON offering USING gist (search_area) WHERE {findable} AND search_band > 0"
    )
    return statements


DROP_POSTGRESQL = [
    "DROP INDEX IF EXISTS ix_offering_area_door",
    "DROP INDEX IF EXISTS ix_offering_area_walk",
    "ALTER TABLE offering DROP COLUMN IF EXISTS search_area",
]
