import uuid

import httpx
import pytest
from sourcing_builders import official

from service_kit.testing import TestKeys, assert_problem


def need_body(**overrides: object) -> dict[str, object]:
    body: dict[str, object] = {
        "category_code": "elderly.meal_table",
        "street_code": "changyang",
        "community_code": "changyang-01",
        "target_group": "80+",
        "summary": "社区缺少老年餐桌，独居老人吃饭难。",
        "count": 12,
    }
    body.update(overrides)
    return body


async def post_need(client: httpx.AsyncClient, headers: dict[str, str], **overrides: object) -> dict[str, object]:
    response = await client.post("/api/v1/need-pool", json=need_body(**overrides), headers=headers)
    assert response.status_code == 201, response.text
    return dict(response.json())


async def test_operators_and_officials_add_needs(client: httpx.AsyncClient, test_keys: TestKeys) -> None:
    from_operator = await post_need(client, test_keys.headers("operator", sub="operator-7"))
    from_official = await post_need(client, official(test_keys), category_code="children.safety", count=3)
    assert from_operator["source"] == "operator"
    assert from_official["source"] == "official"
    assert (from_operator["status"], from_operator["count"], from_operator["rank"]) == ("open", 12, None)

    listing = await client.get("/api/v1/need-pool", headers=official(test_keys))
    assert [n["id"] for n in listing.json()["items"]] == [from_operator["id"], from_official["id"]]  # most asked first


async def test_officials_merge_duplicates_and_rank(client: httpx.AsyncClient, test_keys: TestKeys) -> None:
    meals = await post_need(client, official(test_keys), count=12)
    duplicate = await post_need(client, official(test_keys), count=5, summary="希望有老年食堂")
    counseling = await post_need(client, official(test_keys), category_code="counseling", count=2)

    merged = await client.post(
        f"/api/v1/need-pool/{duplicate['id']}/merge", json={"into": meals["id"]}, headers=official(test_keys)
    )
    assert merged.status_code == 200, merged.text
    assert merged.json()["count"] == 17
    again = await client.post(
        f"/api/v1/need-pool/{duplicate['id']}/merge", json={"into": meals["id"]}, headers=official(test_keys)
    )
    assert_problem(again, 409)
    into_merged = await client.post(
        f"/api/v1/need-pool/{counseling['id']}/merge", json={"into": duplicate["id"]}, headers=official(test_keys)
    )
    assert_problem(into_merged, 409, "merge_target_not_open")
    to_itself = await client.post(
        f"/api/v1/need-pool/{meals['id']}/merge", json={"into": meals["id"]}, headers=official(test_keys)
    )
    assert_problem(to_itself, 422, "merge_into_self")

    ranked = await client.put(
        "/api/v1/need-pool/ranking", json={"need_ids": [counseling["id"], meals["id"]]}, headers=official(test_keys)
    )
    assert ranked.status_code == 200, ranked.text
    assert [(n["id"], n["rank"]) for n in ranked.json()] == [(counseling["id"], 1), (meals["id"], 2)]
    listing = await client.get("/api/v1/need-pool?status=open", headers=official(test_keys))
    assert [n["id"] for n in listing.json()["items"]] == [counseling["id"], meals["id"]]

    merged_ranked = await client.put(
        "/api/v1/need-pool/ranking", json={"need_ids": [duplicate["id"]]}, headers=official(test_keys)
    )
    assert_problem(merged_ranked, 409, "need_merged")
    unknown = await client.put(
        "/api/v1/need-pool/ranking", json={"need_ids": [str(uuid.uuid4())]}, headers=official(test_keys)
    )
    assert_problem(unknown, 404, "need_not_found")

    trail = await client.get(f"/api/v1/audit-trail/{meals['id']}", headers=official(test_keys))
    assert [e["action"] for e in trail.json()["items"]] == ["submitted", "absorbed"]


@pytest.mark.parametrize(
    "overrides",
    [{"count": 0}, {"count": 1.5}, {"category_code": "Elderly Meals"}, {"summary": ""}, {"rank": 1}],
)
async def test_bad_needs_are_refused(
    client: httpx.AsyncClient, test_keys: TestKeys, overrides: dict[str, object]
) -> None:
    response = await client.post("/api/v1/need-pool", json=need_body(**overrides), headers=official(test_keys))
    assert_problem(response, 422)


async def test_only_officials_merge_and_residents_do_not_use_the_pool(
    client: httpx.AsyncClient, test_keys: TestKeys
) -> None:
    need = await post_need(client, test_keys.headers("operator"))
    other = await post_need(client, test_keys.headers("operator"))
    merge = await client.post(
        f"/api/v1/need-pool/{need['id']}/merge", json={"into": other["id"]}, headers=test_keys.headers("operator")
    )
    assert_problem(merge, 403)
    assert_problem(await client.get("/api/v1/need-pool", headers=test_keys.headers("resident")), 403)
