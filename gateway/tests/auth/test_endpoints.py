"""Signing in, the tokens the gateway issues, and its published keys."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import FastAPI

from gateway.app import create_app
from gateway.auth.keys import SigningKey
from gateway.config import GatewaySettings
from service_kit.auth import Role, TokenVerifier
from service_kit.settings import ServiceSettings
from service_kit.testing import running_app

PASSWORD = "correct horse battery"


async def test_jwks_publishes_the_ed25519_key(client: httpx.AsyncClient, settings: GatewaySettings) -> None:
    response = await client.get("/.well-known/jwks.json")
    assert response.status_code == 200
    [key] = response.json()["keys"]
    assert key["kty"] == "OKP"
    assert key["crv"] == "Ed25519"
    assert key["alg"] == "EdDSA"
    assert key["use"] == "sig"
    assert key["kid"]
    assert "d" not in key  # never the private part
    path = settings.var_dir / "keys" / "gateway-signing-key.pem"
    assert path.exists()
    assert os.stat(path).st_mode & 0o077 == 0


async def test_the_key_survives_a_restart(
    make_settings: Callable[..., GatewaySettings], services: dict[str, Any], open_gateway: Any
) -> None:
    kids = []
    for _ in range(2):
        async with open_gateway(make_settings(services)) as client:
            kids.append((await client.get("/.well-known/jwks.json")).json()["keys"][0]["kid"])
    assert kids[0] == kids[1]


async def test_a_configured_key_file_is_used(
    make_settings: Callable[..., GatewaySettings], services: dict[str, Any], open_gateway: Any, tmp_path: Path
) -> None:
    private_key = Ed25519PrivateKey.generate()
    path = tmp_path / "provisioned.pem"
    path.write_bytes(
        private_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    async with open_gateway(make_settings(services, signing_key_file=path)) as client:
        [key] = (await client.get("/.well-known/jwks.json")).json()["keys"]
    assert key["kid"] == SigningKey(private_key).kid
    assert not (tmp_path / "keys").exists()


async def test_production_refuses_to_invent_a_key(
    make_settings: Callable[..., GatewaySettings], production: dict[str, Any]
) -> None:
    settings = make_settings(**production)
    app = create_app(settings)
    with pytest.raises(FileNotFoundError):
        async with app.router.lifespan_context(app):
            pass


async def test_token_verifies_with_the_kit_verifier_over_real_http(
    settings: GatewaySettings, create_account_in: Callable[..., Any], serve: Callable[..., Any]
) -> None:
    provider_id = uuid.uuid4()
    server = await serve(create_app(settings), lifespan="on")
    account = await create_account_in(
        server.app, "zhang-wei", "provider_admin", name="时代家和 张伟", provider_id=provider_id
    )
    async with httpx.AsyncClient(base_url=server.url) as http:
        response = await http.post("/api/v1/auth/token", json={"username": "zhang-wei", "password": PASSWORD})
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 900
    # A service verifies the token the way every Linli service does: keys from the gateway's JWKS URL.
    verifier = TokenVerifier(ServiceSettings(jwks_url=f"{server.url}/.well-known/jwks.json"))
    principal = await verifier.verify(body["access_token"])
    assert principal.subject == account["id"]
    assert principal.roles == {Role.provider_admin}
    assert principal.provider_id == provider_id
    assert principal.name == "时代家和 张伟"
    assert principal.resident_id is None
    claims = jwt.decode(body["access_token"], options={"verify_signature": False})
    assert claims["iss"] == "linli-gateway"
    assert claims["aud"] == "linli"
    assert claims["exp"] - claims["iat"] == 900
    assert "resident_id" not in claims


async def test_token_lifetime_is_configurable(
    make_settings: Callable[..., GatewaySettings],
    services: dict[str, Any],
    create_account_in: Callable[..., Any],
) -> None:
    app = create_app(make_settings(services, access_token_ttl_seconds=120))
    async with running_app(app, wait_for_events=False) as client:
        await create_account_in(app, "li-na", "operator")
        response = await client.post("/api/v1/auth/token", json={"username": "li-na", "password": PASSWORD})
    assert response.json()["expires_in"] == 120


async def test_wrong_password_and_unknown_user_get_the_same_401(client: httpx.AsyncClient, create_account: Any) -> None:
    await create_account("chen-operator", "operator")
    wrong = await client.post("/api/v1/auth/token", json={"username": "chen-operator", "password": "not it at all"})
    unknown = await client.post("/api/v1/auth/token", json={"username": "nobody-here", "password": PASSWORD})
    for response in (wrong, unknown):
        assert response.status_code == 401
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["code"] == "invalid_credentials"
    assert wrong.json() == unknown.json()


async def test_inactive_account_cannot_sign_in(
    client: httpx.AsyncClient, gateway: FastAPI, create_account: Any
) -> None:
    from gateway.accounts.models import Account

    account = await create_account("retired-official", "official")
    async with gateway.state.sessionmaker() as session, session.begin():
        row = await session.get(Account, uuid.UUID(account["id"]))
        assert row is not None
        row.active = False
    response = await client.post("/api/v1/auth/token", json={"username": "retired-official", "password": PASSWORD})
    assert response.status_code == 401
    assert response.json()["code"] == "invalid_credentials"


async def test_username_is_not_case_sensitive(client: httpx.AsyncClient, create_account: Any) -> None:
    await create_account("Wang.Fang", "operator")
    response = await client.post("/api/v1/auth/token", json={"username": " WANG.fang ", "password": PASSWORD})
    assert response.status_code == 200, response.text


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b'{"username": "a"}',
        b'{"username": "a", "password": "b", "remember_me": true}',
        b'{"username": 12, "password": ["b"]}',
        b'{"username": "", "password": "x"}',
        json.dumps({"username": "a" * 65, "password": "x"}).encode(),
        b"[]",
    ],
)
async def test_malformed_sign_in_is_422_problem(client: httpx.AsyncClient, body: bytes) -> None:
    response = await client.post("/api/v1/auth/token", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "validation_error"


async def test_me_describes_the_signed_in_account(client: httpx.AsyncClient, create_account: Any, sign_in: Any) -> None:
    resident_id = uuid.uuid4()
    account = await create_account("resident-zhao", "resident", name="赵奶奶", resident_id=resident_id)
    response = await client.get("/api/v1/auth/me", headers=await sign_in("resident-zhao"))
    assert response.status_code == 200
    assert response.json() == {
        "subject": account["id"],
        "username": "resident-zhao",
        "roles": ["resident"],
        "name": "赵奶奶",
        "provider_id": None,
        "resident_id": str(resident_id),
        "street_code": None,
        "scopes": [],
    }


async def test_me_needs_a_valid_token(client: httpx.AsyncClient, gateway: FastAPI) -> None:
    assert (await client.get("/api/v1/auth/me")).status_code == 401
    garbage = await client.get("/api/v1/auth/me", headers={"Authorization": "Bearer abc.def.ghi"})
    assert garbage.status_code == 401
    key: SigningKey = gateway.state.signing_key
    now = datetime.now(UTC)
    expired = key.sign(
        {
            "iss": "linli-gateway",
            "aud": "linli",
            "sub": str(uuid.uuid4()),
            "roles": ["operator"],
            "iat": int((now - timedelta(hours=1)).timestamp()),
            "exp": int((now - timedelta(minutes=1)).timestamp()),
        }
    )
    response = await client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {expired}"})
    assert response.status_code == 401
    assert response.json()["code"] == "token_expired"
    # At the edge too, before any service is asked.
    proxied = await client.get("/api/v1/bookings", headers={"Authorization": f"Bearer {expired}"})
    assert proxied.status_code == 401
    assert proxied.json()["code"] == "token_expired"


async def test_tokens_of_a_configured_external_issuer_are_accepted(
    make_settings: Callable[..., GatewaySettings], services: dict[str, Any], open_gateway: Any, test_keys: Any
) -> None:
    async with open_gateway(make_settings(services, jwks_file=test_keys.jwks_file)) as client:
        me = await client.get("/api/v1/auth/me", headers=test_keys.headers("official", sub="oidc-user-7"))
        own_jwks = (await client.get("/.well-known/jwks.json")).json()
    assert me.status_code == 200, me.text
    assert me.json()["subject"] == "oidc-user-7"
    assert me.json()["username"] is None
    assert [key["kid"] for key in own_jwks["keys"]] != [test_keys.kid]  # only its own key is published
