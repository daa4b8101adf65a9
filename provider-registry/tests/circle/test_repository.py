"""The circle's prefilter searches the spatial index (R*Tree on SQLite, GiST on PostgreSQL): it never scans the
offering table."""

import random
import uuid
from typing import Any

from sqlalchemy import Select, insert, text
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


async def _plan(session: AsyncSession, query: Select[Offering]) -> str:
    sql = str(query.compile(session.bind, compile_kwargs={"literal_binds": True}))
    explain = "EXPLAIN QUERY PLAN " if session.bind.dialect.name == "sqlite" else "EXPLAIN "
    rows = await session.execute(text(explain + sql))
    return "\n".join(str(row[-1]) for row in rows)


async def test_the_prefilter_searches_the_spatial_index(session: AsyncSession) -> None:
    await _fill(session, 5_000)
    dialect = session.bind.dialect.name
    walk = repository.walkable_query(dialect, *JIAHE, 1200, filters=SqlFilters())
    door = repository.door_to_door_query(dialect, *JIAHE, filters=SqlFilters())
    for query, index in ((walk, "ix_offering_area_walk"), (door, "ix_offering_area_door")):
        plan = await _plan(session, query)
        if dialect == "sqlite":
            assert "VIRTUAL TABLE INDEX" in plan, plan
            assert "SCAN offering " not in plan + " ", plan
        else:
            assert index in plan, plan
            assert "Seq Scan on offering" not in plan, plan


async def test_the_box_holds_every_published_offering_near_enough(session: AsyncSession) -> None:
    rows = await _fill(session, 2_000)
    radius = 20_000
    candidates = await repository.walkable(session, *JIAHE, radius, filters=SqlFilters())
    near = {
        r["name_zh"]
        for r in rows
        if r["status"] == OfferingStatus.published
        and r["mode"] == OfferingMode.at_center
        and haversine_m(*JIAHE, r["lat"], r["lng"]) <= radius
    }
    found = {c.offering.name_zh for c in candidates}
    assert near
    assert near <= found
    # The box is a little larger than the circle, never much larger.
    assert len(found) <= 2 * len(near)
