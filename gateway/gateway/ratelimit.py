"""Rate limits at the edge (moving window, in memory: each replica counts its own callers).

A signed-in caller is counted by token subject, a provider's system by API key, anyone else by IP address;
the sign-in endpoints (password, one-time codes, refresh) have a much smaller budget per IP address.

The window is kept here rather than in ``limits``' in-memory storage: that one inserts every hit at the front of
a list and sweeps expired hits in a background task through a worker thread, a cost every proxied request paid
(docs/gateway-benchmark.md). Here each caller's hits are a queue of times, oldest first; a hit drops the ones that
left the window and appends itself. ``limits`` still parses the settings ("1200/minute")."""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from time import monotonic
from typing import Annotated

from fastapi import Depends, Request
from limits import RateLimitItem, parse

from gateway.config import GatewaySettings
from service_kit.errors import RateLimited

# How often (seconds) callers who have gone quiet are forgotten, so the table does not grow with every IP address.
SWEEP_SECONDS = 60.0


class MovingWindow:
    """At most ``amount`` hits in any ``expiry`` seconds, per key."""

    def __init__(self, clock: Callable[[], float] = monotonic) -> None:
        self.clock = clock  # seconds, monotonic; tests move a clock of their own instead of sleeping
        self._hits: dict[tuple[RateLimitItem, str], tuple[float, deque[float]]] = {}
        self._next_sweep = clock() + SWEEP_SECONDS

    def hit(self, item: RateLimitItem, key: str) -> float | None:
        """Count one hit; None when it fits, else the seconds until the oldest hit leaves the window."""
        now = self.clock()
        if now >= self._next_sweep:
            self._sweep(now)
        entry = self._hits.get((item, key))
        if entry is None:
            expiry = float(item.get_expiry())
            entry = self._hits[(item, key)] = (expiry, deque())
        expiry, hits = entry
        cutoff = now - expiry
        while hits and hits[0] <= cutoff:
            hits.popleft()
        if len(hits) >= item.amount:
            return hits[0] + expiry - now if hits else expiry
        hits.append(now)
        return None

    def _sweep(self, now: float) -> None:
        self._next_sweep = now + SWEEP_SECONDS
        quiet = [key for key, (expiry, hits) in self._hits.items() if not hits or hits[-1] <= now - expiry]
        for key in quiet:
            del self._hits[key]


class EdgeLimiter:
    def __init__(self, settings: GatewaySettings) -> None:
        self._window = MovingWindow()
        self.principal = parse(settings.rate_limit_principal)
        self.api_key = parse(settings.rate_limit_api_key)
        self.anonymous = parse(settings.rate_limit_anonymous)
        self.sign_in = parse(settings.rate_limit_sign_in)

    async def check(self, item: RateLimitItem, *identifiers: str) -> None:
        """Count one request; raise RateLimited (429 with Retry-After) when the budget is spent."""
        remaining = self._window.hit(item, "/".join(identifiers))
        if remaining is None:
            return
        wait = max(1, math.ceil(remaining))
        raise RateLimited(f"Too many requests; try again in {wait} s.", code="rate_limited", retry_after=wait)


def client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


async def limit_sign_in(request: Request) -> None:
    """Dependency of the sign-in endpoints: a small budget per IP address for all of them together."""
    limiter: EdgeLimiter = request.app.state.limiter
    await limiter.check(limiter.sign_in, "sign-in", client_ip(request))


SignInLimit = Annotated[None, Depends(limit_sign_in)]
