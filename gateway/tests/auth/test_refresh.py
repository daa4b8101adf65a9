"""Refresh tokens: rotated on every use, stored hashed, a reused one revokes its family, logout revokes."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import select, update

from gateway.accounts.models import Account
from gateway.auth.models import RefreshToken
from service_kit.auth import Role
from service_kit.timeutil import utcnow

PASSWORD = "correct horse battery"


async def sign_in(client: httpx.AsyncClient, username: str) -> dict[str, Any]:
    response = await client.post("/api/v1/auth/token", json={"username": username, "password": PASSWORD})
    assert response.status_code == 200, response.text
    tokens: dict[str, Any] = response.json()
    return tokens


async def refresh(client: httpx.AsyncClient, token: str) -> httpx.Response:
    return await client.post("/api/v1/auth/refresh", json={"refresh_token": token})


async def test_refresh_rotates_the_token(client: httpx.AsyncClient, gateway: FastAPI, create_account: Any) -> None:
    await create_account("operator1", "operator", name="话务员")
    first = await sign_in(client, "operator1")
    assert first["refresh_expires_in"] == 30 * 86400

    response = await refresh(client, first["refresh_token"])
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    second = response.json()
    assert second["refresh_token"] != first["refresh_token"]
    principal = await gateway.state.token_verifier.verify(second["access_token"])
    assert principal.roles == {Role.operator}
    assert principal.name == "话务员"

    third = await refresh(client, second["refresh_token"])
    assert third.status_code == 200

    async with gateway.state.sessionmaker() as session:
        rows = (await session.execute(select(RefreshToken))).scalars().all()
    assert len(rows) == 3
    assert len({row.family_id for row in rows}) == 1
    stored = {row.token_hash for row in rows}
    assert hashlib.sha256(first["refresh_token"].encode()).hexdigest() in stored
    assert first["refresh_token"] not in stored  # only hashes are kept


async def test_a_reused_token_revokes_its_family(client: httpx.AsyncClient, create_account: Any) -> None:
    await create_account("operator1", "operator")
    first = await sign_in(client, "operator1")
    second = (await refresh(client, first["refresh_token"])).json()

    # Someone presents the spent token again: a thief or the victim, the gateway cannot tell.
    reused = await refresh(client, first["refresh_token"])
    assert reused.status_code == 401
    assert reused.json()["code"] == "refresh_token_reused"
    # The newest token of the family is revoked with it, so the thief's copy is worthless as well.
    latest = await refresh(client, second["refresh_token"])
    assert latest.status_code == 401
    assert latest.json()["code"] == "invalid_refresh_token"


async def test_other_sign_ins_are_not_affected(client: httpx.AsyncClient, create_account: Any) -> None:
    await create_account("operator1", "operator")
    phone = await sign_in(client, "operator1")
    laptop = await sign_in(client, "operator1")
    await refresh(client, phone["refresh_token"])
    await refresh(client, phone["refresh_token"])  # reuse: the phone's family is revoked
    assert (await refresh(client, laptop["refresh_token"])).status_code == 200


async def test_logout_revokes(client: httpx.AsyncClient, create_account: Any) -> None:
    await create_account("operator1", "operator")
    first = await sign_in(client, "operator1")
    second = (await refresh(client, first["refresh_token"])).json()
    response = await client.post("/api/v1/auth/logout", json={"refresh_token": second["refresh_token"]})
    assert response.status_code == 204
    assert (await refresh(client, second["refresh_token"])).status_code == 401
    # Logging out twice, or with a token the gateway never issued, changes nothing and reveals nothing.
    assert (await client.post("/api/v1/auth/logout", json={"refresh_token": "never-issued"})).status_code == 204
    again = await client.post("/api/v1/auth/logout", json={"refresh_token": second["refresh_token"]})
    assert again.status_code == 204


async def test_expired_unknown_and_bad_tokens(client: httpx.AsyncClient, gateway: FastAPI, create_account: Any) -> None:
    await create_account("operator1", "operator")
    tokens = await sign_in(client, "operator1")
    async with gateway.state.sessionmaker() as session, session.begin():
        await session.execute(update(RefreshToken).values(expires_at=utcnow() - timedelta(seconds=1)))
    expired = await refresh(client, tokens["refresh_token"])
    assert expired.status_code == 401
    assert expired.json()["code"] == "invalid_refresh_token"
    assert (await refresh(client, "never-issued")).status_code == 401
    for body in ({}, {"refresh_token": ""}, {"refresh_token": "x" * 129}, {"refresh_token": 1}, {"other": "x"}):
        response = await client.post("/api/v1/auth/refresh", json=body)
        assert response.status_code == 422, body
        assert response.headers["content-type"] == "application/problem+json"


async def test_a_disabled_account_cannot_refresh_and_new_roles_apply(
    client: httpx.AsyncClient, gateway: FastAPI, create_account: Any
) -> None:
    account = await create_account("operator1", "operator")
    tokens = await sign_in(client, "operator1")
    async with gateway.state.sessionmaker() as session, session.begin():
        await session.execute(update(Account).values(roles=["operator", "official"]))
    refreshed = (await refresh(client, tokens["refresh_token"])).json()
    principal = await gateway.state.token_verifier.verify(refreshed["access_token"])
    assert principal.roles == {Role.operator, Role.official}

    async with gateway.state.sessionmaker() as session, session.begin():
        await session.execute(update(Account).where(Account.username == account["username"]).values(active=False))
    response = await refresh(client, refreshed["refresh_token"])
    assert response.status_code == 401


async def test_a_resident_refreshes(client: httpx.AsyncClient, gateway: FastAPI) -> None:
    await client.post("/api/v1/auth/otp", json={"phone": "13812345678"})
    code = gateway.state.sms_sender.last_code("+8613812345678")
    tokens = (await client.post("/api/v1/auth/otp/verify", json={"phone": "13812345678", "code": code})).json()
    response = await refresh(client, tokens["refresh_token"])
    assert response.status_code == 200
    before = await gateway.state.token_verifier.verify(tokens["access_token"])
    after = await gateway.state.token_verifier.verify(response.json()["access_token"])
    assert after.resident_id == before.resident_id
    assert after.roles == {Role.resident}
