"""The taxonomy and the gazetteer reach the other services by event: every row once at start (those that existed
before the events), every change when it happens, each exactly once, whatever the replicas."""

import asyncio
from collections import Counter
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from registry.app import create_app
from registry.categories.models import Category
from registry.config import Settings
from registry.places.models import Community, ServiceCenter
from registry.reference import repository, service
from service_kit.db import create_engine, create_sessionmaker
from service_kit.events.tables import outbox_event
from service_kit.testing import TestKeys, eventually, running_app

CATEGORY, COMMUNITY, CENTER = (
    "linli.category.upserted.v1",
    "linli.community.upserted.v1",
    "linli.service_center.upserted.v1",
)
SEEDED = {CATEGORY: 27, COMMUNITY: 11, CENTER: 2}
SHIDAI_JIAHE_CENTER = "6a1f0c8e-3b7d-4c61-9d2e-5f0b8a7c1001"


async def announced(published_events: Any, event_type: str, expected: int) -> list[dict[str, Any]]:
    """The events of ``event_type`` on the stream, once there are ``expected`` of them."""

    async def enough() -> list[dict[str, Any]] | None:
        events: list[dict[str, Any]] = await published_events(event_type)
        return events if len(events) >= expected else None

    events: list[dict[str, Any]] = await eventually(enough)
    return events


async def test_the_seeded_reference_data_is_announced_once_at_start(
    client: httpx.AsyncClient, published_events: Any, settings: Settings
) -> None:
    categories = await announced(published_events, CATEGORY, SEEDED[CATEGORY])
    communities = await announced(published_events, COMMUNITY, SEEDED[COMMUNITY])
    centers = await announced(published_events, CENTER, SEEDED[CENTER])

    codes = Counter(e["data"]["code"] for e in categories)
    assert len(codes) == SEEDED[CATEGORY]
    assert set(codes.values()) == {1}
    meal = next(e["data"] for e in categories if e["data"]["code"] == "elderly.meal_table")
    assert meal == {
        "code": "elderly.meal_table",
        "parent_code": "elderly",
        "name_zh": "老年餐桌",
        "name_en": "Meal table for seniors",
        "version": 1,
    }
    assert {e["source"] for e in categories} == {"registry"}
    assert Counter(e["data"]["code"] for e in communities)["gongchen.shidai_jiahe"] == 1
    jiahe = next(e["data"] for e in communities if e["data"]["code"] == "gongchen.shidai_jiahe")
    assert (jiahe["street_code"], jiahe["name_zh"], jiahe["version"]) == ("gongchen", "时代家和社区", 1)
    center = next(e["data"] for e in centers if e["data"]["center_id"] == SHIDAI_JIAHE_CENTER)
    assert "gongchen.shidai_jiahe" in center["communities"]

    # Another process on the same database (a second replica, a restart) announces nothing again.
    async with running_app(create_app(settings)):
        await asyncio.sleep(1.0)
    for event_type, count in SEEDED.items():
        assert len(await published_events(event_type)) == count


async def test_racing_announcers_emit_each_row_once(settings: Settings) -> None:
    engine = create_engine(settings.database_url)
    sessionmaker = create_sessionmaker(engine)
    try:
        async with sessionmaker() as first:
            # The first replica has read what waits for an announcement ...
            read = await repository.unannounced(first, Community, limit=100)
            assert len(read) == SEEDED[COMMUNITY]
            first.expunge_all()  # it keeps what it read ...
            await first.rollback()  # ... but not the database's write lock (SQLite)
            # ... when the second announces everything.
            async with sessionmaker() as second, second.begin():
                assert await service.announce_pending(second) == sum(SEEDED.values())
            async with first.begin():
                assert [await repository.claim_announcement(first, row) for row in read] == [False] * len(read)
                assert await service.announce_pending(first) == 0
        async with sessionmaker() as session:
            assert await _outbox_counts(session) == SEEDED
    finally:
        await engine.dispose()


async def test_every_change_is_announced_with_its_next_version(
    client: httpx.AsyncClient, test_keys: TestKeys, app: FastAPI
) -> None:
    official = test_keys.headers("official")
    await eventually(lambda: _all_announced(app))
    community = {"code": "xilu.beiguan", "street_code": "xilu", "name_zh": "北关社区", "lat": 39.72, "lng": 116.12}
    assert (await client.post("/api/v1/communities", json=community, headers=official)).status_code == 201
    renamed = await client.patch("/api/v1/communities/xilu.beiguan", json={"name_zh": "北关西社区"}, headers=official)
    assert renamed.status_code == 200, renamed.text
    center = {"name_zh": "西潞社区服务中心", "lat": 39.72, "lng": 116.12, "communities": ["xilu.beiguan"]}
    created = await client.post("/api/v1/service-centers", json=center, headers=official)
    assert created.status_code == 201, created.text
    center_id = created.json()["id"]
    moved = await client.patch(f"/api/v1/service-centers/{center_id}", json={"lat": 39.73}, headers=official)
    assert moved.status_code == 200, moved.text
    licensed = await client.patch(
        "/api/v1/categories/elderly.health", json={"required_qualification": "medical"}, headers=official
    )
    assert licensed.status_code == 200, licensed.text

    async with app.state.sessionmaker() as session:
        events = await _outbox(session, after_seeding=True)
    assert [(e["type"], e["key"], e["data"]["version"]) for e in events] == [
        (COMMUNITY, "xilu.beiguan", 1),
        (COMMUNITY, "xilu.beiguan", 2),
        (CENTER, center_id, 1),
        (CENTER, center_id, 2),
        (CATEGORY, "elderly.health", 2),
    ]
    assert events[1]["data"]["name_zh"] == "北关西社区"
    assert events[2]["data"]["communities"] == ["xilu.beiguan"]
    async with app.state.sessionmaker() as session:
        row = await session.get(Community, "xilu.beiguan")
        assert row is not None
        assert (row.version, row.announced_version) == (2, 2)
    # A refused change announces nothing.
    assert (
        await client.patch("/api/v1/communities/xilu.nowhere", json={"name_zh": "无"}, headers=official)
    ).status_code == 404
    async with app.state.sessionmaker() as session:
        assert len(await _outbox(session, after_seeding=True)) == 5


async def test_a_row_changed_before_its_first_announcement_is_announced_by_the_change(settings: Settings) -> None:
    engine = create_engine(settings.database_url)
    sessionmaker = create_sessionmaker(engine)
    try:
        async with sessionmaker() as session, session.begin():
            community = await session.get(Community, "gongchen.haotian")
            assert community is not None
            assert (community.version, community.announced_version) == (1, 0)
            community.name_zh = "昊天北社区"
            await session.flush()
            await service.changed(session, community)
            assert (community.version, community.announced_version) == (2, 2)
        async with sessionmaker() as session, session.begin():
            await service.announce_pending(session)
            rows = await session.execute(
                select(outbox_event.c.data).where(outbox_event.c.subject == "gongchen.haotian")
            )
            assert [(d["version"], d["name_zh"]) for (d,) in rows] == [(2, "昊天北社区")]
    finally:
        await engine.dispose()


async def test_an_admin_announces_everything_again(
    client: httpx.AsyncClient, test_keys: TestKeys, app: FastAPI, published_events: Any
) -> None:
    await eventually(lambda: _all_announced(app))
    path = "/api/v1/ops/registry/reference-data/announce"
    assert (await client.post(path, headers=test_keys.headers("official"))).status_code == 403
    assert (await client.post(path)).status_code == 401
    response = await client.post(path, headers=test_keys.headers("admin"))
    assert response.status_code == 200, response.text
    assert response.json() == {"announced": {"category": 27, "community": 11, "service_center": 2}}
    twice = await announced(published_events, COMMUNITY, 2 * SEEDED[COMMUNITY])
    assert set(Counter(e["data"]["code"] for e in twice).values()) == {2}


@pytest.mark.parametrize("table", [Category, Community, ServiceCenter])
async def test_seeded_rows_start_unannounced(table: Any, settings: Settings) -> None:
    """Rows the migrations seeded start unannounced (version 1, announced 0): the job is what announces them."""
    engine = create_engine(settings.database_url)
    try:
        async with create_sessionmaker(engine)() as session:
            versions = await session.execute(select(table.version, table.announced_version).distinct())
            assert versions.all() == [(1, 0)]
    finally:
        await engine.dispose()


async def _all_announced(app: FastAPI) -> bool:
    async with app.state.sessionmaker() as session:
        return not await repository.any_unannounced(session)


async def _outbox_counts(session: AsyncSession) -> dict[str, int]:
    rows = await session.execute(
        select(outbox_event.c.type, func.count()).where(outbox_event.c.type.in_(SEEDED)).group_by(outbox_event.c.type)
    )
    return {str(t): int(n) for t, n in rows.all()}


async def _outbox(session: AsyncSession, *, after_seeding: bool) -> list[dict[str, Any]]:
    """The reference events in the outbox, in order (without the start-up announcements of seeded rows)."""
    rows = await session.execute(
        select(outbox_event.c.type, outbox_event.c.subject, outbox_event.c.data)
        .where(outbox_event.c.type.in_(SEEDED))
        .order_by(outbox_event.c.seq)
    )
    events = [{"type": t, "key": k, "data": d} for t, k, d in rows.all()]
    return events[sum(SEEDED.values()) :] if after_seeding else events
