"""The edge's protections: security headers, CORS, rate limits, a circuit breaker per service."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pydantic import ValidationError

from gateway.app import create_app
from gateway.config import GatewaySettings
from service_kit.testing import MonotonicClock, running_app


async def test_security_headers(client: httpx.AsyncClient, gateway: FastAPI) -> None:
    for path in ("/readyz", "/api/v1/categories", "/api/v1/nowhere"):
        response = await client.get(path)
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["referrer-policy"] == "no-referrer"
        assert response.headers["content-security-policy"] == "frame-ancestors 'none'"
        assert "strict-transport-security" not in response.headers
    transport = httpx.ASGITransport(app=gateway)
    async with httpx.AsyncClient(transport=transport, base_url="https://linli.example") as https:
        response = await https.get("/api/v1/categories")
    assert response.headers["strict-transport-security"].startswith("max-age=")


async def test_cors_only_for_the_allowed_origins(
    make_settings: Callable[..., GatewaySettings], services: dict[str, Any], open_gateway: Any, client: Any
) -> None:
    preflight = {"Origin": "https://console.linli.example", "Access-Control-Request-Method": "POST"}
    # By default no browser origin is allowed.
    response = await client.get("/api/v1/categories", headers={"Origin": "https://console.linli.example"})
    assert "access-control-allow-origin" not in response.headers

    settings = make_settings(services, cors_allow_origins=["https://console.linli.example"])
    async with open_gateway(settings) as allowed:
        response = await allowed.options("/api/v1/bookings", headers=preflight)
        assert response.status_code == 200
        assert response.headers["access-control-allow-origin"] == "https://console.linli.example"
        assert "authorization" in response.headers["access-control-allow-headers"].lower()
        simple = await allowed.get("/api/v1/categories", headers={"Origin": "https://console.linli.example"})
        assert simple.headers["access-control-allow-origin"] == "https://console.linli.example"
        other = await allowed.options("/api/v1/bookings", headers={**preflight, "Origin": "https://evil.example"})
        assert other.status_code == 400
        assert "access-control-allow-origin" not in other.headers


async def test_rate_limits_per_caller(
    make_settings: Callable[..., GatewaySettings],
    services: dict[str, Any],
    create_account_in: Callable[..., Any],
) -> None:
    settings = make_settings(services, rate_limit_anonymous="3/minute", rate_limit_principal="4/minute")
    app = create_app(settings)
    async with running_app(app, wait_for_events=False) as client:
        app.state.limiter._window.clock = MonotonicClock()  # the minute lasts as long as the test needs
        for _ in range(3):
            assert (await client.get("/api/v1/categories")).status_code == 200
        refused = await client.get("/api/v1/categories")
        assert refused.status_code == 429
        assert refused.json()["code"] == "rate_limited"
        assert 1 <= int(refused.headers["retry-after"]) <= 60

        # A signed-in caller has their own budget.
        for name in ("li-na", "chen-operator"):
            await create_account_in(app, name, "operator")
        tokens = []
        for name in ("li-na", "chen-operator"):
            response = await client.post(
                "/api/v1/auth/token", json={"username": name, "password": "correct horse battery"}
            )
            tokens.append({"Authorization": f"Bearer {response.json()['access_token']}"})
        for _ in range(4):
            assert (await client.get("/api/v1/bookings", headers=tokens[0])).status_code == 200
        assert (await client.get("/api/v1/bookings", headers=tokens[0])).status_code == 429
        assert (await client.get("/api/v1/bookings", headers=tokens[1])).status_code == 200


async def test_sign_in_is_limited_more_strictly_per_kind_of_sign_in(
    make_settings: Callable[..., GatewaySettings], services: dict[str, Any], open_gateway: Any
) -> None:
    async with open_gateway(make_settings(services, rate_limit_sign_in="3/minute")) as client:
        client._transport.app.state.limiter._window.clock = MonotonicClock()
        phone = {"phone": "13812345678"}
        kinds = {
            "password": [("/api/v1/auth/token", {"username": "nobody-here", "password": "wrong password"})] * 3,
            "code": [
                ("/api/v1/auth/otp", phone),
                ("/api/v1/auth/otp/verify", {**phone, "code": "123456"}),
                ("/api/v1/auth/otp/verify", {**phone, "code": "654321"}),
            ],
            "refresh": [("/api/v1/auth/refresh", {"refresh_token": "x"})] * 3,
        }
        # Each kind has a budget of its own (gateway/ratelimit.py): a caller's passwords spend none of its codes'.
        for kind, calls in kinds.items():
            statuses = [(await client.post(path, json=payload)).status_code for path, payload in calls]
            assert statuses == ([202, 401, 401] if kind == "code" else [401, 401, 401]), kind
        for kind, calls in kinds.items():
            path, payload = calls[-1]
            response = await client.post(path, json=payload)
            assert response.status_code == 429, kind
            assert response.json()["code"] == "rate_limited"
            assert int(response.headers["retry-after"]) >= 1


async def test_api_keys_have_their_own_budget(
    make_settings: Callable[..., GatewaySettings],
    services: dict[str, Any],
    create_account_in: Callable[..., Any],
) -> None:
    settings = make_settings(services, rate_limit_api_key="2/minute")
    app = create_app(settings)
    async with running_app(app, wait_for_events=False) as client:
        app.state.limiter._window.clock = MonotonicClock()
        await create_account_in(app, "zhang-wei", "provider_admin", provider_id=uuid.uuid4())
        token = (
            await client.post("/api/v1/auth/token", json={"username": "zhang-wei", "password": "correct horse battery"})
        ).json()["access_token"]
        created = await client.post(
            "/api/v1/api-keys",
            json={"name": "排班系统", "scopes": ["bookings:read"]},
            headers={"Authorization": f"Bearer {token}"},
        )
        key = {"X-API-Key": created.json()["key"]}
        assert [(await client.get("/api/v1/bookings", headers=key)).status_code for _ in range(3)] == [200, 200, 429]


def test_a_malformed_rate_limit_is_refused_at_start(make_settings: Callable[..., GatewaySettings]) -> None:
    with pytest.raises(ValidationError):
        make_settings(rate_limit_principal="lots")


async def test_the_circuit_opens_and_a_probe_closes_it(
    make_settings: Callable[..., GatewaySettings], services: dict[str, Any], open_gateway: Any
) -> None:
    settings = make_settings(services, circuit_failure_threshold=2, circuit_open_seconds=0.5)
    async with open_gateway(settings) as client:
        # The breakers' time moves only when the test moves it: no margin for a slow machine to eat.
        clock = client._transport.app.state.breakers.clock = MonotonicClock()
        assert (await client.get("/api/v1/ratings")).status_code == 200
        await services["feedback"].stop()
        for _ in range(2):
            response = await client.get("/api/v1/ratings")
            assert response.status_code == 503
            assert response.json()["code"] == "upstream_unavailable"
        clock.advance(0.25)
        response = await client.get("/api/v1/ratings")
        assert response.status_code == 503
        # Answered at once: circuit_open is the answer when no replica was tried (a try would have been refused
        # and answered upstream_unavailable).
        assert response.json()["code"] == "circuit_open"
        assert response.headers["retry-after"] == "1"  # 0.25 s of the pause left, rounded up
        # Other services are not affected.
        assert (await client.get("/api/v1/availability")).status_code == 200

        await services["feedback"].start()
        assert (await client.get("/api/v1/ratings")).json()["code"] == "circuit_open"  # the pause is not over
        clock.advance(0.25)
        assert (await client.get("/api/v1/ratings")).status_code == 200  # the probe
        assert (await client.get("/api/v1/ratings")).status_code == 200
        assert client._transport.app.state.breakers.state(services["feedback"].url) == "closed"


async def test_a_failed_probe_opens_the_circuit_again(
    make_settings: Callable[..., GatewaySettings], services: dict[str, Any], open_gateway: Any
) -> None:
    settings = make_settings(services, circuit_failure_threshold=1, circuit_open_seconds=0.5)
    async with open_gateway(settings) as client:
        clock = client._transport.app.state.breakers.clock = MonotonicClock()
        await services["feedback"].stop()
        assert (await client.get("/api/v1/ratings")).json()["code"] == "upstream_unavailable"
        assert (await client.get("/api/v1/ratings")).json()["code"] == "circuit_open"
        clock.advance(0.5)
        assert (await client.get("/api/v1/ratings")).json()["code"] == "upstream_unavailable"  # the probe
        assert (await client.get("/api/v1/ratings")).json()["code"] == "circuit_open"
        clock.advance(0.25)
        assert (await client.get("/api/v1/ratings")).json()["code"] == "circuit_open"  # a whole pause again
