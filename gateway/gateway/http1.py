"""The gateway's HTTP/1.1 client for its calls to the services: a pool of keep-alive connections per replica,
each request written in one go, each answer parsed by httptools (llhttp, the parser uvicorn serves with).

Every request a caller makes through the gateway passes here, so it is kept to what forwarding needs: no
cookies, no redirects, no decompression, no invented headers; the bytes go through as the service sent them.
It took aiohttp's place because aiohttp's general-purpose client was the largest part of the gateway's CPU per
proxied request (docs/gateway-benchmark.md has the figures).

What can go wrong is told apart, because what the gateway may do next depends on it (gateway/upstreams.py):
``NotSent`` (no connection: the service never saw the request), its kind ``PoolTimeout`` (every connection to
the replica stayed busy for the whole wait: nothing was sent, and the replica is busy rather than failing),
``Disconnected`` (the connection closed before an answer began: the service may have seen it),
``BrokenResponse`` (an answer that cannot be parsed or was cut short, or that carries a header no HTTP/1.1 peer
may send) and ``TimeoutError`` (the answer did not come within the request's time). A request the client cannot
write faithfully (a line break, NUL or other control character, a space in the target, a header name that is not
a token) is refused with ``InvalidRequest`` before anything is sent.

Each request has one deadline for the service: ``seconds`` of waiting in all, from the wait for a free connection
through the answer's head to the last piece of its body. The time spent waiting for the *caller* to take the body
(a slow download) is not the service's and is not counted; a service that dribbles its answer byte by byte uses
its time up and is cut off.
"""

from __future__ import annotations

import asyncio
import functools
import re
import ssl
from collections import deque
from collections.abc import AsyncIterator, Iterable
from typing import cast
from urllib.parse import urlsplit

import httptools

# A response body buffered beyond this stops reading from the service until the caller takes some.
_HIGH_WATER = 256 * 1024
_LOW_WATER = 64 * 1024
# Methods whose requests carry a Content-Length even when empty (RFC 9110 §8.6).
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})

# What HTTP/1.1 allows on the wire (RFC 9110 §5.1, §5.5, §9.1; RFC 9112 §3.2): a method and a header name are
# tokens; a request target is visible ASCII; a header value is visible characters, spaces and tabs. Nothing else
# is written (a CR, LF or NUL would let a caller's header end the line and start a request of its own).
_TOKEN = re.compile(r"[-!#$%&'*+.^_`|~0-9A-Za-z]+")
_TARGET = re.compile(r"[\x21-\x7e]+")
_VALUE = re.compile(r"[\t\x20-\x7e\x80-\xff]*")
# Headers that frame the message or name the host: the client writes them itself, from the body and the URL.
_CLIENTS_OWN = frozenset({"host", "content-length", "transfer-encoding"})


class UpstreamError(Exception):
    """A call to a service did not get a whole answer."""


class NotSent(UpstreamError):
    """No connection could be made: the request never reached the service."""


class PoolTimeout(NotSent):
    """Every connection to the replica stayed busy until the request's time ran out: nothing was sent."""


class InvalidRequest(ValueError):
    """A request line or header HTTP/1.1 cannot carry as given: nothing was sent."""


class Disconnected(UpstreamError):
    """The connection closed before the answer began: the service may have received the request."""


class BrokenResponse(UpstreamError):
    """The answer could not be parsed, or stopped before its end."""


def first_header(raw_headers: Iterable[tuple[bytes, bytes]], name: bytes) -> bytes | None:
    """The first value of the header ``name`` (in lower case) among a response's raw headers, as every transport's
    responses answer ``header(name)``."""
    for key, value in raw_headers:
        if key.lower() == name:
            return value
    return None


class Response:
    """A service's answer: status and headers at once, the body as it arrives. ``release()`` it when done:
    the connection goes back to the pool if the body was read to its end, else it is closed."""

    __slots__ = ("_connection", "content_length", "raw_headers", "status")

    def __init__(self, connection: _Connection) -> None:
        self._connection: _Connection | None = connection
        self.status = connection.status
        self.raw_headers = connection.headers
        self.content_length = connection.content_length

    def header(self, name: bytes) -> bytes | None:
        """The first value of the header ``name`` (given in lower case)."""
        return first_header(self.raw_headers, name)

    async def iter_chunks(self) -> AsyncIterator[bytes]:
        """The body, piece by piece as the service sends it."""
        connection = self._connection
        if connection is None:
            raise RuntimeError("the response was released")
        while (chunk := await connection.next_chunk()) is not None:
            yield chunk

    async def read(self) -> bytes:
        chunks = [chunk async for chunk in self.iter_chunks()]
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)

    def release(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            connection.pool.give_back(connection)

    def close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            connection.close()


class _Connection(asyncio.Protocol):
    """One keep-alive connection to a replica, carrying one exchange at a time; httptools calls the
    ``on_*`` methods as it parses what the service sends."""

    def __init__(self, pool: Pool) -> None:
        self.pool = pool
        self.loop = pool.loop
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.open = True
        self.counted = True  # the pool counts this connection until it is lost (or never made)
        self.idle_since = 0.0
        self.busy = False
        # The exchange under way.
        self.status = 0
        self.headers: list[tuple[bytes, bytes]] = []
        self.content_length: int | None = None
        self._coded = False  # a Transfer-Encoding (chunked) came
        self.head_done = False
        self.done = False
        self.reusable = True
        self._head_only = False
        self._until_close = False
        self._error: BaseException | None = None
        self._chunks: deque[bytes] = deque()
        self._buffered = 0
        self._paused = False
        self._waiter: asyncio.Future[None] | None = None
        self._left = 0.0  # of the request's time for the service: what the waits so far have not used

    # ---------------------------------------------------------------- the exchange, as the caller sees it

    async def exchange(self, head: bytes, body: bytes, *, head_only: bool, seconds: float) -> Response:
        """Write the request; return once the answer's status and headers are in. ``seconds``: what is left of
        the request's time for the service, for the head and the whole body together."""
        self.busy = True
        self.status, self.headers, self.content_length, self._coded = 0, [], None, False
        self.head_done = self.done = False
        self._head_only, self._until_close, self._error = head_only, False, None
        self._chunks.clear()
        self._buffered = 0
        self._left = seconds
        transport = self.transport
        assert transport is not None
        if body:
            transport.writelines((head, body))
        else:
            transport.write(head)
        while not self.head_done:
            if self._error is not None:
                raise self._error
            await self._wait()
        return Response(self)

    async def next_chunk(self) -> bytes | None:
        """The next piece of the body; None at its end."""
        while not self._chunks:
            if self.done:
                return None
            if self._error is not None:
                raise self._error
            await self._wait()
        chunk = self._chunks.popleft()
        self._buffered -= len(chunk)
        if self._paused and self._buffered <= _LOW_WATER and self.transport is not None:
            self._paused = False
            self.transport.resume_reading()
        return chunk

    async def _wait(self) -> None:
        """Until the parser has more (or the connection failed), within what is left of the request's time: the
        time each wait takes is used up, so the clock does not start again with each piece of the body."""
        left = self._left
        if left <= 0:
            self.close()
            raise TimeoutError()
        loop = self.loop
        waiter = self._waiter = loop.create_future()
        timer = loop.call_later(left, self._time_out, waiter)
        began = loop.time()
        try:
            await waiter
        finally:
            timer.cancel()
            self._waiter = None
            self._left = left - (loop.time() - began)

    def _time_out(self, waiter: asyncio.Future[None]) -> None:
        if not waiter.done():
            waiter.set_exception(TimeoutError())
            self.close()

    def _fail(self, error: BaseException) -> None:
        if self._error is None:
            self._error = error
        self.reusable = False
        self._wake()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def close(self) -> None:
        self.reusable = False
        if self.transport is not None:
            self.transport.close()

    # ---------------------------------------------------------------- asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's transports are not asyncio's classes

    def data_received(self, data: bytes) -> None:
        if not self.busy:  # a service that speaks while no request is out: the connection is not trusted again
            self.close()
            return
        try:
            self.parser.feed_data(data)
        except BrokenResponse as exc:  # raised by a callback below
            self._fail(exc)
            self.close()
        except httptools.HttpParserUpgrade:
            self._fail(BrokenResponse("the service switched protocols"))
            self.close()
        except httptools.HttpParserError as exc:
            self._fail(BrokenResponse(f"the service's answer cannot be parsed: {exc}"))
            self.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.open = False
        self.reusable = False
        if self.busy and not self.done:
            if not self.head_done:
                self._fail(Disconnected("the service closed the connection without answering"))
            elif self._until_close:
                self.done = True  # a body without a length ends where the connection does
                self._wake()
            else:
                self._fail(BrokenResponse("the service broke off its answer"))
        self.pool.forget(self)

    # ---------------------------------------------------------------- httptools callbacks

    def on_message_begin(self) -> None:
        if self.done:  # a second answer to one request: stop parsing, and never use this connection again
            raise BrokenResponse("the service sent more than one answer")

    def on_header(self, name: bytes, value: bytes) -> None:
        # llhttp (strict) has refused a name that is not a token and a value with a control character but HTAB:
        # gateway/tests/client/test_http1.py holds it to that, and the gateway passes nothing else on to its caller.
        if self.head_done:
            return  # a trailer field, after a chunked body: not passed on (nor is the ``Trailer`` header)
        self.headers.append((name, value))
        if len(name) == 14 and name.lower() == b"content-length":
            self.content_length = int(value)  # llhttp has checked it is a number
        elif len(name) == 17 and name.lower() == b"transfer-encoding":
            # Only ``chunked``, once, is a framing both ends agree on (h11 refuses the rest too): another coding,
            # or chunked named twice, is read differently by different parsers.
            if self._coded or value.strip().lower() != b"chunked":
                raise BrokenResponse(f"the service's answer has a transfer coding other than chunked: {value!r}")
            self._coded = True

    def on_headers_complete(self) -> None:
        status = self.parser.get_status_code()
        if 100 <= status < 200:  # an interim answer ("100 Continue"): the real one follows
            self.headers, self.content_length, self._coded = [], None, False
            return
        self.status = status
        self.reusable = self.parser.should_keep_alive()
        self._until_close = self.content_length is None and not self._coded
        self.head_done = True
        if self._head_only:
            # llhttp cannot be told that an answer to HEAD has no body: this connection ends with it.
            self.done = True
            self.reusable = False
        self._wake()

    def on_body(self, body: bytes) -> None:
        if self._head_only:
            return
        self._chunks.append(body)
        self._buffered += len(body)
        if not self._paused and self._buffered > _HIGH_WATER and self.transport is not None:
            self._paused = True
            self.transport.pause_reading()
        self._wake()

    def on_message_complete(self) -> None:
        if self.head_done:
            self.done = True
            self._wake()


class Waiters:
    """Requests waiting for a connection, woken one at a time, oldest first. A waiter that was woken but is
    cancelled (or runs out of time) before it could take what it was woken for passes the wake-up on, so a
    connection given back is never left idle while others wait; ``fail`` wakes every waiter with an error."""

    def __init__(self) -> None:
        self._waiters: deque[asyncio.Future[None]] = deque()

    def __len__(self) -> int:
        return len(self._waiters)

    async def wait(self, seconds: float, *, first: bool = False) -> None:
        """Until woken (TimeoutError after ``seconds``); ``first``: ahead of the others (woken before, and the
        connection was taken by a request that did not wait)."""
        waiter = asyncio.get_running_loop().create_future()
        if first:
            self._waiters.appendleft(waiter)
        else:
            self._waiters.append(waiter)
        try:
            async with asyncio.timeout(seconds):
                await waiter
        except BaseException:
            if not waiter.done():
                waiter.cancel()
                self._waiters.remove(waiter)
            elif not waiter.cancelled() and waiter.exception() is None:
                self.wake_one()  # woken, but leaving without taking the connection: the next waiter gets it
            raise

    def wake_one(self) -> None:
        waiters = self._waiters
        while waiters:
            waiter = waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return

    def fail(self, error: BaseException) -> None:
        waiters, self._waiters = self._waiters, deque()
        for waiter in waiters:
            if not waiter.done():
                waiter.set_exception(error)


class Pool:
    """Keep-alive connections to one replica (``http://host:port[/prefix]``), at most ``limit`` at once; a
    request beyond that waits for one to come back. The most recently used idle connection is taken first;
    one idle for ``keepalive_seconds`` is closed instead (set below the service's own keep-alive, so the
    gateway never sends on a connection the service is closing)."""

    def __init__(self, url: str, *, limit: int, keepalive_seconds: float, connect_timeout_seconds: float) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) base URL: {url!r}")
        self.host = parts.hostname
        self.port = parts.port or (443 if parts.scheme == "https" else 80)
        self.ssl: ssl.SSLContext | None = ssl.create_default_context() if parts.scheme == "https" else None
        self.prefix = parts.path.rstrip("/")
        self._host_line = f"Host: {parts.netloc.rpartition('@')[2]}\r\n"
        self.limit = limit
        self.keepalive_seconds = keepalive_seconds
        self.connect_timeout_seconds = connect_timeout_seconds
        self.loop = asyncio.get_running_loop()
        self._idle: list[_Connection] = []
        self._count = 0  # connections open or being opened
        self._waiters = Waiters()
        self._closed = False

    async def request(
        self, method: str, target: str, headers: Iterable[tuple[str, str]], body: bytes, *, seconds: float
    ) -> Response:
        """Send ``method target`` (path and query, already encoded) with ``headers`` and ``body``; return the
        answer once its head is in. ``seconds`` is the request's whole time for the service: the wait for a
        connection, the head and the body (``Response.iter_chunks``) share it."""
        head = request_head(method, self.prefix + target, self._host_line, headers, body)
        began = self.loop.time()
        connection = await self._acquire(seconds)
        left = seconds - (self.loop.time() - began)
        if left <= 0:  # the connection took the whole time to make: nothing is sent
            self.give_back(connection)
            raise PoolTimeout(f"no time left to send to {self.host}:{self.port} within {seconds:g} s")
        try:
            return await connection.exchange(head, body, head_only=method == "HEAD", seconds=left)
        except BaseException:
            connection.close()
            self.give_back(connection)
            raise

    async def _acquire(self, seconds: float) -> _Connection:
        loop = self.loop
        deadline = loop.time() + seconds
        woken = False
        while True:
            if self._closed:
                raise NotSent("the gateway is shutting down")
            connection = self._take_idle()
            if connection is not None:
                return connection
            if self._count < self.limit:
                break
            try:
                # A waiter woken before, whose connection another request took first, keeps its place.
                await self._waiters.wait(deadline - loop.time(), first=woken)
            except TimeoutError:
                raise PoolTimeout(
                    f"every connection to {self.host}:{self.port} stayed busy for {seconds:g} s"
                ) from None
            woken = True
        self._count += 1
        connection = _Connection(self)
        connection.busy = True  # given back (to be closed) if the request goes no further
        left = deadline - loop.time()
        try:
            async with asyncio.timeout(min(self.connect_timeout_seconds, left)):
                await loop.create_connection(lambda: connection, self.host, self.port, ssl=self.ssl)
        except (OSError, TimeoutError) as exc:
            connection.close()
            self.forget(connection)
            if isinstance(exc, TimeoutError) and left < self.connect_timeout_seconds:
                # The request's time ran out (mostly waiting for a connection), not the replica's connect time.
                raise PoolTimeout(f"no time left to connect to {self.host}:{self.port}") from exc
            raise NotSent(f"cannot connect to {self.host}:{self.port}: {exc!r}") from exc
        except BaseException:
            connection.close()
            self.forget(connection)
            raise
        return connection

    def _take_idle(self) -> _Connection | None:
        idle = self._idle
        while idle:
            connection = idle.pop()
            if connection.open and self.loop.time() - connection.idle_since < self.keepalive_seconds:
                connection.busy = True
                return connection
            connection.close()
        return None

    def give_back(self, connection: _Connection) -> None:
        """The exchange is over: keep the connection for the next request if it can carry one."""
        if not connection.busy:
            return
        connection.busy = False
        if connection.open and connection.done and connection.reusable and not self._closed:
            connection.idle_since = self.loop.time()
            self._idle.append(connection)
            self._waiters.wake_one()
        else:
            connection.close()

    def forget(self, connection: _Connection) -> None:
        """The connection is closed (by either side), or was never made."""
        if not connection.counted:
            return
        connection.counted = False
        self._count -= 1
        if connection in self._idle:
            self._idle.remove(connection)
        self._waiters.wake_one()

    def close(self) -> None:
        """No more requests: idle connections are closed, and requests waiting for one get ``NotSent`` at once
        (those under way finish, and their connections are closed after them)."""
        self._closed = True
        for connection in self._idle:
            connection.close()
        self._idle.clear()
        self._waiters.fail(NotSent("the gateway is shutting down"))

    async def aclose(self) -> None:
        self.close()


@functools.lru_cache(maxsize=512)
def _writable_name(name: str) -> bool:
    return _TOKEN.fullmatch(name) is not None and name.lower() not in _CLIENTS_OWN


def request_head(method: str, target: str, host_line: str, headers: Iterable[tuple[str, str]], body: bytes) -> bytes:
    """The request line and headers, as written; ``InvalidRequest`` for anything HTTP/1.1 cannot carry as given."""
    if _TOKEN.fullmatch(method) is None:
        raise InvalidRequest(f"not a method: {method!r}")
    if _TARGET.fullmatch(target) is None:
        raise InvalidRequest(f"a request target has a space, a control or a non-ASCII character: {target!r}")
    lines = [f"{method} {target} HTTP/1.1\r\n", host_line]
    for name, value in headers:
        if not _writable_name(name):
            raise InvalidRequest(f"not a header the gateway can send: {name!r}")
        if _VALUE.fullmatch(value) is None:
            raise InvalidRequest(f"the header {name!r} has a line break, NUL or other control character")
        lines.append(f"{name}: {value}\r\n")
    if body or method in _BODY_METHODS:
        lines.append(f"Content-Length: {len(body)}\r\n")
    lines.append("\r\n")
    return "".join(lines).encode("latin-1")
