"""The promises both clients to the services keep (gateway/transport.py): the gateway's own (``http1``) and the
aiohttp fallback (``aiohttp``), each against the same raw services."""

from __future__ import annotations

import asyncio

import pytest

from gateway.http1 import BrokenResponse, Disconnected, InvalidRequest, NotSent, PoolTimeout
from gateway.transport import ReplicaPool, replica_pool
from service_kit.testing import eventually, refusing_socket

from .test_http1 import Service, answer_ok, raw_service


@pytest.fixture(params=["http1", "aiohttp"])
def client(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def pool_of(client: str, url: str, *, limit: int = 10) -> ReplicaPool:
    return replica_pool(client, url, limit=limit, keepalive_seconds=3.0, connect_timeout_seconds=1.0)


async def get(pool: ReplicaPool, target: str = "/x", *, seconds: float = 2.0) -> tuple[int, bytes]:
    response = await pool.request("GET", target, [("Accept", "application/json")], b"", seconds=seconds)
    try:
        return response.status, await response.read()
    finally:
        response.release()


async def test_each_client_answers_and_sends_only_what_it_was_given(client: str) -> None:
    async with raw_service(answer_ok) as (service, url):
        pool = pool_of(client, url)
        assert await get(pool, "/a%2Fb?q=80%2B") == (200, b'{"ok":true}')
        response = await pool.request("POST", "/x", [("Content-Type", "application/json")], b"{}", seconds=2)
        await response.read()
        response.release()
        get_head, post_head = service.heads
        assert get_head.startswith(b"GET /a%2Fb?q=80%2B HTTP/1.1\r\n")
        host = b"host: " + url.removeprefix("http://").encode()
        assert sorted(get_head.lower().split(b"\r\n")[1:-2]) == [b"accept: application/json", host]
        assert post_head.lower().endswith(b"content-length: 2\r\n\r\n{}")
        await pool.aclose()


async def test_each_client_refuses_what_http_cannot_carry(client: str) -> None:
    async with raw_service(answer_ok) as (service, url):
        pool = pool_of(client, url)
        for headers in ([("X-Note", "a\rb")], [("X-Note", "a\x00b")], [("X Note", "a")], [("Host", "elsewhere")]):
            with pytest.raises(InvalidRequest):
                await pool.request("GET", "/x", headers, b"", seconds=1)
        with pytest.raises(InvalidRequest):
            await pool.request("GET", "/x y", [], b"", seconds=1)
        assert service.heads == []
        await pool.aclose()


async def test_each_client_tells_what_went_wrong_apart(client: str) -> None:
    async def closes(service: Service, head: bytes, writer: asyncio.StreamWriter) -> bool:
        return False

    async def cuts_short(service: Service, head: bytes, writer: asyncio.StreamWriter) -> bool:
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nonly this")
        await writer.drain()
        return False

    async def error_of(url: str) -> type[BaseException] | None:
        pool = pool_of(client, url)
        try:
            await get(pool)
        except (Disconnected, BrokenResponse, NotSent) as exc:
            return type(exc)
        finally:
            await pool.aclose()
        return None

    async with raw_service(closes) as (_, url):
        assert await error_of(url) is Disconnected
    async with raw_service(cuts_short) as (_, url):
        assert await error_of(url) is BrokenResponse
    with refusing_socket() as nobody_listens:
        assert await error_of(f"http://127.0.0.1:{nobody_listens.getsockname()[1]}") is NotSent


async def test_each_client_gives_up_on_a_busy_replica_without_sending(client: str) -> None:
    async with raw_service(answer_ok) as (service, url):
        pool = pool_of(client, url, limit=1)
        held = await pool.request("GET", "/held", (), b"", seconds=5)
        await held.read()
        with pytest.raises(PoolTimeout):
            await pool.request("POST", "/waits", (), b"{}", seconds=0.2)
        waiting = asyncio.create_task(get(pool, "/waiting", seconds=30))
        await eventually(lambda: len(pool._waiters) == 1)
        held.release()
        assert await waiting == (200, b'{"ok":true}')
        assert [head.split(b" ")[1] for head in service.heads] == [b"/held", b"/waiting"]
        # Closing the pool answers whoever waits at once.
        held = await pool.request("GET", "/held", (), b"", seconds=5)
        await held.read()
        waiting = asyncio.create_task(get(pool, "/never", seconds=30))
        await eventually(lambda: len(pool._waiters) == 1)
        await pool.aclose()
        with pytest.raises(NotSent, match="shutting down"):
            await waiting
        held.release()


async def test_each_client_cuts_off_a_dribbling_service(client: str) -> None:
    async def dribbles(service: Service, head: bytes, writer: asyncio.StreamWriter) -> bool:
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n")
        for _ in range(100):
            await asyncio.sleep(0.05)
            writer.write(b"x")
            await writer.drain()
        return True

    async with raw_service(dribbles) as (_, url):
        pool = pool_of(client, url)
        response = await pool.request("GET", "/slowly", (), b"", seconds=0.5)
        with pytest.raises(TimeoutError):
            await response.read()
        response.release()
        await pool.aclose()
