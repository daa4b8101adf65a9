"""A phone gets a few codes and a few guesses a day, on top of the 15-minute limits; an operator gives them back."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from gateway.config import GatewaySettings
from gateway.residents.sms import FakeSmsSender
from service_kit.testing import Clock

PHONE = "+8613812345678"
OTHER_PHONE = "+8613912345678"


@pytest.fixture
def settings(make_settings: Callable[..., GatewaySettings], services: dict[str, Any]) -> GatewaySettings:
    return make_settings(
        services,
        rate_limit_sign_in="10000/minute",
        rate_limit_sign_in_target="10000/minute",
        otp_sends_per_window=3,
        otp_send_window_seconds=900,
        otp_max_attempts=5,
        otp_sends_per_day=5,
        otp_guesses_per_day=7,
    )


async def send(client: httpx.AsyncClient, phone: str = PHONE) -> httpx.Response:
    return await client.post("/api/v1/auth/otp", json={"phone": phone})


async def guess(client: httpx.AsyncClient, code: str, phone: str = PHONE) -> httpx.Response:
    return await client.post("/api/v1/auth/otp/verify", json={"phone": phone, "code": code})


def last_code(gateway: FastAPI, phone: str = PHONE) -> str:
    sender: FakeSmsSender = gateway.state.sms_sender
    code = sender.last_code(phone)
    assert code is not None
    return code


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 10**6:06d}"


def assert_too_many_codes(response: httpx.Response, retry_after: int) -> None:
    assert response.status_code == 429
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["code"] == "too_many_codes"
    assert response.headers["retry-after"] == str(retry_after)
    assert "Too many codes for this number today" in problem["detail"]
    assert problem["message_zh"].startswith("这个号码今天的验证码次数已用完")


async def test_a_phone_gets_a_few_codes_a_day(client: httpx.AsyncClient, gateway: FastAPI, clock: Clock) -> None:
    start = clock.now
    assert [(await send(client)).status_code for _ in range(3)] == [202, 202, 202]
    assert (await send(client)).json()["code"] == "otp_rate_limited"  # the 15-minute limit, as before
    clock.advance(minutes=20)
    assert [(await send(client)).status_code for _ in range(2)] == [202, 202]
    clock.advance(minutes=20)
    # Five today: the sixth waits until the first leaves the 24 hours, whatever the 15-minute window says.
    refused = await send(client)
    assert_too_many_codes(refused, retry_after=86400 - 40 * 60)
    assert refused.json()["message_zh"] == "这个号码今天的验证码次数已用完，请约 24 小时后再试，或打社区服务热线求助。"
    assert (await send(client, OTHER_PHONE)).status_code == 202  # another phone has its own
    clock.now = start
    clock.advance(hours=24, seconds=1)
    assert (await send(client)).status_code == 202


async def test_a_phone_gets_a_few_guesses_a_day_the_right_code_included(
    client: httpx.AsyncClient, gateway: FastAPI, clock: Clock
) -> None:
    assert (await send(client)).status_code == 202
    code = last_code(gateway)
    assert [(await guess(client, wrong(code))).json()["code"] for _ in range(5)] == ["invalid_code"] * 5
    clock.advance(minutes=1)
    assert (await send(client)).status_code == 202
    code = last_code(gateway)
    assert [(await guess(client, wrong(code))).status_code for _ in range(2)] == [401, 401]
    # Seven guesses today: the right code is not even looked at.
    refused = await guess(client, code)
    assert_too_many_codes(refused, retry_after=86400 - 60)
    clock.advance(hours=24)
    assert (await send(client)).status_code == 202
    assert (await guess(client, last_code(gateway))).status_code == 200


async def test_an_operator_gives_a_phone_its_codes_back(
    client: httpx.AsyncClient, gateway: FastAPI, create_account: Any, sign_in: Any, clock: Clock
) -> None:
    await create_account("zhao-lei", "operator")
    operator = await sign_in("zhao-lei")
    for _ in range(5):
        assert (await send(client)).status_code == 202
        clock.advance(minutes=16)
    assert (await send(client)).json()["code"] == "too_many_codes"

    # A resident may not lift it for themself.
    await send(client, OTHER_PHONE)
    resident = await guess(client, last_code(gateway, OTHER_PHONE), OTHER_PHONE)
    resident_headers = {"Authorization": f"Bearer {resident.json()['access_token']}"}
    refused = await client.post("/api/v1/auth/otp/unlock", json={"phone": "138 1234 5678"}, headers=resident_headers)
    assert refused.status_code == 403
    bad = await client.post("/api/v1/auth/otp/unlock", json={"phone": "010 1234 5678"}, headers=operator)
    assert (bad.status_code, bad.json()["code"]) == (422, "not_a_mobile_number")

    lifted = await client.post("/api/v1/auth/otp/unlock", json={"phone": "138 1234 5678"}, headers=operator)
    assert lifted.status_code == 204
    assert (await send(client)).status_code == 202
    assert (await guess(client, last_code(gateway))).status_code == 200
