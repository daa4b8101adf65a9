"""The gateway's edge, continued (test_edge.py): slow clients are cut off, a caller who leaves is logged as 499
and blames no service, what may be kept in a cache."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import httpx

from gateway.app import create_app
from gateway.config import GatewaySettings
from service_kit.testing import RecordedLog, eventually, http_scope, parse_http_response, serving, slow_client

GIVE_UP = 90.0  # only ends a test that is broken


async def test_200_trickling_sockets_are_cut_off_by_the_gateway_and_others_are_served(
    make_settings: Callable[..., GatewaySettings], services: dict[str, Any]
) -> None:
    app = create_app(make_settings(services, body_read_timeout_seconds=1.0))
    slowloris = b"GET /api/v1/offerings HTTP/1.1\r\nHost: linli\r\n"
    slow_upload = b"POST /api/v1/auth/token HTTP/1.1\r\nHost: linli\r\nContent-Length: 300\r\n\r\n"
    # 3 s: time for a busy machine to read the uploads' headers, which came whole (service-kit's test_edge.py).
    async with app.router.lifespan_context(app), serving(app, header_read_timeout_seconds=3.0) as port:
        opened: list[int] = []
        attack = asyncio.gather(
            asyncio.gather(*(slow_client(port, slowloris, b"X-Slow: a\r\n", opened=opened) for _ in range(100))),
            asyncio.gather(*(slow_client(port, slow_upload, b"{", opened=opened) for _ in range(100))),
        )
        await eventually(lambda: len(opened) == 200, timeout=GIVE_UP)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            served = await client.get("/api/v1/offerings")
        cut_headers, cut_bodies = await attack
    assert (served.status_code, served.json()["service"]) == (200, "registry")
    assert "server" not in served.headers
    assert cut_headers == [b""] * 100
    for raw in cut_bodies:
        status, headers, body = parse_http_response(raw)
        assert (status, headers["content-type"], headers["connection"]) == (408, "application/problem+json", "close")
        assert json.loads(body)["code"] == "body_read_timeout"
        assert headers["x-request-id"]
    # Nothing of a cut request reached a service.
    assert [r for r in services["registry"].app.state.requests if "x-slow" in r] == []


async def test_a_caller_who_leaves_is_logged_as_499_and_the_service_is_not_blamed(
    make_settings: Callable[..., GatewaySettings],
    services: dict[str, Any],
    admin_headers: dict[str, str],
    edge_log: RecordedLog,
) -> None:
    booking = services["booking"]
    # The service would answer in a minute; the caller leaves as soon as the service has the request.
    settings = make_settings(services, upstream_timeout_seconds=120)
    app = create_app(settings)
    leaves = settings.circuit_failure_threshold + 1
    async with app.router.lifespan_context(app):
        for _ in range(leaves):
            before = len(booking.app.state.requests)
            sent: list[dict[str, Any]] = []
            given = False

            async def receive() -> dict[str, Any]:
                nonlocal given
                if not given:
                    given = True
                    return {"type": "http.request", "body": b"", "more_body": False}
                await eventually(lambda: len(booking.app.state.requests) > before)  # noqa: B023
                return {"type": "http.disconnect"}

            async def send(message: dict[str, Any]) -> None:
                sent.append(message)  # noqa: B023

            scope = http_scope("GET", "/api/v1/bookings/1/notes", {**admin_headers, "x-echo-sleep": "60"})
            await asyncio.wait_for(app(scope, receive, send), timeout=60)
            assert sent == []  # nobody to answer

        # Every one logged as 499, none as 500 (or as the 504 of a wait that went on).
        statuses = [line["status"] for line in edge_log.requests() if line["path"] == "/api/v1/bookings/1/notes"]
        assert statuses == [499] * leaves
        # More callers left than the breaker's threshold of failures, and the replica is still used.
        assert app.state.breakers.state(booking.url) == "closed"
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as client:
            answered = await client.get("/api/v1/bookings/2/notes", headers=admin_headers)
        assert answered.status_code == 200
        assert answered.json()["service"] == "booking"


async def test_a_caller_who_leaves_before_its_body_is_logged_as_499(
    gateway: Any, services: dict[str, Any], edge_log: RecordedLog
) -> None:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = http_scope("POST", "/api/v1/auth/token", {"content-type": "application/json", "content-length": "40"})
    await gateway(scope, receive, send)
    assert sent == []
    assert [(line["path"], line["status"]) for line in edge_log.requests()] == [("/api/v1/auth/token", 499)]


async def test_answers_are_not_stored_unless_their_route_says_so(
    client: httpx.AsyncClient, services: dict[str, Any], admin_headers: dict[str, str]
) -> None:
    # A service's answer without a caching header of its own, and the gateway's own answers: no-store.
    proxied = await client.get("/api/v1/bookings/3/notes", headers=admin_headers)
    refused = await client.get("/api/v1/bookings/1")
    signed_in = await client.post("/api/v1/auth/token", json={"username": "nobody", "password": "wrong-password"})
    for answer in (proxied, refused, signed_in):
        assert answer.headers["cache-control"] == "no-store"
        assert "server" not in answer.headers
    assert (proxied.status_code, proxied.json()["service"]) == (200, "booking")
    assert (refused.status_code, refused.json()["code"]) == (401, "unauthorized")
    assert signed_in.status_code == 401
    # A public gateway route's own caching header is kept.
    keys = await client.get("/.well-known/jwks.json")
    assert keys.headers["cache-control"] == "public, max-age=300"
    console = await client.get("/console/")
    assert console.headers["cache-control"] == "no-cache"
