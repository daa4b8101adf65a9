"""Part of an address is found through the addresses' character grams, not by reading every address: the answer
is the one ``address LIKE '%…%'`` gives (checked against it on a generated set of residents, on SQLite and
PostgreSQL alike), and the grams follow each address through registration, correction, merge and erasure."""

import asyncio
import random
import re
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import insert, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from booking.calls.models import CallRecord
from booking.models import load_models
from booking.residents import address_grams, repository
from booking.residents.models import Resident, ResidentAddressGram
from booking.urgent.models import UrgentCall
from service_kit import migrations
from service_kit.db import create_engine
from service_kit.testing import DatabaseFactory, TestKeys

pytestmark = pytest.mark.usefixtures("gazetteer")

RESIDENTS = "/api/v1/residents"
PARTS = [
    "长阳镇",
    "拱辰街道",
    "西路",
    "天星苑",
    "时代家和",
    "3号楼",
    "2单元",
    "101",
    "号院",
    "Block A",
    "10%",
    "a_b",
    "東",
]
SURNAMES = ["张", "王", "李", "长", "拱"]


async def register(client: httpx.AsyncClient, keys: TestKeys, **fields: Any) -> dict[str, Any]:
    body = {
        "name": "王秀英",
        "phone": f"139{uuid.uuid4().int % 10**8:08d}",
        "consent": {"version": "2026-11", "channel": "phone"},
        **fields,
    }
    response = await client.post(RESIDENTS, json=body, headers=keys.headers("operator"))
    assert response.status_code == 201, response.text
    return dict(response.json())


async def found(client: httpx.AsyncClient, keys: TestKeys, q: str) -> list[str]:
    response = await client.get(RESIDENTS, params={"q": q, "limit": 100}, headers=keys.headers("operator"))
    assert response.status_code == 200, response.text
    assert response.json()["total"] == len(response.json()["items"])
    return [r["id"] for r in response.json()["items"]]


async def like_answer(sessionmaker: async_sessionmaker[AsyncSession], q: str) -> list[str]:
    """What the search answered before the grams: every live resident's address read with LIKE."""
    escaped = q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    name_match = Resident.name.like(escaped + "%", escape="\\")
    query = (
        select(Resident.id)
        .where(
            Resident.erased_at.is_(None),
            Resident.merged_into_id.is_(None),
            name_match | Resident.address.like(f"%{escaped}%", escape="\\"),
        )
        .order_by(name_match.desc(), Resident.name, Resident.id)
    )
    async with sessionmaker() as session:
        return [str(i) for i in (await session.scalars(query)).all()]


async def test_the_grams_answer_as_like_did_on_a_generated_set(
    client: httpx.AsyncClient, test_keys: TestKeys, sessionmaker: async_sessionmaker[AsyncSession], app: FastAPI
) -> None:
    rng = random.Random(18)
    addresses: list[str] = []
    for n in range(60):
        address = "".join(rng.sample(PARTS, rng.randint(1, 4))) if n % 7 else None
        if address is not None:
            addresses.append(address)
        await register(client, test_keys, name=rng.choice(SURNAMES) + "秀" + "英兰芳"[n % 3], address=address)
    for latin in ("Li3娟", "lI3芳", "3号Li"):  # names SQLite's LIKE finds in either case
        await register(client, test_keys, name=latin, address=None)
    queries = {
        "li3",
        "LI3娟",
        "3号l",
        "长",
        "号",
        "楼",
        "%",
        "_",
        "a",
        "B",
        "block a1",
        "东",
        "東",
        "不存在",
        "10%",
        "a_b",
        "3号楼2",
        "时代家和3",
    }
    for address in addresses:
        start = rng.randrange(len(address))
        queries.add(address[start : start + rng.randint(1, 6)])
    # Only what reaches the address search: no digits-only (phone), no letters-only (pinyin) queries.
    queries = {q for q in queries if q.strip() and not re.fullmatch(r"[A-Za-z][A-Za-z\s]*|[\d\s]+", q.strip())}
    assert len(queries) > 30
    for q in sorted(queries):
        assert await found(client, test_keys, q) == await like_answer(sessionmaker, q.strip()), q


async def test_the_grams_follow_the_address_through_correction_merge_and_erasure(
    client: httpx.AsyncClient, test_keys: TestKeys, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    operator = test_keys.headers("operator")
    first = await register(client, test_keys, name="赵玉兰", address="长阳镇天星苑5号楼")
    assert await found(client, test_keys, "天星苑5") == [first["id"]]
    corrected = await client.patch(f"{RESIDENTS}/{first['id']}", json={"address": "拱辰街道西路8号"}, headers=operator)
    assert corrected.status_code == 200, corrected.text
    assert await found(client, test_keys, "天星苑5") == []
    assert await found(client, test_keys, "西路8") == [first["id"]]

    survivor = await register(client, test_keys, name="赵玉兰")
    merged = await client.post(
        f"{RESIDENTS}/{survivor['id']}/merge",
        json={"duplicate_id": first["id"], "reason": "同一人登记两次"},
        headers=operator,
    )
    assert merged.status_code == 200, merged.text
    assert await found(client, test_keys, "西路8") == [survivor["id"]]

    erased = await client.delete(f"{RESIDENTS}/{survivor['id']}", headers=operator)
    assert erased.status_code == 204, erased.text
    assert await found(client, test_keys, "西路8") == []
    async with sessionmaker() as session:
        left = await session.scalars(
            select(ResidentAddressGram.resident_id).where(
                ResidentAddressGram.resident_id.in_([uuid.UUID(first["id"]), uuid.UUID(survivor["id"])])
            )
        )
        assert list(left) == []


async def test_the_migration_indexes_the_residents_registered_before_it(
    database_factory: DatabaseFactory, service_dir: Path
) -> None:
    """Residents registered before the grams (and an urgent call opened before it was on the timeline) are
    indexed (and written on the timeline) by the migration itself."""
    load_models()
    url = database_factory.new(service_dir)
    await asyncio.to_thread(migrations.downgrade, service_dir, url, "0018")
    now = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)
    people = {uuid.UUID(int=n): address for n, address in enumerate(["长阳镇天星苑5号楼", "Block A 3", None], 1)}
    urgent_id = uuid.UUID(int=99)
    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            for resident_id, address in people.items():
                await conn.execute(
                    insert(Resident.__table__).values(
                        id=resident_id,
                        name="王秀英",
                        address=address,
                        eligibility_tags=[],
                        consent_purpose="community_services",
                        consent_version="2026-11",
                        consent_channel="phone",
                        consent_at=now,
                        registered_by="op-chen",
                        created_at=now,
                        updated_at=now,
                    )
                )
            await conn.execute(
                insert(UrgentCall.__table__).values(
                    id=urgent_id,
                    resident_id=uuid.UUID(int=1),
                    reason="fall",
                    note="摔倒",
                    status="resolved",
                    opened_by="op-chen",
                    opened_by_name="话务员 小陈",
                    opened_at=now,
                )
            )
        await asyncio.to_thread(migrations.upgrade, service_dir, url)
        async with engine.connect() as conn:
            grams = (await conn.execute(select(ResidentAddressGram.resident_id, ResidentAddressGram.gram))).all()
            calls = (await conn.execute(select(CallRecord.resident_id, CallRecord.reason, CallRecord.outcome_id))).all()
    finally:
        await engine.dispose()
    for resident_id, address in people.items():
        assert {g for r, g in grams if r == resident_id} == address_grams.of_address(address)
    assert {g for r, g in grams if r == uuid.UUID(int=2)} >= {"bl", "a ", " 3", "3"}
    assert calls == [(uuid.UUID(int=1), "safety", urgent_id)]


async def test_an_address_search_reads_indexes_not_every_resident(
    sessionmaker: async_sessionmaker[AsyncSession], app: FastAPI
) -> None:
    """The plan of the search (SQLite's, which does not depend on the table's size; PostgreSQL's is shown at
    200,000 residents by booking-service/scripts/bench_address_search.py): the grams' and the name's indexes,
    then residents by id; the LIKE it replaced read every resident."""
    async with sessionmaker() as session:
        bind = session.get_bind()
        if bind.dialect.name != "sqlite":
            pytest.skip("PostgreSQL plans by the table's size: the benchmark shows its plan at 200,000 residents")
        for typed in ("天星苑5号楼", "号", "Block A1"):
            statement = await repository.text_search(session, typed)
            sql = str(statement.compile(bind, compile_kwargs={"literal_binds": True}))
            plan = [row[-1] for row in await session.execute(text("EXPLAIN QUERY PLAN " + sql))]
            assert not [step for step in plan if step.startswith("SCAN")], (typed, plan)
            assert any("resident_address_grams" in step for step in plan), plan


async def test_two_corrections_at_once_leave_the_grams_of_the_address_that_stays(
    client: httpx.AsyncClient, test_keys: TestKeys, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    operator = test_keys.headers("operator")
    resident = await register(client, test_keys, name="赵玉兰", address="长阳镇天星苑5号楼")
    url = f"{RESIDENTS}/{resident['id']}"
    answers = await asyncio.gather(
        *(client.patch(url, json={"address": a}, headers=operator) for a in ("拱辰街道西路8号", "良乡镇苏庄3号院"))
    )
    assert [a.status_code for a in answers] == [200, 200]
    kept = (await client.get(url, headers=operator)).json()["address"]
    async with sessionmaker() as session:
        grams = await session.scalars(
            select(ResidentAddressGram.gram).where(ResidentAddressGram.resident_id == uuid.UUID(resident["id"]))
        )
        assert set(grams) == address_grams.of_address(kept)
    assert await found(client, test_keys, kept[2:6]) == [resident["id"]]


@pytest.mark.parametrize(
    "typed", ["\\", "\\%", "😀", "\U0010ffff", "\ud7ff号", "'; drop table resident; --", "号" * 50, "a\x00b"]
)
async def test_hostile_text_in_the_search_box_is_never_a_server_error(
    client: httpx.AsyncClient, test_keys: TestKeys, typed: str
) -> None:
    await register(client, test_keys, name="赵玉兰", address="长阳镇天星苑5号楼")
    response = await client.get(RESIDENTS, params={"q": typed}, headers=test_keys.headers("operator"))
    assert response.status_code in (200, 422), response.text
    if response.status_code == 200:
        assert response.json()["items"] == []
