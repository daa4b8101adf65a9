"""The circle's spatial index: each findable offering's *search area*, a box that a resident's point must fall in
(door-to-door: the box around its service radius) or that a walking circle must overlap (walked-to: its point).

- SQLite: two R*Tree virtual tables (walked-to, door-to-door; latitude × longitude) kept by triggers on
  ``offering``. R*Tree ids are integers, so each offering gets a stable ``area_key`` when inserted (a column, not
  the rowid, which VACUUM and table rebuilds may renumber). Beside its box each entry holds what a search reads
  and filters by (``AUX_COLUMNS``, SQLite's auxiliary R*Tree columns): a search reads the tree alone. Joining
  ``offering`` by ``area_key`` for them cost 4.5 µs a row, three quarters of a search at 1,000,000 offerings.
- PostgreSQL: a ``box`` column ``search_area`` generated from the row, with one GiST index per kind (built in:
  no extension, no superuser).

An offering is in the index exactly when the circle may find it by place: published, its provider verified, and
a search band (a location; door-to-door with a radius). The box is the one ``service_kit.geo.bounding_box``
draws, one metre larger: the index only narrows; the exact haversine distance still decides.

A migration that rebuilds ``offering`` on SQLite (Alembic's batch mode copies the table) drops its triggers:
it must run ``DROP_SQLITE`` before and ``create_sqlite()`` after.
"""

from service_kit.geo import METRES_PER_DEGREE_LAT

# One R*Tree per kind: walked-to points and door-to-door boxes in one tree make every node's box wide, and a
# search then reads a good part of the tree (measured: about 100 times slower).
WALK_TABLE = "offering_walk_area"
DOOR_TO_DOOR_TABLE = "offering_door_area"
# The offering's columns each R*Tree entry carries (``id`` as ``offering_id``: the tree's own ``id`` is its key).
AUX_COLUMNS = ("id", "lat", "lng", "service_radius_m", "provider_score", "name_zh", "category_code", "price_fen")


def aux_name(column: str) -> str:
    return "offering_id" if column == "id" else column


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


def _entry_sql(row: str) -> str:
    """The values of ``row``'s R*Tree entry: its key, its box, its auxiliary columns."""
    box = _box_sql(row, least="min")
    aux = ", ".join(f"{row}.{column}" for column in AUX_COLUMNS)
    return f"{row}.area_key, {box['min_lat']}, {box['max_lat']}, {box['min_lng']}, {box['max_lng']}, {aux}"


def create_sqlite() -> list[str]:
    """The two R*Trees, their triggers, and an entry for every findable offering already there."""
    findable = f"new.area_key IS NOT NULL AND {_findable('new')}"
    entry = (
        f"INSERT INTO {WALK_TABLE} SELECT {_entry_sql('new')} WHERE {findable} AND new.search_band = 0;"
        f" INSERT INTO {DOOR_TO_DOOR_TABLE} SELECT {_entry_sql('new')} WHERE {findable} AND new.search_band > 0;"
    )
    forget = (
        f"DELETE FROM {WALK_TABLE} WHERE id = old.area_key; DELETE FROM {DOOR_TO_DOOR_TABLE} WHERE id = old.area_key;"
    )
    aux = ", ".join(f"+{aux_name(column)}" for column in AUX_COLUMNS)
    statements = [
        f"CREATE VIRTUAL TABLE {table} USING rtree(id, min_lat, max_lat, min_lng, max_lng, {aux})"
        for table in (WALK_TABLE, DOOR_TO_DOOR_TABLE)
    ]
    statements.append(
        "CREATE TRIGGER offering_area_key AFTER INSERT ON offering WHEN new.area_key IS NULL BEGIN"
        " UPDATE offering SET area_key = (SELECT coalesce(max(area_key), 0) + 1 FROM offering) WHERE id = new.id;"
        " END"
    )
    statements.append(
        f"CREATE TRIGGER offering_area_insert AFTER INSERT ON offering WHEN new.area_key IS NOT NULL BEGIN {entry} END"
    )
    watched = ", ".join(dict.fromkeys(("area_key", "status", "provider_verified", "search_band", *AUX_COLUMNS[1:])))
    statements.append(
        f"CREATE TRIGGER offering_area_update AFTER UPDATE OF {watched} ON offering BEGIN {forget} {entry} END"
    )
    statements.append(f"CREATE TRIGGER offering_area_delete AFTER DELETE ON offering BEGIN {forget} END")
    # Entries for the findable offerings already keyed (the index rebuilt), then keys for those that have none
    # (each update files the offering in its R*Tree through the trigger).
    keyed = f"offering.area_key IS NOT NULL AND {_findable('offering')}"
    statements.append(
        f"INSERT INTO {WALK_TABLE} SELECT {_entry_sql('offering')} FROM offering"
        f" WHERE {keyed} AND offering.search_band = 0"
    )
    statements.append(
        f"INSERT INTO {DOOR_TO_DOOR_TABLE} SELECT {_entry_sql('offering')} FROM offering"
        f" WHERE {keyed} AND offering.search_band > 0"
    )
    statements.append("UPDATE offering SET area_key = rowid WHERE area_key IS NULL")
    return statements


DROP_SQLITE = [
    *(f"DROP TRIGGER IF EXISTS offering_area_{t}" for t in ("key", "insert", "update", "delete")),
    f"DROP TABLE IF EXISTS {WALK_TABLE}",
    f"DROP TABLE IF EXISTS {DOOR_TO_DOOR_TABLE}",
]


def create_postgresql() -> list[str]:
    """The generated ``search_area`` column (a built-in ``box``) and its GiST indexes, one per kind, over the
    findable offerings only. No extension is needed (see docs/circle-spatial-index.md)."""
    box = _box_sql("offering", least="least")
    # A generated column may not name its table: the expressions refer to the row's own columns.
    e = {k: v.replace("offering.", "") for k, v in box.items()}
    return [
        "ALTER TABLE offering ADD COLUMN search_area box GENERATED ALWAYS AS (CASE WHEN search_band IS NOT NULL"
        " AND lat IS NOT NULL AND lng IS NOT NULL THEN box("
        f"point({e['min_lng']}, {e['min_lat']}), point({e['max_lng']}, {e['max_lat']})) END) STORED",
        *create_postgresql_indexes(),
    ]


def create_postgresql_indexes() -> list[str]:
    """The GiST indexes of the search areas, one per kind, covering what a search reads and filters by
    (``AUX_COLUMNS``): a search is an index-only scan and reads no table page of an offering that has not
    changed since the last vacuum. Reading the table cost one page a hit, most of a search at 1,000,000."""
    findable = "status = 'published' AND provider_verified AND search_band IS NOT NULL"
    covering = ", ".join(AUX_COLUMNS)
    return [
        f"CREATE INDEX ix_offering_area_{name} ON offering USING gist (search_area) INCLUDE ({covering})"
        f" WHERE {findable} AND search_band {band}"
        for name, band in (("walk", "= 0"), ("door", "> 0"))
    ]


DROP_POSTGRESQL_INDEXES = ["DROP INDEX IF EXISTS ix_offering_area_door", "DROP INDEX IF EXISTS ix_offering_area_walk"]
DROP_POSTGRESQL = [*DROP_POSTGRESQL_INDEXES, "ALTER TABLE offering DROP COLUMN IF EXISTS search_area"]
