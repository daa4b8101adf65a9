"""Residents sign in with their phone and a one-time code from the (fake) SMS sender."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select, update

from gateway.app import create_app
from gateway.auth import keys
from gateway.config import GatewaySettings
from gateway.residents.models import OtpChallenge, ResidentIdentity
from gateway.residents.sms import FakeSmsSender, Sms, SmsFailed
from service_kit.auth import Role, TokenVerifier
from service_kit.testing import running_app
from service_kit.timeutil import utcnow

PHONE = "+8613812345678"


def fake_sms(gateway: FastAPI) -> FakeSmsSender:
    sender: FakeSmsSender = gateway.state.sms_sender
    return sender


async def send_code(client: httpx.AsyncClient, gateway: FastAPI, phone: str = "138 1234 5678") -> str:
    response = await client.post("/api/v1/auth/otp", json={"phone": phone})
    assert response.status_code == 202, response.text
    code = fake_sms(gateway).last_code(response.json()["phone"])
    assert code is not None
    return code


async def test_a_resident_signs_in_with_a_code(client: httpx.AsyncClient, gateway: FastAPI) -> None:
    response = await client.post("/api/v1/auth/otp", json={"phone": "138 1234 5678"})
    assert response.status_code == 202
    assert response.json() == {"phone": PHONE, "expires_in": 300}
    [message] = fake_sms(gateway).sent_to(PHONE)
    assert "验证码" in message.text
    code = fake_sms(gateway).last_code(PHONE)
    assert code is not None
    assert len(code) == 6

    response = await client.post("/api/v1/auth/otp/verify", json={"phone": "+86 138-1234-5678", "code": code})
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    tokens = response.json()
    principal = await gateway.state.token_verifier.verify(tokens["access_token"])
    assert principal.roles == {Role.resident}
    assert principal.resident_id is not None
    assert principal.subject == str(principal.resident_id)
    assert tokens["refresh_token"]

    me = await client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert me.status_code == 200
    assert me.json()["resident_id"] == str(principal.resident_id)
    assert me.json()["roles"] == ["resident"]


async def test_the_same_phone_is_always_the_same_resident(client: httpx.AsyncClient, gateway: FastAPI) -> None:
    resident_ids = []
    for _ in range(2):
        code = await send_code(client, gateway)
        response = await client.post("/api/v1/auth/otp/verify", json={"phone": PHONE, "code": code})
        assert response.status_code == 200
        principal = await gateway.state.token_verifier.verify(response.json()["access_token"])
        resident_ids.append(principal.resident_id)
    assert resident_ids[0] == resident_ids[1]
    other = await send_code(client, gateway, "13912345678")
    response = await client.post("/api/v1/auth/otp/verify", json={"phone": "13912345678", "code": other})
    principal = await gateway.state.token_verifier.verify(response.json()["access_token"])
    assert principal.resident_id != resident_ids[0]
    async with gateway.state.sessionmaker() as session:
        identities = (await session.execute(select(ResidentIdentity))).scalars().all()
    assert {identity.phone for identity in identities} == {PHONE, "+8613912345678"}


async def test_a_code_is_used_once(client: httpx.AsyncClient, gateway: FastAPI) -> None:
    code = await send_code(client, gateway)
    first = await client.post("/api/v1/auth/otp/verify", json={"phone": PHONE, "code": code})
    assert first.status_code == 200
    again = await client.post("/api/v1/auth/otp/verify", json={"phone": PHONE, "code": code})
    assert again.status_code == 401
    assert again.json()["code"] == "invalid_code"


async def test_only_the_newest_code_counts(client: httpx.AsyncClient, gateway: FastAPI) -> None:
    old = await send_code(client, gateway)
    new = await send_code(client, gateway)
    if old != new:
        response = await client.post("/api/v1/auth/otp/verify", json={"phone": PHONE, "code": old})
        assert response.status_code == 401
    response = await client.post("/api/v1/auth/otp/verify", json={"phone": PHONE, "code": new})
    assert response.status_code == 200


async def test_an_expired_code_is_refused(client: httpx.AsyncClient, gateway: FastAPI) -> None:
    code = await send_code(client, gateway)
    async with gateway.state.sessionmaker() as session, session.begin():
        await session.execute(update(OtpChallenge).values(expires_at=utcnow() - timedelta(seconds=1)))
    response = await client.post("/api/v1/auth/otp/verify", json={"phone": PHONE, "code": code})
    assert response.status_code == 401
    assert response.json()["code"] == "invalid_code"


async def test_wrong_guesses_are_counted_and_limited(client: httpx.AsyncClient, gateway: FastAPI) -> None:
    code = await send_code(client, gateway)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    for _ in range(5):  # otp_max_attempts
        response = await client.post("/api/v1/auth/otp/verify", json={"phone": PHONE, "code": wrong})
        assert response.status_code == 401
    async with gateway.state.sessionmaker() as session:
        [challenge] = (await session.execute(select(OtpChallenge))).scalars().all()
    assert challenge.attempts == 5
    assert code not in challenge.code_hash  # only a keyed hash is stored
    # The right code no longer helps: the code is spent by guessing.
    response = await client.post("/api/v1/auth/otp/verify", json={"phone": PHONE, "code": code})
    assert response.status_code == 401


async def test_sends_per_phone_are_limited(
    make_settings: Callable[..., GatewaySettings], services: dict[str, Any], open_gateway: Any
) -> None:
    settings = make_settings(services, otp_sends_per_window=2, otp_send_window_seconds=600)
    async with open_gateway(settings) as client:
        first_sent = time.monotonic()
        for _ in range(2):
            assert (await client.post("/api/v1/auth/otp", json={"phone": PHONE})).status_code == 202
        response = await client.post("/api/v1/auth/otp", json={"phone": "138 1234 5678"})
        assert response.status_code == 429
        assert response.json()["code"] == "otp_rate_limited"
        # The wait runs from the first send of the window: 600 s less the time since (however long that took).
        since = time.monotonic() - first_sent
        assert 600 - since - 1 <= int(response.headers["retry-after"]) <= 600
        # Another phone is not affected.
        assert (await client.post("/api/v1/auth/otp", json={"phone": "13912345678"})).status_code == 202


async def test_bad_input_is_a_problem(client: httpx.AsyncClient, gateway: FastAPI) -> None:
    cases: list[tuple[str, Any]] = [
        ("/api/v1/auth/otp", {"phone": "12345"}),
        ("/api/v1/auth/otp", {"phone": "not a phone"}),
        ("/api/v1/auth/otp", {"phone": PHONE, "extra": 1}),
        ("/api/v1/auth/otp", {"phone": 13812345678}),
        ("/api/v1/auth/otp", {"phone": "1" * 33}),
        ("/api/v1/auth/otp/verify", {"phone": PHONE, "code": "12345"}),
        ("/api/v1/auth/otp/verify", {"phone": PHONE, "code": "abcdef"}),
        ("/api/v1/auth/otp/verify", {"phone": PHONE}),
    ]
    for path, body in cases:
        response = await client.post(path, json=body)
        assert response.status_code == 422, (path, body, response.text)
        assert response.headers["content-type"] == "application/problem+json"
    response = await client.post("/api/v1/auth/otp", content=b"{not json", headers={"content-type": "application/json"})
    assert response.status_code == 422
    assert fake_sms(gateway).messages == []
    # A phone never sent a code cannot sign in.
    response = await client.post("/api/v1/auth/otp/verify", json={"phone": PHONE, "code": "123456"})
    assert response.status_code == 401


async def test_admin_reads_the_fake_senders_messages(
    client: httpx.AsyncClient, gateway: FastAPI, admin_headers: dict[str, str], create_account: Any, sign_in: Any
) -> None:
    await send_code(client, gateway)
    await send_code(client, gateway, "13912345678")
    response = await client.get("/api/v1/auth/otp/messages", params={"phone": "138 1234 5678"}, headers=admin_headers)
    assert response.status_code == 200
    page = response.json()
    assert page["total"] == 1
    assert page["items"][0]["phone"] == PHONE
    assert fake_sms(gateway).last_code(PHONE) in page["items"][0]["text"]
    everything = await client.get("/api/v1/auth/otp/messages", headers=admin_headers)
    assert everything.json()["total"] == 2
    assert everything.json()["items"][0]["phone"] == "+8613912345678"  # newest first

    assert (await client.get("/api/v1/auth/otp/messages")).status_code == 401
    await create_account("operator1", "operator")
    operator = await sign_in("operator1")
    assert (await client.get("/api/v1/auth/otp/messages", headers=operator)).status_code == 403


def test_production_refuses_the_fake_sms_sender(
    make_settings: Callable[..., GatewaySettings], production: dict[str, Any]
) -> None:
    """Residents would wait for sign-in codes that never come."""
    with pytest.raises(ValueError, match="LINLI_SMS_SENDER=tencent"):
        make_settings(**{**production, "sms_sender": "fake"})


async def test_no_fake_messages_in_production(
    make_settings: Callable[..., GatewaySettings], services: dict[str, Any], tmp_path: Any, production: dict[str, Any]
) -> None:
    keys.load_or_create(tmp_path / "keys" / "gateway-signing-key.pem")
    settings = make_settings(services, **production)
    app = create_app(settings)
    async with running_app(app, wait_for_events=False) as client:
        key = app.state.signing_key
        token = _admin_token(key, settings)
        response = await client.get("/api/v1/auth/otp/messages", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 404


def _admin_token(key: Any, settings: GatewaySettings) -> str:
    now = utcnow()
    return str(
        key.sign(
            {
                "iss": settings.jwt_issuer,
                "aud": settings.jwt_audience,
                "sub": str(uuid.uuid4()),
                "iat": int(now.timestamp()),
                "exp": int((now + timedelta(minutes=5)).timestamp()),
                "roles": ["admin"],
            }
        )
    )


async def test_tokens_verify_with_the_kit(gateway: FastAPI, client: httpx.AsyncClient, settings: Any) -> None:
    code = await send_code(client, gateway)
    tokens = (await client.post("/api/v1/auth/otp/verify", json={"phone": PHONE, "code": code})).json()
    verifier = TokenVerifier(settings)
    verifier.load_jwks(gateway.state.signing_key.jwks())
    assert (await verifier.verify(tokens["access_token"])).has_any(Role.resident)


class RefusingSms:
    """Stands in for an SMS provider that refuses the message."""

    async def send(self, sms: Sms) -> str:
        raise SmsFailed("LimitExceeded.PhoneNumberDailyLimit", "too many messages to this number today")


async def test_a_code_the_provider_refuses_is_503_and_not_kept(client: httpx.AsyncClient, gateway: FastAPI) -> None:
    gateway.state.sms_sender = RefusingSms()
    response = await client.post("/api/v1/auth/otp", json={"phone": "138 1234 5678"})
    assert response.status_code == 503
    assert response.json()["code"] == "sms_unavailable"
    assert response.json()["provider_code"] == "LimitExceeded.PhoneNumberDailyLimit"
    async with gateway.state.sessionmaker() as session:
        assert (await session.scalars(select(OtpChallenge).where(OtpChallenge.for_phone(session, PHONE)))).all() == []
