import asyncio

import httpx
import pytest
from sqlalchemy import select

from service_kit.events.tables import outbox_event
from service_kit.testing import TestKeys, assert_problem

SHIDAI_JIAHE_CENTER = "6a1f0c8e-3b7d-4c61-9d2e-5f0b8a7c1001"


async def test_the_gazetteer_is_seeded_for_fangshan(client: httpx.AsyncClient) -> None:
    streets = (await client.get("/api/v1/streets")).json()
    codes = {s["code"]: s for s in streets["items"]}
    assert {"gongchen", "xilu", "changyang", "liangxiang"} <= codes.keys()
    assert codes["gongchen"]["name_zh"] == "拱辰街道"
    assert codes["changyang"]["kind"] == "town"
    communities = (await client.get("/api/v1/communities", params={"street_code": "gongchen"})).json()
    assert {"gongchen.shidai_jiahe", "gongchen.jiazhou_shuijun"} <= {c["code"] for c in communities["items"]}
    assert all(c["street_code"] == "gongchen" for c in communities["items"])
    jiahe = (await client.get("/api/v1/communities/gongchen.shidai_jiahe")).json()
    assert jiahe["name_zh"] == "时代家和社区"
    assert 39.6 < jiahe["lat"] < 39.8
    assert 116.0 < jiahe["lng"] < 116.3
    center = (await client.get(f"/api/v1/service-centers/{SHIDAI_JIAHE_CENTER}")).json()
    assert center["name_zh"] == "时代家和社区服务中心"
    assert "gongchen.shidai_jiahe" in center["communities"]
    assert center["hours"][0] == {"weekday": 0, "start": "08:00", "end": "18:00"}


async def test_lists_are_paginated(client: httpx.AsyncClient) -> None:
    page = (await client.get("/api/v1/communities", params={"limit": 2, "offset": 1})).json()
    assert len(page["items"]) == 2
    assert page["total"] >= 10
    assert page["limit"] == 2
    assert page["offset"] == 1


async def test_an_official_adds_and_edits_streets_and_communities(
    client: httpx.AsyncClient, test_keys: TestKeys
) -> None:
    official = test_keys.headers("official")
    street = {"code": "qinglonghu", "name_zh": "青龙湖镇", "kind": "town", "lat": 39.79, "lng": 116.05}
    response = await client.post("/api/v1/streets", json=street, headers=official)
    assert response.status_code == 201, response.text
    assert_problem(await client.post("/api/v1/streets", json=street, headers=official), 409, "street_exists")
    community = {
        "code": "qinglonghu.shangfang",
        "street_code": "qinglonghu",
        "name_zh": "上方山社区",
        "lat": 39.80,
        "lng": 116.06,
    }
    response = await client.post("/api/v1/communities", json=community, headers=official)
    assert response.status_code == 201, response.text
    response = await client.patch(
        "/api/v1/communities/qinglonghu.shangfang", json={"lat": 39.801, "name_en": "Shangfang"}, headers=official
    )
    assert response.status_code == 200, response.text
    assert response.json()["lat"] == 39.801
    assert response.json()["name_en"] == "Shangfang"
    response = await client.patch("/api/v1/streets/qinglonghu", json={"name_en": "Qinglonghu Town"}, headers=official)
    assert response.json()["name_en"] == "Qinglonghu Town"


async def test_a_community_code_starts_with_its_street(client: httpx.AsyncClient, test_keys: TestKeys) -> None:
    body = {"code": "xilu.elsewhere", "street_code": "gongchen", "name_zh": "别处", "lat": 39.7, "lng": 116.1}
    assert_problem(
        await client.post("/api/v1/communities", json=body, headers=test_keys.headers("official")),
        422,
        "code_mismatch",
    )


@pytest.mark.parametrize(
    "body",
    [
        {"code": "x.y", "street_code": "gongchen", "name_zh": "n", "lat": 91, "lng": 116.1},
        {"code": "gongchen." + "a" * 30, "street_code": "gongchen", "name_zh": "n", "lat": 39.7, "lng": 116.1},
        {"code": "gongchen.ok", "street_code": "gongchen", "name_zh": "n", "lat": 39.7, "lng": "east"},
        {"code": "gongchen.ok", "street_code": "gongchen", "name_zh": "n", "lat": 39.7, "lng": 116.1, "x": 1},
        {"code": "Gongchen.OK", "street_code": "gongchen", "name_zh": "n", "lat": 39.7, "lng": 116.1},
    ],
)
async def test_bad_communities_are_refused(client: httpx.AsyncClient, test_keys: TestKeys, body: dict) -> None:
    response = await client.post("/api/v1/communities", json=body, headers=test_keys.headers("official"))
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"


async def test_only_officials_keep_the_gazetteer(client: httpx.AsyncClient, test_keys: TestKeys) -> None:
    body = {"code": "dashiwo", "name_zh": "大石窝镇", "kind": "town", "lat": 39.56, "lng": 115.82}
    assert_problem(await client.post("/api/v1/streets", json=body), 401, "unauthorized")
    for role in ("resident", "operator", "provider_admin"):
        response = await client.post("/api/v1/streets", json=body, headers=test_keys.headers(role))
        assert_problem(response, 403, "forbidden")


async def test_unknown_places_are_404(client: httpx.AsyncClient, test_keys: TestKeys) -> None:
    assert_problem(await client.get("/api/v1/streets/nowhere"), 404, "street_not_found")
    assert_problem(await client.get("/api/v1/communities/gongchen.nowhere"), 404, "community_not_found")
    assert_problem(await client.get("/api/v1/communities", params={"street_code": "nowhere"}), 404, "street_not_found")
    assert_problem(
        await client.get("/api/v1/service-centers/00000000-0000-0000-0000-000000000000"),
        404,
        "service_center_not_found",
    )
    body = {"code": "nowhere.x", "street_code": "nowhere", "name_zh": "无", "lat": 39.7, "lng": 116.1}
    assert_problem(
        await client.post("/api/v1/communities", json=body, headers=test_keys.headers("official")),
        404,
        "street_not_found",
    )


async def test_a_service_center_is_run_by_a_provider_and_serves_communities(
    client: httpx.AsyncClient, registry, test_keys: TestKeys
) -> None:
    official = test_keys.headers("official")
    xiaokang = await registry.organization(name_zh="小康之家")
    body = {
        "name_zh": "加州水郡社区服务中心",
        "lat": 39.7420,
        "lng": 116.1590,
        "operator_id": xiaokang["id"],
        "hours": [{"weekday": 5, "start": "09:00", "end": "17:00"}],
        "facilities": ["老年餐桌", "康复室", "老年餐桌"],
        "communities": ["gongchen.jiazhou_shuijun"],
    }
    response = await client.post("/api/v1/service-centers", json=body, headers=official)
    assert response.status_code == 201, response.text
    center = response.json()
    assert center["operator_id"] == xiaokang["id"]
    assert center["facilities"] == ["老年餐桌", "康复室"]
    listed = (await client.get("/api/v1/service-centers", params={"operator_id": xiaokang["id"]})).json()
    assert [c["id"] for c in listed["items"]] == [center["id"]]
    # The seeded center gets its operator.
    response = await client.patch(
        f"/api/v1/service-centers/{SHIDAI_JIAHE_CENTER}", json={"operator_id": xiaokang["id"]}, headers=official
    )
    assert response.json()["operator_id"] == xiaokang["id"]

    unknown = {**body, "communities": ["gongchen.atlantis"]}
    assert_problem(
        await client.post("/api/v1/service-centers", json=unknown, headers=official), 422, "unknown_community"
    )
    ghost = {**body, "operator_id": "00000000-0000-0000-0000-000000000000"}
    assert_problem(
        await client.post("/api/v1/service-centers", json=ghost, headers=official), 404, "organization_not_found"
    )
    assert_problem(
        await client.patch(f"/api/v1/service-centers/{center['id']}", json={"lat": None}, headers=official),
        422,
        "validation_error",
    )


async def test_a_center_renamed_while_its_offering_is_edited_announces_versions_in_order(
    client: httpx.AsyncClient, registry, test_keys: TestKeys, session
) -> None:
    """The official renaming a center and the provider changing the price of an offering there at the same moment:
    the rename always succeeds, the price change succeeds or is told to reload (409, never a 500), every snapshot
    has a version of its own, and the latest carries both the center's new name and the offering's price as
    stored."""
    official = test_keys.headers("official")
    created = await client.post(
        "/api/v1/service-centers", json={"name_zh": "长阳镇社区服务中心", "lat": 39.76, "lng": 116.2}, headers=official
    )
    assert created.status_code == 201, created.text
    center = created.json()
    provider = await registry.organization()
    offering = await registry.offering(provider["id"], publish=True, center_id=center["id"])

    renamed, repriced = await asyncio.gather(
        client.patch(f"/api/v1/service-centers/{center['id']}", json={"name_zh": "长阳镇邻里中心"}, headers=official),
        client.patch(
            f"/api/v1/offerings/{offering['id']}",
            json={"price_fen": 1200},
            headers=registry.provider_admin(provider["id"]),
        ),
    )
    assert renamed.status_code == 200, renamed.text
    assert repriced.status_code in (200, 409), repriced.text
    if repriced.status_code == 409:
        assert repriced.json()["code"] == "concurrent_update"
    rows = await session.execute(
        select(outbox_event.c.data)
        .where(
            outbox_event.c.type.like("linli.offering.%"),
            outbox_event.c.data["offering_id"].as_string() == offering["id"],
        )
        .order_by(outbox_event.c.seq)
    )
    versions = [(r.data["version"], r.data["place_name"], r.data["price_fen"]) for r in rows]
    assert [v for v, _, _ in versions] == list(range(1, len(versions) + 1))
    stored = (await client.get(f"/api/v1/offerings/{offering['id']}")).json()
    assert versions[-1] == (stored["version"], "长阳镇邻里中心", stored["price_fen"])
