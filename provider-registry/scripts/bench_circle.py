"""Benchmark of the 15-minute circle over 100,000 offerings: prints the query plan (an index search, not a
table scan) and the p50/p99 of searches from random points of Fangshan.

    .venv/bin/python provider-registry/scripts/bench_circle.py [--offerings 100000] [--searches 300]
    LINLI_BENCH_DATABASE_URL=postgresql+asyncpg://postgres@127.0.0.1:5432/linli_bench ...  (an empty database)
"""

import argparse
import asyncio
import os
import random
import statistics
import tempfile
import time
import uuid
from pathlib import Path

from sqlalchemy import insert, text
from stdnum.cn import uscc

from registry.app import SERVICE_DIR
from registry.circle import repository, service
from registry.circle.repository import SqlFilters
from registry.circle.schemas import Origin
from registry.circle.service import Filters
from registry.offerings.models import WALK_BAND, Offering, OfferingMode, OfferingStatus, search_band
from registry.organizations.models import Organization, OrganizationKind, OrganizationStatus
from service_kit import migrations
from service_kit.db import create_engine, create_sessionmaker

# Fangshan district's extent, roughly (about 2,000 km²): where offerings are and residents search from.
LAT = (39.45, 39.95)
LNG = (115.45, 116.25)


async def fill(url: str, offerings: int, rng: random.Random) -> None:
    engine = create_engine(url)
    async with create_sessionmaker(engine)() as session:
        providers = [uuid.uuid4() for _ in range(500)]
        rows = []
        for i, provider in enumerate(providers):
            base = "91110111" + "".join(rng.choices("0123456789ABCDEFGHJKLMNPQRTUWXY", k=9))
            rows.append(
                {
                    "id": provider,
                    "name_zh": f"服务商{i}",
                    "kind": OrganizationKind.commercial,
                    "uscc": base + uscc.calc_check_digit(base),
                    "status": OrganizationStatus.verified,
                    "applied_by": "bench",
                    "score": rng.uniform(3, 5),
                }
            )
        await session.execute(insert(Organization), rows)
        for start in range(0, offerings, 5_000):
            batch = []
            for i in range(start, min(offerings, start + 5_000)):
                lat, mode, radius = (
                    rng.uniform(*LAT),
                    rng.choice(list(OfferingMode)),
                    rng.choice([500, 1000, 2000, 3000]),
                )
                row = {
                    "provider_id": rng.choice(providers),
                    "category_code": rng.choice(["elderly.meal_table", "elderly.home_care", "children.education"]),
                    "name_zh": f"服务{i}",
                    "mode": mode,
                    "price_fen": rng.choice([0, 1500, 3000]),
                    "duration_minutes": 60,
                    "capacity_per_slot": 10,
                    "weekly_rules": [{"weekday": d, "start": "09:00", "end": "17:00"} for d in range(5)],
                    "status": OfferingStatus.published,
                    "lat": lat,
                    "lng": rng.uniform(*LNG),
                    "service_radius_m": radius,
                    "search_band": search_band(mode, lat, radius),
                }
                batch.append(row)
            await session.execute(insert(Offering), batch)
        await session.execute(text("ANALYZE"))
        await session.commit()
    await engine.dispose()


async def bench(url: str, searches: int, rng: random.Random) -> None:
    engine = create_engine(url)
    async with create_sessionmaker(engine)() as session:
        query = repository.within_box_query(39.73, 116.15, 1200, band=WALK_BAND, filters=SqlFilters())
        sql = str(query.compile(engine.sync_engine, compile_kwargs={"literal_binds": True}))
        explain = "EXPLAIN QUERY PLAN " if engine.dialect.name == "sqlite" else "EXPLAIN "
        print("plan:")
        for row in await session.execute(text(explain + sql)):
            print("   ", row[-1])
        timings, found = [], []
        for _ in range(searches):
            origin = Origin(lat=rng.uniform(*LAT), lng=rng.uniform(*LNG), community_code=None)
            started = time.perf_counter()
            result = await service.search(session, origin, minutes=15, speed_m_per_min=80, filters=Filters())
            timings.append((time.perf_counter() - started) * 1000)
            found.append(len(result))
    await engine.dispose()
    timings.sort()
    p99 = timings[min(len(timings) - 1, int(len(timings) * 0.99))]
    print(f"{searches} searches: p50 {statistics.median(timings):.1f} ms, p99 {p99:.1f} ms")
    print(f"offerings found per search: median {statistics.median(found):.0f}, max {max(found)}")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--offerings", type=int, default=100_000)
    parser.add_argument("--searches", type=int, default=300)
    args = parser.parse_args()
    rng = random.Random(15)
    with tempfile.TemporaryDirectory() as tmp:
        url = os.environ.get("LINLI_BENCH_DATABASE_URL") or f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"
        await asyncio.to_thread(migrations.upgrade, SERVICE_DIR, url)
        started = time.perf_counter()
        await fill(url, args.offerings, rng)
        print(f"{args.offerings} offerings loaded in {time.perf_counter() - started:.1f} s ({url.split(':')[0]})")
        await bench(url, args.searches, rng)


if __name__ == "__main__":
    asyncio.run(main())
