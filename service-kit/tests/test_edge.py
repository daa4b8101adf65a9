"""The edge every server keeps, a service reached on its own port as the gateway: slow clients cut off (headers
below ASGI, the body above it), body limits, Cache-Control, the request log's 499."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from prometheus_client import REGISTRY

from service_kit import edge
from service_kit.app import ServiceSpec, create_service_app
from service_kit.server import H11Protocol, HttpToolsProtocol, with_header_timeout
from service_kit.settings import ServiceSettings
from service_kit.testing import (
    RecordedLog,
    TestKeys,
    eventually,
    http_scope,
    listening_socket,
    parse_http_response,
    running_app,
    serving,
    slow_client,
)

from .test_app import notes_router

# Small deadlines, so the test's slow clients are cut within seconds; what is asserted is that the server closed
# every one of them (never how long it took). The header deadline leaves a busy machine's event loop, with 200
# connections opening at once, time to read headers that came whole (at 1 s a slow upload was now and then cut
# before its headers were read). GIVE_UP only ends a test that is broken.
HEADER_SECONDS = 3.0
BODY_SECONDS = 1.0
GIVE_UP = 90.0


class KitSettings(ServiceSettings):
    service_name = "kit"


def kit_app(service_env: dict[str, Any], kit_db_url: str, **settings: Any) -> FastAPI:
    values = {**service_env, "database_url": kit_db_url, **settings}
    return create_service_app(
        ServiceSpec(name="kit", title="kit", settings=KitSettings(**values), routers=[notes_router()])
    )


# A slowloris: a request line, then a header now and then, never the blank line that ends them.
SLOWLORIS = b"GET /healthz HTTP/1.1\r\nHost: kit\r\n"
ANOTHER_HEADER = b"X-Slow: a\r\n"
# A slow upload: whole headers, then the body a byte now and then (a deadline per chunk would never end it).
SLOW_UPLOAD = (
    b"POST /api/v1/notes HTTP/1.1\r\nHost: kit\r\nContent-Type: application/json\r\nContent-Length: 500\r\n\r\n"
)


@pytest.mark.parametrize("protocol", [HttpToolsProtocol, H11Protocol], ids=["httptools", "h11"])
async def test_200_trickling_sockets_are_all_cut_off_and_others_are_served(
    service_env: dict[str, Any], kit_db_url: str, test_keys: TestKeys, protocol: type[Any]
) -> None:
    app = kit_app(service_env, kit_db_url, body_read_timeout_seconds=BODY_SECONDS)
    headers_cut, bodies_cut = edge.CUTS["header_read_timeout"], edge.CUTS["body_read_timeout"]
    bodies_counted = body_cuts_counted()
    async with running_app(app), serving(app, header_read_timeout_seconds=HEADER_SECONDS, protocol=protocol) as port:
        opened: list[int] = []
        slow_headers = [slow_client(port, SLOWLORIS, ANOTHER_HEADER, opened=opened) for _ in range(100)]
        slow_bodies = [slow_client(port, SLOW_UPLOAD, b" ", opened=opened) for _ in range(100)]
        attack = asyncio.gather(asyncio.gather(*slow_headers), asyncio.gather(*slow_bodies))
        await eventually(lambda: len(opened) == 200, timeout=GIVE_UP)
        # During the attack, a caller who sends its request at once is served.
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            health = await client.get("/healthz")
            note = await client.post(
                "/api/v1/notes", json={"text": "during the attack", "stars": 5}, headers=test_keys.headers("operator")
            )
        cut_headers, cut_bodies = await attack

    assert health.status_code == 200
    assert note.status_code == 201, note.text
    # Every slow header sender was closed on, without an answer (nothing of its request was read).
    assert cut_headers == [b""] * 100
    # Every slow body sender got a 408 problem, and then the connection closed.
    for raw in cut_bodies:
        status, headers, body = parse_http_response(raw)
        assert status == 408
        assert headers["content-type"] == "application/problem+json"
        assert headers["connection"] == "close"
        assert headers["cache-control"] == "no-store"
        assert "server" not in headers
        problem = json.loads(body)
        assert problem["code"] == "body_read_timeout"
        assert problem["detail"] == "The request body did not arrive within 1 s."
        assert problem["instance"] == "/api/v1/notes"
    # Counted, in /metrics too.
    assert edge.CUTS["header_read_timeout"] - headers_cut >= 100
    assert edge.CUTS["body_read_timeout"] - bodies_cut == 100
    assert body_cuts_counted() - bodies_counted == 100


def body_cuts_counted() -> float:
    return REGISTRY.get_sample_value("linli_edge_cuts_total", {"reason": "body_read_timeout"}) or 0.0


@pytest.mark.parametrize("protocol", [HttpToolsProtocol, H11Protocol], ids=["httptools", "h11"])
async def test_a_silent_connection_and_a_slow_second_request_are_cut_off(
    service_env: dict[str, Any], kit_db_url: str, protocol: type[Any]
) -> None:
    app = kit_app(service_env, kit_db_url)
    async with running_app(app), serving(app, header_read_timeout_seconds=HEADER_SECONDS, protocol=protocol) as port:
        # Connected, and never a byte.
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        async with asyncio.timeout(GIVE_UP):
            assert await reader.read(1024) == b""
        writer.close()
        # A first request answered, then a second on the same connection whose headers never end.
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: kit\r\n\r\n")
        async with asyncio.timeout(GIVE_UP):
            first = await reader.readuntil(b"}")
        assert parse_http_response(first)[0] == 200
        writer.write(b"GET /healthz HTTP/1.1\r\n")
        writer.write(ANOTHER_HEADER)
        async with asyncio.timeout(GIVE_UP):
            assert await reader.read(1024) == b""  # closed: the second request's headers never ended
        writer.close()


async def test_a_service_reached_directly_limits_bodies(
    service_env: dict[str, Any], kit_db_url: str, test_keys: TestKeys
) -> None:
    app = kit_app(service_env, kit_db_url, max_body_bytes=1000)
    auth = test_keys.headers("operator")

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(10):
            yield b"z" * 400

    async with running_app(app) as client:
        declared = await client.post("/api/v1/notes", content=b"x" * 1001, headers=auth)
        streamed = await client.post("/api/v1/notes", content=chunks(), headers=auth)  # chunked: no Content-Length
        exactly = b" " * 972 + b'{"text": "fits", "stars": 3}'  # 1000 bytes
        fits = await client.post("/api/v1/notes", content=exactly, headers={**auth, "content-type": "application/json"})
    for refused in (declared, streamed):
        assert refused.status_code == 413
        assert refused.headers["content-type"] == "application/problem+json"
        assert refused.json()["code"] == "payload_too_large"
        assert refused.json()["detail"] == "The request body exceeds the limit of 1000 bytes."
        assert refused.headers["connection"] == "close"
        assert refused.headers["x-request-id"]
    assert "content-length" not in streamed.request.headers
    assert fits.status_code == 201, fits.text
    assert fits.json()["text"] == "fits"


async def test_a_request_keeps_the_callers_uuid_as_its_id_and_gets_a_new_one_for_anything_else(
    service_env: dict[str, Any], kit_db_url: str, edge_log: RecordedLog
) -> None:
    given = "0f8fad5b-d9cb-469f-a165-70867728950e"
    async with running_app(kit_app(service_env, kit_db_url)) as client:
        kept = await client.get("/api/v1/notes/request-id", headers={"X-Request-ID": given})
        replaced = await client.get("/api/v1/notes/request-id", headers={"X-Request-ID": "drop table;"})
        new = await client.get("/api/v1/notes/request-id")
    assert kept.headers["x-request-id"] == kept.json()["request_id"] == given
    for answer in (replaced, new):
        request_id = answer.headers["x-request-id"]
        assert answer.json()["request_id"] == request_id
        assert len(request_id) == 32
        int(request_id, 16)
    assert replaced.headers["x-request-id"] != new.headers["x-request-id"]
    refused = [fields for event, fields in edge_log.lines if event.startswith("request id refused")]
    assert refused == [{"request_id": replaced.headers["x-request-id"]}]


async def test_the_default_limit_is_the_gateways(service_env: dict[str, Any], kit_db_url: str) -> None:
    settings = KitSettings(**service_env, database_url=kit_db_url)
    assert settings.max_body_bytes == 1024 * 1024
    assert (settings.header_read_timeout_seconds, settings.body_read_timeout_seconds) == (10.0, 30.0)


async def test_answers_are_not_stored_unless_the_route_says_so(
    service_env: dict[str, Any], kit_db_url: str, test_keys: TestKeys
) -> None:
    async with running_app(kit_app(service_env, kit_db_url)) as client:
        note = await client.post(
            "/api/v1/notes", json={"text": "mine", "stars": 4}, headers=test_keys.headers("operator")
        )
        refused = await client.get("/api/v1/notes/count")
        asset = await client.get("/docs/assets/swagger-ui-bundle.js")
    for answer in (note, refused):
        assert answer.headers["cache-control"] == "no-store"
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert answer.headers["referrer-policy"] == "no-referrer"
        assert answer.headers["content-security-policy"] == "frame-ancestors 'none'"
        assert "server" not in answer.headers
    assert (note.status_code, refused.status_code) == (201, 401)
    assert asset.headers["cache-control"] == "public, max-age=86400"  # the route's own, kept


async def test_a_caller_who_leaves_is_logged_as_499(
    service_env: dict[str, Any], kit_db_url: str, edge_log: RecordedLog
) -> None:
    app = kit_app(service_env, kit_db_url)
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.disconnect"}  # gone before its body came

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = http_scope(
        "POST", "/api/v1/notes", {"content-type": "application/json", "content-length": "30"}, host="kit"
    )
    async with running_app(app) as client:
        await app(scope, receive, send)
        answered = await client.get("/healthz")
    assert sent == []  # nobody to answer
    first, second = edge_log.requests()
    assert (first["method"], first["path"], first["status"]) == ("POST", "/api/v1/notes", 499)
    assert (second["path"], second["status"]) == ("/healthz", answered.status_code)


async def test_only_the_routes_taking_a_document_accept_a_body_as_large_as_one(
    service_env: dict[str, Any], kit_db_url: str, test_keys: TestKeys
) -> None:
    app = kit_app(service_env, kit_db_url, max_body_bytes=1000, max_document_bytes=5000)
    auth = test_keys.headers("operator")
    upload_limit = 5000 + 64 * 1024  # the document and the form around it
    async with running_app(app) as client:
        elsewhere = await client.post("/api/v1/notes", content=b"x" * 3000, headers=auth)
        # Past the edge (the kit's test app has no such route: 404, never 413).
        upload = await client.post("/open311/v2/requests.json", content=b"x" * upload_limit, headers=auth)
        too_large = await client.post("/open311/v2/requests.json", content=b"x" * (upload_limit + 1), headers=auth)
    assert elsewhere.status_code == 413
    assert upload.status_code == 404, upload.text
    assert too_large.status_code == 413
    # On /open311 in GeoReport's error list, as every refusal there (service_kit.errors.problem_response).
    assert too_large.json() == [
        {"code": 413, "description": f"The request body exceeds the limit of {upload_limit} bytes."}
    ]


@pytest.mark.parametrize("protocol", [HttpToolsProtocol, H11Protocol], ids=["httptools", "h11"])
async def test_a_caller_still_sending_a_refused_body_reads_its_413(
    service_env: dict[str, Any], kit_db_url: str, test_keys: TestKeys, protocol: type[Any]
) -> None:
    """An app's photo sent where only small bodies go: the server answers 413 and closes. Had it closed with the
    rest of the body unread, the kernel would reset the connection and the caller, still sending, might never read
    the answer (seen as "connection reset by peer" through the gateway)."""
    app = kit_app(service_env, kit_db_url, max_body_bytes=1000)
    body = b"x" * (2 * 1024 * 1024)
    auth = "".join(f"{name}: {value}\r\n" for name, value in test_keys.headers("operator").items())
    for declared in (True, False):
        length = f"Content-Length: {len(body)}\r\n" if declared else "Transfer-Encoding: chunked\r\n"
        head = f"POST /api/v1/notes HTTP/1.1\r\nHost: kit\r\nContent-Type: application/json\r\n{auth}{length}\r\n"
        payload = body if declared else b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body)
        served = serving(app, header_read_timeout_seconds=HEADER_SECONDS, protocol=protocol)
        async with running_app(app), served as port:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(head.encode("latin-1") + payload)
            await writer.drain()
            raw = await asyncio.wait_for(reader.read(), timeout=GIVE_UP)
            writer.close()
        status, headers, answer = parse_http_response(raw)
        assert status == 413, raw[:200]
        assert headers["connection"] == "close"
        assert json.loads(answer)["detail"] == "The request body exceeds the limit of 1000 bytes."


@pytest.mark.parametrize("protocol", [HttpToolsProtocol, H11Protocol], ids=["httptools", "h11"])
async def test_a_socket_handed_over_by_its_descriptor_sends_each_answer_at_once(protocol: type[Any]) -> None:
    """``make run`` hands each server its bound socket (``uvicorn --fd``), and uvicorn takes it for a Unix socket:
    the loop left Nagle's algorithm on, and every answer's body waited for the client's delayed acknowledgement
    of its headers (40 ms each). Every connection a Linli protocol accepts sends at once (``TCP_NODELAY``)."""
    accepted: list[socket.socket] = []

    class Recording(protocol):  # type: ignore[misc, valid-type]
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            super().connection_made(transport)
            accepted.append(transport.get_extra_info("socket"))

    async def hello(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": "您好".encode()})

    bound = listening_socket()
    config = uvicorn.Config(
        hello,
        fd=bound.fileno(),
        http=with_header_timeout(Recording, HEADER_SECONDS),
        lifespan="off",
        log_level="warning",
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())  # uvicorn's own path for --fd: socket.fromfd(fd, AF_UNIX, …)
    try:
        await eventually(lambda: server.started or task.done())
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{bound.getsockname()[1]}") as client:
            answered = await client.get("/")
        assert (answered.status_code, answered.text) == (200, "您好")
        assert [sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) for sock in accepted] == [1]
    finally:
        server.should_exit = True
        await task
        bound.close()


def upload_begun(test_keys: TestKeys) -> bytes:
    """An operator's note posted with whole headers and the first byte of its 500-byte body, and no more yet."""
    auth = "".join(f"{name}: {value}\r\n" for name, value in test_keys.headers("operator").items())
    return (
        "POST /api/v1/notes HTTP/1.1\r\nHost: kit\r\nContent-Type: application/json\r\n"
        f"{auth}Content-Length: 500\r\n\r\n{{"
    ).encode("latin-1")


@pytest.mark.parametrize("protocol", [HttpToolsProtocol, H11Protocol], ids=["httptools", "h11"])
async def test_a_slow_upload_still_sending_after_its_408_reads_it(
    service_env: dict[str, Any], kit_db_url: str, test_keys: TestKeys, protocol: type[Any]
) -> None:
    """A phone on a weak signal trickles its upload: cut off, it is answered 408, and sends a few more bytes before
    it reads the answer. Had the server closed outright, those bytes would meet a closed socket and its kernel would
    reset the connection; a client whose writes then fail (asyncio's streams, as many) reports the reset, not the
    408 it had received: the resident sees "connection reset" instead of why. The server lingers instead, reading
    and dropping what still comes until the client closes."""
    app = kit_app(service_env, kit_db_url, body_read_timeout_seconds=BODY_SECONDS)
    cut = edge.CUTS["body_read_timeout"]
    async with running_app(app), serving(app, header_read_timeout_seconds=HEADER_SECONDS, protocol=protocol) as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(upload_begun(test_keys))
        await eventually(lambda: edge.CUTS["body_read_timeout"] > cut, timeout=GIVE_UP)
        await asyncio.sleep(0.2)  # the 408 reaches the phone, unread
        for more in (b' "text"', b": "):  # the first would draw a reset from a closed socket, the second fail on it
            writer.write(more)
            await asyncio.sleep(0.1)
        try:
            raw = await asyncio.wait_for(reader.read(), timeout=GIVE_UP)
        except ConnectionResetError:
            raw = b""
        writer.close()
    assert raw, "the connection was reset: the 408 was lost"
    status, headers, body = parse_http_response(raw)
    assert (status, headers["connection"]) == (408, "close")
    assert json.loads(body)["detail"] == "The request body did not arrive within 1 s."


@pytest.mark.parametrize("protocol", [HttpToolsProtocol, H11Protocol], ids=["httptools", "h11"])
async def test_a_server_stopping_waits_for_no_lingering_connection(
    service_env: dict[str, Any],
    kit_db_url: str,
    test_keys: TestKeys,
    protocol: type[Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A server asked to stop closes the connections it lingers on at once: a rollout does not wait on a phone
    that keeps sending a body it was refused. The server waits for open connections as the launchers' uvicorn does
    (no graceful deadline), and the linger is made far longer than the test's patience."""
    monkeypatch.setattr("service_kit.server.LINGER_SECONDS", 10 * GIVE_UP)
    app = kit_app(service_env, kit_db_url, body_read_timeout_seconds=BODY_SECONDS)
    cut = edge.CUTS["body_read_timeout"]
    async with running_app(app):
        async with asyncio.timeout(GIVE_UP):
            served = serving(
                app, header_read_timeout_seconds=HEADER_SECONDS, protocol=protocol, graceful_shutdown_seconds=None
            )
            async with served as port:
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                writer.write(upload_begun(test_keys))
                await eventually(lambda: edge.CUTS["body_read_timeout"] > cut, timeout=GIVE_UP)
                answer = await reader.readuntil(b"}")  # the 408: the server lingers now
            # The server has stopped (it would have waited the whole linger for this connection to close).
        writer.close()
    assert parse_http_response(answer)[0] == 408
