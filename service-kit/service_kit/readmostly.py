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

Entries per group are bounded (``MAX_ENTRIES``): odd query strings cannot grow the memory without end."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import structlog
from fastapi import Request, Response
from pydantic import TypeAdapter

log = structlog.get_logger("linli.readmostly")

MAX_ENTRIES = 256


@dataclass(frozen=True)
class _Entry:
    etag: str
    body: bytes
    epoch: int


@dataclass
class _Group:
    generation: int = 0
    entries: dict[str, _Entry] = field(default_factory=dict)


def _etag(body: bytes) -> str:
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def _matches(if_none_match: str | None, etag: str) -> bool:
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


class ReadMostly:
    """The read-mostly answers of one service: ``groups`` maps each group to the event types that change it."""

    def __init__(self, name: str, groups: dict[str, tuple[str, ...]]) -> None:
        self._attribute = f"read_mostly_{name}"
        self._group_names = tuple(groups)
        self._changed_by = {event_type: group for group, types in groups.items() for event_type in types}

    def _cache(self, request: Request) -> _AppCache:
        state = request.app.state
        cache: _AppCache | None = getattr(state, self._attribute, None)
        if cache is None:
            cache = _AppCache({name: _Group() for name in self._group_names})
            setattr(state, self._attribute, cache)
        return cache

    @staticmethod
    def _invalidate(cache: _AppCache, group: str) -> None:
        state = cache.groups[group]
        state.generation += 1
        state.entries.clear()

    async def _listen(self, request: Request, cache: _AppCache) -> int | None:
        """The app's connection epoch (its reconnection count) while it hears the changes; None when it cannot."""
        runtime = getattr(request.app.state, "runtime", None)
        nc = getattr(runtime, "nc", None)
        if nc is None or not nc.is_connected:
            return None
        if cache.listening_on is not nc:
            async with cache.subscribing:
                if cache.listening_on is not nc:
                    for event_type, group in self._changed_by.items():
                        await nc.subscribe(event_type, cb=self._on_change(cache, group))
                    await nc.flush()  # the subscriptions are in place before anything is kept
                    for group in cache.groups:
                        self._invalidate(cache, group)
                    cache.listening_on = nc
        return int(nc.stats.get("reconnects", 0))

    def _on_change(self, cache: _AppCache, group: str) -> Callable[[Any], Awaitable[None]]:
        async def changed(_msg: Any) -> None:
            self._invalidate(cache, group)
            log.debug("read-mostly answers dropped", group=group)

        return changed

    async def answer(
        self,
        request: Request,
        group: str,
        render: Callable[[], Awaitable[Any]],
        adapter: TypeAdapter[Any],
        *,
        cache_control: str,
    ) -> Response:
        """The answer to ``request`` in ``group``: from memory when it is there and still true, else rendered
        (``render()``, serialized with ``adapter``) and kept; 304 when the client's ``If-None-Match`` holds it."""
        cache = self._cache(request)
        state = cache.groups[group]
        key = request.url.path + "?" + "&".join(sorted(f"{k}={v}" for k, v in request.query_params.multi_items()))
        epoch = await self._listen(request, cache)
        entry = state.entries.get(key)
        if entry is None or epoch is None or entry.epoch != epoch:
            generation = state.generation
            body = adapter.dump_json(await render())
            entry = _Entry(_etag(body), body, epoch if epoch is not None else -1)
            if epoch is not None and generation == state.generation:
                if len(state.entries) >= MAX_ENTRIES:
                    state.entries.clear()
                state.entries[key] = entry
        headers = {"ETag": entry.etag, "Cache-Control": cache_control}
        if _matches(request.headers.get("if-none-match"), entry.etag):
            return Response(status_code=304, headers=headers)
        return Response(content=entry.body, media_type="application/json", headers=headers)
