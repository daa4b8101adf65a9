"""Measure the console's search for part of an address (``q=长阳镇天星``) over many residents, on SQLite and
PostgreSQL: the migration's backfill of the address grams, the query plan (the grams' and the names' indexes,
no scan of the residents), and the time of a search beside the ``address LIKE '%…%'`` scan it replaced. A
script for a person to read, not a timed test.

    .venv/bin/python booking-service/scripts/bench_address_search.py [--residents 200000] [--searches 200]
        [--databases sqlite,postgresql]

PostgreSQL is the server of LINLI_BENCH_POSTGRES_URL (default postgresql+asyncpg://postgres@127.0.0.1:5432); the
script creates a database of its own there and drops it after.
"""

import argparse
import asyncio
import os
import random
import statistics
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
from sqlalchemy import Select, insert, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from booking.app import SERVICE_DIR
from booking.residents import repository
from booking.residents.models import Resident
from service_kit import migrations
from service_kit.db import create_engine, create_sessionmaker
from service_kit.pagination import fetch_page

POSTGRES_SERVER = os.environ.get("LINLI_BENCH_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432")
TOWNS = ["长阳镇", "拱辰街道", "西潞街道", "良乡镇", "城关街道", "阎村镇", "窦店镇", "琉璃河镇", "青龙湖镇", "韩村河镇"]
# Some 800 estates, as a district of a million people has: two characters of a place's name and what it is.
_PLACE = "天星时代家和加州水郡长阳半岛北潞园苏庄昊天迎风碧波绿地新都会金鸿福泰康宁瑞景翠城华庭丽水嘉园"
_KIND = ["苑", "小区", "家园", "花园", "嘉园", "北里", "南里", "东区", "西区", "公寓"]
ESTATES = sorted({a + b + k for a in _PLACE[:12] for b in _PLACE[12:] for k in _KIND[:3]})
SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗"
GIVEN = "秀英桂兰玉珍淑华凤霞国强建军志明丽娟春梅"


def address(rng: random.Random) -> str:
    return (
        f"房山区{rng.choice(TOWNS)}{rng.choice(ESTATES)}{rng.randint(1, 40)}号楼"
        f"{rng.randint(1, 6)}单元{rng.randint(1, 24)}{rng.randint(1, 4):02d}"
    )


async def fill(url: str, residents: int, rng: random.Random) -> list[str]:
    """``residents`` residents registered before the grams (at revision 0018); their addresses."""
    engine = create_engine(url)
    now = datetime(2026, 12, 1, tzinfo=UTC)
    addresses = []
    async with create_sessionmaker(engine)() as session:
        for start in range(0, residents, 5000):
            rows = []
            for _ in range(min(5000, residents - start)):
                addresses.append(address(rng))
                rows.append(
                    {
                        "id": uuid.uuid4(),
                        "name": rng.choice(SURNAMES) + "".join(rng.sample(GIVEN, 2)),
                        "address": addresses[-1],
                        "eligibility_tags": [],
                        "consent_purpose": "community_services",
                        "consent_version": "2026-11",
                        "consent_channel": "phone",
                        "consent_at": now,
                        "registered_by": "bench",
                        "created_at": now,
                        "updated_at": now,
                    }
                )
            await session.execute(insert(Resident), rows)
        await session.commit()
    await engine.dispose()
    return addresses


def like_scan(typed: str) -> Select[Resident]:
    """The statement the search ran before the grams."""
    escaped = typed.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    name_match = Resident.name.like(escaped + "%", escape="\\")
    return (
        select(Resident)
        .where(
            Resident.erased_at.is_(None),
            Resident.merged_into_id.is_(None),
            name_match | Resident.address.like(f"%{escaped}%", escape="\\"),
        )
        .order_by(name_match.desc(), Resident.name, Resident.id)
    )


async def plan(session: AsyncSession, statement: Select[Any], label: str) -> None:
    bind = session.get_bind()
    explain = "EXPLAIN QUERY PLAN " if bind.dialect.name == "sqlite" else "EXPLAIN (ANALYZE, COSTS OFF) "
    sql = str(statement.limit(20).compile(bind, compile_kwargs={"literal_binds": True}))
    print(f"  plan, {label}:")
    for row in await session.execute(text(explain + sql)):
        print("     ", row[-1])


async def timed(
    session: AsyncSession, queries: list[str], search: Callable[[str], Awaitable[int]]
) -> tuple[float, float, int, list[tuple[float, str, int]]]:
    """p50 and p99 in ms, the median number of matches, and the three slowest searches (ms, text, matches)."""
    runs = []
    for typed in queries:
        started = time.perf_counter()
        found = await search(typed)
        runs.append(((time.perf_counter() - started) * 1000, typed, found))
        session.expunge_all()
    timings = sorted(ms for ms, _, _ in runs)
    p99 = timings[min(len(timings) - 1, int(len(timings) * 0.99))]
    return statistics.median(timings), p99, int(statistics.median(n for _, _, n in runs)), sorted(runs)[-3:]


async def bench(url: str, addresses: list[str], searches: int, rng: random.Random) -> None:
    engine = create_engine(url)
    queries = []
    for _ in range(searches):
        source = rng.choice(addresses)[3:]  # not the district's name, which every address holds
        start = rng.randrange(len(source) - 4)
        queries.append(source[start : start + rng.randint(3, 6)])
    # What an operator types to find a caller by where they live: the estate, and often the building.
    selective = []
    for _ in range(searches):
        estate = rng.choice(ESTATES)
        selective.append(estate + (f"{rng.randint(1, 40)}号楼" if rng.random() < 0.6 else ""))
    if engine.dialect.name == "postgresql":
        # What autovacuum does soon after the migration's bulk load: the statistics, and the visibility map that
        # lets the grams' primary key answer alone (an index-only scan).
        async with engine.connect() as conn:
            autocommit = await conn.execution_options(isolation_level="AUTOCOMMIT")
            await autocommit.execute(text("VACUUM ANALYZE"))
    async with create_sessionmaker(engine)() as session:
        await plan(session, await repository.text_search(session, queries[0]), f"grams, q={queries[0]!r}")
        await plan(session, like_scan(queries[0]), f"LIKE scan (before), q={queries[0]!r}")

        async def grams(typed: str) -> int:
            return (await repository.search_by_text(session, typed, limit=20, offset=0))[1]

        async def scan(typed: str) -> int:
            return (await fetch_page(session, like_scan(typed), limit=20, offset=0))[1]

        for label, search in (("grams", grams), ("LIKE scan", scan)):
            for kind, typed in (("an estate and its building", selective), ("any 3 to 6 characters", queries)):
                p50, p99, found, slowest = await timed(session, typed, search)
                print(
                    f"  {label}, {len(typed)} searches for {kind} (first page of 20 and the total): p50 {p50:.1f} ms, "
                    f"p99 {p99:.1f} ms, median matches {found}; slowest: "
                    + ", ".join(f"{q!r} {ms:.0f} ms ({n} found)" for ms, q, n in slowest)
                )
        same = [q for q in queries[:50] if await grams(q) != await scan(q)]
        print(f"  the same totals for the first 50 queries: {'yes' if not same else 'NO: ' + repr(same)}")
    await engine.dispose()


async def _admin(sql: str) -> None:
    conn = await asyncpg.connect(POSTGRES_SERVER.replace("postgresql+asyncpg://", "postgresql://") + "/postgres")
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def run(database: str, residents: int, searches: int, tmp: Path) -> None:
    rng = random.Random(18)
    name = f"linli_bench_address_{uuid.uuid4().hex[:8]}"
    if database == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp / (name + '.db')}"
    else:
        url = f"{POSTGRES_SERVER.rstrip('/')}/{name}"
        await _admin(f'CREATE DATABASE "{name}"')
    try:
        await asyncio.to_thread(migrations.upgrade, SERVICE_DIR, url, "0018")
        started = time.perf_counter()
        addresses = await fill(url, residents, rng)
        loaded = time.perf_counter() - started
        started = time.perf_counter()
        await asyncio.to_thread(migrations.upgrade, SERVICE_DIR, url)
        print(
            f"address search, {database}, {residents:,} residents (loaded in {loaded:.0f} s; the migration "
            f"indexed their addresses in {time.perf_counter() - started:.0f} s):"
        )
        await bench(url, addresses, searches, rng)
    finally:
        if database == "postgresql":
            await _admin(f'DROP DATABASE IF EXISTS "{name}"')
        else:
            (tmp / (name + ".db")).unlink(missing_ok=True)


async def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--residents", type=int, default=200_000)
    parser.add_argument("--searches", type=int, default=200)
    parser.add_argument("--databases", default="sqlite,postgresql")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for database in args.databases.split(","):
            await run(database, args.residents, args.searches, Path(tmp))


if __name__ == "__main__":
    asyncio.run(main())
