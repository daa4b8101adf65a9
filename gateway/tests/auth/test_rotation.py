"""Rotating the signing key: new tokens use the new key, tokens already out keep working until they expire."""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import httpx
import jwt
from fastapi import FastAPI

from gateway.app import create_app
from gateway.auth import keys
from gateway.auth.__main__ import main as keys_cli
from gateway.config import GatewaySettings
from service_kit.auth import TokenVerifier
from service_kit.settings import ServiceSettings
from service_kit.testing import eventually, running_app
from service_kit.timeutil import utcnow

PASSWORD = "correct horse battery"


def kid_of(token: str) -> str:
    return str(jwt.get_unverified_header(token)["kid"])


async def token_of(client: httpx.AsyncClient, username: str) -> str:
    response = await client.post("/api/v1/auth/token", json={"username": username, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


async def test_rotation_keeps_old_tokens_valid(
    settings: GatewaySettings, create_account_in: Callable[..., Any], serve: Callable[..., Any]
) -> None:
    server = await serve(create_app(settings), lifespan="on")
    await create_account_in(server.app, "admin", "admin")
    await create_account_in(server.app, "operator1", "operator")
    async with httpx.AsyncClient(base_url=server.url) as http:
        admin = {"Authorization": f"Bearer {await token_of(http, 'admin')}"}
        old_token = await token_of(http, "operator1")
        # A service that fetched the JWKS before the rotation.
        service = TokenVerifier(ServiceSettings(jwks_url=f"{server.url}/.well-known/jwks.json"))
        await service.verify(old_token)

        # (The kit refetches a JWKS at most every 5 s: this service fetched it a while ago.)
        service._fetched_at -= service.min_refresh_interval
        response = await http.post("/api/v1/auth/keys/rotate", headers=admin)
        assert response.status_code == 200, response.text
        rotated = response.json()
        assert rotated["current"] != kid_of(old_token)
        assert rotated["published"] == [rotated["current"], kid_of(old_token)]

        jwks = (await http.get("/.well-known/jwks.json")).json()
        assert [key["kid"] for key in jwks["keys"]] == rotated["published"]
        new_token = await token_of(http, "operator1")
        assert kid_of(new_token) == rotated["current"]

        # Both tokens pass the edge and the services (the service learns the new key on first sight).
        for token in (old_token, new_token):
            me = await http.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
            assert me.status_code == 200
            proxied = await http.get("/api/v1/bookings", headers={"Authorization": f"Bearer {token}"})
            assert proxied.status_code == 200
            await service.verify(token)
        # The admin's token, signed before the rotation too, still works.
        assert (await http.get("/api/v1/auth/me", headers=admin)).status_code == 200


async def test_only_an_admin_rotates(client: httpx.AsyncClient, create_account: Any, sign_in: Any) -> None:
    assert (await client.post("/api/v1/auth/keys/rotate")).status_code == 401
    await create_account("official1", "official")
    response = await client.post("/api/v1/auth/keys/rotate", headers=await sign_in("official1"))
    assert response.status_code == 403
    assert len((await client.get("/.well-known/jwks.json")).json()["keys"]) == 1


async def test_a_key_mounted_read_only_is_a_409_and_stays_in_use(
    client: httpx.AsyncClient, create_account: Any, sign_in: Any, monkeypatch: Any
) -> None:
    """In Kubernetes the key is a secret mounted read-only. A test cannot mount one without privileges, so the
    filesystem's refusal is faked: rotation's first write (its lock file) fails as a read-only mount fails."""
    await create_account("admin1", "admin")
    admin = await sign_in("admin1")
    before = (await client.get("/.well-known/jwks.json")).json()

    def read_only(*args: Any, **kwargs: Any) -> Any:
        raise OSError(30, "Read-only file system")  # EROFS

    monkeypatch.setattr(keys, "open", read_only, raising=False)
    response = await client.post("/api/v1/auth/keys/rotate", headers=admin)
    assert response.status_code == 409, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "signing_key_read_only"
    assert (await client.get("/.well-known/jwks.json")).json() == before
    assert (await client.get("/api/v1/auth/me", headers=admin)).status_code == 200


def test_a_retired_key_is_unpublished_after_its_tokens_expired_then_deleted(tmp_path: Any) -> None:
    path = tmp_path / "keys" / "signing.pem"
    keep_for = timedelta(minutes=20)
    now = utcnow()
    first = keys.load_keyring(path)
    second = keys.rotate(path, now=now - timedelta(hours=1), keep_for=keep_for)
    third = keys.rotate(path, now=now, keep_for=keep_for)
    assert third.current.kid not in {first.current.kid, second.current.kid}
    # The first key retired an hour ago: its tokens (20 minutes at most) are all expired, and it is gone.
    assert [k.kid for k in third.verifying_keys(now, keep_for)] == [third.current.kid, second.current.kid]
    assert first.current.kid not in third.kids
    assert sorted(p.name.split(".")[1].startswith("retired") for p in path.parent.glob("*.pem")) == [False, True]
    for file in path.parent.glob("*.pem"):
        assert os.stat(file).st_mode & 0o077 == 0
    # Twenty minutes later the second key is no longer published either.
    later = now + keep_for
    assert [k.kid for k in third.verifying_keys(later, keep_for)] == [third.current.kid]


async def test_other_replicas_follow_a_rotation_by_the_cli(
    make_settings: Callable[..., GatewaySettings],
    services: dict[str, Any],
    create_account_in: Callable[..., Any],
    monkeypatch: Any,
    capsys: Any,
) -> None:
    settings = make_settings(services, signing_key_reload_seconds=0.1)
    replica_a, replica_b = create_app(settings), create_app(settings)
    async with running_app(replica_a, wait_for_events=False) as a, running_app(replica_b, wait_for_events=False) as b:
        await create_account_in(replica_a, "operator1", "operator")
        before = await token_of(a, "operator1")
        monkeypatch.setenv("LINLI_VAR_DIR", str(settings.var_dir))
        assert keys_cli(["rotate-key"]) == 0
        printed = capsys.readouterr().out
        assert kid_of(before) in printed

        async def b_signs_with_the_new_key() -> bool:
            return kid_of(await token_of(b, "operator1")) != kid_of(before)

        await eventually(b_signs_with_the_new_key)
        after = await token_of(b, "operator1")
        for client in (a, b):
            for token in (before, after):
                me = await client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
                assert me.status_code == 200


def test_gateway_state_is_consistent(gateway: FastAPI) -> None:
    assert gateway.state.signing_key == gateway.state.keyring.current
