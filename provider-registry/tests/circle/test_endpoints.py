import datetime as dt
import uuid
from typing import Any

import httpx
import pytest

from registry.organizations.scoring import bayesian_score
from service_kit.events.contracts import RatingSubmitted
from service_kit.testing import TestKeys, assert_problem, eventually

PROBLEM = "application/problem+json"


JIAHE = (39.7295, 116.1520)  # the seeded centroid of 时代家和社区 (gongchen.shidai_jiahe)
SHIDAI_JIAHE_CENTER = "6a1f0c8e-3b7d-4c61-9d2e-5f0b8a7c1001"  # about 75 m from it
MONDAY = "2026-11-30"
EVERY_DAY = [{"weekday": d, "start": "08:00", "end": "18:00"} for d in range(7)]


@pytest.fixture
async def neighbourhood(registry) -> dict[str, Any]:
    """Offerings around 时代家和, of two providers; the better-rated one is 小康之家."""
    xiaokang = await registry.organization(name_zh="小康之家")
    other = await registry.organization(name_zh="房山区邻里互助中心")
    made: dict[str, Any] = {"xiaokang": xiaokang, "other": other}

    async def offer(key: str, provider: dict[str, Any], **fields: Any) -> None:
        made[key] = await registry.offering(provider["id"], publish=fields.pop("publish", True), **fields)

    await offer("meal_at_center", other, center_id=SHIDAI_JIAHE_CENTER, weekly_rules=EVERY_DAY)
    await offer(
        "free_checkup_1km",
        other,
        category_code="elderly.health",
        name_zh="免费健康检查",
        price_fen=0,
        lat=39.7385,
        lng=116.1520,
        weekly_rules=EVERY_DAY,
        exceptions=[{"date": MONDAY, "kind": "closed", "reason": "training"}],
    )
    await offer("far_2km", other, category_code="culture.activities", lat=39.7500, lng=116.1520)
    await offer(
        "home_care_3km_radius",
        other,
        category_code="elderly.home_care",
        mode="door_to_door",
        lat=39.7418,
        lng=116.1593,
        service_radius_m=3000,
        target_groups=["dementia"],
    )
    await offer(
        "home_care_small_radius",
        other,
        category_code="elderly.home_care",
        mode="door_to_door",
        lat=39.7418,
        lng=116.1593,
        service_radius_m=500,
    )
    await offer(
        "housekeeping_by_community",
        xiaokang,
        category_code="elderly.housekeeping",
        mode="door_to_door",
        service_communities=["gongchen.shidai_jiahe"],
    )
    await offer("online_counseling", other, category_code="counseling.individual", mode="online")
    await offer("draft_nearby", other, lat=JIAHE[0], lng=JIAHE[1], publish=False)
    return made


def rating(provider_id: str, stars: int) -> RatingSubmitted:
    return RatingSubmitted(
        rating_id=uuid.uuid4(),
        booking_id=uuid.uuid4(),
        provider_id=uuid.UUID(provider_id),
        offering_id=uuid.uuid4(),
        stars=stars,
        submitted_at=dt.datetime.now(dt.UTC),
    )


async def _circle(client: httpx.AsyncClient, **params: Any) -> dict[str, Any]:
    response = await client.get("/api/v1/circle/offerings", params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _ids(body: dict[str, Any]) -> list[str]:
    return [item["offering"]["id"] for item in body["items"]]


async def test_the_circle_from_a_community(client: httpx.AsyncClient, neighbourhood: dict[str, Any]) -> None:
    body = await _circle(client, community_code="gongchen.shidai_jiahe")
    n = neighbourhood
    assert body["origin"] == {"lat": JIAHE[0], "lng": JIAHE[1], "community_code": "gongchen.shidai_jiahe"}
    assert body["reach_m"] == 1200
    found = {item["offering"]["id"]: item for item in body["items"]}
    assert set(found) == {
        n["meal_at_center"]["id"],
        n["free_checkup_1km"]["id"],
        n["home_care_3km_radius"]["id"],
        n["housekeeping_by_community"]["id"],
    }
    # Door-to-door offerings come to the door (distance 0), then the nearest on foot.
    assert [found[i]["reach"] for i in _ids(body)] == ["door_to_door", "door_to_door", "walk", "walk"]
    meal = found[n["meal_at_center"]["id"]]
    assert 50 < meal["distance_m"] < 100
    assert meal["walk_minutes"] == pytest.approx(meal["distance_m"] / 80, abs=0.1)
    assert meal["offering"]["center_id"] == SHIDAI_JIAHE_CENTER
    checkup = found[n["free_checkup_1km"]["id"]]
    assert 950 < checkup["distance_m"] < 1050
    assert body["total"] == 4


async def test_ties_are_broken_by_the_provider_score(
    client: httpx.AsyncClient, publish_event: Any, neighbourhood: dict[str, Any]
) -> None:
    n = neighbourhood
    pair = [n["housekeeping_by_community"]["id"], n["home_care_3km_radius"]["id"]]  # both come to the door

    async def door_to_door() -> list[str]:
        return _ids(await _circle(client, community_code="gongchen.shidai_jiahe", mode="door_to_door"))

    await publish_event(rating(n["xiaokang"]["id"], 5))

    async def xiaokang_first() -> bool:
        return await door_to_door() == pair

    await eventually(xiaokang_first)
    for _ in range(2):
        await publish_event(rating(n["other"]["id"], 5))

    async def other_first() -> bool:
        return await door_to_door() == pair[::-1]

    await eventually(other_first)


async def test_the_circle_from_a_point_snaps_to_its_community(
    client: httpx.AsyncClient, neighbourhood: dict[str, Any]
) -> None:
    body = await _circle(client, lat=39.7300, lng=116.1515)
    assert body["origin"]["community_code"] == "gongchen.shidai_jiahe"
    assert neighbourhood["housekeeping_by_community"]["id"] in _ids(body)
    # Far from every community: only what lies within reach of the point itself.
    assert (await _circle(client, lat=40.5, lng=117.0))["items"] == []


async def test_more_minutes_reach_further(client: httpx.AsyncClient, neighbourhood: dict[str, Any]) -> None:
    body = await _circle(client, community_code="gongchen.shidai_jiahe", minutes=30)
    assert body["reach_m"] == 2400
    assert neighbourhood["far_2km"]["id"] in _ids(body)
    body = await _circle(client, community_code="gongchen.shidai_jiahe", minutes=5)
    assert neighbourhood["free_checkup_1km"]["id"] not in _ids(body)
    assert neighbourhood["meal_at_center"]["id"] in _ids(body)


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"category_code": "elderly.meal_table"}, ["meal_at_center"]),
        ({"category_code": "elderly.home_care"}, ["home_care_3km_radius"]),
        ({"free_only": "true"}, ["free_checkup_1km"]),
        ({"mode": "at_center"}, ["meal_at_center", "free_checkup_1km"]),
        ({"mode": "online"}, []),
        ({"target_group": "dementia"}, ["home_care_3km_radius"]),
        ({"target_group": "80+", "mode": "door_to_door"}, ["housekeeping_by_community"]),
        ({"open_on": MONDAY}, ["home_care_3km_radius", "housekeeping_by_community", "meal_at_center"]),
        ({"open_on": "2026-12-01", "category_code": "elderly"}, ["meal_at_center", "free_checkup_1km"]),
    ],
)
async def test_filters(
    client: httpx.AsyncClient, neighbourhood: dict[str, Any], params: dict[str, str], expected: list[str]
) -> None:
    body = await _circle(client, community_code="gongchen.shidai_jiahe", **params)
    assert sorted(_ids(body)) == sorted(neighbourhood[k]["id"] for k in expected)


async def test_the_circle_is_paginated(client: httpx.AsyncClient, neighbourhood: dict[str, Any]) -> None:
    everything = _ids(await _circle(client, community_code="gongchen.shidai_jiahe"))
    first = await _circle(client, community_code="gongchen.shidai_jiahe", limit=3)
    second = await _circle(client, community_code="gongchen.shidai_jiahe", limit=3, offset=3)
    assert _ids(first) + _ids(second) == everything
    assert first["total"] == second["total"] == len(everything)


async def test_withdrawn_offerings_and_suspended_providers_leave_the_circle(
    client: httpx.AsyncClient, registry, neighbourhood: dict[str, Any]
) -> None:
    n = neighbourhood
    headers = registry.provider_admin(n["other"]["id"])
    await client.post(f"/api/v1/offerings/{n['meal_at_center']['id']}/withdraw", headers=headers)
    assert n["meal_at_center"]["id"] not in _ids(await _circle(client, community_code="gongchen.shidai_jiahe"))
    response = await client.post(
        f"/api/v1/organizations/{n['xiaokang']['id']}/suspend", json={"reason": "complaints"}, headers=registry.official
    )
    assert response.status_code == 200, response.text
    assert n["housekeeping_by_community"]["id"] not in _ids(
        await _circle(client, community_code="gongchen.shidai_jiahe")
    )


async def test_offerings_at_a_center_move_with_it(
    client: httpx.AsyncClient, test_keys: TestKeys, neighbourhood: dict[str, Any]
) -> None:
    meal = neighbourhood["meal_at_center"]["id"]
    response = await client.patch(
        f"/api/v1/service-centers/{SHIDAI_JIAHE_CENTER}",
        json={"lat": 39.7600, "lng": 116.1520},
        headers=test_keys.headers("official"),
    )
    assert response.status_code == 200, response.text
    assert (await client.get(f"/api/v1/offerings/{meal}")).json()["lat"] == 39.76
    assert meal not in _ids(await _circle(client, community_code="gongchen.shidai_jiahe"))


@pytest.mark.parametrize(
    ("params", "status", "code"),
    [
        ({}, 422, "origin_required"),
        ({"lat": 39.7}, 422, "origin_required"),
        ({"lat": 39.7, "lng": 116.1, "community_code": "gongchen.shidai_jiahe"}, 422, "origin_ambiguous"),
        ({"community_code": "gongchen.atlantis"}, 404, "community_not_found"),
        ({"lat": 91, "lng": 116.1}, 422, "validation_error"),
        ({"lat": "north", "lng": 116.1}, 422, "validation_error"),
        ({"lat": 39.7, "lng": 116.1, "minutes": 0}, 422, "validation_error"),
        ({"lat": 39.7, "lng": 116.1, "minutes": 10**12}, 422, "validation_error"),
        ({"lat": 39.7, "lng": 116.1, "mode": "teleport"}, 422, "validation_error"),
        ({"lat": 39.7, "lng": 116.1, "open_on": "someday"}, 422, "validation_error"),
        ({"lat": 39.7, "lng": 116.1, "limit": 1000}, 422, "validation_error"),
    ],
)
async def test_bad_searches_are_refused(
    client: httpx.AsyncClient, params: dict[str, Any], status: int, code: str
) -> None:
    assert_problem(await client.get("/api/v1/circle/offerings", params=params), status, code)


# ---------------------------------------------------------------------------------------------- coverage


async def test_coverage_per_community_and_category(
    client: httpx.AsyncClient, test_keys: TestKeys, neighbourhood: dict[str, Any]
) -> None:
    official = test_keys.headers("official")
    response = await client.get(
        "/api/v1/circle/coverage", params={"street_code": "gongchen", "limit": 200}, headers=official
    )
    assert response.status_code == 200, response.text
    rows = {(r["community_code"], r["category_code"]): r for r in response.json()["items"]}
    assert response.json()["total"] == 4 * 7  # four communities of 拱辰 × seven top-level categories
    elderly = rows[("gongchen.shidai_jiahe", "elderly")]
    assert elderly["within_circle"] is True
    assert elderly["nearest"]["distance_m"] == 0  # door to door
    culture = rows[("gongchen.shidai_jiahe", "culture")]
    assert culture["within_circle"] is False
    assert culture["nearest"]["offering_id"] == neighbourhood["far_2km"]["id"]
    assert 2200 < culture["nearest"]["distance_m"] < 2400
    assert rows[("gongchen.shidai_jiahe", "green")] | {"nearest": None} == rows[("gongchen.shidai_jiahe", "green")]
    assert rows[("gongchen.shidai_jiahe", "green")]["within_circle"] is False
    # Online counseling is nowhere in the circle.
    assert rows[("gongchen.shidai_jiahe", "counseling")]["nearest"] is None

    leaves = await client.get(
        "/api/v1/circle/coverage",
        params={"street_code": "gongchen", "level": "leaf", "limit": 200},
        headers=official,
    )
    leaf_rows = {(r["community_code"], r["category_code"]): r for r in leaves.json()["items"]}
    assert leaf_rows[("gongchen.shidai_jiahe", "elderly.meal_table")]["within_circle"] is True
    assert leaf_rows[("gongchen.shidai_jiahe", "elderly.day_care")]["within_circle"] is False


async def test_gaps_district_wide_and_per_street(
    client: httpx.AsyncClient, test_keys: TestKeys, neighbourhood: dict[str, Any]
) -> None:
    official = test_keys.headers("official")
    district = (await client.get("/api/v1/circle/gaps", params={"limit": 200}, headers=official)).json()
    assert all(not r["within_circle"] for r in district["items"])
    assert ("gongchen.shidai_jiahe", "elderly") not in {
        (r["community_code"], r["category_code"]) for r in district["items"]
    }
    assert {r["street_code"] for r in district["items"]} >= {"gongchen", "xilu", "changyang", "yancun"}
    xilu = (await client.get("/api/v1/circle/gaps", params={"street_code": "xilu"}, headers=official)).json()
    assert xilu["total"] == 2 * 7  # nothing at all reaches 西潞's two communities
    assert {r["street_code"] for r in xilu["items"]} == {"xilu"}
    summary = (await client.get("/api/v1/circle/gaps/by-street", headers=official)).json()
    by_street = {s["street_code"]: s for s in summary["items"]}
    assert by_street["xilu"]["gaps"] == 14
    assert by_street["gongchen"]["gaps"] < 4 * 7
    assert sum(s["gaps"] for s in summary["items"]) == district["total"]


async def test_coverage_is_for_officials(client: httpx.AsyncClient, test_keys: TestKeys) -> None:
    assert_problem(await client.get("/api/v1/circle/coverage"), 401, "unauthorized")
    assert_problem(await client.get("/api/v1/circle/gaps", headers=test_keys.headers("resident")), 403, "forbidden")
    assert_problem(
        await client.get(
            "/api/v1/circle/gaps", params={"street_code": "nowhere"}, headers=test_keys.headers("official")
        ),
        404,
        "street_not_found",
    )


def test_monday_is_a_monday() -> None:
    assert dt.date.fromisoformat(MONDAY).weekday() == 0


async def test_changing_how_an_offering_is_given_moves_it_between_walk_and_door(
    client: httpx.AsyncClient, registry, neighbourhood: dict[str, Any]
) -> None:
    n = neighbourhood
    far = n["far_2km"]["id"]
    headers = registry.provider_admin(n["other"]["id"])
    assert far not in _ids(await _circle(client, community_code="gongchen.shidai_jiahe"))
    # From 2.3 km away, a visit reaching 3 km comes to the door.
    response = await client.patch(
        f"/api/v1/offerings/{far}", json={"mode": "door_to_door", "service_radius_m": 3000}, headers=headers
    )
    assert response.status_code == 200, response.text
    found = {i["offering"]["id"]: i for i in (await _circle(client, community_code="gongchen.shidai_jiahe"))["items"]}
    assert found[far]["reach"] == "door_to_door"
    response = await client.patch(f"/api/v1/offerings/{far}", json={"service_radius_m": 1000}, headers=headers)
    assert response.status_code == 200, response.text
    assert far not in _ids(await _circle(client, community_code="gongchen.shidai_jiahe"))
    # Online: not in the circle at all, whatever its place.
    await client.patch(f"/api/v1/offerings/{far}", json={"mode": "online"}, headers=headers)
    assert far not in _ids(await _circle(client, community_code="gongchen.shidai_jiahe", minutes=60))


async def test_a_service_radius_needs_a_location(client: httpx.AsyncClient, registry) -> None:
    provider = await registry.organization()
    response = await client.post(
        "/api/v1/offerings",
        json=registry.offering_body(provider["id"], mode="door_to_door", service_radius_m=1000),
        headers=registry.provider_admin(provider["id"]),
    )
    assert_problem(response, 422, "service_area_needs_location")
    for bad in (
        {"lat": 39.7},
        {"lat": 39.7, "lng": 116.1, "center_id": SHIDAI_JIAHE_CENTER},
        {"lat": 39.7, "lng": 116.1, "service_radius_m": 10_001},
        {"service_communities": ["gongchen.atlantis"]},
        {"center_id": "00000000-0000-0000-0000-000000000000"},
    ):
        response = await client.post(
            "/api/v1/offerings",
            json=registry.offering_body(provider["id"], **bad),
            headers=registry.provider_admin(provider["id"]),
        )
        assert response.status_code in (404, 422), (bad, response.text)
        assert response.headers["content-type"] == PROBLEM


async def test_a_providers_changes_reach_each_of_its_offerings_once(
    client: httpx.AsyncClient, app: Any, registry, publish_event: Any
) -> None:
    """The circle reads the provider's score and standing from the offering rows: ratings, even redelivered, and
    a suspension and its lifting reach every offering of the provider, once."""
    provider = await registry.organization(name_zh="房山区康乐家政")
    offerings = [
        (await registry.offering(provider["id"], publish=True, center_id=SHIDAI_JIAHE_CENTER, name_zh=name))["id"]
        for name in ("助浴", "理发")
    ]
    applied_before = sum(r.applied for r in app.state.runtime.runners)
    first = rating(provider["id"], 5)
    envelope = await publish_event(first, source="feedback")
    await publish_event(first, source="feedback", event_id=envelope.id)  # the same event again
    await publish_event(first, source="feedback")  # the same rating under another event id
    await publish_event(rating(provider["id"], 2), source="feedback")
    expected = bayesian_score(5 + 2, 2)

    async def scores() -> dict[str, float] | None:
        body = await _circle(client, community_code="gongchen.shidai_jiahe", mode="at_center")
        mine = {i["offering"]["id"]: i["provider_score"] for i in body["items"] if i["offering"]["id"] in offerings}
        return mine if len(mine) == 2 and all(s == pytest.approx(expected) for s in mine.values()) else None

    assert set(await eventually(scores)) == set(offerings)

    async def all_applied() -> bool:
        return sum(r.applied for r in app.state.runtime.runners) >= applied_before + 3

    await eventually(all_applied)
    assert set(await eventually(scores)) == set(offerings)
    organization = (await client.get(f"/api/v1/organizations/{provider['id']}")).json()
    assert organization["score"]["count"] == 2

    url = f"/api/v1/organizations/{provider['id']}"
    response = await client.post(f"{url}/suspend", json={"reason": "complaints"}, headers=registry.official)
    assert response.status_code == 200, response.text
    assert not set(offerings) & set(_ids(await _circle(client, community_code="gongchen.shidai_jiahe")))
    response = await client.post(f"{url}/reinstate", json={"reason": "resolved"}, headers=registry.official)
    assert response.status_code == 200, response.text
    assert set(await eventually(scores)) == set(offerings)
