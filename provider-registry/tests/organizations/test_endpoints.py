import uuid
from typing import Any

import httpx
import pytest

from service_kit.testing import TestKeys, assert_problem


def application(uscc: str, **fields: Any) -> dict[str, Any]:
    return {
        "name_zh": "房山区绿色家园服务社",
        "name_en": "Green Home Services",
        "kind": "commercial",
        "uscc": uscc,
        **fields,
    }


async def test_an_official_registers_an_organization_which_starts_applied(client: httpx.AsyncClient, registry) -> None:
    uscc = registry.new_uscc()
    spaced = " ".join([uscc[:8], uscc[8:]]).lower()
    response = await client.post(
        "/api/v1/organizations",
        json=application(spaced, contact_phone="010 6931 2345"),
        headers=registry.official,
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["status"] == "applied"
    assert body["uscc"] == uscc
    assert body["contact_phone"] == "+861069312345"
    assert body["name_en"] == "Green Home Services"
    assert body["has_government_contract"] is False
    assert body["score"] == {"bayesian": 4.0, "average": None, "count": 0}


async def test_a_provider_admin_may_apply_and_follow_the_application(
    client: httpx.AsyncClient, registry, test_keys: TestKeys
) -> None:
    applicant = test_keys.headers("provider_admin", sub="applicant-1")
    response = await client.post("/api/v1/organizations", json=application(registry.new_uscc()), headers=applicant)
    assert response.status_code == 201, response.text
    organization_id = response.json()["id"]

    assert (await client.get(f"/api/v1/organizations/{organization_id}", headers=applicant)).status_code == 200
    # Nobody else outside staff sees an application that is not verified.
    assert_problem(await client.get(f"/api/v1/organizations/{organization_id}"), 404, "organization_not_found")
    other = test_keys.headers("provider_admin", sub="someone-else", provider_id=uuid.uuid4())
    assert_problem(
        await client.get(f"/api/v1/organizations/{organization_id}", headers=other), 404, "organization_not_found"
    )
    operator = test_keys.headers("operator")
    assert (await client.get(f"/api/v1/organizations/{organization_id}", headers=operator)).status_code == 200


async def test_residents_cannot_register_and_anonymous_callers_must_sign_in(
    client: httpx.AsyncClient, registry, test_keys: TestKeys
) -> None:
    body = application(registry.new_uscc())
    assert_problem(await client.post("/api/v1/organizations", json=body), 401, "unauthorized")
    assert_problem(
        await client.post("/api/v1/organizations", json=body, headers=test_keys.headers("resident")), 403, "forbidden"
    )


async def test_a_bad_uscc_check_digit_is_refused_naming_the_field(client: httpx.AsyncClient, registry) -> None:
    good = registry.new_uscc()
    bad = good[:-1] + ("0" if good[-1] != "0" else "1")
    body = assert_problem(
        await client.post("/api/v1/organizations", json=application(bad), headers=registry.official),
        422,
        "validation_error",
    )
    assert body["errors"][0]["field"] == "uscc"
    assert "check digit" in body["errors"][0]["message"]


async def test_an_organization_is_registered_once_per_uscc(client: httpx.AsyncClient, registry) -> None:
    uscc = registry.new_uscc()
    first = await client.post("/api/v1/organizations", json=application(uscc), headers=registry.official)
    assert first.status_code == 201
    again = await client.post(
        "/api/v1/organizations", json=application(f"{uscc[:9]}-{uscc[9:]}".lower()), headers=registry.official
    )
    assert_problem(again, 409, "uscc_taken")


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"kind": "charity"}, "kind"),
        ({"name_zh": ""}, "name_zh"),
        ({"name_zh": "名" * 201}, "name_zh"),
        ({"name_zh": 42}, "name_zh"),
        ({"uscc": "12345"}, "uscc"),
        ({"uscc": "9" * 10_000}, "uscc"),
        ({"contact_phone": "12345"}, "contact_phone"),
        ({"contact_phone": "not a phone"}, "contact_phone"),
        ({"status": "verified"}, "status"),
        ({"score": 5}, "score"),
    ],
)
async def test_bad_applications_are_refused(
    client: httpx.AsyncClient, registry, change: dict[str, Any], field: str
) -> None:
    body = assert_problem(
        await client.post(
            "/api/v1/organizations", json={**application(registry.new_uscc()), **change}, headers=registry.official
        ),
        422,
        "validation_error",
    )
    assert field in {e["field"] for e in body["errors"]}


async def test_malformed_json_and_missing_fields_are_refused(client: httpx.AsyncClient, registry) -> None:
    headers = {**registry.official, "content-type": "application/json"}
    assert_problem(
        await client.post("/api/v1/organizations", content=b'{"name_zh": ', headers=headers), 422, "validation_error"
    )
    assert_problem(
        await client.post("/api/v1/organizations", content=b"[1, 2]", headers=headers), 422, "validation_error"
    )
    body = assert_problem(
        await client.post("/api/v1/organizations", json={"name_zh": "某组织"}, headers=registry.official),
        422,
        "validation_error",
    )
    assert {"kind", "uscc"} <= {e["field"] for e in body["errors"]}


async def test_verify_suspend_reinstate_with_an_audit_trail(
    client: httpx.AsyncClient, registry, test_keys: TestKeys
) -> None:
    organization = await registry.organization(verified=False)
    base = f"/api/v1/organizations/{organization['id']}"
    official = test_keys.headers("official", sub="official-wang")

    verified = await client.post(f"{base}/verify", headers=official)
    assert verified.status_code == 200, verified.text
    assert verified.json()["status"] == "verified"

    suspended = await client.post(f"{base}/suspend", json={"reason": "食品安全检查未通过"}, headers=official)
    assert suspended.status_code == 200, suspended.text
    assert suspended.json()["status"] == "suspended"

    reinstated = await client.post(f"{base}/reinstate", json={"reason": "整改完成"}, headers=official)
    assert reinstated.status_code == 200, reinstated.text
    assert reinstated.json()["status"] == "verified"

    history = await client.get(f"{base}/status-history", headers=official)
    assert history.status_code == 200, history.text
    steps = [(c["from_status"], c["to_status"], c["reason"]) for c in history.json()]
    assert steps == [
        (None, "applied", None),
        ("applied", "verified", None),
        ("verified", "suspended", "食品安全检查未通过"),
        ("suspended", "verified", "整改完成"),
    ]
    assert [c["actor"] for c in history.json()][1:] == ["official-wang"] * 3
    assert_problem(await client.get(f"{base}/status-history"), 401, "unauthorized")


async def test_transitions_not_allowed_from_the_current_status_are_conflicts(
    client: httpx.AsyncClient, registry
) -> None:
    organization = await registry.organization(verified=False)
    base = f"/api/v1/organizations/{organization['id']}"
    reason = {"reason": "检查"}
    assert_problem(
        await client.post(f"{base}/suspend", json=reason, headers=registry.official), 409, "invalid_transition"
    )
    assert_problem(
        await client.post(f"{base}/reinstate", json=reason, headers=registry.official), 409, "invalid_transition"
    )
    assert (await client.post(f"{base}/verify", headers=registry.official)).status_code == 200
    body = assert_problem(await client.post(f"{base}/verify", headers=registry.official), 409, "invalid_transition")
    assert body["current_status"] == "verified"


async def test_status_changes_need_an_official_a_reason_and_a_real_id(
    client: httpx.AsyncClient, registry, test_keys: TestKeys
) -> None:
    organization = await registry.organization(verified=False)
    base = f"/api/v1/organizations/{organization['id']}"
    own_admin = registry.provider_admin(organization["id"])
    assert_problem(await client.post(f"{base}/verify", headers=own_admin), 403, "forbidden")
    assert_problem(await client.post(f"{base}/verify"), 401, "unauthorized")
    assert (await client.post(f"{base}/verify", headers=test_keys.headers("admin"))).status_code == 200
    assert_problem(await client.post(f"{base}/suspend", headers=registry.official), 422, "validation_error")
    assert_problem(
        await client.post(f"{base}/suspend", json={"reason": ""}, headers=registry.official), 422, "validation_error"
    )
    assert_problem(
        await client.post(f"{base}/suspend", json={"reason": "x" * 501}, headers=registry.official),
        422,
        "validation_error",
    )
    assert_problem(
        await client.post(f"/api/v1/organizations/{uuid.uuid4()}/verify", headers=registry.official),
        404,
        "organization_not_found",
    )
    assert_problem(
        await client.post("/api/v1/organizations/not-a-uuid/verify", headers=registry.official),
        422,
        "validation_error",
    )


async def test_the_public_sees_verified_organizations(client: httpx.AsyncClient, registry) -> None:
    organization = await registry.organization(verified=True)
    response = await client.get(f"/api/v1/organizations/{organization['id']}")
    assert response.status_code == 200, response.text
    assert response.json()["name_zh"] == organization["name_zh"]
    assert_problem(await client.get(f"/api/v1/organizations/{uuid.uuid4()}"), 404, "organization_not_found")
    bad_token = {"Authorization": "Bearer not-a-token"}
    assert_problem(
        await client.get(f"/api/v1/organizations/{organization['id']}", headers=bad_token), 401, "invalid_token"
    )


async def test_list_filters_and_pages(client: httpx.AsyncClient, registry) -> None:
    verified = [await registry.organization(kind="public_welfare") for _ in range(3)]
    startup = await registry.organization(kind="startup")
    applied = await registry.organization(verified=False, kind="startup")

    public = await client.get("/api/v1/organizations", params={"limit": 2})
    assert public.status_code == 200, public.text
    page = public.json()
    assert page["total"] == 4
    assert page["limit"] == 2
    assert len(page["items"]) == 2
    rest = (await client.get("/api/v1/organizations", params={"limit": 2, "offset": 2})).json()["items"]
    seen = {o["id"] for o in page["items"]} | {o["id"] for o in rest}
    assert seen == {o["id"] for o in [*verified, startup]}

    startups = (await client.get("/api/v1/organizations", params={"kind": "startup"})).json()
    assert [o["id"] for o in startups["items"]] == [startup["id"]]

    hidden = (await client.get("/api/v1/organizations", params={"status": "applied"})).json()
    assert hidden["total"] == 0
    staff = await client.get("/api/v1/organizations", params={"status": "applied"}, headers=registry.official)
    assert [o["id"] for o in staff.json()["items"]] == [applied["id"]]


@pytest.mark.parametrize(
    "params",
    [{"limit": 0}, {"limit": 201}, {"limit": 10**30}, {"offset": -1}, {"limit": "many"}, {"kind": "charity"}],
)
async def test_bad_list_parameters_are_refused(client: httpx.AsyncClient, params: dict[str, Any]) -> None:
    assert_problem(await client.get("/api/v1/organizations", params=params), 422, "validation_error")
