"""Providers' API keys: created by a provider_admin, shown once, hashed, scoped, revocable, exchanged at the edge."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import jwt
from fastapi import FastAPI
from sqlalchemy import select

from gateway.apikeys.models import ApiKey
from service_kit.auth import Role


def forwarded_headers(response: httpx.Response) -> dict[str, str]:
    return {name.lower(): value for name, value in response.json()["headers"]}


async def provider_admin(create_account: Any, sign_in: Any, username: str, provider_id: uuid.UUID) -> dict[str, str]:
    await create_account(username, "provider_admin", provider_id=provider_id)
    headers: dict[str, str] = await sign_in(username)
    return headers


async def create_key(client: httpx.AsyncClient, headers: dict[str, str], *scopes: str, **extra: Any) -> dict[str, Any]:
    response = await client.post(
        "/api/v1/api-keys", json={"name": "排班系统", "scopes": list(scopes), **extra}, headers=headers
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_a_key_is_shown_once_and_stored_hashed(
    client: httpx.AsyncClient, gateway: FastAPI, create_account: Any, sign_in: Any
) -> None:
    provider_id = uuid.uuid4()
    admin = await provider_admin(create_account, sign_in, "zhang-wei", provider_id)
    created = await create_key(client, admin, "bookings:write", "bookings:read", "bookings:read")
    assert created["key"].startswith(f"linli_{created['prefix']}_")
    assert created["provider_id"] == str(provider_id)
    assert created["scopes"] == ["bookings:read", "bookings:write"]
    assert created["last_used_at"] is None

    listed = await client.get("/api/v1/api-keys", headers=admin)
    assert listed.status_code == 200
    assert listed.json()["total"] == 1
    [item] = listed.json()["items"]
    assert "key" not in item
    assert item["id"] == created["id"]
    async with gateway.state.sessionmaker() as session:
        [row] = (await session.execute(select(ApiKey))).scalars().all()
    assert created["key"] not in (row.key_hash, row.prefix)


async def test_a_key_becomes_a_provider_system_token_at_the_edge(
    client: httpx.AsyncClient, gateway: FastAPI, create_account: Any, sign_in: Any, services: dict[str, Any]
) -> None:
    provider_id = uuid.uuid4()
    admin = await provider_admin(create_account, sign_in, "zhang-wei", provider_id)
    key = (await create_key(client, admin, "bookings:read"))["key"]

    for headers in ({"X-API-Key": key}, {"Authorization": f"ApiKey {key}"}):
        response = await client.get("/api/v1/bookings", params={"status": "requested"}, headers=headers)
        assert response.status_code == 200, response.text
        seen = forwarded_headers(response)
        assert "x-api-key" not in seen
        assert key not in response.text  # the key never reaches the service
        scheme, token = seen["authorization"].split(" ")
        assert scheme == "Bearer"
        principal = await gateway.state.token_verifier.verify(token)
        assert principal.roles == {Role.provider_system}
        assert principal.provider_id == provider_id
        assert principal.scopes == {"bookings:read"}
        claims = jwt.decode(token, options={"verify_signature": False})
        assert claims["exp"] - claims["iat"] == 120

    listed = (await client.get("/api/v1/api-keys", headers=admin)).json()
    assert listed["items"][0]["last_used_at"] is not None


async def test_scopes_are_enforced_at_the_edge(
    client: httpx.AsyncClient, create_account: Any, sign_in: Any, services: dict[str, Any]
) -> None:
    admin = await provider_admin(create_account, sign_in, "zhang-wei", uuid.uuid4())
    reader = {"X-API-Key": (await create_key(client, admin, "bookings:read"))["key"]}
    writer = {"X-API-Key": (await create_key(client, admin, "bookings:write", "offerings:write"))["key"]}

    assert (await client.get(f"/api/v1/bookings/{uuid.uuid4()}", headers=reader)).status_code == 200
    refused = await client.post("/api/v1/bookings/123/confirm", headers=reader)
    assert refused.status_code == 403
    assert refused.json()["code"] == "scope_missing"
    assert (await client.post("/api/v1/bookings/123/confirm", headers=writer)).status_code == 200
    assert (await client.post("/api/v1/offerings", json={}, headers=writer)).status_code == 200
    assert (await client.get("/api/v1/bookings", headers=writer)).status_code == 403
    # Public reading needs no scope; routes not meant for systems are refused whatever the scopes.
    assert (await client.get("/api/v1/offerings", headers=reader)).status_code == 200
    other = await client.post("/api/v1/contracts", json={}, headers=writer)
    assert other.status_code == 403
    assert other.json()["code"] == "route_not_for_api_keys"
    before = sum(len(server.app.state.requests) for server in services.values())
    assert (await client.get("/api/v1/ratings", headers=writer)).status_code == 403
    assert sum(len(server.app.state.requests) for server in services.values()) == before


async def test_bad_and_revoked_keys_are_refused(
    client: httpx.AsyncClient, create_account: Any, sign_in: Any, services: dict[str, Any]
) -> None:
    admin = await provider_admin(create_account, sign_in, "zhang-wei", uuid.uuid4())
    created = await create_key(client, admin, "bookings:read")
    key = created["key"]
    assert (await client.get("/api/v1/bookings", headers={"X-API-Key": key})).status_code == 200
    for bad in ("", "nonsense", key[:-1] + ("A" if key[-1] != "A" else "B"), f"linli_{'0' * 12}_{'a' * 43}"):
        response = await client.get("/api/v1/bookings", headers={"X-API-Key": bad})
        assert response.status_code == 401, bad
        assert response.json()["code"] == "invalid_api_key"

    revoked = await client.delete(f"/api/v1/api-keys/{created['id']}", headers=admin)
    assert revoked.status_code == 204
    response = await client.get("/api/v1/bookings", headers={"X-API-Key": key})
    assert response.status_code == 401
    listed = (await client.get("/api/v1/api-keys", headers=admin)).json()
    assert listed["items"][0]["revoked_at"] is not None
    assert (await client.delete(f"/api/v1/api-keys/{created['id']}", headers=admin)).status_code == 204


async def test_a_provider_manages_only_its_own_keys(
    client: httpx.AsyncClient, create_account: Any, sign_in: Any, admin_headers: dict[str, str]
) -> None:
    mine, theirs = uuid.uuid4(), uuid.uuid4()
    me = await provider_admin(create_account, sign_in, "zhang-wei", mine)
    other = await provider_admin(create_account, sign_in, "li-na", theirs)
    their_key = await create_key(client, other, "bookings:read")

    assert (await client.delete(f"/api/v1/api-keys/{their_key['id']}", headers=me)).status_code == 404
    assert (await client.get("/api/v1/api-keys", params={"provider_id": str(theirs)}, headers=me)).status_code == 404
    response = await client.post(
        "/api/v1/api-keys", json={"name": "x", "scopes": ["bookings:read"], "provider_id": str(theirs)}, headers=me
    )
    assert response.status_code == 404
    assert (await client.get("/api/v1/api-keys", headers=me)).json()["total"] == 0

    # An admin names the provider, and sees every provider's keys.
    missing = await client.post(
        "/api/v1/api-keys", json={"name": "x", "scopes": ["bookings:read"]}, headers=admin_headers
    )
    assert missing.status_code == 422
    await create_key(client, admin_headers, "offerings:write", provider_id=str(mine))
    assert (await client.get("/api/v1/api-keys", headers=admin_headers)).json()["total"] == 2
    assert (await client.get("/api/v1/api-keys", params={"provider_id": str(mine)}, headers=admin_headers)).json()[
        "total"
    ] == 1
    assert (await client.get("/api/v1/api-keys", headers=me)).json()["total"] == 1

    await create_account("operator1", "operator")
    operator = await sign_in("operator1")
    assert (await client.get("/api/v1/api-keys", headers=operator)).status_code == 403
    assert (await client.get("/api/v1/api-keys")).status_code == 401


async def test_bad_input_is_a_problem(client: httpx.AsyncClient, create_account: Any, sign_in: Any) -> None:
    admin = await provider_admin(create_account, sign_in, "zhang-wei", uuid.uuid4())
    for body in (
        {"name": "x", "scopes": []},
        {"name": "x", "scopes": ["contracts:write"]},
        {"name": "", "scopes": ["bookings:read"]},
        {"name": "x" * 121, "scopes": ["bookings:read"]},
        {"name": "x", "scopes": ["bookings:read"], "extra": True},
        {"name": "x", "scopes": "bookings:read"},
        {"name": "x", "scopes": ["bookings:read"], "provider_id": "not-a-uuid"},
    ):
        response = await client.post("/api/v1/api-keys", json=body, headers=admin)
        assert response.status_code == 422, body
        assert response.headers["content-type"] == "application/problem+json"
    assert (await client.delete("/api/v1/api-keys/not-a-uuid", headers=admin)).status_code == 422
    assert (await client.delete(f"/api/v1/api-keys/{uuid.uuid4()}", headers=admin)).status_code == 404


async def test_a_providers_system_asks_who_its_key_is(
    client: httpx.AsyncClient, create_account: Any, sign_in: Any
) -> None:
    provider_id = uuid.uuid4()
    admin = await provider_admin(create_account, sign_in, "zhang-wei", provider_id)
    created = await create_key(client, admin, "bookings:write", "bookings:read")
    for headers in ({"X-API-Key": created["key"]}, {"Authorization": f"ApiKey {created['key']}"}):
        me = await client.get("/api/v1/auth/me", headers=headers)
        assert me.status_code == 200, me.text
        body = me.json()
        assert (body["roles"], body["provider_id"], body["name"]) == (["provider_system"], str(provider_id), "排班系统")
        assert body["scopes"] == ["bookings:read", "bookings:write"]
        assert body["subject"] == f"api-key:{created['id']}"
        assert (body["username"], body["resident_id"]) == (None, None)
    # A person's token still says who the person is, with no scopes.
    assert (await client.get("/api/v1/auth/me", headers=admin)).json()["scopes"] == []
    assert (await client.delete(f"/api/v1/api-keys/{created['id']}", headers=admin)).status_code == 204
    revoked = await client.get("/api/v1/auth/me", headers={"X-API-Key": created["key"]})
    assert (revoked.status_code, revoked.json()["code"]) == (401, "invalid_api_key")
    nobody = await client.get("/api/v1/auth/me")
    assert (nobody.status_code, nobody.json()["code"]) == (401, "unauthorized")
    # A header that names a key but holds none is a bad key, here as on every forwarded route.
    for empty in ({"X-API-Key": ""}, {"Authorization": "ApiKey "}):
        for path in ("/api/v1/auth/me", "/api/v1/bookings"):
            answer = await client.get(path, headers=empty)
            assert (answer.status_code, answer.json()["code"]) == (401, "invalid_api_key"), (path, empty)
