"""Rate limits at the edge (moving window, in memory: each replica counts its own callers).

A signed-in caller is counted by token subject, a provider's system by API key, anyone else by IP address;
the sign-in endpoints (password, one-time codes, refresh) have a much smaller budget per IP address."""

from __future__ import annotations

import math
import time
from typing import Annotated

from fastapi import Depends, Request
from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage
from limits.aio.strategies import MovingWindowRateLimiter

from gateway.config import GatewaySettings
from service_kit.errors import RateLimited


class EdgeLimiter:
    def __init__(self, settings: GatewaySettings) -> None:
        self._limiter = MovingWindowRateLimiter(MemoryStorage())
        self.principal = parse(settings.rate_limit_principal)
        self.api_key = parse(settings.rate_limit_api_key)
        self.anonymous = parse(settings.rate_limit_anonymous)
        self.sign_in = parse(settings.rate_limit_sign_in)

    async def check(self, item: RateLimitItem, *identifiers: str) -> None:
        """Count one request; raise RateLimited (429 with Retry-After) when the budget is spent."""
        if await self._limiter.hit(item, *identifiers):
            return
        stats = await self._limiter.get_window_stats(item, *identifiers)
        wait = max(1, math.ceil(stats.reset_time - time.time()))
        raise RateLimited(f"Too many requests; try again in {wait} s.", code="rate_limited", retry_after=wait)


def client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


async def limit_sign_in(request: Request) -> None:
    """Dependency of the sign-in endpoints: a small budget per IP address for all of them together."""
    limiter: EdgeLimiter = request.app.state.limiter
    await limiter.check(limiter.sign_in, "sign-in", client_ip(request))


SignInLimit = Annotated[None, Depends(limit_sign_in)]
