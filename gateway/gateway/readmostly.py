"""Copies of the services' public read-mostly answers (the category tree, the gazetteer), served from the
gateway's memory.

Every screen of the app and the console reads the category tree. The registry answers it from memory
(service_kit.readmostly), yet through the gateway each request still cost a forwarded call, and one registry
process answering 32 connections capped it at about 700 requests a second (docs/gateway-benchmark.md). Here the
gateway answers it itself, after the caller's token, rate limit and the route's policy were checked as for any
forwarded request.

**What is kept.** Only what a service marks as the same for everyone: a ``200`` carrying ``Cache-Control:
public`` and the kit's ``Linli-Read-Mostly`` header (``<name> <group> <version>``), with a body of known length up
to ``MAX_BODY_BYTES``. The header never leaves the gateway; an answer from memory carries ``Age`` (RFC 9111), and a
conditional request its ``ETag`` still matches is answered ``304``.

**Never stale once the service has heard the change.** The gateway has no access to NATS (docs/security.md), so
it asks the service instead: for each ``name`` it has seen, one long poll at a time to one replica
(``/internal/v1/read-mostly/<name>``, with a token the gateway signs for itself, scope ``gateway:read-mostly``)
that answers as soon as a group's version moves there. A version names its process (a boot id, the NATS epoch, the
group's generation): a copy is kept only when its version is the one that replica last told, and served only while
it still is. So:

- an answer from another replica, or rendered before a change the gateway has heard of, is passed on, not kept;
- when the poll fails, or the replica says it cannot hear NATS, nothing is served from memory until it answers
  again (the next replica is asked in turn);
- a restarted replica has a new boot id in its versions: what was kept from it is never served again.

The gateway is one poll behind the process it listens to: a copy is dropped when the poll's answer arrives, less
than a millisecond after that process dropped its own on a local network.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from urllib.parse import quote

import structlog
from starlette.types import Send

from gateway import metrics
from gateway.http1 import UpstreamError
from gateway.transport import Response
from gateway.upstreams import Upstreams
from service_kit.errors import LinliError
from service_kit.readmostly import EDGE_HEADER, matches

log = structlog.get_logger("linli.gateway.readmostly")

MARK = EDGE_HEADER.lower().encode()
MAX_BODY_BYTES = 1024 * 1024
# All copies together; past it, every copy goes and the gateway starts again.
MAX_KEPT_BYTES = 16 * 1024 * 1024
POLL_PATH = "/internal/v1/read-mostly/{name}"
# A failed poll is tried again after this pause, doubling up to the longest.
PAUSE_SECONDS = 0.2
LONGEST_PAUSE_SECONDS = 5.0


@dataclass(frozen=True)
class Answer:
    """A complete answer the gateway sends itself (a copy from memory, or a kept one on its way out)."""

    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes

    async def send(self, send: Send) -> None:
        await send({"type": "http.response.start", "status": self.status, "headers": self.headers})
        await send({"type": "http.response.body", "body": self.body, "more_body": False})


@dataclass(frozen=True)
class _Copy:
    name: str
    group: str
    version: str
    etag: str | None
    headers: list[tuple[bytes, bytes]]
    body: bytes
    kept_at: float

    def answer(self, if_none_match: str | None) -> Answer:
        # As a shared cache says (RFC 9111 §5.1): how long ago the copy was taken, in seconds.
        age = (b"age", str(int(time.monotonic() - self.kept_at)).encode())
        if self.etag is not None and matches(if_none_match, self.etag):
            kept = [(n, v) for n, v in self.headers if n in (b"etag", b"cache-control")]
            return Answer(304, [*kept, age], b"")
        return Answer(200, [*self.headers, age], self.body)


@dataclass
class _Watch:
    """What one replica of a service last told of ``name``'s groups: group → version (empty: serve nothing)."""

    groups: dict[str, str] = field(default_factory=dict)
    task: asyncio.Task[None] | None = None


def _mark(value: bytes) -> tuple[str, str, str] | None:
    parts = value.decode("latin-1").split(" ")
    return (parts[0], parts[1], parts[2]) if len(parts) == 3 and all(parts) else None


class EdgeCopies:
    """The gateway's copies, and the polls that keep them true. ``credential()`` signs the gateway's own token."""

    def __init__(
        self, upstreams: Upstreams, credential: Callable[[], str], *, enabled: bool, wait_seconds: float
    ) -> None:
        self._upstreams = upstreams
        self._metered = upstreams.metered
        self._credential = credential
        self.enabled = enabled
        self._wait_seconds = wait_seconds
        self._watches: dict[tuple[str, str], _Watch] = {}
        self._copies: dict[tuple[str, str], _Copy] = {}
        self._bytes = 0

    def lookup(self, service: str, target: str, headers: Mapping[str, str]) -> Answer | None:
        """The answer to ``GET target`` of ``service`` (its request ``headers``) from memory, when a copy is there
        and still true."""
        copy = self._copies.get((service, target))
        if copy is None:
            return None
        watch = self._watches.get((service, copy.name))
        if watch is None or watch.groups.get(copy.group) != copy.version:
            self._drop((service, target))
            return None
        if self._metered:
            metrics.read_mostly(service, "memory")
        return copy.answer(headers.get("If-None-Match"))

    async def keep(
        self,
        service: str,
        target: str,
        response: Response,
        forwarded: Callable[[Response], list[tuple[bytes, bytes]]],
    ) -> Answer | None:
        """Keep ``response`` (a 200 to ``GET target``) when it is a public read-mostly answer at the version its
        replica last told, with the headers the gateway forwards of it (``forwarded``: no hop-by-hop header, no
        request id of the service's, nor this mark); the answer to send on, read to its end, or None (the response
        untouched) when it is not one to keep."""
        if response.status != 200:
            return None
        value = response.header(MARK)
        mark = _mark(value) if value is not None else None
        cache_control = (response.header(b"cache-control") or b"").decode("latin-1")
        if mark is None or not cache_control.startswith("public"):
            return None
        name, group, version = mark
        watch = self._watch(service, name)
        length = response.content_length
        # A version names its process (a boot id): an answer from another replica never matches.
        if watch.groups.get(group) != version or length is None or length > MAX_BODY_BYTES:
            return None
        try:
            body = await response.read()
        finally:
            response.release()
        # The body was read: the version may have moved meanwhile (kept only if it has not).
        headers = forwarded(response)
        etag = next((v.decode("latin-1") for n, v in headers if n == b"etag"), None)
        if watch.groups.get(group) == version:
            self._store((service, target), _Copy(name, group, version, etag, headers, body, time.monotonic()))
            if self._metered:
                metrics.read_mostly(service, "kept")
        return Answer(200, headers, body)

    def _store(self, key: tuple[str, str], copy: _Copy) -> None:
        self._drop(key)
        if self._bytes + len(copy.body) > MAX_KEPT_BYTES:
            self._copies.clear()
            self._bytes = 0
        self._copies[key] = copy
        self._bytes += len(copy.body)

    def _drop(self, key: tuple[str, str]) -> None:
        old = self._copies.pop(key, None)
        if old is not None:
            self._bytes -= len(old.body)

    def _watch(self, service: str, name: str) -> _Watch:
        """The watch of ``name`` at ``service``, started the first time one of its answers is seen."""
        watch = self._watches.get((service, name))
        if watch is None:
            watch = self._watches[(service, name)] = _Watch()
            # Started by a request, but not of it: a context of its own (no request id or trace in its log lines).
            watch.task = asyncio.create_task(
                self._poll(service, name, watch), name=f"read-mostly {service} {name}", context=contextvars.Context()
            )
        return watch

    async def _poll(self, service: str, name: str, watch: _Watch) -> None:
        """Ask one replica after another, each until it fails, what changed; forever."""
        path = POLL_PATH.format(name=quote(name, safe=""))
        turn, pause, after = 0, PAUSE_SECONDS, ""
        while True:
            replicas = self._upstreams.replicas[service]
            replica = replicas[turn % len(replicas)]
            target = f"{path}?after={quote(after, safe='')}&wait={self._wait_seconds:g}"
            headers = (("Authorization", f"Bearer {self._credential()}"), ("Accept", "application/json"))
            try:
                status, answer = await self._upstreams.get_json(
                    replica, target, seconds=self._wait_seconds + 10, headers=headers
                )
                if status != 200 or not isinstance(answer, dict):
                    raise ValueError(f"answered {status}")
                version, groups = answer.get("version"), answer.get("groups")
                if not isinstance(version, str) or not isinstance(groups, dict):
                    raise ValueError("answered without a version")
            except (UpstreamError, TimeoutError, LinliError, ValueError) as exc:
                if watch.groups:
                    log.warning("read-mostly copies paused", service=service, replica=replica.url, error=repr(exc))
                watch.groups, after = {}, ""
                turn += 1
                await asyncio.sleep(pause)
                pause = min(pause * 2, LONGEST_PAUSE_SECONDS)
                continue
            watch.groups = {str(g): str(v) for g, v in groups.items()}
            after, pause = version, PAUSE_SECONDS

    async def close(self) -> None:
        for watch in self._watches.values():
            if watch.task is not None:
                watch.task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await watch.task
        self._watches.clear()
        self._copies.clear()
        self._bytes = 0
