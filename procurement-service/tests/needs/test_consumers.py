"""Residents' needs arrive from feedback-service as real ``need.submitted`` events over NATS JetStream."""

import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
from fastapi import FastAPI
from nats.js import JetStreamContext
from procurement_builders import publish
from sourcing_builders import deliver, official, runner

from service_kit.events.contracts import NeedSubmitted
from service_kit.events.envelope import Envelope
from service_kit.testing import TestKeys, eventually

# feedback-service groups residents' needs by category and community.
MEALS = "elderly.meal_table@changyang-01"
SAFETY = "children.safety@liangxiang-02"


def submitted(group_key: str, count: int) -> NeedSubmitted:
    return NeedSubmitted(
        need_id=uuid.uuid4(),
        group_key=group_key,
        category_code="elderly.meal_table",
        community_code="changyang-01",
        target_group="80+",
        summary="希望社区办老年餐桌",
        count=count,
        source="resident",
        submitted_at=datetime(2026, 11, 20, 2, 0, tzinfo=UTC),
    )


async def pool(client: httpx.AsyncClient, keys: TestKeys) -> list[dict[str, Any]]:
    response = await client.get("/api/v1/need-pool", headers=official(keys))
    assert response.status_code == 200
    return list(response.json()["items"])


async def test_needs_are_pooled_by_group_keeping_the_groups_count(
    app: FastAPI, client: httpx.AsyncClient, js: JetStreamContext, test_keys: TestKeys
) -> None:
    # Each event carries the group's running total: 3 residents asked, then 5, then a late copy of "4" arrives.
    await deliver(
        app,
        js,
        "needs",
        submitted(MEALS, 3),
        submitted(MEALS, 5),
        submitted(SAFETY, 1),
        submitted(MEALS, 4),
        source="feedback",
    )
    needs = await pool(client, test_keys)
    by_group = {n["group_key"]: n for n in needs}
    assert by_group[MEALS]["count"] == 5
    assert by_group[MEALS]["source"] == "resident"
    assert by_group[SAFETY]["count"] == 1
    assert len(needs) == 2

    trail = await client.get(f"/api/v1/audit-trail/{by_group[MEALS]['id']}", headers=official(test_keys))
    assert [e["action"] for e in trail.json()["items"]] == ["submitted", "counted"]


async def test_residents_joining_a_merged_group_count_on_the_need_it_merged_into(
    app: FastAPI, client: httpx.AsyncClient, js: JetStreamContext, test_keys: TestKeys
) -> None:
    await deliver(app, js, "needs", submitted(MEALS, 2), source="feedback")
    (grouped,) = await pool(client, test_keys)
    mine = await client.post(
        "/api/v1/need-pool",
        json={"category_code": "elderly.meal_table", "summary": "老年餐桌", "count": 10},
        headers=official(test_keys),
    )
    merged = await client.post(
        f"/api/v1/need-pool/{grouped['id']}/merge", json={"into": mine.json()["id"]}, headers=official(test_keys)
    )
    assert merged.json()["count"] == 12
    await deliver(app, js, "needs", submitted(MEALS, 5), source="feedback")
    by_id = {n["id"]: n for n in await pool(client, test_keys)}
    assert by_id[mine.json()["id"]]["count"] == 15
    assert (by_id[grouped["id"]]["status"], by_id[grouped["id"]]["count"]) == ("merged", 5)


async def test_a_redelivered_need_counts_once(
    app: FastAPI, client: httpx.AsyncClient, js: JetStreamContext, test_keys: TestKeys
) -> None:
    envelope = Envelope.wrap(submitted(MEALS, 4), source="feedback")
    taken = runner(app, "needs")
    # The same event stored twice by JetStream (a republish after its duplicate window): the inbox applies it once.
    await publish(js, envelope, dedupe=False)
    await publish(js, envelope, dedupe=False)

    async def settled() -> bool | None:
        return True if (taken.applied, taken.duplicates) == (1, 1) else None

    await eventually(settled)
    (need,) = await pool(client, test_keys)
    assert need["count"] == 4
