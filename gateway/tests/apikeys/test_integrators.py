"""Keys that integrators use: an Open311 application's ``api_key`` (GeoReport v2's parameter, not a header) and a
provider's system's scopes for its contracts, deliverables and webhooks — exchanged at the edge, never forwarded.

The requests are built as GeoReport v2's specification shows them (POST requests, form-encoded, with ``api_key``
among the fields): of the Python clients on PyPI, ``georeport`` only reads and ``open311`` predates Python 3."""

from __future__ import annotations

import json
import uuid
import xml.etree.ElementTree as ET
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest
from fastapi import FastAPI

from service_kit.auth import Role

# The specification's example of POST Service Request, field for field (a Linli service code and place).
SPEC_FORM = {
    "jurisdiction_id": "fangshan.gov.cn",
    "service_code": "complaint.punctuality",
    "lat": "39.7354321",
    "long": "116.1432109",
    "address_string": "房山区良乡镇某小区3号楼",
    "email": "someone@example.cn",
    "device_id": "tt222111",
    "account_id": "123456",
    "first_name": "张",
    "last_name": "伟",
    "phone": "13812345678",
    "description": "上门助浴迟到两个小时",
    "media_url": "https://img.example.cn/late.jpg",
}


def echoed(response: httpx.Response) -> dict[str, Any]:
    body: dict[str, Any] = response.json()
    body["headers"] = {name.lower(): value for name, value in body["headers"]}
    return body


async def application_key(
    client: httpx.AsyncClient, admin_headers: dict[str, str], name: str = "12345热线"
) -> dict[str, Any]:
    created = await client.post("/api/v1/api-keys", json={"name": name, "kind": "open311"}, headers=admin_headers)
    assert created.status_code == 201, created.text
    body: dict[str, Any] = created.json()
    return body


async def provider_key(
    client: httpx.AsyncClient, admin_headers: dict[str, str], provider_id: uuid.UUID, *scopes: str
) -> dict[str, str]:
    created = await client.post(
        "/api/v1/api-keys",
        json={"name": "排班系统", "scopes": list(scopes), "provider_id": str(provider_id)},
        headers=admin_headers,
    )
    assert created.status_code == 201, created.text
    return {"X-API-Key": created.json()["key"]}


async def test_an_admin_issues_an_open311_key_to_a_named_application(
    client: httpx.AsyncClient, admin_headers: dict[str, str], create_account: Any, sign_in: Any
) -> None:
    created = await application_key(client, admin_headers)
    assert (created["kind"], created["provider_id"], created["scopes"]) == ("open311", None, ["open311:requests"])
    listed = (await client.get("/api/v1/api-keys", params={"kind": "open311"}, headers=admin_headers)).json()
    assert [k["name"] for k in listed["items"]] == ["12345热线"]

    # A provider's admin issues no application keys, nor gives a provider's key the application's scope.
    await create_account("zhang-wei", "provider_admin", provider_id=uuid.uuid4())
    provider_admin = await sign_in("zhang-wei")
    refused = await client.post("/api/v1/api-keys", json={"name": "x", "kind": "open311"}, headers=provider_admin)
    assert (refused.status_code, refused.json()["code"]) == (403, "role_forbidden")
    for body in (
        {"name": "x", "scopes": ["open311:requests"]},
        {"name": "x", "scopes": ["bookings:read", "open311:requests"]},
    ):
        assert (await client.post("/api/v1/api-keys", json=body, headers=provider_admin)).status_code == 422
    for body in (
        {"name": "x", "kind": "open311", "provider_id": str(uuid.uuid4())},
        {"name": "x", "kind": "open311", "scopes": ["bookings:read"]},
        {"name": "x", "kind": "hotline"},
        {"name": "x", "kind": "provider", "provider_id": str(uuid.uuid4())},
    ):
        response = await client.post("/api/v1/api-keys", json=body, headers=admin_headers)
        assert response.status_code == 422, body
        assert response.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize("suffix", ["json", "xml"])
async def test_a_georeport_client_files_with_its_api_key_in_the_form(
    client: httpx.AsyncClient, gateway: FastAPI, admin_headers: dict[str, str], suffix: str
) -> None:
    created = await application_key(client, admin_headers)
    form = {"api_key": created["key"], **SPEC_FORM}
    response = await client.post(
        f"/open311/v2/requests.{suffix}", data=form, headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert response.status_code == 200, response.text
    seen = echoed(response)
    assert (seen["service"], seen["path"]) == ("feedback", f"/open311/v2/requests.{suffix}")
    # Every field but the key reaches the facade as sent; the key reaches no service.
    assert dict(parse_qsl(seen["body"])) == SPEC_FORM
    assert created["key"] not in response.text
    scheme, token = seen["headers"]["authorization"].split(" ")
    assert scheme == "Bearer"
    holder = await gateway.state.token_verifier.verify(token)
    assert holder.roles == {Role.open311_client}
    assert (holder.subject, holder.name, holder.provider_id) == (f"open311-app:{created['id']}", "12345热线", None)
    assert holder.scopes == {"open311:requests"}


async def test_the_api_key_may_be_a_query_parameter_a_multipart_field_or_json(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    key = (await application_key(client, admin_headers))["key"]

    by_query = await client.post(
        "/open311/v2/requests.json",
        params={"api_key": key, "jurisdiction_id": "fangshan.gov.cn"},
        data={"service_code": "need.elderly", "description": "缺助餐点"},
    )
    assert by_query.status_code == 200, by_query.text
    seen = echoed(by_query)
    assert seen["query"] == "jurisdiction_id=fangshan.gov.cn"
    assert seen["headers"]["authorization"].startswith("Bearer ")

    photo = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
    by_multipart = await client.post(
        "/open311/v2/requests.json",
        data={"api_key": key, "service_code": "need.elderly", "description": "缺助餐点"},
        files={"media": ("late.png", photo, "image/png")},
    )
    assert by_multipart.status_code == 200, by_multipart.text
    seen = echoed(by_multipart)
    assert seen["headers"]["authorization"].startswith("Bearer ")
    assert key not in seen["body"]
    assert 'name="api_key"' not in seen["body"]
    assert 'name="service_code"' in seen["body"]
    assert 'name="media"; filename="late.png"' in seen["body"]

    by_json = await client.post(
        "/open311/v2/requests.json", json={"api_key": key, "service_code": "need.elderly", "description": "缺助餐点"}
    )
    assert by_json.status_code == 200, by_json.text
    seen = echoed(by_json)
    assert json.loads(seen["body"]) == {"service_code": "need.elderly", "description": "缺助餐点"}
    assert seen["headers"]["authorization"].startswith("Bearer ")


async def test_a_missing_or_wrong_key_gets_the_georeport_error_list(
    client: httpx.AsyncClient, admin_headers: dict[str, str], services: dict[str, Any]
) -> None:
    before = len(services["feedback"].app.state.requests)
    missing = await client.post("/open311/v2/requests.json", data=SPEC_FORM)
    assert missing.status_code == 401
    [error] = missing.json()
    assert error["code"] == 401
    wrong = await client.post(
        "/open311/v2/requests.json", data={"api_key": "linli_000000000000_" + "x" * 43, **SPEC_FORM}
    )
    assert (wrong.status_code, wrong.json()[0]["code"]) == (401, 401)
    garbage = await client.post("/open311/v2/requests.xml", params={"api_key": "not-a-key"}, data=SPEC_FORM)
    assert garbage.status_code == 401
    assert garbage.headers["content-type"].startswith("text/xml")
    assert ET.fromstring(garbage.content).findtext("error/code") == "401"

    # A provider's key is no application's: 403, in the standard's form.
    provider = await provider_key(client, admin_headers, uuid.uuid4(), "bookings:read", "bookings:write")
    as_field = await client.post("/open311/v2/requests.json", data={"api_key": provider["X-API-Key"], **SPEC_FORM})
    assert as_field.status_code == 403
    assert as_field.json()[0]["code"] == 403
    as_header = await client.post("/open311/v2/requests.xml", data=SPEC_FORM, headers=provider)
    assert as_header.status_code == 403
    assert ET.fromstring(as_header.content).findtext("error/code") == "403"
    assert len(services["feedback"].app.state.requests) == before  # nothing reached the facade


async def test_an_application_key_files_requests_and_calls_nothing_else(
    client: httpx.AsyncClient, admin_headers: dict[str, str], services: dict[str, Any]
) -> None:
    created = await application_key(client, admin_headers)
    key = {"X-API-Key": created["key"]}
    # The facade's reads accept it too (a client may send its key on every call).
    assert (await client.get("/open311/v2/services.json", params={"api_key": created["key"]})).status_code == 200
    before = sum(len(server.app.state.requests) for server in services.values())
    for method, path in (
        ("GET", "/api/v1/offerings"),
        ("GET", "/api/v1/organizations"),
        ("POST", "/api/v1/complaints"),
        ("GET", "/api/v1/contracts"),
        ("GET", "/api/v1/bookings"),
    ):
        refused = await client.request(method, path, headers=key)
        assert (refused.status_code, refused.json()["code"]) == (403, "route_not_for_api_keys"), path
    assert sum(len(server.app.state.requests) for server in services.values()) == before
    # It may ask who it is.
    me = (await client.get("/api/v1/auth/me", headers=key)).json()
    assert (me["roles"], me["scopes"], me["provider_id"]) == (["open311_client"], ["open311:requests"], None)
    assert (me["subject"], me["name"]) == (f"open311-app:{created['id']}", "12345热线")


async def test_a_providers_key_reads_its_contracts_and_deliverables_and_manages_its_webhooks(
    client: httpx.AsyncClient, gateway: FastAPI, admin_headers: dict[str, str]
) -> None:
    provider_id, contract_id = uuid.uuid4(), uuid.uuid4()
    contracts = await provider_key(client, admin_headers, provider_id, "contracts:read")
    deliveries = await provider_key(client, admin_headers, provider_id, "deliverables:read")
    hooks = await provider_key(client, admin_headers, provider_id, "webhooks:manage")
    webhooks = f"/api/v1/organizations/{provider_id}/webhooks"

    allowed = [
        (contracts, "GET", "/api/v1/contracts"),
        (contracts, "GET", f"/api/v1/contracts/{contract_id}"),
        (contracts, "GET", f"/api/v1/contracts/{contract_id}/history"),
        (contracts, "GET", f"/api/v1/contracts/{contract_id}/versions"),
        (deliveries, "GET", f"/api/v1/contracts/{contract_id}/deliverables"),
        (hooks, "POST", webhooks),
        (hooks, "PATCH", f"{webhooks}/{uuid.uuid4()}"),
        (hooks, "DELETE", f"{webhooks}/{uuid.uuid4()}"),
        (hooks, "POST", f"{webhooks}/{uuid.uuid4()}/rotate-secret"),
    ]
    for key, method, path in allowed:
        response = await client.request(method, path, headers=key)
        assert response.status_code == 200, (method, path, response.text)
        holder = await gateway.state.token_verifier.verify(echoed(response)["headers"]["authorization"].split()[1])
        assert holder.provider_id == provider_id
    refused = [
        (deliveries, "GET", f"/api/v1/contracts/{contract_id}", "scope_missing"),
        (contracts, "GET", f"/api/v1/contracts/{contract_id}/deliverables", "scope_missing"),
        (contracts, "POST", webhooks, "scope_missing"),
        (contracts, "GET", f"/api/v1/contracts/{contract_id}/evaluations", "route_not_for_api_keys"),
        (contracts, "POST", f"/api/v1/contracts/{contract_id}/sign", "route_not_for_api_keys"),
    ]
    for key, method, path, code in refused:
        response = await client.request(method, path, headers=key)
        assert (response.status_code, response.json()["code"]) == (403, code), (method, path)

    me = (await client.get("/api/v1/auth/me", headers=hooks)).json()
    assert (me["roles"], me["scopes"], me["provider_id"]) == (
        ["provider_system"],
        ["webhooks:manage"],
        str(provider_id),
    )
