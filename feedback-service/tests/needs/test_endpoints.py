"""Needs and suggestions over HTTP: masked text, grouping by category and community, need.submitted."""

import asyncio
import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from feedback.needs.models import Need, NeedGroup
from service_kit.events.contracts import NeedSubmitted
from service_kit.events.tables import outbox_event
from service_kit.testing import TestKeys, assert_problem


def need(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "category_code": "elderly.meal_table",
        "community_code": "gongchen.shidai_jiahe",
        "text": "小区附近没有老年餐桌，腿脚不便走不远。",
    }
    body.update(overrides)
    return body


async def test_a_resident_records_a_need_and_procurement_hears_of_it(
    client: httpx.AsyncClient, resident_headers: Any, read_events: Any, reference_data: Any
) -> None:
    resident_id = uuid.uuid4()
    response = await client.post(
        "/api/v1/needs",
        json=need(text="希望有老年餐桌，联系我13812345678", target_group="elderly_80_plus"),
        headers=resident_headers(resident_id),
    )

    assert response.status_code == 201, response.text
    recorded = response.json()
    assert recorded["text"] == "希望有老年餐桌，联系我138****5678"
    assert (recorded["source"], recorded["resident_id"], recorded["kind"]) == ("resident", str(resident_id), "need")
    assert (recorded["group_key"], recorded["group_count"]) == ("elderly.meal_table@gongchen.shidai_jiahe", 1)

    (event,) = await read_events(NeedSubmitted, 1)
    assert isinstance(event, NeedSubmitted)
    assert event.need_id == uuid.UUID(recorded["id"])
    assert (event.group_key, event.count, event.source) == ("elderly.meal_table@gongchen.shidai_jiahe", 1, "resident")
    assert (event.category_code, event.community_code, event.target_group) == (
        "elderly.meal_table",
        "gongchen.shidai_jiahe",
        "elderly_80_plus",
    )
    assert "13812345678" not in event.summary


async def test_similar_needs_are_counted_together(
    client: httpx.AsyncClient,
    resident_headers: Any,
    operator_headers: dict[str, str],
    official_headers: dict[str, str],
    read_events: Any,
    reference_data: Any,
) -> None:
    responses = await asyncio.gather(
        *(client.post("/api/v1/needs", json=need(), headers=resident_headers(uuid.uuid4())) for _ in range(4))
    )
    assert all(r.status_code == 201 for r in responses), [r.text for r in responses]
    assert sorted(r.json()["group_count"] for r in responses) == [1, 2, 3, 4]
    by_phone = await client.post("/api/v1/needs", json=need(kind="suggestion"), headers=operator_headers)
    assert (by_phone.json()["source"], by_phone.json()["group_count"]) == ("operator", 5)
    other = await client.post("/api/v1/needs", json=need(community_code="gongchen.haotian"), headers=operator_headers)
    assert other.json()["group_count"] == 1
    no_community = await client.post("/api/v1/needs", json=need(community_code=None), headers=official_headers)
    assert (no_community.json()["group_key"], no_community.json()["source"]) == ("elderly.meal_table@-", "official")

    events = await read_events(NeedSubmitted, 7)
    group = "elderly.meal_table@gongchen.shidai_jiahe"
    assert sorted(e.count for e in events if e.group_key == group) == [1, 2, 3, 4, 5]

    groups = (await client.get("/api/v1/needs/groups", headers=official_headers)).json()
    assert next((g["group_key"], g["count"]) for g in groups["items"]) == (group, 5)
    assert groups["total"] == 3
    filtered = await client.get(
        "/api/v1/needs/groups", params={"community_code": "gongchen.haotian"}, headers=official_headers
    )
    assert [g["count"] for g in filtered.json()["items"]] == [1]


async def test_a_need_knows_its_street(
    client: httpx.AsyncClient, operator_headers: dict[str, str], reference_data: Any
) -> None:
    body = need(community_code="changyang.bandao")
    response = await client.post("/api/v1/needs", json=body, headers=operator_headers)
    assert response.status_code == 201, response.text
    assert (response.json()["community_code"], response.json()["street_code"]) == ("changyang.bandao", "changyang")
    shown = (await client.get(f"/api/v1/needs/{response.json()['id']}", headers=operator_headers)).json()
    assert shown["street_code"] == "changyang"
    without = await client.post("/api/v1/needs", json=need(community_code=None), headers=operator_headers)
    assert without.json()["street_code"] is None


async def test_who_reads_which_needs(
    client: httpx.AsyncClient,
    resident_headers: Any,
    official_headers: dict[str, str],
    test_keys: TestKeys,
    reference_data: Any,
) -> None:
    resident_id = uuid.uuid4()
    mine = (await client.post("/api/v1/needs", json=need(), headers=resident_headers(resident_id))).json()
    theirs = (await client.post("/api/v1/needs", json=need(), headers=resident_headers(uuid.uuid4()))).json()

    own = (await client.get("/api/v1/needs", headers=resident_headers(resident_id))).json()
    assert [n["id"] for n in own["items"]] == [mine["id"]]
    assert (await client.get(f"/api/v1/needs/{mine['id']}", headers=resident_headers(resident_id))).status_code == 200
    assert_problem(await client.get(f"/api/v1/needs/{theirs['id']}", headers=resident_headers(resident_id)), 404)
    assert (await client.get("/api/v1/needs", headers=official_headers)).json()["total"] == 2
    assert_problem(await client.get("/api/v1/needs/groups", headers=resident_headers(resident_id)), 403)
    assert_problem(await client.get(f"/api/v1/needs/{uuid.uuid4()}", headers=official_headers), 404)
    provider = test_keys.headers("provider_admin", provider_id=uuid.uuid4())
    assert_problem(await client.post("/api/v1/needs", json=need(), headers=provider), 403)
    assert_problem(await client.get("/api/v1/needs", headers=provider), 403)
    assert_problem(await client.post("/api/v1/needs", json=need()), 401)
    assert_problem(
        await client.post(
            "/api/v1/needs", json=need(resident_id=str(uuid.uuid4())), headers=resident_headers(resident_id)
        ),
        404,
    )


@pytest.mark.parametrize(
    "change",
    [
        {"unknown": True},
        {"category_code": ""},
        {"category_code": "Elderly Meal"},
        {"category_code": "x" * 65},
        {"community_code": "社区"},
        {"community_code": "-gongchen.x"},
        {"community_code": "x" * 65},
        {"text": ""},
        {"text": "字" * 2001},
        {"text": 5},
        {"kind": "wish"},
        {"resident_id": "nope"},
    ],
)
async def test_bad_needs_are_422(client: httpx.AsyncClient, operator_headers: dict[str, str], change: Any) -> None:
    assert_problem(await client.post("/api/v1/needs", json=need(**change), headers=operator_headers), 422)


async def test_malformed_json_is_422(client: httpx.AsyncClient, operator_headers: dict[str, str]) -> None:
    response = await client.post(
        "/api/v1/needs", content=b"[1,", headers={**operator_headers, "content-type": "application/json"}
    )
    assert_problem(response, 422)


# ------------------------------------------------------------------ names feedback does not know


async def nothing_recorded(app: FastAPI) -> None:
    async with app.state.sessionmaker() as session:
        for counted in (
            select(func.count()).select_from(Need),
            select(func.count()).select_from(NeedGroup),
            select(func.count()).select_from(outbox_event).where(outbox_event.c.type == NeedSubmitted.type),
        ):
            assert (await session.execute(counted)).scalar_one() == 0


@pytest.mark.parametrize(
    ("change", "code", "field"),
    [
        ({"category_code": "elderly.moon_landing"}, "unknown_category", "category_code"),
        ({"category_code": "culture"}, "unknown_category", "category_code"),
        ({"community_code": "gongchen.atlantis"}, "unknown_community", "community_code"),
        ({"community_code": "FS-GY-001"}, "unknown_community", "community_code"),
    ],
)
async def test_a_need_names_a_known_category_and_community(
    app: FastAPI,
    client: httpx.AsyncClient,
    resident_headers: Any,
    operator_headers: dict[str, str],
    official_headers: dict[str, str],
    reference_data: Any,
    change: dict[str, str],
    code: str,
    field: str,
) -> None:
    for headers in (resident_headers(uuid.uuid4()), operator_headers, official_headers):
        response = await client.post("/api/v1/needs", json=need(**change), headers=headers)
        assert_problem(response, 422, code)
        problem = response.json()
        assert [e["field"] for e in problem["errors"]] == [field]
        assert "yet" in problem["detail"]
    await nothing_recorded(app)
    assert (await client.get("/api/v1/needs/groups", headers=official_headers)).json()["total"] == 0


async def test_a_category_announced_a_moment_later_is_accepted_then(
    client: httpx.AsyncClient, operator_headers: dict[str, str], known: Any
) -> None:
    body = need(category_code="green.low_carbon", community_code=None)
    assert_problem(await client.post("/api/v1/needs", json=body, headers=operator_headers), 422, "unknown_category")
    await known.categories("green.low_carbon")
    response = await client.post("/api/v1/needs", json=body, headers=operator_headers)
    assert response.status_code == 201, response.text
    assert response.json()["group_count"] == 1
