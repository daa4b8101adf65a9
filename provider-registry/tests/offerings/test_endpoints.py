import uuid
from typing import Any

import httpx
import pytest

from service_kit.testing import TestKeys, assert_problem, eventually


async def test_a_provider_admin_creates_a_draft_of_its_own_provider(client: httpx.AsyncClient, registry) -> None:
    provider = await registry.organization()
    body = registry.offering_body(provider["id"])
    response = await client.post("/api/v1/offerings", json=body, headers=registry.provider_admin(provider["id"]))
    assert response.status_code == 201, response.text
    offering = response.json()
    assert offering["status"] == "draft"
    assert offering["version"] == 0
    assert offering["provider_id"] == provider["id"]
    assert offering["weekly_rules"] == [{"weekday": 0, "start": "11:00", "end": "13:00"}]
    assert offering["exceptions"] == [
        {"date": "2026-12-25", "kind": "closed", "start": None, "end": None, "reason": "kitchen maintenance"}
    ]
    assert offering["target_groups"] == ["80+", "living_alone"]
    assert offering["timezone"] == "Asia/Shanghai"
    assert offering["published_at"] is None


async def test_an_official_may_create_for_any_provider_a_resident_for_none(
    client: httpx.AsyncClient, registry, test_keys: TestKeys
) -> None:
    provider = await registry.organization()
    body = registry.offering_body(provider["id"])
    assert (await client.post("/api/v1/offerings", json=body, headers=registry.official)).status_code == 201
    assert_problem(
        await client.post("/api/v1/offerings", json=body, headers=test_keys.headers("resident")), 403, "forbidden"
    )
    assert_problem(await client.post("/api/v1/offerings", json=body), 401, "unauthorized")


async def test_a_provider_cannot_create_for_another_provider(client: httpx.AsyncClient, registry) -> None:
    mine, theirs = await registry.organization(), await registry.organization()
    body = registry.offering_body(theirs["id"])
    assert_problem(
        await client.post("/api/v1/offerings", json=body, headers=registry.provider_admin(mine["id"])),
        404,
        "organization_not_found",
    )
    # The same answer as for a provider that does not exist at all.
    ghost = str(uuid.uuid4())
    assert_problem(
        await client.post(
            "/api/v1/offerings", json=registry.offering_body(ghost), headers=registry.provider_admin(ghost)
        ),
        404,
        "organization_not_found",
    )


@pytest.mark.parametrize(
    ("category_code", "code"),
    [("elderly", "category_not_leaf"), ("elderly.space_travel", "unknown_category")],
)
async def test_an_offering_belongs_to_an_existing_leaf_category(
    client: httpx.AsyncClient, registry, category_code: str, code: str
) -> None:
    provider = await registry.organization()
    body = assert_problem(
        await client.post(
            "/api/v1/offerings",
            json=registry.offering_body(provider["id"], category_code=category_code),
            headers=registry.provider_admin(provider["id"]),
        ),
        422,
        code,
    )
    assert body["errors"][0]["field"] == "category_code"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"weekly_rules": [{"weekday": 0, "start": "13:00", "end": "11:00"}]}, "weekly_rules.0"),
        ({"weekly_rules": [{"weekday": 0, "start": "11:00", "end": "11:00"}]}, "weekly_rules.0"),
        ({"weekly_rules": [{"weekday": 7, "start": "09:00", "end": "11:00"}]}, "weekly_rules.0.weekday"),
        ({"weekly_rules": [{"weekday": 1, "start": "25:00", "end": "26:00"}]}, "weekly_rules.0.start"),
        ({"weekly_rules": [{"weekday": 1, "start": "09:00", "end": "11:00", "slots": 3}]}, "weekly_rules.0.slots"),
        (
            {
                "weekly_rules": [
                    {"weekday": 2, "start": "09:00", "end": "11:00"},
                    {"weekday": 2, "start": "10:30", "end": "12:00"},
                ]
            },
            "weekly_rules",
        ),
        ({"weekly_rules": [{"weekday": 1, "start": "09:00", "end": "10:00"}] * 101}, "weekly_rules"),
        ({"exceptions": [{"date": "2026-10-01", "kind": "open"}]}, "exceptions.0"),
        ({"exceptions": [{"date": "2026-10-01", "kind": "closed", "start": "09:00", "end": "10:00"}]}, "exceptions.0"),
        (
            {"exceptions": [{"date": "2026-10-01", "kind": "open", "start": "9am", "end": "10:00"}]},
            "exceptions.0.start",
        ),
        ({"exceptions": [{"date": "2026-02-30", "kind": "closed"}]}, "exceptions.0.date"),
        ({"exceptions": [{"date": "2026-10-01", "kind": "closed"}] * 2}, "exceptions"),
        ({"price_fen": -1}, "price_fen"),
        ({"price_fen": 10**30}, "price_fen"),
        ({"price_fen": "1500"}, "price_fen"),
        ({"price_fen": 15.5}, "price_fen"),
        ({"duration_minutes": 0}, "duration_minutes"),
        ({"capacity_per_slot": 0}, "capacity_per_slot"),
        ({"auto_confirm": "yes"}, "auto_confirm"),
        ({"mode": "teleport"}, "mode"),
        ({"provider_id": "not-a-uuid"}, "provider_id"),
        ({"target_groups": ["x" * 41]}, "target_groups.0"),
        ({"status": "published"}, "status"),
        ({"version": 9}, "version"),
        ({"name_zh": ""}, "name_zh"),
    ],
)
async def test_bad_offerings_are_refused(
    client: httpx.AsyncClient, registry, change: dict[str, Any], field: str
) -> None:
    provider = await registry.organization()
    body = assert_problem(
        await client.post(
            "/api/v1/offerings",
            json={**registry.offering_body(provider["id"]), **change},
            headers=registry.provider_admin(provider["id"]),
        ),
        422,
        "validation_error",
    )
    assert field in {e["field"] for e in body["errors"]}, body["errors"]


async def test_malformed_json_is_refused(client: httpx.AsyncClient, registry) -> None:
    headers = {**registry.official, "content-type": "application/json"}
    assert_problem(await client.post("/api/v1/offerings", content=b"{oops", headers=headers), 422, "validation_error")


async def test_only_a_verified_provider_publishes(client: httpx.AsyncClient, registry) -> None:
    provider = await registry.organization(verified=False)
    offering = await registry.offering(provider["id"])
    headers = registry.provider_admin(provider["id"])
    assert_problem(
        await client.post(f"/api/v1/offerings/{offering['id']}/publish", headers=headers), 409, "provider_not_verified"
    )
    assert (await client.post(f"/api/v1/organizations/{provider['id']}/verify", headers=registry.official)).is_success
    published = await client.post(f"/api/v1/offerings/{offering['id']}/publish", headers=headers)
    assert published.status_code == 200, published.text
    assert published.json()["status"] == "published"
    assert published.json()["version"] == 1
    assert published.json()["published_at"] is not None


async def test_a_suspended_provider_cannot_publish(client: httpx.AsyncClient, registry) -> None:
    provider = await registry.organization()
    offering = await registry.offering(provider["id"])
    suspend = await client.post(
        f"/api/v1/organizations/{provider['id']}/suspend", json={"reason": "资质过期"}, headers=registry.official
    )
    assert suspend.is_success
    assert_problem(
        await client.post(f"/api/v1/offerings/{offering['id']}/publish", headers=registry.official),
        409,
        "provider_not_verified",
    )


async def test_the_lifecycle_announces_each_snapshot_with_the_next_version(
    client: httpx.AsyncClient, registry, published_events
) -> None:
    provider = await registry.organization(name_zh="房山区长阳镇老年餐桌")
    offering = await registry.offering(provider["id"])
    url = f"/api/v1/offerings/{offering['id']}"
    headers = registry.provider_admin(provider["id"])

    draft_edit = await client.patch(url, json={"price_fen": 1200}, headers=headers)
    assert draft_edit.json()["version"] == 0  # a draft is never announced
    assert (await client.post(f"{url}/publish", headers=headers)).json()["version"] == 1
    assert_problem(await client.post(f"{url}/publish", headers=headers), 409, "invalid_transition")

    updated = await client.patch(url, json={"capacity_per_slot": 30, "name_en": None}, headers=headers)
    assert updated.status_code == 200, updated.text
    assert updated.json()["version"] == 2
    assert updated.json()["name_en"] is None
    unchanged = await client.patch(url, json={"capacity_per_slot": 30}, headers=headers)
    assert unchanged.json()["version"] == 2  # nothing changed, nothing announced

    withdrawn = await client.post(f"{url}/withdraw", headers=headers)
    assert withdrawn.json()["status"] == "withdrawn"
    assert withdrawn.json()["version"] == 3
    assert_problem(await client.post(f"{url}/withdraw", headers=headers), 409, "invalid_transition")
    assert (await client.post(f"{url}/publish", headers=headers)).json()["version"] == 4

    async def announced() -> list[dict[str, Any]] | None:
        events = await published_events("linli.offering.>")
        return events if len(events) == 4 else None

    events = await eventually(announced)
    assert [(e["type"], e["data"]["version"], e["data"]["status"]) for e in events] == [
        ("linli.offering.published.v1", 1, "published"),
        ("linli.offering.updated.v1", 2, "published"),
        ("linli.offering.withdrawn.v1", 3, "withdrawn"),
        ("linli.offering.published.v1", 4, "published"),
    ]
    snapshot = events[0]["data"]
    assert snapshot["offering_id"] == offering["id"]
    assert snapshot["provider_name"] == "房山区长阳镇老年餐桌"
    assert snapshot["price_fen"] == 1200
    assert snapshot["capacity_per_slot"] == 20
    assert snapshot["weekly_rules"] == [{"weekday": 0, "start": "11:00", "end": "13:00"}]
    assert snapshot["exceptions"][0]["kind"] == "closed"
    assert snapshot["target_groups"] == ["80+", "living_alone"]
    assert snapshot["auto_confirm"] is True
    assert events[1]["data"]["capacity_per_slot"] == 30
    assert events[1]["data"]["name_en"] is None


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"name_zh": None}, "validation_error"),
        ({"price_fen": None}, "validation_error"),
        ({"provider_id": str(uuid.uuid4())}, "validation_error"),
        ({"category_code": "green"}, "category_not_leaf"),
        ({"weekly_rules": [{"weekday": 3, "start": "18:00", "end": "08:00"}]}, "validation_error"),
    ],
)
async def test_bad_updates_are_refused(client: httpx.AsyncClient, registry, change: dict[str, Any], code: str) -> None:
    provider = await registry.organization()
    offering = await registry.offering(provider["id"], publish=True)
    assert_problem(
        await client.patch(
            f"/api/v1/offerings/{offering['id']}", json=change, headers=registry.provider_admin(provider["id"])
        ),
        422,
        code,
    )
    after = (await client.get(f"/api/v1/offerings/{offering['id']}")).json()
    assert after["version"] == 1


async def test_another_provider_can_neither_see_nor_change_an_offering(
    client: httpx.AsyncClient, registry, test_keys: TestKeys
) -> None:
    mine, theirs = await registry.organization(), await registry.organization()
    draft = await registry.offering(theirs["id"])
    published = await registry.offering(theirs["id"], publish=True)
    intruder = registry.provider_admin(mine["id"])
    for offering in (draft, published):
        url = f"/api/v1/offerings/{offering['id']}"
        assert_problem(await client.post(f"{url}/publish", headers=intruder), 404, "offering_not_found")
        assert_problem(await client.post(f"{url}/withdraw", headers=intruder), 404, "offering_not_found")
        assert_problem(await client.patch(url, json={"price_fen": 1}, headers=intruder), 404, "offering_not_found")
    # A draft is not there for the public, nor for another provider; its own people and staff see it.
    draft_url = f"/api/v1/offerings/{draft['id']}"
    assert_problem(await client.get(draft_url), 404, "offering_not_found")
    assert_problem(await client.get(draft_url, headers=intruder), 404, "offering_not_found")
    staff_of_owner = test_keys.headers("provider_staff", provider_id=theirs["id"])
    assert (await client.get(draft_url, headers=staff_of_owner)).status_code == 200
    assert (await client.get(draft_url, headers=test_keys.headers("operator"))).status_code == 200
    assert (await client.get(f"/api/v1/offerings/{published['id']}")).status_code == 200
    assert_problem(await client.get(f"/api/v1/offerings/{uuid.uuid4()}"), 404, "offering_not_found")
    assert_problem(await client.get("/api/v1/offerings/123"), 422, "validation_error")


async def test_list_shows_the_public_published_offerings_with_filters(client: httpx.AsyncClient, registry) -> None:
    first, second = await registry.organization(), await registry.organization()
    meal = await registry.offering(first["id"], publish=True)
    care = await registry.offering(first["id"], publish=True, category_code="elderly.home_care", mode="door_to_door")
    draft = await registry.offering(first["id"])
    recycling = await registry.offering(second["id"], publish=True, category_code="green.recycling")

    async def ids(headers: dict[str, str] | None = None, **params: Any) -> list[str]:
        response = await client.get("/api/v1/offerings", params=params, headers=headers)
        assert response.status_code == 200, response.text
        return sorted(o["id"] for o in response.json()["items"])

    assert await ids() == sorted([meal["id"], care["id"], recycling["id"]])
    assert await ids(provider_id=second["id"]) == [recycling["id"]]
    assert await ids(category_code="elderly") == sorted([meal["id"], care["id"]])
    assert await ids(category_code="elderly.home_care") == [care["id"]]
    assert await ids(category_code="elder") == []
    assert await ids(status="draft") == []
    own = registry.provider_admin(first["id"])
    assert await ids(own, status="draft") == [draft["id"]]
    assert await ids(registry.official, provider_id=first["id"]) == sorted([meal["id"], care["id"], draft["id"]])

    page = (await client.get("/api/v1/offerings", params={"limit": 2, "offset": 2})).json()
    assert (page["total"], len(page["items"]), page["offset"]) == (3, 1, 2)


@pytest.mark.parametrize(
    "params",
    [{"limit": 0}, {"offset": 10**30}, {"provider_id": "x"}, {"status": "archived"}, {"category_code": "c" * 65}],
)
async def test_bad_list_parameters_are_refused(client: httpx.AsyncClient, params: dict[str, Any]) -> None:
    assert_problem(await client.get("/api/v1/offerings", params=params), 422, "validation_error")


async def test_a_providers_system_with_the_offerings_scope_manages_only_its_own_catalog(
    client: httpx.AsyncClient, registry, test_keys: TestKeys
) -> None:
    mine, theirs = await registry.organization(), await registry.organization()

    def system(*scopes: str) -> dict[str, str]:
        return test_keys.headers("provider_system", provider_id=mine["id"], scope=" ".join(scopes))

    writer = system("offerings:write")
    created = await client.post("/api/v1/offerings", json=registry.offering_body(mine["id"]), headers=writer)
    assert created.status_code == 201, created.text
    published = await client.post(f"/api/v1/offerings/{created.json()['id']}/publish", headers=writer)
    assert (published.status_code, published.json()["status"]) == (200, "published")
    assert_problem(
        await client.post("/api/v1/offerings", json=registry.offering_body(theirs["id"]), headers=writer),
        404,
        "organization_not_found",
    )
    # A key for bookings only does not write the catalog.
    bookings_only = system("bookings:read", "bookings:write")
    assert_problem(
        await client.post("/api/v1/offerings", json=registry.offering_body(mine["id"]), headers=bookings_only),
        404,
        "organization_not_found",
    )


async def test_a_provider_says_who_its_service_is_for_and_what_to_bring(client: httpx.AsyncClient, registry) -> None:
    provider = await registry.organization(name_zh="良乡助浴服务站")
    headers = registry.provider_admin(provider["id"])
    offering = await registry.offering(
        provider["id"],
        eligibility_description="  房山区80岁以上或独居的老人  ",
        required_documents=["身份证", "北京通-养老助残卡"],
    )
    assert offering["eligibility_description"] == "房山区80岁以上或独居的老人"
    assert offering["required_documents"] == ["身份证", "北京通-养老助残卡"]
    url = f"/api/v1/offerings/{offering['id']}"
    assert (await client.post(f"{url}/publish", headers=headers)).status_code == 200

    changed = await client.patch(url, json={"required_documents": ["身份证"]}, headers=headers)
    assert changed.status_code == 200, changed.text
    assert (changed.json()["required_documents"], changed.json()["eligibility_description"]) == (
        ["身份证"],
        "房山区80岁以上或独居的老人",
    )
    cleared = await client.patch(url, json={"eligibility_description": None, "required_documents": []}, headers=headers)
    assert (cleared.json()["eligibility_description"], cleared.json()["required_documents"]) == (None, [])
    assert (await client.get(url)).json()["required_documents"] == []

    # Each bad value is named next to its field, all at once; nothing is changed.
    refused = await client.patch(
        url,
        json={
            "eligibility_description": "老" * 1001,
            "required_documents": ["身份证", "身份证", " ", "证" * 301],
        },
        headers=headers,
    )
    problem = assert_problem(refused, 422, "validation_error")
    pointers = {error["pointer"] for error in problem["errors"]}
    assert pointers == {"#/eligibility_description", "#/required_documents/2", "#/required_documents/3"}
    too_many = await client.patch(url, json={"required_documents": [f"证明{i}" for i in range(11)]}, headers=headers)
    (error,) = assert_problem(too_many, 422)["errors"]
    assert error["pointer"] == "#/required_documents"
    duplicated = await client.patch(url, json={"required_documents": ["身份证", "身份证"]}, headers=headers)
    assert duplicated.json()["required_documents"] == ["身份证"]  # the same document is asked for once
    assert_problem(await client.patch(url, json={"required_documents": None}, headers=headers), 422)
