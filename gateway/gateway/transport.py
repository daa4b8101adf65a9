"""How the gateway reaches a replica: a pool of connections per replica, behind one interface, by one of two
clients chosen with ``LINLI_UPSTREAM_CLIENT``:

- ``http1`` (the default): the gateway's own HTTP/1.1 client (gateway/http1.py), half aiohttp's CPU per proxied
  request (docs/gateway-benchmark.md);
- ``aiohttp``: aiohttp's client, kept as a fallback should the gateway's own client misbehave in production. It
  keeps the same promises: the same refusals before sending (``InvalidRequest``), the same errors
  (``NotSent``, ``PoolTimeout``, ``Disconnected``, ``BrokenResponse``, ``TimeoutError``), the same connection limit
  and one deadline per request, no cookies, no redirects, no decompression, no headers of its own but Host and
  Content-Length.

gateway/upstreams.py balances and fails over across replicas; this module only makes one replica's pool.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable
from typing import Literal, Protocol
from urllib.parse import urlsplit

import aiohttp
from yarl import URL

from gateway.http1 import (
    BrokenResponse,
    Disconnected,
    NotSent,
    Pool,
    PoolTimeout,
    Waiters,
    first_header,
    request_head,
)

Client = Literal["http1", "aiohttp"]
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


class Response(Protocol):
    """A service's answer: status and headers at once, the body as it arrives; ``release()`` or ``close()`` it."""

    status: int
    raw_headers: list[tuple[bytes, bytes]]
    content_length: int | None

    def header(self, name: bytes) -> bytes | None: ...
    def iter_chunks(self) -> AsyncIterator[bytes]: ...
    async def read(self) -> bytes: ...
    def release(self) -> None: ...
    def close(self) -> None: ...


class ReplicaPool(Protocol):
    async def request(
        self, method: str, target: str, headers: Iterable[tuple[str, str]], body: bytes, *, seconds: float
    ) -> Response: ...

    async def aclose(self) -> None: ...


def replica_pool(
    client: Client, url: str, *, limit: int, keepalive_seconds: float, connect_timeout_seconds: float
) -> ReplicaPool:
    """The pool of connections to the replica at ``url``, made by ``client``."""
    kind = AiohttpPool if client == "aiohttp" else Pool
    return kind(url, limit=limit, keepalive_seconds=keepalive_seconds, connect_timeout_seconds=connect_timeout_seconds)


class AiohttpPool:
    """One replica's connections through aiohttp: at most ``limit`` requests under way (the others wait, as with
    gateway/http1.py's Pool: their wait is part of their time, and one that runs out is ``PoolTimeout``)."""

    def __init__(self, url: str, *, limit: int, keepalive_seconds: float, connect_timeout_seconds: float) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) base URL: {url!r}")
        self.base = url.rstrip("/")
        self.prefix = parts.path.rstrip("/")
        self._host_line = f"Host: {parts.netloc.rpartition('@')[2]}\r\n"
        self.limit = limit
        self.connect_timeout_seconds = connect_timeout_seconds
        self.loop = asyncio.get_running_loop()
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=0, keepalive_timeout=keepalive_seconds),
            cookie_jar=aiohttp.DummyCookieJar(),
            auto_decompress=False,
            skip_auto_headers=("User-Agent", "Accept", "Accept-Encoding", "Content-Type"),
        )
        self._under_way = 0
        self._waiters = Waiters()
        self._closed = False

    async def request(
        self, method: str, target: str, headers: Iterable[tuple[str, str]], body: bytes, *, seconds: float
    ) -> Response:
        headers = list(headers)
        request_head(method, self.prefix + target, self._host_line, headers, body)  # the same refusals
        loop = self.loop
        began = loop.time()
        await self._acquire(seconds)
        left = seconds - (loop.time() - began)
        try:
            if left <= 0:
                raise PoolTimeout(f"no time left to send to {self.base} within {seconds:g} s")
            timeout = aiohttp.ClientTimeout(total=None, sock_connect=self.connect_timeout_seconds)
            began = loop.time()
            try:
                async with asyncio.timeout(left):
                    answer = await self._session.request(
                        method,
                        URL(self.base + target, encoded=True),
                        headers=headers,
                        data=body if body or method in _BODY_METHODS else None,
                        allow_redirects=False,
                        timeout=timeout,
                    )
            except (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError) as exc:
                raise NotSent(f"cannot connect to {self.base}: {exc!r}") from exc
            except aiohttp.ServerDisconnectedError as exc:
                raise Disconnected("the service closed the connection without answering") from exc
            except aiohttp.ClientError as exc:
                raise BrokenResponse(f"the service's answer cannot be read: {exc!r}") from exc
        except BaseException:
            self._release()
            raise
        return _AiohttpResponse(self, answer, left - (loop.time() - began))

    async def _acquire(self, seconds: float) -> None:
        loop = self.loop
        deadline = loop.time() + seconds
        woken = False
        while True:
            if self._closed:
                raise NotSent("the gateway is shutting down")
            if self._under_way < self.limit:
                self._under_way += 1
                return
            try:
                await self._waiters.wait(deadline - loop.time(), first=woken)
            except TimeoutError:
                raise PoolTimeout(f"every connection to {self.base} stayed busy for {seconds:g} s") from None
            woken = True

    def _release(self) -> None:
        self._under_way -= 1
        self._waiters.wake_one()

    async def aclose(self) -> None:
        self._closed = True
        self._waiters.fail(NotSent("the gateway is shutting down"))
        await self._session.close()


class _AiohttpResponse:
    __slots__ = ("_answer", "_left", "_pool", "content_length", "raw_headers", "status")

    def __init__(self, pool: AiohttpPool, answer: aiohttp.ClientResponse, left: float) -> None:
        self._pool: AiohttpPool | None = pool
        self._answer = answer
        self._left = left  # of the request's time for the service
        self.status = answer.status
        self.raw_headers = list(answer.raw_headers)
        self.content_length = answer.content_length

    def header(self, name: bytes) -> bytes | None:
        return first_header(self.raw_headers, name)

    async def iter_chunks(self) -> AsyncIterator[bytes]:
        loop = self._pool.loop if self._pool is not None else asyncio.get_running_loop()
        while True:
            if self._left <= 0:
                self.close()
                raise TimeoutError()
            began = loop.time()
            try:
                async with asyncio.timeout(self._left):
                    chunk = await self._answer.content.readany()
            except TimeoutError:
                self.close()
                raise
            except aiohttp.ClientError as exc:
                self.close()
                raise BrokenResponse(f"the service broke off its answer: {exc!r}") from exc
            finally:
                self._left -= loop.time() - began
            if not chunk:
                return
            yield chunk

    async def read(self) -> bytes:
        chunks = [chunk async for chunk in self.iter_chunks()]
        return b"".join(chunks)

    def release(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            self._answer.release()
            pool._release()

    def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            self._answer.close()
            pool._release()
