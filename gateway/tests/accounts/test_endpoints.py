"""Staff accounts created by an admin through the API."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from gateway.accounts.models import Account

NEW_ACCOUNT = {
    "username": "Provider-XK",
    "password": "a-long-provider-password",
    "roles": ["provider_staff", "provider_admin"],
    "name": "北京小康之家社区服务有限公司",
    "provider_id": str(uuid.uuid4()),
}


async def test_admin_creates_an_account_that_can_sign_in(
    client: httpx.AsyncClient, gateway: FastAPI, admin_headers: dict[str, str], sign_in: Any
) -> None:
    response = await client.post("/api/v1/accounts", json=NEW_ACCOUNT, headers=admin_headers)
    assert response.status_code == 201, response.text
    account = response.json()
    assert account["username"] == "provider-xk"
    assert account["roles"] == ["provider_admin", "provider_staff"]
    assert account["provider_id"] == NEW_ACCOUNT["provider_id"]
    assert account["active"] is True
    assert "password" not in account
    assert "password_hash" not in account
    async with gateway.state.sessionmaker() as session:
        stored = (await session.execute(select(Account).where(Account.username == "provider-xk"))).scalar_one()
    assert stored.password_hash.startswith("$argon2id$")
    assert NEW_ACCOUNT["password"] not in stored.password_hash

    headers = await sign_in("provider-xk", "a-long-provider-password")
    me = (await client.get("/api/v1/auth/me", headers=headers)).json()
    assert me["subject"] == account["id"]
    assert me["provider_id"] == NEW_ACCOUNT["provider_id"]

    fetched = await client.get(f"/api/v1/accounts/{account['id']}", headers=admin_headers)
    assert fetched.status_code == 200
    assert fetched.json() == account


async def test_username_taken_is_409(client: httpx.AsyncClient, admin_headers: dict[str, str]) -> None:
    assert (await client.post("/api/v1/accounts", json=NEW_ACCOUNT, headers=admin_headers)).status_code == 201
    again = await client.post(
        "/api/v1/accounts", json={**NEW_ACCOUNT, "username": "PROVIDER-xk"}, headers=admin_headers
    )
    assert again.status_code == 409
    assert again.json()["code"] == "username_taken"


async def test_only_an_admin_creates_accounts(
    client: httpx.AsyncClient, admin_headers: dict[str, str], create_account: Any, sign_in: Any
) -> None:
    await create_account("official-liu", "official")
    official = await sign_in("official-liu")
    forbidden = await client.post("/api/v1/accounts", json=NEW_ACCOUNT, headers=official)
    assert forbidden.status_code == 403
    assert forbidden.json()["code"] == "forbidden"
    anonymous = await client.post("/api/v1/accounts", json=NEW_ACCOUNT)
    assert anonymous.status_code == 401
    assert (await client.get(f"/api/v1/accounts/{uuid.uuid4()}", headers=official)).status_code == 403


@pytest.mark.parametrize(
    "change",
    [
        {"password": "short-pw1"},
        {"password": "x" * 257},
        {"roles": []},
        {"roles": ["superuser"]},
        {"roles": ["provider_system"]},
        {"roles": "admin"},
        {"username": "a b"},
        {"username": "-starts-with-dash"},
        {"username": "x" * 65},
        {"name": "名" * 121},
        {"provider_id": "not-a-uuid"},
        {"active": False},
        {"password_hash": "$argon2id$..."},
    ],
)
async def test_bad_account_is_422_problem(
    client: httpx.AsyncClient, admin_headers: dict[str, str], change: dict[str, Any]
) -> None:
    response = await client.post("/api/v1/accounts", json={**NEW_ACCOUNT, **change}, headers=admin_headers)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"


async def test_unknown_account_is_404(client: httpx.AsyncClient, admin_headers: dict[str, str]) -> None:
    response = await client.get(f"/api/v1/accounts/{uuid.uuid4()}", headers=admin_headers)
    assert response.status_code == 404
    assert response.json()["code"] == "account_not_found"
    assert (await client.get("/api/v1/accounts/not-a-uuid", headers=admin_headers)).status_code == 422


async def test_a_street_scoped_official_carries_the_street_in_the_token(
    client: httpx.AsyncClient, admin_headers: dict[str, str], sign_in: Any
) -> None:
    body = {"username": "official-cy", "password": "a-long-official-password", "roles": ["official"]}
    created = await client.post("/api/v1/accounts", json={**body, "street_code": "changyang"}, headers=admin_headers)
    assert created.status_code == 201, created.text
    assert created.json()["street_code"] == "changyang"
    me = (await client.get("/api/v1/auth/me", headers=await sign_in("official-cy", body["password"]))).json()
    assert (me["roles"], me["street_code"]) == (["official"], "changyang")
    # A district-wide account has no street; a malformed street is refused on its field, nothing created.
    wide = await client.post("/api/v1/accounts", json={**body, "username": "official-wide"}, headers=admin_headers)
    assert wide.json()["street_code"] is None
    bad = await client.post(
        "/api/v1/accounts", json={**body, "username": "official-bad", "street_code": "长阳 镇"}, headers=admin_headers
    )
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "street_code"
    assert (
        await client.post("/api/v1/auth/token", json={"username": "official-bad", "password": body["password"]})
    ).status_code == 401
