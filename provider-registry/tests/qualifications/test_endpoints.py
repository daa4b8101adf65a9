from datetime import date, timedelta
from typing import Any

import httpx
import pytest

from registry.qualifications.service import mask_phone
from service_kit.testing import TestKeys, assert_problem
from service_kit.timeutil import local_now


def today() -> date:
    return local_now().date()


def license_body(**fields: Any) -> dict[str, Any]:
    return {
        "kind": "elderly_care",
        "name_zh": "养老服务机构备案回执",
        "issuer": "北京市房山区民政局",
        "number": "FS-YL-2026-0017",
        "valid_from": (today() - timedelta(days=300)).isoformat(),
        "valid_until": (today() + timedelta(days=65)).isoformat(),
        **fields,
    }


async def require(client: httpx.AsyncClient, official: dict[str, str], code: str, kind: str | None) -> None:
    response = await client.patch(f"/api/v1/categories/{code}", json={"required_qualification": kind}, headers=official)
    assert response.status_code == 200, response.text
    assert response.json()["required_qualification"] == kind


async def test_a_provider_records_its_licenses(client: httpx.AsyncClient, registry) -> None:
    provider = await registry.organization()
    headers = registry.provider_admin(provider["id"])
    response = await client.post(
        f"/api/v1/organizations/{provider['id']}/qualifications", json=license_body(), headers=headers
    )
    assert response.status_code == 201, response.text
    assert response.json()["status"] == "valid"
    listed = (await client.get(f"/api/v1/organizations/{provider['id']}/qualifications")).json()
    assert [q["number"] for q in listed["items"]] == ["FS-YL-2026-0017"]
    assert listed["total"] == 1


async def test_a_regulated_category_needs_a_valid_qualification_to_publish(client: httpx.AsyncClient, registry) -> None:
    official = registry.official
    await require(client, official, "elderly.home_care", "elderly_care")
    provider = await registry.organization()
    headers = registry.provider_admin(provider["id"])
    offering = await registry.offering(provider["id"], category_code="elderly.home_care", mode="door_to_door")
    publish = f"/api/v1/offerings/{offering['id']}/publish"
    body = assert_problem(await client.post(publish, headers=headers), 409, "qualification_missing")
    assert body["qualification"] == "elderly_care"

    expired = license_body(valid_from="2020-01-01", valid_until=(today() - timedelta(days=1)).isoformat())
    qualifications = f"/api/v1/organizations/{provider['id']}/qualifications"
    assert (await client.post(qualifications, json=expired, headers=headers)).json()["status"] == "expired"
    assert_problem(await client.post(publish, headers=headers), 409, "qualification_expired")

    future = license_body(number="N-2", valid_from=(today() + timedelta(days=10)).isoformat())
    assert (await client.post(qualifications, json=future, headers=headers)).json()["status"] == "not_yet_valid"
    assert_problem(await client.post(publish, headers=headers), 409, "qualification_expired")

    assert (await client.post(qualifications, json=license_body(number="N-3"), headers=headers)).status_code == 201
    response = await client.post(publish, headers=headers)
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "published"


async def test_a_requirement_on_a_top_level_category_covers_its_leaves(client: httpx.AsyncClient, registry) -> None:
    await require(client, registry.official, "counseling", "psychological_counseling")
    tree = (await client.get("/api/v1/categories")).json()
    counseling = next(c for c in tree if c["code"] == "counseling")
    assert counseling["required_qualification"] == "psychological_counseling"
    provider = await registry.organization()
    offering = await registry.offering(provider["id"], category_code="counseling.individual", mode="online")
    assert_problem(
        await client.post(
            f"/api/v1/offerings/{offering['id']}/publish", headers=registry.provider_admin(provider["id"])
        ),
        409,
        "qualification_missing",
    )
    # Lifting the requirement lets it through; an unrelated category never needed one.
    await require(client, registry.official, "counseling", None)
    response = await client.post(
        f"/api/v1/offerings/{offering['id']}/publish", headers=registry.provider_admin(provider["id"])
    )
    assert response.status_code == 200, response.text


async def test_officials_list_qualifications_expiring_soon(
    client: httpx.AsyncClient, registry, test_keys: TestKeys
) -> None:
    provider = await registry.organization()
    url = f"/api/v1/organizations/{provider['id']}/qualifications"
    for number, days in (("SOON", 10), ("LATER", 65), ("PAST", -1)):
        body = license_body(number=number, valid_until=(today() + timedelta(days=days)).isoformat())
        assert (await client.post(url, json=body, headers=registry.official)).status_code == 201
    soon = (
        await client.get("/api/v1/qualifications/expiring", params={"within_days": 30}, headers=registry.official)
    ).json()
    assert [q["number"] for q in soon["items"]] == ["SOON"]
    later = (
        await client.get("/api/v1/qualifications/expiring", params={"within_days": 90}, headers=registry.official)
    ).json()
    assert [q["number"] for q in later["items"]] == ["SOON", "LATER"]
    assert_problem(
        await client.get("/api/v1/qualifications/expiring", headers=registry.provider_admin(provider["id"])),
        403,
        "forbidden",
    )
    assert_problem(
        await client.get("/api/v1/qualifications/expiring", params={"within_days": -1}, headers=registry.official),
        422,
        "validation_error",
    )


@pytest.mark.parametrize(
    "fields",
    [
        {"valid_from": "2027-01-01", "valid_until": "2026-01-01"},
        {"valid_until": "9999-12-31"},
        {"kind": "Elderly Care"},
        {"number": ""},
        {"unknown": 1},
        {"valid_from": "yesterday"},
    ],
)
async def test_bad_qualifications_are_refused(client: httpx.AsyncClient, registry, fields: dict[str, Any]) -> None:
    provider = await registry.organization()
    response = await client.post(
        f"/api/v1/organizations/{provider['id']}/qualifications",
        json=license_body(**fields),
        headers=registry.official,
    )
    assert_problem(response, 422, "validation_error")


async def test_a_provider_cannot_add_licenses_to_another(client: httpx.AsyncClient, registry) -> None:
    mine, theirs = await registry.organization(), await registry.organization()
    assert_problem(
        await client.post(
            f"/api/v1/organizations/{theirs['id']}/qualifications",
            json=license_body(),
            headers=registry.provider_admin(mine["id"]),
        ),
        404,
        "organization_not_found",
    )


# ------------------------------------------------------------------ staff


async def test_staff_phones_are_masked_for_readers_who_do_not_need_them(
    client: httpx.AsyncClient, registry, test_keys: TestKeys
) -> None:
    provider = await registry.organization()
    own = registry.provider_admin(provider["id"])
    url = f"/api/v1/organizations/{provider['id']}/staff"
    body = {
        "name": "赵春梅",
        "role": "caregiver",
        "phone": "138 0101 0009",
        "certifications": [{"name": "养老护理员（四级）", "number": "HL-4-0091", "valid_until": "2028-06-30"}],
    }
    response = await client.post(url, json=body, headers=own)
    assert response.status_code == 201, response.text
    member = response.json()
    assert member["phone"] == "+8613801010009"
    assert member["certifications"][0]["name"] == "养老护理员（四级）"

    assert (await client.get(url, headers=own)).json()["items"][0]["phone"] == "+8613801010009"
    assert (await client.get(url, headers=registry.official)).json()["items"][0]["phone"] == "+8613801010009"
    operator_view = (await client.get(url, headers=test_keys.headers("operator"))).json()["items"][0]
    assert operator_view["phone"] == "+86138****0009"
    assert operator_view["name"] == "赵春梅"

    other = await registry.organization()
    assert_problem(await client.get(url, headers=registry.provider_admin(other["id"])), 404, "organization_not_found")
    assert_problem(await client.get(url, headers=test_keys.headers("resident")), 404, "organization_not_found")
    assert_problem(await client.get(url), 401, "unauthorized")

    response = await client.patch(f"{url}/{member['id']}", json={"active": False}, headers=own)
    assert response.status_code == 200, response.text
    assert response.json()["active"] is False
    assert_problem(
        await client.patch(
            f"{url}/{member['id']}", json={"active": True}, headers=registry.provider_admin(other["id"])
        ),
        404,
        "staff_not_found",
    )
    assert_problem(
        await client.patch(f"{url}/{member['id']}", json={"role": None}, headers=own), 422, "validation_error"
    )
    assert_problem(await client.post(url, json={**body, "phone": "12345"}, headers=own), 422, "validation_error")


def test_mask_phone() -> None:
    assert mask_phone("+8613801010009") == "+86138****0009"
    assert mask_phone("+12025550123") == "+12*****0123"
    assert mask_phone("+8612") == "*****"
