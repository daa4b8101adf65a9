"""The gateway's own metrics, beside the kit's (service_kit.metrics): each upstream's latency as the gateway sees
it, each replica's circuit breaker, the rate limits' refusals. Served with the kit's on the gateway's metrics
listener (``LINLI_METRICS_PORT``), never on its public port.

Labels: the upstream's name, the replica's configured base URL (a handful, from the gateway's settings), the
limit's name. Never a caller's address, token, key or phone."""

from __future__ import annotations

import asyncio
import functools
from typing import Any

from prometheus_client import Counter, Gauge, Histogram
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.types import Scope

from gateway.routes import GATEWAY, owner_of, prefix_of
from service_kit.metrics import LATENCY_BUCKETS, pool_use

UPSTREAM_DURATION = Histogram(
    "linli_gateway_upstream_duration_seconds",
    "Time from forwarding a request to a service to its answer's headers, by upstream and outcome",
    ["upstream", "outcome"],
    buckets=LATENCY_BUCKETS,
)
BREAKER_OPEN = Gauge(
    "linli_gateway_breaker_open",
    "1 while the circuit breaker of a replica is open (calls to it paused), 0 while closed",
    ["upstream", "replica"],
    multiprocess_mode="livemax",
)
RATE_LIMITED = Counter(
    "linli_gateway_rate_limited_total", "Requests the gateway refused with 429, by the limit spent", ["limit"]
)
READ_MOSTLY = Counter(
    "linli_gateway_read_mostly_total",
    "Public read-mostly answers by how the gateway gave them: from its memory, or forwarded and kept",
    ["upstream", "answer"],
)


@functools.cache  # a handful of upstreams × outcomes: each series found once, not under a lock every request
def _upstream_series(upstream: str, outcome: str) -> Any:
    return UPSTREAM_DURATION.labels(upstream, outcome)


def upstream_answered(upstream: str, outcome: str, seconds: float) -> None:
    """``outcome``: the answer's status class (``2xx`` … ``5xx``) or the gateway's refusal code (``circuit_open``,
    ``upstream_timeout``, ``upstream_unavailable``, ``bad_gateway``)."""
    _upstream_series(upstream, outcome).observe(seconds)


@functools.cache
def _read_mostly_series(upstream: str, answer: str) -> Any:
    return READ_MOSTLY.labels(upstream, answer)


def read_mostly(upstream: str, answer: str) -> None:
    """``answer``: ``memory`` (no call to the service) or ``kept`` (forwarded, and kept for the next callers)."""
    _read_mostly_series(upstream, answer).inc()


def breaker(upstream: str, replica: str, *, is_open: bool) -> None:
    BREAKER_OPEN.labels(upstream, replica).set(1 if is_open else 0)


def rate_limited(*identifiers: str) -> None:
    """A refusal by the limit the identifiers name: their fixed words only (``ip``, ``principal``, ``api-key``,
    ``sign-in/code/target``), never the address, subject, key or phone after them."""
    kind = identifiers[0] if identifiers else "unknown"
    if kind == "sign-in" and len(identifiers) >= 3:
        kind = "/".join(identifiers[:3])
    RATE_LIMITED.labels(kind).inc()


async def pool_use_forever(engine: AsyncEngine, every_seconds: float) -> None:
    """The gateway's database pool (accounts, tokens, API keys) in ``linli_db_pool_*``, every ``every_seconds``."""
    while True:
        pool_use("gateway", "write", engine)
        await asyncio.sleep(every_seconds)


def route_of(scope: Scope) -> str | None:
    """A forwarded request's route label: the route table's prefix of its service (``/api/v1/bookings/**``); the
    gateway's own routes are named by their templates."""
    path: str = scope["path"]
    if owner_of(path) in (None, GATEWAY):
        return None
    prefix = prefix_of(path)
    return f"{prefix}/**" if prefix else None
