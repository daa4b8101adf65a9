"""Rate limits at the edge (moving window, in memory: each replica counts its own callers).

A signed-in caller is counted by token subject, a provider's system by API key, anyone else by client address
(gateway/forwarded.py: the socket's peer, or what the trusted proxies say). The sign-in endpoints have a much
smaller budget, counted twice: per (kind of sign-in, client address), so one caller's guesses spend nobody else's
budget; and per (kind of sign-in, target) — the username tried, the phone a code goes to or is guessed for — so
guesses at one account from ever new addresses still meet a limit. What outlasts a replica's memory (failures
per account, codes per phone and day) is kept in the database: gateway/lockout.

The window is kept here rather than in ``limits``' in-memory storage: that one inserts every hit at the front of
a list and sweeps expired hits in a background task through a worker thread, a cost every proxied request paid
(docs/gateway-benchmark.md). Here each caller's hits are a queue of times, oldest first; a hit drops the ones that
left the window and appends itself. ``limits`` still parses the settings ("1200/minute")."""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Awaitable, Callable
from enum import StrEnum
from time import monotonic
from typing import Annotated

from fastapi import Depends, Request
from limits import RateLimitItem, parse

from gateway import metrics
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
        self.sign_in_target = parse(settings.rate_limit_sign_in_target)

    async def check(self, item: RateLimitItem, *identifiers: str) -> None:
        """Count one request; raise RateLimited (429 with Retry-After) when the budget is spent."""
        remaining = self._window.hit(item, "/".join(identifiers))
        if remaining is None:
            return
        wait = max(1, math.ceil(remaining))
        metrics.rate_limited(*identifiers)
        raise RateLimited(f"Too many requests; try again in {wait} s.", code="rate_limited", retry_after=wait)


def client_ip(request: Request) -> str:
    """The caller's address as gateway/forwarded.py derived it."""
    return request.client.host if request.client else "unknown"


class SignInKind(StrEnum):
    """The route classes of sign-in: each has its own budgets."""

    password = "password"  # POST /api/v1/auth/token
    code = "code"  # POST /api/v1/auth/otp, /verify, /proof: codes sent to and guessed for a phone
    refresh = "refresh"  # POST /api/v1/auth/refresh


def _limit_sign_in(kind: SignInKind) -> Callable[[Request], Awaitable[None]]:
    async def limit_sign_in(request: Request) -> None:
        limiter: EdgeLimiter = request.app.state.limiter
        await limiter.check(limiter.sign_in, "sign-in", kind, "client", client_ip(request))

    return limit_sign_in


async def limit_target(request: Request, kind: SignInKind, target: str) -> None:
    """Count one attempt at ``target`` (a normalized username or phone), whichever address it comes from."""
    limiter: EdgeLimiter = request.app.state.limiter
    await limiter.check(limiter.sign_in_target, "sign-in", kind, "target", target)


# Dependencies of the sign-in endpoints: a small budget per client address for each kind of sign-in.
PasswordSignInLimit = Annotated[None, Depends(_limit_sign_in(SignInKind.password))]
CodeSignInLimit = Annotated[None, Depends(_limit_sign_in(SignInKind.code))]
RefreshLimit = Annotated[None, Depends(_limit_sign_in(SignInKind.refresh))]
