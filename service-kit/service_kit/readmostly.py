"""Answers that rarely change (the category tree, the gazetteer), rendered once and served from memory.

Every screen of the app and the console reads the category tree, which changes a few times a year: building it
from the database and serializing it on every request was most of its cost. Here an answer is kept per group and
request (path and query), with a strong ``ETag`` (a digest of its body): a conditional request that still
matches is answered ``304 Not Modified``, with no body.

**Never stale once the change is announced.** Each group is emptied when an event that changes it (its
``*.upserted`` event, published by the outbox after the change committed) reaches this process, on every replica
alike: each process listens with a plain NATS subscription of its own (not a durable consumer, whose messages
go to one replica only). What happens while it cannot hear:

- not connected to NATS: nothing is served from memory (each request renders, as without the cache);
- after a reconnection, events published meanwhile were missed: what was kept before is dropped;
- a render that began before an event and ends after it is not kept (the group's generation moved on).

Entries per group are bounded (``MAX_ENTRIES``): odd query strings cannot grow the memory without end.

**Partitioned groups** hold answers about one person each (a resident's rating invitations, which her app polls):
the answer is kept per partition (the resident's id) and an event drops only the partition its payload names
(``partitioned_by``: the payload's field), so a change for one resident leaves every other's answer in place. The
caller names the partition after it checked that the caller may read it; ``max_age`` bounds how long an answer is
served without a change heard, whatever was missed.

**At the edge.** The gateway keeps the public answers of unpartitioned groups too (gateway/readmostly.py), without
access to NATS: it asks the service what changed (``changes``, served by ``router()`` to the gateway only), a long
poll that answers as soon as a group's generation moves or this process stops hearing. Each public answer names the
version it was rendered at (``EDGE_HEADER``: this process's boot id, its NATS epoch, the group's generation before
the render); the gateway keeps an answer only while the version it last heard from the same process is that one."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import structlog
from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import TypeAdapter

from service_kit.auth import GatewayScope, require_gateway
from service_kit.routing import service_router
from service_kit.server import shutting_down

log = structlog.get_logger("linli.readmostly")

MAX_ENTRIES = 256
MAX_PER_PARTITION = 16
# On a public answer of an unpartitioned group: "<name> <group> <version>", the version it was rendered at.
EDGE_HEADER = "Linli-Read-Mostly"
# The longest a change poll waits; while it waits, whether this process still hears is looked at this often.
MAX_WAIT_SECONDS = 60.0
HEARING_CHECK_SECONDS = 0.25


@dataclass(frozen=True)
class _Entry:
    etag: str
    body: bytes
    epoch: int
    kept_at: float = 0.0
    generation: int = 0  # the group's, when the render began


@dataclass
class _Group:
    generation: int = 0
    entries: dict[str, _Entry] = field(default_factory=dict)
    # Partitioned groups: partition → its answers (``entries`` unused).
    partitions: dict[str, dict[str, _Entry]] = field(default_factory=dict)


def _etag(body: bytes) -> str:
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def matches(if_none_match: str | None, etag: str) -> bool:
    """RFC 9110's weak comparison: ``*`` or any listed tag equal to ours, with or without ``W/``."""
    if not if_none_match:
        return False
    tags = [tag.strip().removeprefix("W/") for tag in if_none_match.split(",")]
    return "*" in tags or etag in tags


@dataclass
class _AppCache:
    """One app's answers (an app per process in production; tests run many apps, each on its own database)."""

    groups: dict[str, _Group]
    subscribing: asyncio.Lock = field(default_factory=asyncio.Lock)
    listening_on: Any = None  # the NATS client this app listens with
    # Tells a version apart from another process's (or this app's before a restart).
    boot: str = field(default_factory=lambda: uuid.uuid4().hex[:16])
    # Set (and replaced) at every change: what change polls wait on.
    changed: asyncio.Event = field(default_factory=asyncio.Event)


class ReadMostly:
    """The read-mostly answers of one service: ``groups`` maps each group to the event types that change it."""

    def __init__(
        self,
        name: str,
        groups: dict[str, tuple[str, ...]],
        *,
        partitioned_by: dict[str, str] | None = None,
        max_entries: int = MAX_ENTRIES,
        max_age: float | None = None,
    ) -> None:
        self.name = name
        self._attribute = f"read_mostly_{name}"
        self._group_names = tuple(groups)
        self._changed_by: dict[str, list[str]] = {}
        for group, types in groups.items():
            for event_type in types:
                self._changed_by.setdefault(event_type, []).append(group)
        self._partitioned_by = dict(partitioned_by or {})
        self._max_entries = max_entries
        self._max_age = max_age

    def _cache(self, request: Request) -> _AppCache:
        return self._cache_of(request.app)

    def kept(self, app: Any, group: str) -> _Group:
        """What ``app``'s process keeps of ``group`` now (for its tests)."""
        return self._cache_of(app).groups[group]

    def _cache_of(self, app: Any) -> _AppCache:
        state = app.state
        cache: _AppCache | None = getattr(state, self._attribute, None)
        if cache is None:
            cache = _AppCache({name: _Group() for name in self._group_names})
            setattr(state, self._attribute, cache)
        return cache

    @staticmethod
    def _invalidate(cache: _AppCache, group: str, partition: str | None = None) -> None:
        """Drop ``group``'s answers (of ``partition`` only, when named). Any change moves the group's generation:
        a render under way when it came is not kept, whichever partition it was for."""
        state = cache.groups[group]
        state.generation += 1
        if partition is None:
            state.entries.clear()
            state.partitions.clear()
        else:
            state.partitions.pop(partition, None)
        cache.changed.set()
        cache.changed = asyncio.Event()

    def forget(self, request: Request, group: str, partition: str | None = None) -> None:
        """Drop what this process kept of ``group`` (``partition``) now: a change it made itself, whose event the
        other processes hear later."""
        self._invalidate(self._cache(request), group, partition)

    async def _listen(self, request: Request, cache: _AppCache) -> int | None:
        """The app's connection epoch (its reconnection count) while it hears the changes; None when it cannot."""
        runtime = getattr(request.app.state, "runtime", None)
        nc = getattr(runtime, "nc", None)
        if nc is None or not nc.is_connected:
            return None
        if cache.listening_on is not nc:
            async with cache.subscribing:
                if cache.listening_on is not nc:
                    for event_type, groups in self._changed_by.items():
                        await nc.subscribe(event_type, cb=self._on_change(cache, groups))
                    await nc.flush()  # the subscriptions are in place before anything is kept
                    for group in cache.groups:
                        self._invalidate(cache, group)
                    cache.listening_on = nc
        return int(nc.stats.get("reconnects", 0))

    def _on_change(self, cache: _AppCache, groups: list[str]) -> Callable[[Any], Awaitable[None]]:
        async def changed(msg: Any) -> None:
            for group in groups:
                field_name = self._partitioned_by.get(group)
                partition = None
                if field_name is not None:
                    try:
                        partition = str(json.loads(msg.data)[field_name])
                    except (ValueError, TypeError, KeyError):
                        partition = None  # a payload without it: the whole group goes
                self._invalidate(cache, group, partition)
                log.debug("read-mostly answers dropped", group=group, partition=partition)

        return changed

    async def answer(
        self,
        request: Request,
        group: str,
        render: Callable[[], Awaitable[Any]],
        adapter: TypeAdapter[Any],
        *,
        cache_control: str,
        partition: str | None = None,
    ) -> Response:
        """The answer to ``request`` in ``group``: from memory when it is there and still true, else rendered
        (``render()``, serialized with ``adapter``) and kept; 304 when the client's ``If-None-Match`` holds it.
        A partitioned group's answer is kept under ``partition``, which the caller may read."""
        cache = self._cache(request)
        state = cache.groups[group]
        if (group in self._partitioned_by) != (partition is not None):
            raise ValueError(f"read-mostly group {group}: a partition is named exactly when the group has them")
        key = request.url.path + "?" + "&".join(sorted(f"{k}={v}" for k, v in request.query_params.multi_items()))
        epoch = await self._listen(request, cache)
        entries = state.entries if partition is None else state.partitions.get(partition, {})
        entry = entries.get(key)
        now = time.monotonic()
        if (
            entry is None
            or epoch is None
            or entry.epoch != epoch
            or (self._max_age is not None and now - entry.kept_at > self._max_age)
        ):
            generation = state.generation
            body = adapter.dump_json(await render())
            entry = _Entry(_etag(body), body, epoch if epoch is not None else -1, now, generation)
            if epoch is not None and generation == state.generation:
                if partition is None:
                    if len(state.entries) >= self._max_entries:
                        state.entries.clear()
                    state.entries[key] = entry
                else:
                    if partition not in state.partitions and len(state.partitions) >= self._max_entries:
                        state.partitions.clear()
                    kept = state.partitions.setdefault(partition, {})
                    if len(kept) >= MAX_PER_PARTITION:  # one person's odd query strings
                        kept.clear()
                    kept[key] = entry
        headers = {"ETag": entry.etag, "Cache-Control": cache_control}
        if partition is None and epoch is not None and cache_control.startswith("public"):
            headers[EDGE_HEADER] = f"{self.name} {group} {cache.boot}.{epoch}.{entry.generation}"
        if matches(request.headers.get("if-none-match"), entry.etag):
            return Response(status_code=304, headers=headers)
        return Response(content=entry.body, media_type="application/json", headers=headers)

    # ------------------------------------------------------------------ what the gateway asks

    @staticmethod
    def _state(cache: _AppCache, epoch: int | None) -> dict[str, Any]:
        generations = {name: group.generation for name, group in cache.groups.items()}
        if epoch is None:
            version = f"{cache.boot}.-"
        else:
            version = f"{cache.boot}.{epoch}." + ".".join(str(g) for g in generations.values())
        return {
            "version": version,
            "listening": epoch is not None,
            # Each group's version, as EDGE_HEADER names it; none while this process cannot hear.
            "groups": {} if epoch is None else {n: f"{cache.boot}.{epoch}.{g}" for n, g in generations.items()},
        }

    async def changes(self, request: Request, after: str, wait: float) -> dict[str, Any]:
        """This process's versions of the groups, once they differ from ``after`` (a ``version`` it answered
        before) or ``wait`` seconds have passed, or at once when the server begins to shut down (uvicorn waits for
        requests under way: a waiting poll would hold a restart for its whole wait)."""
        cache = self._cache(request)
        deadline = time.monotonic() + min(max(wait, 0.0), MAX_WAIT_SECONDS)
        while True:
            state = self._state(cache, await self._listen(request, cache))
            left = deadline - time.monotonic()
            if state["version"] != after or left <= 0 or shutting_down():
                return state
            # A change wakes the poll at once; losing NATS does not signal, so it is looked for meanwhile.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(cache.changed.wait(), min(left, HEARING_CHECK_SECONDS))

    def router(self) -> APIRouter:
        """``GET /internal/v1/read-mostly/<name>``: the change poll, for the gateway alone (not in the OpenAPI:
        the gateway routes no ``/internal`` path)."""
        router = service_router()

        @router.get(
            f"/internal/v1/read-mostly/{self.name}",
            include_in_schema=False,
            dependencies=[Depends(require_gateway(GatewayScope.read_mostly))],
        )
        async def read_mostly_changes(
            request: Request,
            after: str = Query("", max_length=200),
            wait: float = Query(25.0, ge=0, le=MAX_WAIT_SECONDS),
        ) -> JSONResponse:
            return JSONResponse(await self.changes(request, after, wait), headers={"Cache-Control": "no-store"})

        return router
