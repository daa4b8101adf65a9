"""Several replicas of one service behind the gateway: round-robin, failover, a circuit per replica."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse

from gateway.app import create_app
from gateway.config import GatewaySettings
from service_kit.testing import MonotonicClock, eventually, listening_socket, running_app

from .conftest import Server, echo_service

Serve = Callable[..., Awaitable[Server]]


BookingGateway = Callable[..., AbstractAsyncContextManager[tuple[httpx.AsyncClient, dict[str, str], FastAPI]]]


@pytest.fixture
def booking_gateway(
    make_settings: Callable[..., GatewaySettings], create_account_in: Callable[..., Any], services: dict[str, Server]
) -> BookingGateway:
    """``booking_gateway(replica_urls, **overrides)``: a gateway whose booking service has the given replicas, a
    client and an operator's headers. Its circuit breakers' time stands still unless the test moves it
    (``app.state.upstreams.breakers.clock.advance``)."""

    @asynccontextmanager
    async def start(
        replica_urls: list[str], **overrides: Any
    ) -> AsyncIterator[tuple[httpx.AsyncClient, dict[str, str], FastAPI]]:
        settings = make_settings(services, booking_url=",".join(replica_urls), **overrides)
        app = create_app(settings)
        async with running_app(app, wait_for_events=False) as client:
            app.state.upstreams.breakers.clock = MonotonicClock()
            await create_account_in(app, "operator-wang", "operator")
            signed_in = await client.post(
                "/api/v1/auth/token", json={"username": "operator-wang", "password": "correct horse battery"}
            )
            yield client, {"Authorization": f"Bearer {signed_in.json()['access_token']}"}, app

    return start


@pytest.fixture
def first_booking(services: dict[str, Server]) -> Server:
    return services["booking"]


@pytest.fixture
async def second_booking(serve: Serve) -> Server:
    return await serve(echo_service("booking"))


def served(server: Server) -> int:
    return len(server.app.state.requests)


@asynccontextmanager
async def dropping_service() -> AsyncIterator[tuple[str, list[str]]]:
    """A raw HTTP server that reads each request's head and closes the connection without answering."""
    seen: list[str] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        seen.append(head.split(b" ", 1)[0].decode())
        writer.close()

    server = await asyncio.start_server(handle, sock=listening_socket())
    async with server:
        yield f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}", seen


def slow_service(seconds: float) -> FastAPI:
    """A replica that answers every request, but only after ``seconds``."""
    app = FastAPI()
    app.state.requests = []

    @app.api_route("/{path:path}", methods=["GET", "POST"])
    async def slow(request: Request) -> Response:
        app.state.requests.append(request.method)
        await asyncio.sleep(seconds)
        return JSONResponse({"slow": True})

    return app


def test_a_comma_separated_list_gives_the_replicas(make_settings: Callable[..., GatewaySettings]) -> None:
    settings = make_settings(booking_url=" http://10.0.0.7:8102/, http://10.0.0.8:8102 ,http://10.0.0.7:8102")
    assert settings.upstream_urls()["booking"] == ("http://10.0.0.7:8102", "http://10.0.0.8:8102")
    assert settings.upstream_urls()["registry"] == ("http://127.0.0.1:8101",)
    with pytest.raises(ValueError, match="base URL"):
        make_settings(booking_url="http://10.0.0.7:8102,,http://10.0.0.8:8102")


async def test_requests_take_the_replicas_in_turn(
    booking_gateway: BookingGateway,
    first_booking: Server,
    second_booking: Server,
) -> None:
    async with booking_gateway([first_booking.url, second_booking.url]) as (
        client,
        headers,
        _,
    ):
        for method in ("GET", "POST", "GET", "POST", "DELETE", "GET"):
            response = await client.request(method, "/api/v1/bookings", headers=headers)
            assert response.status_code == 200, response.text
    assert served(first_booking) == served(second_booking) == 3


async def test_a_killed_replica_is_skipped_for_every_method(
    booking_gateway: BookingGateway,
    first_booking: Server,
    second_booking: Server,
) -> None:
    urls = [first_booking.url, second_booking.url]
    async with booking_gateway(urls, circuit_failure_threshold=2, circuit_open_seconds=30) as (
        client,
        headers,
        app,
    ):
        await first_booking.stop()
        # A refused connection reached nobody: writes move to the other replica too.
        for method in ("POST", "GET", "POST", "PATCH", "GET", "POST"):
            response = await client.request(method, "/api/v1/bookings/b-1/note", headers=headers, json={"note": "一楼"})
            assert response.status_code == 200, response.text
            assert response.json()["method"] == method
        assert served(second_booking) == 6
        # Two failures opened the stopped replica's circuit: it is not asked any more; the other one is closed.
        breakers = app.state.upstreams.breakers
        assert breakers.state(first_booking.url) == "open"
        assert breakers.state(second_booking.url) == "closed"

        await second_booking.stop()
        for _ in range(2):  # the second replica's two failures
            response = await client.post("/api/v1/bookings", headers=headers, json={})
            assert response.status_code == 503
            assert response.json()["code"] == "upstream_unavailable"
            assert response.headers["retry-after"] == "2"
        response = await client.post("/api/v1/bookings", headers=headers, json={})
        # Both circuits are open now: 503 at once, the wait of the replica that reopens first.
        assert response.status_code == 503
        assert response.json()["code"] == "circuit_open"
        assert 1 <= int(response.headers["retry-after"]) <= 30
        # Other services are not affected.
        assert (await client.get("/api/v1/need-pool", headers=headers)).status_code == 200


async def test_a_replica_back_from_a_pause_is_probed_and_used_again(
    booking_gateway: BookingGateway,
    first_booking: Server,
    second_booking: Server,
) -> None:
    urls = [first_booking.url, second_booking.url]
    async with booking_gateway(urls, circuit_failure_threshold=1, circuit_open_seconds=0.5) as (client, headers, app):
        breakers = app.state.upstreams.breakers
        await first_booking.stop()
        assert (await client.get("/api/v1/bookings", headers=headers)).status_code == 200
        assert breakers.state(first_booking.url) == "open"
        await first_booking.start()
        for _ in range(2):  # back, but paused: both turns go to the second replica
            assert (await client.get("/api/v1/bookings", headers=headers)).status_code == 200
        assert served(first_booking) == 0
        breakers.clock.advance(0.5)
        assert breakers.state(first_booking.url) == "half-open"
        for _ in range(4):
            assert (await client.get("/api/v1/bookings", headers=headers)).status_code == 200
        assert breakers.state(first_booking.url) == "closed"
    assert served(first_booking) == 2  # the probe, then its turn again


async def test_a_broken_connection_moves_only_reads_to_another_replica(
    booking_gateway: BookingGateway,
    services: dict[str, Server],
) -> None:
    healthy = services["booking"]
    async with (
        dropping_service() as (dropping_url, seen),
        booking_gateway([dropping_url, healthy.url]) as (
            client,
            headers,
            _,
        ),
    ):
        # The turns go dropping, healthy, dropping, healthy…
        read = await client.get("/api/v1/bookings", headers=headers)
        assert read.status_code == 200, read.text  # the dropping replica, then the healthy one
        assert (await client.post("/api/v1/bookings", headers=headers, json={})).status_code == 200  # healthy
        for method in ("DELETE", "GET", "POST"):  # dropping (502), healthy, dropping (502)
            response = await client.request(method, "/api/v1/bookings/b-1/note", headers=headers)
            if method == "GET":
                assert response.status_code == 200
            else:
                assert response.status_code == 502, method
                assert response.json()["code"] == "bad_gateway"
    # A write may have reached the dropping replica: it was sent neither again nor to the healthy one.
    assert seen == ["GET", "DELETE", "POST"]
    assert served(healthy) == 3


async def test_a_read_timeout_moves_only_reads_to_another_replica(
    booking_gateway: BookingGateway,
    services: dict[str, Server],
    serve: Serve,
) -> None:
    slow = await serve(slow_service(1.0))
    healthy = services["booking"]
    async with booking_gateway([slow.url, healthy.url], upstream_timeout_seconds=0.3) as (client, headers, _):
        read = await client.get("/api/v1/bookings", headers=headers)
        assert read.status_code == 200, read.text
        assert read.json()["service"] == "booking"
        assert (await client.post("/api/v1/bookings", headers=headers, json={})).status_code == 200
        write = await client.post("/api/v1/bookings", headers=headers, json={})
        assert write.status_code == 504
        assert write.json()["code"] == "upstream_timeout"
    assert slow.app.state.requests == ["GET", "POST"]
    assert served(healthy) == 2


async def test_health_and_openapi_need_one_ready_replica(
    make_settings: Callable[..., GatewaySettings],
    services: dict[str, Server],
    first_booking: Server,
    second_booking: Server,
    open_gateway: Any,
) -> None:
    settings = make_settings(services, booking_url=f"{first_booking.url},{second_booking.url}")
    async with open_gateway(settings) as client:
        await first_booking.stop()
        for _ in range(2):  # whichever replica's turn it is
            health = await client.get("/healthz")
            assert health.status_code == 200, health.text
            spec = (await client.get("/openapi.json")).json()
            assert "/api/v1/bookings/{booking_id}" in spec["paths"]
            assert spec["x-linli-missing"] == []
        second_booking.app.state.ready = False
        health = await client.get("/healthz")
        assert health.status_code == 503
        assert health.json()["services"]["booking"] == "down"


async def holding_an_export(client: httpx.AsyncClient, headers: dict[str, str]) -> int:
    """An export (a route allowed two minutes) the replica takes two seconds over: its connection stays busy."""
    response = await client.get("/api/v1/bookings/b-1/export", headers={**headers, "X-Echo-Sleep": "2"})
    return response.status_code


async def test_a_write_waiting_for_a_busy_replica_moves_to_another_and_blames_none(
    booking_gateway: BookingGateway,
    first_booking: Server,
    second_booking: Server,
) -> None:
    async with booking_gateway(
        [first_booking.url, second_booking.url],
        upstream_max_connections=1,
        upstream_timeout_seconds=0.3,
        circuit_failure_threshold=1,
    ) as (client, headers, app):
        export = asyncio.create_task(holding_an_export(client, headers))  # the first replica's turn
        await eventually(lambda: served(first_booking) == 1)
        assert (await client.get("/api/v1/bookings", headers=headers)).status_code == 200  # the second's turn
        # The first replica's turn again: its one connection is busy for longer than the request's 0.3 s. Nothing
        # was sent, so the write goes to the second replica.
        write = await client.post("/api/v1/bookings", headers=headers, json={})
        assert write.status_code == 200, write.text
        assert write.json()["method"] == "POST"
        assert await export == 200
        # Busy is not failing: the first replica's circuit (one failure opens it here) is closed.
        assert app.state.upstreams.breakers.state(first_booking.url) == "closed"
    assert served(first_booking) == 1
    assert served(second_booking) == 2


async def test_a_request_no_connection_was_free_for_is_503_busy_and_not_a_failure(
    booking_gateway: BookingGateway,
    services: dict[str, Server],
) -> None:
    only = services["booking"]
    async with booking_gateway(
        [only.url],
        upstream_max_connections=1,
        upstream_timeout_seconds=0.3,
        circuit_failure_threshold=1,
    ) as (client, headers, _):
        export = asyncio.create_task(holding_an_export(client, headers))
        await eventually(lambda: served(only) == 1)
        busy = await client.post("/api/v1/bookings", headers=headers, json={})
        assert busy.status_code == 503, busy.text
        assert busy.headers["content-type"] == "application/problem+json"
        assert busy.headers["retry-after"] == "2"
        assert busy.json()["code"] == "upstream_busy"
        assert "booking" in busy.json()["detail"]
        assert await export == 200
        # Not counted against the replica: the next write goes through (one failure would have opened its circuit).
        assert (await client.post("/api/v1/bookings", headers=headers, json={})).status_code == 200
    assert served(only) == 2  # the export and the last write: the refused one was never sent
