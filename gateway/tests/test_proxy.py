"""Forwarding through the gateway to services served by uvicorn on real ports."""

from __future__ import annotations

import asyncio
import uuid
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest

from gateway.config import GatewaySettings
from service_kit.testing import listening_socket


def header(echo: dict[str, Any], name: str) -> list[str]:
    return [value for key, value in echo["headers"] if key.lower() == name.lower()]


@pytest.mark.parametrize(
    ("path", "service"),
    [
        ("/api/v1/organizations", "registry"),
        ("/api/v1/categories", "registry"),
        ("/open-data/hsds/services", "registry"),
        ("/api/v1/residents", "booking"),
        ("/api/v1/availability", "booking"),
        ("/api/v1/contracts/1/deliverables", "procurement"),
        ("/open-data/ocds/releases", "procurement"),
        ("/api/v1/rating-invitations", "feedback"),
        ("/open311/services.json", "feedback"),
        ("/api/v1/ops/booking/dead-letters", "booking"),
    ],
)
async def test_each_prefix_reaches_its_service(
    client: httpx.AsyncClient, admin_headers: dict[str, str], path: str, service: str
) -> None:
    response = await client.get(path, headers=admin_headers)
    assert response.status_code == 200, response.text
    assert response.json()["service"] == service
    assert response.json()["path"] == path
    assert response.headers["x-served-by"] == service


async def test_method_path_query_body_headers_and_status_pass_through(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    body = '{"resident_id": "r-1", "note": "轮椅，请走一楼"}'.encode()
    response = await client.post(
        "/api/v1/bookings/a%2Fb?slot=2026-12-01T11:00:00%2B08:00&tag=80%2B&tag=alone",
        content=body,
        headers={
            **admin_headers,
            "Content-Type": "application/json; charset=utf-8",
            "Accept-Language": "zh-CN",
            "X-Echo-Status": "201",
            "Connection": "keep-alive, x-hop-secret",
            "X-Hop-Secret": "not for the service",
            "Keep-Alive": "timeout=5",
            "TE": "trailers",
        },
    )
    assert response.status_code == 201, response.text
    echo = response.json()
    assert echo["method"] == "POST"
    assert echo["raw_path"] == "/api/v1/bookings/a%2Fb"
    assert echo["query"] == "slot=2026-12-01T11:00:00%2B08:00&tag=80%2B&tag=alone"
    assert echo["body"] == body.decode()
    assert header(echo, "content-type") == ["application/json; charset=utf-8"]
    assert header(echo, "accept-language") == ["zh-CN"]
    assert header(echo, "content-length") == [str(len(body))]
    for hop in ("x-hop-secret", "keep-alive", "te"):
        assert header(echo, hop) == [], hop
    assert header(echo, "x-forwarded-for") == ["127.0.0.1"]
    assert header(echo, "x-forwarded-proto") == ["http"]
    assert header(echo, "x-forwarded-host") == ["testserver"]
    # The service's headers come back, repeated ones included.
    assert response.headers.get_list("set-cookie") == ["district=fangshan", "circle=15min"]
    assert response.headers["x-served-by"] == "booking"
    # The service's server and date headers give way to the gateway's own, never sent twice.
    assert "server" not in response.headers
    assert "date" not in response.headers


async def test_forwarded_for_is_appended_to_the_callers_chain(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/offerings", headers={"X-Forwarded-For": "203.0.113.7"})
    assert header(response.json(), "x-forwarded-for") == ["203.0.113.7, 127.0.0.1"]


async def test_get_without_body_sends_no_invented_headers(client: httpx.AsyncClient) -> None:
    echo = (await client.get("/api/v1/offerings", headers={"User-Agent": "linli-app/1.0"})).json()
    assert echo["body"] == ""
    assert header(echo, "user-agent") == ["linli-app/1.0"]
    assert header(echo, "content-type") == []
    assert header(echo, "content-length") == []


async def test_head_answers_the_services_headers_without_a_body(client: httpx.AsyncClient) -> None:
    # A small answer of known length goes back in one piece; a HEAD's length describes a body never sent.
    head = await client.head("/api/v1/offerings")
    assert head.status_code == 200
    assert head.content == b""
    assert head.headers["x-served-by"] == "registry"
    assert int(head.headers["content-length"]) > 0  # the echo's description of the request, not sent
    assert head.headers["x-content-type-options"] == "nosniff"


async def test_error_statuses_and_redirects_are_the_services(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    conflict = await client.post("/api/v1/bookings", json={}, headers={**admin_headers, "X-Echo-Status": "409"})
    assert conflict.status_code == 409
    assert conflict.json()["service"] == "booking"
    moved = await client.get("/api/v1/categories/old", headers={"X-Echo-Status": "302"})
    assert moved.status_code == 302  # handed to the caller, not followed by the gateway
    assert moved.headers["location"] == "/api/v1/somewhere-else"


async def test_cookies_set_by_a_service_never_reach_another_caller(
    make_settings: Callable[..., GatewaySettings], services: dict[str, Any], open_gateway: Any
) -> None:
    # A host name, not an IP address: a cookie jar would keep cookies for it.
    settings = make_settings(services, registry_url=f"http://localhost:{services['registry'].port}")
    async with open_gateway(settings) as client:
        first = await client.get("/api/v1/offerings")
        assert first.headers.get_list("set-cookie") == ["district=fangshan", "circle=15min"]
        client.cookies.clear()
        echo = (await client.get("/api/v1/offerings")).json()
    assert header(echo, "cookie") == []


async def test_request_id_is_propagated(client: httpx.AsyncClient) -> None:
    request_id = uuid.uuid4().hex
    response = await client.get("/api/v1/scores", headers={"X-Request-ID": request_id})
    assert header(response.json(), "x-request-id") == [request_id]
    assert response.headers.get_list("x-request-id") == [request_id]


async def test_request_id_is_generated_when_missing(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/scores")
    [generated] = response.headers.get_list("x-request-id")
    assert header(response.json(), "x-request-id") == [generated]
    assert uuid.UUID(generated)


async def test_large_response_streams_back_intact(client: httpx.AsyncClient, services: dict[str, Any]) -> None:
    size = services["registry"].app.state.download_bytes
    response = await client.get("/api/v1/offerings/download")
    assert response.status_code == 200
    assert len(response.content) == size > 3 * 1024 * 1024
    assert response.content == bytes(i % 251 for i in range(size))


async def test_compressed_response_passes_through_undecoded(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/categories/compressed", headers={"Accept-Encoding": "gzip"})
    assert response.headers["content-encoding"] == "gzip"
    assert int(response.headers["content-length"]) < 200  # still compressed on the wire
    assert response.json()["categories"][0] == "elderly.meal_table"


async def test_unknown_path_is_404_problem(client: httpx.AsyncClient, services: dict[str, Any]) -> None:
    for path in ("/api/v2/bookings", "/api/v1/bookingsx", "/api/v1/auth/nothing", "/.well-known/other"):
        response = await client.get(path)
        assert response.status_code == 404, path
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["code"] == "not_found"
    assert all(not server.app.state.requests for server in services.values())


async def test_wrong_method_on_a_gateway_route_is_405(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/auth/token")
    assert response.status_code == 405
    assert response.json()["code"] == "method_not_allowed"


async def test_service_down_is_503_with_retry_after(
    client: httpx.AsyncClient, services: dict[str, Any], admin_headers: dict[str, str]
) -> None:
    await services["procurement"].stop()
    for method in ("GET", "POST"):
        response = await client.request(
            method, "/api/v1/contracts", json={} if method == "POST" else None, headers=admin_headers
        )
        assert response.status_code == 503, response.text
        assert response.headers["content-type"] == "application/problem+json"
        assert response.headers["retry-after"] == "2"
        assert response.json()["code"] == "upstream_unavailable"
        assert "procurement" in response.json()["detail"]


async def test_slow_service_is_504(
    make_settings: Callable[..., GatewaySettings], services: dict[str, Any], open_gateway: Any
) -> None:
    async with open_gateway(make_settings(services, upstream_timeout_seconds=0.3)) as client:
        response = await client.get("/api/v1/availability", headers={"X-Echo-Sleep": "1.5"})
    # The gateway gave up after its 0.3 s, not after the service's 1.5 s (then it would have had the answer):
    # a 504 is only ever its own timeout (both waits run on one event loop, the earlier deadline first).
    assert response.status_code == 504
    assert response.json()["code"] == "upstream_timeout"
    assert "0.3 s" in response.json()["detail"]
    assert len(services["booking"].app.state.requests) == 1  # a timeout is not retried


async def test_known_slow_routes_wait_longer(
    make_settings: Callable[..., GatewaySettings],
    services: dict[str, Any],
    open_gateway: Any,
    admin_headers: dict[str, str],
) -> None:
    # The same database and signing key as the default gateway's: its admin's token works here too.
    async with open_gateway(make_settings(services, upstream_timeout_seconds=0.3)) as client:
        for path in ("/api/v1/circle/coverage", "/open-data/ocds/releases", "/api/v1/contracts/c-1/export"):
            response = await client.get(path, headers={**admin_headers, "X-Echo-Sleep": "0.6"})
            assert response.status_code == 200, path
        response = await client.get("/api/v1/circle/nearby", headers={**admin_headers, "X-Echo-Sleep": "0.6"})
    assert response.status_code == 504
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "upstream_timeout"
    assert "0.3 s" in response.json()["detail"]


@asynccontextmanager
async def flaky_service() -> AsyncIterator[tuple[int, list[str]]]:
    """A raw HTTP server that drops the first connection without answering and answers the next ones."""
    seen: list[str] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        seen.append(head.split(b" ", 1)[0].decode())
        if len(seen) > 1:
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 13\r\n\r\n")
            writer.write(b'{"flaky":true}'[:13])
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, sock=listening_socket())
    async with server:
        yield server.sockets[0].getsockname()[1], seen


async def test_get_is_retried_once_after_a_connection_failure(
    make_settings: Callable[..., GatewaySettings], open_gateway: Any
) -> None:
    async with flaky_service() as (port, seen):
        settings = make_settings(feedback_url=f"http://127.0.0.1:{port}")
        async with open_gateway(settings) as client:
            response = await client.get("/api/v1/scores")
    assert response.status_code == 200, response.text
    assert seen == ["GET", "GET"]


async def test_post_is_never_retried(
    make_settings: Callable[..., GatewaySettings], open_gateway: Any, admin_headers: dict[str, str]
) -> None:
    async with flaky_service() as (port, seen):
        settings = make_settings(feedback_url=f"http://127.0.0.1:{port}")
        async with open_gateway(settings) as client:
            response = await client.post("/api/v1/ratings", json={"stars": 5}, headers=admin_headers)
    assert response.status_code == 502
    assert response.json()["code"] == "bad_gateway"
    assert seen == ["POST"]


async def test_invalid_bearer_token_is_refused_at_the_edge(client: httpx.AsyncClient, services: dict[str, Any]) -> None:
    for value in ("Bearer not-a-jwt", "Bearer ", "bearer eyJhbGciOiJFZERTQSJ9.e30.c2ln"):
        response = await client.get("/api/v1/bookings", headers={"Authorization": value})
        assert response.status_code == 401, value
        assert response.headers["content-type"] == "application/problem+json"
        assert response.headers["www-authenticate"].startswith("Bearer")
        assert response.json()["code"] == "invalid_token"
    assert services["booking"].app.state.requests == []


async def test_valid_token_is_forwarded_unchanged(client: httpx.AsyncClient, create_account: Any, sign_in: Any) -> None:
    await create_account("operator-chen", "operator")
    headers = await sign_in("operator-chen")
    response = await client.get("/api/v1/residents", headers=headers)
    assert response.status_code == 200
    assert header(response.json(), "authorization") == [headers["Authorization"]]


async def test_other_authorization_schemes_are_left_to_the_service(client: httpx.AsyncClient) -> None:
    response = await client.get("/open311/requests.json", headers={"Authorization": "Basic b3BlcmF0b3I6eA=="})
    assert response.status_code == 200
    assert header(response.json(), "authorization") == ["Basic b3BlcmF0b3I6eA=="]


async def test_the_gateways_refusals_on_open311_are_georeport_error_lists(client: httpx.AsyncClient) -> None:
    """A GeoReport v2 client reads the standard's error list, not problem+json, in the form it asked for."""
    refused = await client.post("/open311/v2/requests.json", data={"service_code": "need.elderly"})
    assert (refused.status_code, refused.headers["content-type"]) == (401, "application/json")
    [error] = refused.json()
    assert error == {"code": 401, "description": "Sign in: this endpoint needs a bearer token."}
    as_xml = await client.post("/open311/v2/requests.xml", data={"service_code": "need.elderly"})
    assert (as_xml.status_code, as_xml.headers["content-type"]) == (401, "text/xml; charset=utf-8")
    errors = ET.fromstring(as_xml.content)
    assert (errors.tag, errors.findtext("error/code")) == ("errors", "401")
    # Everywhere else the gateway answers problem+json, as before.
    other = await client.post("/api/v1/bookings", json={})
    assert other.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize("value", ["a\x01b", "a\x7fb", "a\x0bb"])
async def test_a_header_http_cannot_carry_is_400_and_never_forwarded(
    client: httpx.AsyncClient, services: dict[str, Any], value: str
) -> None:
    response = await client.get("/api/v1/availability", headers={"X-Note": value})
    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "unforwardable_request"
    assert "X-Note" in response.json()["detail"] or "x-note" in response.json()["detail"]
    assert not services["booking"].app.state.requests


@pytest.mark.parametrize("upstream_client", ["http1", "aiohttp"])
async def test_either_client_forwards_alike(
    make_settings: Callable[..., GatewaySettings],
    services: dict[str, Any],
    open_gateway: Any,
    admin_headers: dict[str, str],
    upstream_client: str,
) -> None:
    """The gateway's own client and the aiohttp fallback (LINLI_UPSTREAM_CLIENT) keep the same promises."""
    settings = make_settings(services, upstream_client=upstream_client)  # the services' time: 2 s
    async with open_gateway(settings) as client:
        body = '{"note": "轮椅，请走一楼"}'.encode()
        written = await client.post(
            "/api/v1/bookings/a%2Fb?slot=2026-12-01T11:00:00%2B08:00&tag=80%2B",
            content=body,
            headers={**admin_headers, "Content-Type": "application/json", "X-Echo-Status": "201", "TE": "trailers"},
        )
        assert written.status_code == 201, written.text
        echo = written.json()
        assert (echo["method"], echo["raw_path"]) == ("POST", "/api/v1/bookings/a%2Fb")
        assert echo["query"] == "slot=2026-12-01T11:00:00%2B08:00&tag=80%2B"
        assert echo["body"] == body.decode()
        assert header(echo, "content-length") == [str(len(body))]
        assert header(echo, "content-type") == ["application/json"]
        assert header(echo, "te") == []
        assert written.headers.get_list("set-cookie") == ["district=fangshan", "circle=15min"]

        # Nothing invented: the caller's own user agent and encodings, no type, length or cookie of the client's.
        caller = {"User-Agent": "linli-app/1.0", "Accept-Encoding": "br"}
        read = (await client.get("/api/v1/offerings", headers=caller)).json()
        assert (header(read, "user-agent"), header(read, "accept-encoding")) == (["linli-app/1.0"], ["br"])
        assert header(read, "content-type") == header(read, "content-length") == header(read, "cookie") == []

        head = await client.head("/api/v1/offerings")
        assert (head.status_code, head.content) == (200, b"")
        moved = await client.get("/api/v1/categories/old", headers={"X-Echo-Status": "302"})
        assert (moved.status_code, moved.headers["location"]) == (302, "/api/v1/somewhere-else")
        compressed = await client.get("/api/v1/categories/compressed", headers={"Accept-Encoding": "gzip"})
        assert compressed.headers["content-encoding"] == "gzip"
        size = services["registry"].app.state.download_bytes
        download = await client.get("/api/v1/offerings/download")
        assert download.content == bytes(i % 251 for i in range(size))

        refused = await client.get("/api/v1/availability", headers={"X-Note": "a\x01b"})
        assert (refused.status_code, refused.json()["code"]) == (400, "unforwardable_request")
        slow = await client.get("/api/v1/availability", headers={"X-Echo-Sleep": "4"})
        assert (slow.status_code, slow.json()["code"]) == (504, "upstream_timeout")
        await services["procurement"].stop()
        down = await client.post("/api/v1/contracts", json={}, headers=admin_headers)
        assert (down.status_code, down.json()["code"]) == (503, "upstream_unavailable")
