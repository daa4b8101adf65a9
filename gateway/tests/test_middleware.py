"""The body limit: declared or streamed, before any service or endpoint sees the body."""

from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx

from gateway.config import GatewaySettings


async def test_declared_body_over_the_limit_is_413(client: httpx.AsyncClient, services: dict[str, Any]) -> None:
    response = await client.post("/api/v1/bookings", content=b"x" * (1024 * 1024 + 1))
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "payload_too_large"
    assert response.headers["x-request-id"]
    assert services["booking"].app.state.requests == []


async def test_body_at_the_limit_passes(client: httpx.AsyncClient, admin_headers: dict[str, str]) -> None:
    response = await client.put("/api/v1/bookings/1/notes", content=b"y" * (1024 * 1024), headers=admin_headers)
    assert response.status_code == 200
    assert len(response.json()["body"]) == 1024 * 1024


async def test_streamed_body_over_the_limit_is_413(
    make_settings: Callable[..., GatewaySettings],
    services: dict[str, Any],
    open_gateway: Any,
    admin_headers: dict[str, str],
) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(10):
            yield b"z" * 400

    async with open_gateway(make_settings(services, max_body_bytes=1000)) as client:
        # Chunked: no Content-Length. (The default gateway's admin: same database and signing key.)
        response = await client.post("/api/v1/ratings", content=chunks(), headers=admin_headers)
        small = await client.post("/api/v1/ratings", content=b"z" * 1000, headers=admin_headers)
    assert response.status_code == 413
    assert small.status_code == 200
    assert len(services["feedback"].app.state.requests) == 1


async def test_gateway_endpoints_have_the_limit_too(
    make_settings: Callable[..., GatewaySettings], services: dict[str, Any], open_gateway: Any
) -> None:
    async with open_gateway(make_settings(services, max_body_bytes=100)) as client:
        response = await client.post("/api/v1/auth/token", json={"username": "u" * 60, "password": "p" * 60})
    assert response.status_code == 413
