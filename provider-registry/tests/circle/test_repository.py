"""The circle's prefilter searches the spatial index (R*Tree on SQLite, GiST on PostgreSQL): it never scans the
offering table, and on PostgreSQL a prepared statement's generic plan uses the index too."""

import random
import uuid
from typing import Any

from sqlalchemy import Executable, insert, text
from sqlalchemy.ext.asyncio import AsyncSession
from stdnum.cn import uscc

from registry.circle import repository
from registry.circle.repository import SqlFilters
from registry.offerings.models import Offering, OfferingMode, OfferingStatus, search_band
from registry.organizations.models import Organization, OrganizationKind, OrganizationStatus
from service_kit.geo import haversine_m

JIAHE = (39.7295, 116.1520)


def new_uscc(rng: random.Random) -> str:
    base = "91110111" + "".join(rng.choices("0123456789ABCDEFGHJKLMNPQRTUWXY", k=9))
    return base + uscc.calc_check_digit(base)


async def _fill(session: AsyncSession, offerings: int) -> list[dict[str, Any]]:
    """A district's worth of offerings spread over Beijing, a tenth of them published."""
    rng = random.Random(3)
    providers = [uuid.uuid4() for _ in range(20)]
    await session.execute(
        insert(Organization),
        [
            {
                "id": p,
                "name_zh": f"服务商{i}",
                "kind": OrganizationKind.commercial,
                "uscc": new_uscc(rng),
                "status": OrganizationStatus.verified,
                "applied_by": "test",
            }
            for i, p in enumerate(providers)
        ],
    )
    rows = [
        {
            "provider_id": rng.choice(providers),
            "category_code": "elderly.meal_table",
            "name_zh": f"餐桌{i}",
            "mode": (mode := rng.choice([OfferingMode.at_center, OfferingMode.door_to_door])),
            "price_fen": 1000,
            "duration_minutes": 60,
            "capacity_per_slot": 10,
            "status": OfferingStatus.published if i % 10 == 0 else OfferingStatus.draft,
            "lat": rng.uniform(39.4, 40.4),
            "lng": rng.uniform(115.7, 117.0),
            "service_radius_m": 2000,
            "search_band": search_band(mode, 39.7, 2000),
            "provider_verified": True,
        }
        for i in range(offerings)
    ]
    await session.execute(insert(Offering), rows)
    await session.execute(text("ANALYZE"))
    return rows


async def _plan(session: AsyncSession, statement: Executable, parameters: dict[str, Any]) -> str:
    sql = str(statement.params(parameters).compile(session.bind, compile_kwargs={"literal_binds": True}))
    explain = "EXPLAIN QUERY PLAN " if session.bind.dialect.name == "sqlite" else "EXPLAIN "
    rows = await session.execute(text(explain + sql))
    return "\n".join(str(row[-1]) for row in rows)


async def _generic_plan(session: AsyncSession, statement: Executable, parameters: dict[str, Any]) -> str:
    """PostgreSQL's plan for the statement as prepared, with the parameters unknown: the plan asyncpg's cached
    statements fall back to after a few executions."""
    compiled = statement.compile(session.bind)
    names = list(compiled.positiontup or [])
    sql = str(compiled)
    await session.execute(text("SET plan_cache_mode = force_generic_plan"))
    await session.execute(text(f"PREPARE circle_hits AS {sql}"))
    values = ", ".join(repr(parameters[name]) if name in parameters else "NULL" for name in names)
    rows = await session.execute(text(f"EXPLAIN EXECUTE circle_hits({values})"))
    return "\n".join(str(row[-1]) for row in rows)


async def test_the_prefilter_searches_the_spatial_index(session: AsyncSession) -> None:
    await _fill(session, 5_000)
    dialect = session.bind.dialect.name
    query = repository.HitQuery(
        walk=True, door_to_door=True, community=True, category=True, free_only=True, columns=repository.RANK_COLUMNS
    )
    statement = repository.hits_statement(dialect, query)
    parameters = repository.hits_parameters(
        *JIAHE,
        1200,
        community_code="gongchen.shidai_jiahe",
        filters=SqlFilters(category_code="elderly", free_only=True),
    )
    plans = [await _plan(session, statement, parameters)]
    if dialect == "postgresql":
        plans.append(await _generic_plan(session, statement, parameters))
    for plan in plans:
        if dialect == "sqlite":
            assert plan.count("VIRTUAL TABLE INDEX") == 2, plan
            assert "SCAN offering " not in plan + " ", plan
        else:
            assert "ix_offering_area_walk" in plan, plan
            assert "ix_offering_area_door" in plan, plan
            assert "Seq Scan on offering " not in plan + " ", plan


async def test_the_box_holds_every_published_offering_near_enough(session: AsyncSession) -> None:
    rows = await _fill(session, 2_000)
    radius = 20_000
    hits = await repository.hits(
        session, *JIAHE, walk_m=radius, door_to_door=False, community_code=None, filters=SqlFilters()
    )
    near = {
        r["name_zh"]
        for r in rows
        if r["status"] == OfferingStatus.published
        and r["mode"] == OfferingMode.at_center
        and haversine_m(*JIAHE, r["lat"], r["lng"]) <= radius
    }
    found = {hit.name_zh for hit in hits}
    assert near
    assert near <= found
    # The box is a little larger than the circle, never much larger.
    assert len(found) <= 2 * len(near)
