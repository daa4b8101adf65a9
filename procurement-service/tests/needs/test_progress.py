"""The residents who asked learn what became of their need: ``need.progressed`` leaves through the outbox, in the
transaction of each change of the pool item their group belongs to (pooled, merged, in a call, contracted,
bookable, declined)."""

import asyncio
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
from fastapi import FastAPI
from nats.js import JetStreamContext
from procurement_builders import known_provider, sign_by_both
from sourcing_builders import (
    DEADLINE,
    apply,
    assign,
    create_fund,
    deliver,
    official,
    published_call,
    review,
    verified_provider,
)
from sqlalchemy import select

from procurement.config import Settings
from service_kit.db import create_engine
from service_kit.events.contracts import NeedProgressed, NeedSubmitted
from service_kit.events.tables import outbox_event
from service_kit.testing import TestKeys, assert_problem

MEALS = "elderly.meal_table@changyang-01"
MEALS_NEARBY = "elderly.meal_table@changyang-02"
SAFETY = "children.safety@liangxiang-02"
NOTICE_AT = datetime(2026, 12, 14, 2, 0, tzinfo=UTC)
AFTER_NOTICE = datetime(2026, 12, 22, 1, 0, tzinfo=UTC)


def submitted(group_key: str, count: int = 1) -> NeedSubmitted:
    category, _, community = group_key.partition("@")
    return NeedSubmitted(
        need_id=uuid.uuid4(),
        group_key=group_key,
        category_code=category,
        community_code=community,
        summary="希望社区办老年餐桌",
        count=count,
        source="resident",
        submitted_at=datetime(2026, 11, 20, 2, 0, tzinfo=UTC),
    )


async def progress(settings: Settings) -> list[NeedProgressed]:
    """Every need.progressed in the outbox, oldest first."""
    engine = create_engine(settings.database_url)
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(
                select(outbox_event.c.data)
                .where(outbox_event.c.type == NeedProgressed.type)
                .order_by(outbox_event.c.seq)
            )
            return [NeedProgressed.model_validate(data) for (data,) in rows]
    finally:
        await engine.dispose()


async def pool_by_group(client: httpx.AsyncClient, keys: TestKeys) -> dict[str, dict[str, Any]]:
    response = await client.get("/api/v1/need-pool", headers=official(keys))
    assert response.status_code == 200, response.text
    return {n["group_key"]: n for n in response.json()["items"] if n["group_key"]}


async def nearby_merged_into_meals(
    app: FastAPI, client: httpx.AsyncClient, js: JetStreamContext, keys: TestKeys, *needs: NeedSubmitted
) -> dict[str, dict[str, Any]]:
    """The pool after ``needs`` arrived from feedback and an official merged the nearby meals group into meals."""
    await deliver(app, js, "needs", *needs, source="feedback")
    pool = await pool_by_group(client, keys)
    merged = await client.post(
        f"/api/v1/need-pool/{pool[MEALS_NEARBY]['id']}/merge", json={"into": pool[MEALS]["id"]}, headers=official(keys)
    )
    assert merged.status_code == 200, merged.text
    return pool


async def test_pooling_and_merging_tell_every_group_of_the_item(
    app: FastAPI, client: httpx.AsyncClient, js: JetStreamContext, settings: Settings, test_keys: TestKeys
) -> None:
    await deliver(
        app, js, "needs", submitted(MEALS, 3), submitted(MEALS_NEARBY), submitted(MEALS, 4), source="feedback"
    )
    pool = await pool_by_group(client, test_keys)
    told = await progress(settings)
    # One "pooled" per group when it enters the pool; a later count changes nothing the residents are told.
    assert [(p.group_key, p.status, p.pool_need_id) for p in told] == [
        (MEALS, "pooled", uuid.UUID(pool[MEALS]["id"])),
        (MEALS_NEARBY, "pooled", uuid.UUID(pool[MEALS_NEARBY]["id"])),
    ]

    merged = await client.post(
        f"/api/v1/need-pool/{pool[MEALS_NEARBY]['id']}/merge",
        json={"into": pool[MEALS]["id"]},
        headers=official(test_keys),
    )
    assert merged.status_code == 200, merged.text
    (after_merge,) = (await progress(settings))[2:]
    assert (after_merge.group_key, after_merge.status, after_merge.pool_need_id) == (
        MEALS_NEARBY,
        "pooled",
        uuid.UUID(pool[MEALS]["id"]),
    )


async def test_an_official_declines_a_need_with_the_reason_its_residents_read(
    app: FastAPI, client: httpx.AsyncClient, js: JetStreamContext, settings: Settings, test_keys: TestKeys, clock: Any
) -> None:
    pool = await nearby_merged_into_meals(
        app, client, js, test_keys, submitted(SAFETY), submitted(MEALS), submitted(MEALS_NEARBY)
    )
    url = f"/api/v1/need-pool/{pool[MEALS]['id']}/decline"

    blank = await client.post(url, json={"reason": "  "}, headers=official(test_keys))
    assert assert_problem(blank, 422, "validation_error")["errors"][0]["field"] == "reason"
    operator = await client.post(url, json={"reason": "x"}, headers=test_keys.headers("operator"))
    assert_problem(operator, 403)

    reason = "该社区已有两处老年餐桌，步行十分钟可达。"
    declined = await client.post(url, json={"reason": reason}, headers=official(test_keys))
    assert declined.status_code == 200, declined.text
    assert (declined.json()["status"], declined.json()["decline_reason"]) == ("declined", reason)
    assert declined.json()["declined_at"] == "2026-11-27T02:00:00Z"
    told = [p for p in await progress(settings) if p.status == "declined"]
    # The item's own group and the group merged into it hear the reason; the other item's group hears nothing.
    assert sorted((p.group_key, p.reason) for p in told) == [(MEALS, reason), (MEALS_NEARBY, reason)]

    again = await client.post(url, json={"reason": reason}, headers=official(test_keys))
    assert assert_problem(again, 409, "need_not_open")["current_status"] == "declined"
    assert len([p for p in await progress(settings) if p.status == "declined"]) == 2
    unknown = await client.post(
        f"/api/v1/need-pool/{uuid.uuid4()}/decline", json={"reason": reason}, headers=official(test_keys)
    )
    assert_problem(unknown, 404, "need_not_found")


async def test_a_call_answering_the_need_then_its_contract_and_bookable_offerings(
    app: FastAPI, client: httpx.AsyncClient, js: JetStreamContext, settings: Settings, test_keys: TestKeys, clock: Any
) -> None:
    pool = await nearby_merged_into_meals(
        app, client, js, test_keys, submitted(MEALS), submitted(MEALS_NEARBY), submitted(SAFETY)
    )
    provider_id = await verified_provider(app, js)
    fund = await create_fund(client, test_keys)
    call = await published_call(client, test_keys, fund["id"], need_ids=[pool[MEALS]["id"]])
    assert call["need_ids"] == [pool[MEALS]["id"]]
    in_call = [p for p in await progress(settings) if p.status == "in_call"]
    assert sorted((p.group_key, p.call_id, p.call_title) for p in in_call) == [
        (MEALS, uuid.UUID(call["id"]), call["title"]),
        (MEALS_NEARBY, uuid.UUID(call["id"]), call["title"]),
    ]

    application = await apply(client, test_keys, call["id"], provider_id, budget_request_fen=20_000_000)
    clock.now = DEADLINE
    base = f"/api/v1/calls/{call['id']}"
    assert (await client.post(f"{base}/close", headers=official(test_keys))).status_code == 200
    await assign(client, test_keys, call["id"], "expert-li")
    await review(client, test_keys, call["id"], application["id"], "expert-li", (90, 90, 90))
    assert (await client.post(f"{base}/close-review", headers=official(test_keys))).status_code == 200
    approved = await client.post(
        f"{base}/applications/{application['id']}/approve", json={}, headers=official(test_keys)
    )
    assert approved.status_code == 200, approved.text
    clock.now = NOTICE_AT
    assert (await client.post(f"{base}/notice", json={}, headers=official(test_keys))).status_code == 201
    clock.now = AFTER_NOTICE
    offering_id = uuid.uuid4()
    await known_provider(app, provider_id, offering_id)
    terms = {
        "start_date": "2027-01-01",
        "end_date": "2027-12-31",
        "funded_offerings": [
            {"offering_id": str(offering_id), "unit_price_fen": 1500, "resident_price_fen": 300, "quota": 10}
        ],
    }
    drafted = await client.post(
        f"{base}/applications/{application['id']}/contract", json=terms, headers=official(test_keys)
    )
    assert drafted.status_code == 201, drafted.text
    before_signing = len(await progress(settings))
    contract = await sign_by_both(client, test_keys, drafted.json(), official(test_keys))

    signed = (await progress(settings))[before_signing:]
    assert sorted((p.group_key, p.status, p.contract_id, p.contract_title, p.offering_ids) for p in signed) == [
        (MEALS, "contracted", uuid.UUID(contract["id"]), contract["title"], ()),
        (MEALS, "in_service", uuid.UUID(contract["id"]), contract["title"], (offering_id,)),
        (MEALS_NEARBY, "contracted", uuid.UUID(contract["id"]), contract["title"], ()),
        (MEALS_NEARBY, "in_service", uuid.UUID(contract["id"]), contract["title"], (offering_id,)),
    ]
    assert {p.occurred_at for p in signed} == {AFTER_NOTICE}
    assert SAFETY not in {p.group_key for p in await progress(settings) if p.status != "pooled"}


async def test_two_officials_declining_at_once_decline_it_once(
    app: FastAPI, client: httpx.AsyncClient, js: JetStreamContext, settings: Settings, test_keys: TestKeys, clock: Any
) -> None:
    await deliver(app, js, "needs", submitted(SAFETY), source="feedback")
    pool = await pool_by_group(client, test_keys)
    url = f"/api/v1/need-pool/{pool[SAFETY]['id']}/decline"
    answers = await asyncio.gather(
        *(client.post(url, json={"reason": f"理由{i}"}, headers=official(test_keys)) for i in range(2))
    )
    assert sorted(a.status_code for a in answers) == [200, 409]
    (winner,) = [a.json() for a in answers if a.status_code == 200]
    told = [p for p in await progress(settings) if p.status == "declined"]
    assert [(p.group_key, p.reason) for p in told] == [(SAFETY, winner["decline_reason"])]
