"""The gateway's HTTP/1.1 client against raw servers that answer exactly the bytes each test gives them (each
test on asyncio's own loop and on uvloop: conftest.py)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import pytest

from gateway.http1 import BrokenResponse, Disconnected, InvalidRequest, NotSent, Pool, PoolTimeout
from service_kit.testing import eventually, listening_socket, refusing_socket


class Service:
    """A raw HTTP service: counts the connections it accepted and the request heads it read."""

    def __init__(self) -> None:
        self.connections = 0
        self.open_now = 0
        self.most_open = 0
        self.heads: list[bytes] = []


@asynccontextmanager
async def raw_service(
    answer: Callable[[Service, bytes, asyncio.StreamWriter], Awaitable[bool]],
) -> AsyncIterator[tuple[Service, str]]:
    """``answer(service, head, writer)`` answers one request and says whether to keep the connection."""
    service = Service()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        service.connections += 1
        service.open_now += 1
        service.most_open = max(service.most_open, service.open_now)
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                length = next(
                    (
                        int(line.split(b":")[1])
                        for line in head.split(b"\r\n")
                        if line.lower().startswith(b"content-length:")
                    ),
                    0,
                )
                body = await reader.readexactly(length)
                service.heads.append(head + body)
                if not await answer(service, head, writer):
                    return
        finally:
            service.open_now -= 1
            writer.close()

    server = await asyncio.start_server(handle, sock=listening_socket())
    async with server:
        yield service, f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"


def ok(body: bytes = b'{"ok":true}', *extra: bytes) -> bytes:
    head = [b"HTTP/1.1 200 OK", b"content-type: application/json", b"content-length: %d" % len(body), *extra]
    return b"\r\n".join(head) + b"\r\n\r\n" + body


async def answer_ok(service: Service, head: bytes, writer: asyncio.StreamWriter) -> bool:
    writer.write(ok())
    await writer.drain()
    return True


def pool_for(url: str, **overrides: float) -> Pool:
    settings = {"limit": 10, "keepalive_seconds": 3.0, "connect_timeout_seconds": 1.0, **overrides}
    return Pool(
        url,
        limit=int(settings["limit"]),
        keepalive_seconds=settings["keepalive_seconds"],
        connect_timeout_seconds=settings["connect_timeout_seconds"],
    )


async def get(
    pool: Pool, target: str = "/x", *, method: str = "GET", body: bytes = b"", seconds: float = 2.0
) -> tuple[int, bytes]:
    response = await pool.request(method, target, [("Accept", "application/json")], body, seconds=seconds)
    try:
        return response.status, await response.read()
    finally:
        response.release()


async def test_one_connection_carries_request_after_request() -> None:
    async with raw_service(answer_ok) as (service, url):
        pool = pool_for(url)
        for _ in range(5):
            assert await get(pool) == (200, b'{"ok":true}')
        assert service.connections == 1
        assert service.heads[0].startswith(b"GET /x HTTP/1.1\r\nHost: 127.0.0.1:")
        assert b"Accept: application/json\r\n" in service.heads[0]
        assert b"content-length" not in service.heads[0].lower()
        pool.close()


async def test_a_post_carries_its_body_and_length_even_when_empty() -> None:
    async with raw_service(answer_ok) as (service, url):
        pool = pool_for(url)
        await get(pool, method="POST", body=b'{"a":1}')
        await get(pool, method="POST")
        assert service.heads[0].endswith(b"Content-Length: 7\r\n\r\n" + b'{"a":1}')
        assert service.heads[1].endswith(b"Content-Length: 0\r\n\r\n")
        pool.close()


async def test_no_more_connections_than_the_limit_and_the_rest_wait() -> None:
    async def slowly(service: Service, head: bytes, writer: asyncio.StreamWriter) -> bool:
        await asyncio.sleep(0.05)
        return await answer_ok(service, head, writer)

    async with raw_service(slowly) as (service, url):
        pool = pool_for(url, limit=2)
        results = await asyncio.gather(*(get(pool) for _ in range(8)))
        assert results == [(200, b'{"ok":true}')] * 8
        assert service.most_open == 2
        pool.close()


async def test_a_chunked_answer_and_one_ended_by_closing_arrive_whole() -> None:
    big = bytes(range(256)) * 8192  # 2 MiB: more than the client buffers before it stops reading

    async def chunked(service: Service, head: bytes, writer: asyncio.StreamWriter) -> bool:
        writer.write(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n")
        for start in range(0, len(big), 100_000):
            part = big[start : start + 100_000]
            writer.write(b"%x\r\n%s\r\n" % (len(part), part))
            await writer.drain()
        writer.write(b"0\r\n\r\n")
        return True

    async def until_close(service: Service, head: bytes, writer: asyncio.StreamWriter) -> bool:
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\n\r\n" + big)
        await writer.drain()
        return False

    for answer in (chunked, until_close):
        async with raw_service(answer) as (_, url):
            pool = pool_for(url)
            response = await pool.request("GET", "/big", (), b"", seconds=2)
            connection = response._connection
            assert connection is not None
            # Nobody reads the body yet: the client must stop reading from the socket, not grow its buffer.
            await eventually(lambda: connection._paused)  # noqa: B023 - awaited within the iteration
            assert connection._buffered < 1024 * 1024
            assert response.content_length is None
            assert await response.read() == big
            response.release()
            pool.close()


async def test_an_interim_answer_is_skipped_and_a_head_answer_has_no_body() -> None:
    async def interim_then_ok(service: Service, head: bytes, writer: asyncio.StreamWriter) -> bool:
        if head.startswith(b"HEAD"):
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 11\r\n\r\n")
        else:
            writer.write(b"HTTP/1.1 100 Continue\r\n\r\n" + ok())
        await writer.drain()
        return True

    async with raw_service(interim_then_ok) as (service, url):
        pool = pool_for(url)
        assert await get(pool) == (200, b'{"ok":true}')
        assert await get(pool, method="HEAD") == (200, b"")
        assert await get(pool) == (200, b'{"ok":true}')
        assert service.connections == 2  # a HEAD answer's connection is not used again
        pool.close()


async def test_what_went_wrong_is_told_apart() -> None:
    async def closes(service: Service, head: bytes, writer: asyncio.StreamWriter) -> bool:
        return False

    async def garbles(service: Service, head: bytes, writer: asyncio.StreamWriter) -> bool:
        writer.write(b"HTTP/1.1 abc\r\n\r\n")
        return True

    async def cuts_short(service: Service, head: bytes, writer: asyncio.StreamWriter) -> bool:
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nonly this")
        await writer.drain()
        return False

    async def never_answers(service: Service, head: bytes, writer: asyncio.StreamWriter) -> bool:
        await asyncio.sleep(5)
        return False

    async with raw_service(closes) as (_, url):
        with pytest.raises(Disconnected):
            await get(pool_for(url))
    async with raw_service(garbles) as (_, url):
        with pytest.raises(BrokenResponse):
            await get(pool_for(url))
    async with raw_service(cuts_short) as (_, url):
        with pytest.raises(BrokenResponse):
            await get(pool_for(url))
    async with raw_service(never_answers) as (_, url):
        pool = pool_for(url, limit=1)
        with pytest.raises(TimeoutError):
            await get(pool, seconds=0.2)
        await eventually(lambda: pool._count == 0)  # the timed-out connection was closed and its place freed
    with refusing_socket() as nobody_listens, pytest.raises(NotSent):
        await get(pool_for(f"http://127.0.0.1:{nobody_listens.getsockname()[1]}"))


async def test_a_connection_the_service_closed_or_that_idled_too_long_is_not_used() -> None:
    async def once_per_connection(service: Service, head: bytes, writer: asyncio.StreamWriter) -> bool:
        await answer_ok(service, head, writer)
        return False

    async with raw_service(once_per_connection) as (service, url):
        pool = pool_for(url)
        assert await get(pool) == (200, b'{"ok":true}')
        await eventually(lambda: not pool._idle)  # the service's close has arrived: the connection is dropped
        assert await get(pool) == (200, b'{"ok":true}')
        assert service.connections == 2
        pool.close()
    async with raw_service(answer_ok) as (service, url):
        pool = pool_for(url, keepalive_seconds=3.0)
        await get(pool)
        [idle] = pool._idle
        idle.idle_since -= 3.0  # as if it had been idle the whole keep-alive time (the pool reads loop.time())
        await get(pool)
        assert service.connections == 2
        pool.close()


@pytest.mark.parametrize(
    ("method", "target", "headers"),
    [
        ("GET", "/x", [("X-Note", "a\r\nX-Injected: 1")]),
        ("GET", "/x", [("X-Note", "a\rX-Injected: 1")]),  # a bare CR: some parsers end the line there
        ("GET", "/x", [("X-Note", "a\x00b")]),
        ("GET", "/x", [("X-Note", "a\x01b")]),
        ("GET", "/x", [("X-Note", "a\x7fb")]),
        ("GET", "/x", [("X-Note", "居民")]),  # beyond latin-1: it would not be sent as given
        ("GET", "/x", [("X Note", "a")]),
        ("GET", "/x", [("X-Note:", "a")]),
        ("GET", "/x", [("X-Note: a\r\nX-Injected", "1")]),
        ("GET", "/x", [("", "a")]),
        ("GET", "/x", [("X(Note)", "a")]),
        ("GET", "/x", [("Content-Length", "0")]),  # the message's framing and host are the client's own
        ("GET", "/x", [("transfer-encoding", "chunked")]),
        ("GET", "/x", [("Host", "elsewhere.example")]),
        ("GET", "/x HTTP/1.1\r\nX-Injected: 1\r\n\r\nGET /y", []),
        ("GET", "/x y", []),
        ("GET", "/x\ty", []),
        ("GET", "/x\x00", []),
        ("GET", "/x\ry", []),
        ("GET", "/社区", []),
        ("GET", "", []),
        ("GET /y HTTP/1.1\r\n\r\nGET", "/x", []),
        ("GE T", "/x", []),
    ],
)
async def test_what_http_cannot_carry_is_refused_before_anything_is_sent(
    method: str, target: str, headers: list[tuple[str, str]]
) -> None:
    async with raw_service(answer_ok) as (service, url):
        pool = pool_for(url)
        with pytest.raises(InvalidRequest):
            await pool.request(method, target, headers, b"", seconds=1)
        # Tabs, spaces and latin-1 letters are a header value's own, and still go through.
        assert await get(pool) == (200, b'{"ok":true}')
        response = await pool.request("GET", "/x", [("X-Note", "a\tb c é")], b"", seconds=1)
        response.release()
        assert service.heads[-1].endswith("X-Note: a\tb c é\r\n\r\n".encode("latin-1"))
        assert len(service.heads) == 2
        pool.close()


@pytest.mark.parametrize(
    "header",
    [b"X Bad: 1", b"X(Bad): 1", b"X-Bad: a\x00b", b"X-Bad: a\x01b", b"X-Bad: a\rb", b"X-Bad: a\x7fb"],
)
async def test_an_answer_with_a_header_no_peer_may_send_is_broken(header: bytes) -> None:
    async def bad_header(service: Service, head: bytes, writer: asyncio.StreamWriter) -> bool:
        writer.write(b"HTTP/1.1 200 OK\r\n" + header + b"\r\ncontent-length: 2\r\n\r\nok")
        await writer.drain()
        return True

    async with raw_service(bad_header) as (_, url):
        pool = pool_for(url)
        with pytest.raises(BrokenResponse):
            await get(pool)
        pool.close()


async def test_a_dribbling_service_is_cut_off_when_the_requests_time_is_up() -> None:
    async def dribbles(service: Service, head: bytes, writer: asyncio.StreamWriter) -> bool:
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n")
        for _ in range(100):  # each pause far shorter than the request's time, 5 s in all
            await asyncio.sleep(0.05)
            writer.write(b"x")
            await writer.drain()
        return True

    async with raw_service(dribbles) as (_, url):
        pool = pool_for(url)
        response = await pool.request("GET", "/slowly", (), b"", seconds=0.5)
        received = bytearray()

        async def read_all() -> None:
            async for chunk in response.iter_chunks():
                received.extend(chunk)

        with pytest.raises(TimeoutError):
            await read_all()
        response.release()
        assert 0 < len(received) < 100
        await eventually(lambda: pool._count == 0)  # the connection was closed, its place freed
        pool.close()


async def test_a_caller_slow_to_take_the_body_does_not_use_the_services_time() -> None:
    async def parts(service: Service, head: bytes, writer: asyncio.StreamWriter) -> bool:
        writer.write(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n")
        for part in (b"first ", b"second ", b"third"):
            writer.write(b"%x\r\n%s\r\n" % (len(part), part))
            await writer.drain()
            await asyncio.sleep(0.05)
        writer.write(b"0\r\n\r\n")
        return True

    async with raw_service(parts) as (_, url):
        pool = pool_for(url)
        response = await pool.request("GET", "/download", (), b"", seconds=0.3)
        received = bytearray()
        async for chunk in response.iter_chunks():
            received += chunk
            await asyncio.sleep(0.2)  # the caller's own pace: more than the request's time in all
        response.release()
        assert received == b"first second third"
        pool.close()


@asynccontextmanager
async def held_service() -> AsyncIterator[tuple[Service, str, asyncio.Event]]:
    """A service that answers at once but whose callers hold their connection until ``done`` is set."""
    async with raw_service(answer_ok) as (service, url):
        yield service, url, asyncio.Event()


async def holding(pool: Pool, done: asyncio.Event) -> int:
    """A request that keeps its connection (its answer unreleased) until ``done`` is set."""
    response = await pool.request("GET", "/held", (), b"", seconds=5)
    await response.read()
    await done.wait()
    response.release()
    return response.status


async def test_a_wait_for_a_busy_connection_that_runs_out_sends_nothing() -> None:
    async with held_service() as (service, url, done):
        pool = pool_for(url, limit=1)
        holder = asyncio.create_task(holding(pool, done))
        await eventually(lambda: len(service.heads) == 1)
        with pytest.raises(PoolTimeout) as refused:
            await get(pool, "/waits", method="POST", body=b"{}", seconds=0.2)
        assert isinstance(refused.value, NotSent)  # the service never saw it: safe to send elsewhere
        assert [head.split(b" ")[1] for head in service.heads] == [b"/held"]
        done.set()
        assert await holder == 200
        assert await get(pool, "/after") == (200, b'{"ok":true}')
        pool.close()


async def test_a_waiter_woken_then_cancelled_passes_the_connection_on() -> None:
    async with raw_service(answer_ok) as (service, url):
        pool = pool_for(url, limit=1)
        held = await pool.request("GET", "/held", (), b"", seconds=5)
        await held.read()
        cancelled = asyncio.create_task(get(pool, "/cancelled", seconds=5))
        await eventually(lambda: len(pool._waiters) == 1)
        patient = asyncio.create_task(get(pool, "/patient", seconds=5))
        await eventually(lambda: len(pool._waiters) == 2)
        held.release()  # the connection comes back and wakes the first waiter…
        cancelled.cancel()  # …whose caller leaves before it could take it
        assert await patient == (200, b'{"ok":true}')
        with pytest.raises(asyncio.CancelledError):
            await cancelled
        assert [head.split(b" ")[1] for head in service.heads] == [b"/held", b"/patient"]
        assert service.connections == 1
        pool.close()


async def test_closing_the_pool_answers_its_waiters_at_once() -> None:
    async with held_service() as (service, url, done):
        pool = pool_for(url, limit=1)
        holder = asyncio.create_task(holding(pool, done))
        await eventually(lambda: len(service.heads) == 1)
        waiting = [asyncio.create_task(get(pool, f"/waiting/{n}", seconds=30)) for n in range(3)]
        await eventually(lambda: len(pool._waiters) == 3)
        pool.close()
        for waiter in waiting:
            with pytest.raises(NotSent, match="shutting down"):
                await waiter
        with pytest.raises(NotSent, match="shutting down"):
            await get(pool)
        done.set()
        assert await holder == 200
        assert len(service.heads) == 1


async def test_a_second_answer_to_one_request_is_not_taken_for_the_next() -> None:
    async def answers_twice(service: Service, head: bytes, writer: asyncio.StreamWriter) -> bool:
        writer.write(ok(b'{"first":1}') + ok(b'{"second":2}'))
        await writer.drain()
        return True

    async with raw_service(answers_twice) as (service, url):
        pool = pool_for(url)
        assert await get(pool) == (200, b'{"first":1}')
        assert await get(pool) == (200, b'{"first":1}')
        assert service.connections == 2
        pool.close()
