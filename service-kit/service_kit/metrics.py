"""Metrics: what the people who run Linli watch, in Prometheus text at ``/metrics``, one mechanism for every process.

- **HTTP (RED)**: ``linli_http_requests_total`` and ``linli_http_request_duration_seconds`` per service, method,
  route *template* (``/api/v1/bookings/{booking_id}``, never a raw path) and status; errors are the 5xx statuses.
- **Event backbone**: publish latency and outcomes of the outbox relay, each durable consumer's events by outcome,
  redeliveries and dead letters; and, read when scraped (``refresh``), the outbox backlog and the age of its oldest
  unsent event, the stored dead letters by type, each durable's JetStream ``num_pending`` and the database pools.
- **Domain**: each service adds its own scrape-time probes (``ServiceSpec.metrics_probes``: bookings by channel and
  status, complaints past their SLA) and counters (SMS delivery failures).

Labels never carry personal data or ids: services, routes as templates, event types, durable names, statuses.

Where it is served: a service's ``/metrics`` is on its own port, which only the cluster reaches (the gateway routes
no such path). The gateway's public listener has none; it serves its metrics on a listener of its own
(``LINLI_METRICS_PORT``, ``serve_metrics_port``), as does a service's standalone worker when given one.

Several worker processes (``uvicorn --workers N``): set ``PROMETHEUS_MULTIPROC_DIR`` to an empty directory the
workers share, and whichever worker answers a scrape reports the sum over all of them (prometheus-client's
multiprocess mode); gauges read from the database report the most recent value, the pools' in-use the sum.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import structlog
from fastapi import APIRouter, Request
from fastapi.responses import Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
    start_http_server,
)
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service_kit.events.tables import dead_letter, outbox_event
from service_kit.routing import route_template, service_router
from service_kit.timeutil import utcnow

if TYPE_CHECKING:
    from service_kit.runtime import Runtime

log = structlog.get_logger("linli.metrics")

MULTIPROC_DIR_ENV = "PROMETHEUS_MULTIPROC_DIR"
# Seconds: from a few ms (a cached read) to the gateway's slow routes (exports).
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
# A method outside these is counted as OTHER: a client's made-up method never becomes a series of its own.
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED = "unmatched"  # the route label of a path no route serves (404s): one series, whatever the path
READ_TIMEOUT_SECONDS = 5.0  # the most a scrape waits for the database's figures

# ------------------------------------------------------------------ HTTP

HTTP_REQUESTS = Counter(
    "linli_http_requests_total",
    "HTTP requests answered, by service, method, route template and status",
    ["service", "method", "route", "status"],
)
HTTP_DURATION = Histogram(
    "linli_http_request_duration_seconds",
    "Time to answer an HTTP request (headers to last byte), by service, method and route template",
    ["service", "method", "route"],
    buckets=LATENCY_BUCKETS,
)

EDGE_CUTS = Counter(
    "linli_edge_cuts_total",
    "Clients cut off at the edge: headers or body too slow (service_kit.edge, service_kit.server)",
    ["reason"],
)

# ------------------------------------------------------------------ events

OUTBOX_PUBLISHED = Counter(
    "linli_outbox_published_total", "Outbox events JetStream acknowledged", ["service", "outcome"]
)
OUTBOX_PUBLISH_DURATION = Histogram(
    "linli_outbox_publish_seconds",
    "Time from handing a batch of outbox events to JetStream to its acknowledgements",
    ["service"],
    buckets=LATENCY_BUCKETS,
)
OUTBOX_BACKLOG = Gauge(
    "linli_outbox_backlog", "Outbox events not yet published", ["service"], multiprocess_mode="livemostrecent"
)
OUTBOX_OLDEST_AGE = Gauge(
    "linli_outbox_oldest_unsent_age_seconds",
    "Age of the oldest outbox event not yet published (0 when none waits)",
    ["service"],
    multiprocess_mode="livemostrecent",
)
CONSUMER_EVENTS = Counter(
    "linli_consumer_events_total",
    "Events a durable consumer settled, by outcome (applied, duplicate, skipped, retry, dead_letter)",
    ["service", "durable", "outcome"],
)
CONSUMER_REDELIVERIES = Counter(
    "linli_consumer_redeliveries_total", "Deliveries of an event after its first", ["service", "durable"]
)
DEAD_LETTERED = Counter(
    "linli_dead_lettered_total", "Events dead-lettered, by durable and event type", ["service", "durable", "type"]
)
DEAD_LETTERS = Gauge(
    "linli_dead_letters",
    "Dead letters stored and not replayed, by durable and event type",
    ["service", "durable", "type"],
    multiprocess_mode="livemostrecent",
)
CONSUMER_PENDING = Gauge(
    "linli_consumer_pending",
    "Events in the stream a durable consumer has not been delivered yet (JetStream num_pending)",
    ["service", "durable"],
    multiprocess_mode="livemostrecent",
)
CONSUMER_ACK_PENDING = Gauge(
    "linli_consumer_ack_pending",
    "Events delivered to a durable consumer and not yet acknowledged (JetStream num_ack_pending)",
    ["service", "durable"],
    multiprocess_mode="livemostrecent",
)
NATS_CONNECTED = Gauge(
    "linli_nats_connected", "1 while the process is connected to NATS", ["service"], multiprocess_mode="livemin"
)

# ------------------------------------------------------------------ database

DB_POOL_SIZE = Gauge(
    "linli_db_pool_size", "Connections the pool keeps", ["service", "pool"], multiprocess_mode="livesum"
)
DB_POOL_IN_USE = Gauge(
    "linli_db_pool_in_use", "Connections checked out of the pool", ["service", "pool"], multiprocess_mode="livesum"
)
DB_POOL_OVERFLOW = Gauge(
    "linli_db_pool_overflow",
    "Connections open beyond the pool's size (negative: room left before the size is reached)",
    ["service", "pool"],
    multiprocess_mode="livesum",
)

# ------------------------------------------------------------------ domain shared by services

SMS_SENT = Counter("linli_sms_sent_total", "Text messages the SMS provider took, by kind", ["service", "kind"])
SMS_FAILURES = Counter(
    "linli_sms_failures_total",
    "Text messages the SMS provider refused or could not take, by kind and the provider's error code",
    ["service", "kind", "code"],
)


def published(service: str, acked: int, failed: int, seconds: float) -> None:
    """One relay batch: how many JetStream acknowledged, how many failed, and how long the acknowledgements took."""
    if acked:
        OUTBOX_PUBLISHED.labels(service, "published").inc(acked)
    if failed:
        OUTBOX_PUBLISHED.labels(service, "failed").inc(failed)
    OUTBOX_PUBLISH_DURATION.labels(service).observe(seconds)


def consumed(service: str, durable: str, outcome: str, deliveries: int) -> None:
    """One delivery a durable consumer settled (``outcome``: applied, duplicate, skipped, retry, dead_letter)."""
    CONSUMER_EVENTS.labels(service, durable, outcome).inc()
    if deliveries > 1:
        CONSUMER_REDELIVERIES.labels(service, durable).inc()


def dead_lettered(service: str, durable: str, event_type: str) -> None:
    DEAD_LETTERED.labels(service, durable, event_type[:120]).inc()


def sms_outcome(service: str, kind: str, error: BaseException | None) -> None:
    """Count one attempt to send an SMS of ``kind`` (a template name, never a phone or text)."""
    if error is None:
        SMS_SENT.labels(service, kind).inc()
        return
    code = getattr(error, "code", None) or type(error).__name__
    SMS_FAILURES.labels(service, kind, str(code)[:40]).inc()


# ------------------------------------------------------------------ the scrape


def registry() -> CollectorRegistry:
    """What a scrape reports: this process's metrics, or, with ``PROMETHEUS_MULTIPROC_DIR``, every worker's."""
    if os.environ.get(MULTIPROC_DIR_ENV):
        collected = CollectorRegistry()
        multiprocess.MultiProcessCollector(collected)
        return collected
    return REGISTRY


def exposition() -> bytes:
    return generate_latest(registry())


def metrics_response() -> Response:
    return Response(exposition(), media_type=CONTENT_TYPE_LATEST)


class LabelledGauge:
    """Sets a gauge's whole family at once: a label set that was reported and is no more reads 0 (a dead-letter
    type replayed away) rather than keeping its last value."""

    def __init__(self, gauge: Gauge) -> None:
        self.gauge = gauge
        self._seen: set[tuple[str, ...]] = set()

    def set_all(self, values: dict[tuple[str, ...], float]) -> None:
        for labels in self._seen - values.keys():
            self.gauge.labels(*labels).set(0)
        for labels, value in values.items():
            self.gauge.labels(*labels).set(value)
        self._seen |= values.keys()


MetricsProbe = Callable[[AsyncSession], Awaitable[None]]


@dataclass
class ScrapeState:
    """What a service's scrapes read from its database and NATS, at most every ``refresh_seconds``, so that several
    scrapers (or a dashboard's refresh) cost one set of queries."""

    refresh_seconds: float
    probes: Sequence[MetricsProbe] = ()
    clock: Callable[[], float] = time.monotonic
    _last: float | None = None
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    _dead_letters: LabelledGauge = field(default_factory=lambda: LabelledGauge(DEAD_LETTERS))

    async def refresh(self, runtime: Runtime) -> None:
        async with self._lock:
            now = self.clock()
            if self._last is not None and now - self._last < self.refresh_seconds:
                return
            self._last = now
            service = runtime.service
            NATS_CONNECTED.labels(service).set(1 if runtime.nats_connected() else 0)
            pool_use(service, "write", runtime.engine)
            if runtime.read_engine.sync_engine.pool is not runtime.engine.sync_engine.pool:
                pool_use(service, "read", runtime.read_engine)
            try:
                # Within a scrape's patience (Prometheus waits 10 s by default): a stuck database is not waited on.
                async with asyncio.timeout(READ_TIMEOUT_SECONDS), runtime.read_sessionmaker() as session:
                    await self._read_database(session, service)
                    for probe in self.probes:
                        await probe(session)
            except Exception as exc:  # noqa: BLE001 - a scrape answers with what it has; the database is away
                log.warning("metrics not read from the database", error=str(exc))
            await consumer_lag(runtime)

    async def _read_database(self, session: AsyncSession, service: str) -> None:
        backlog, oldest = (
            await session.execute(
                select(func.count(), func.min(outbox_event.c.created_at)).where(outbox_event.c.published_at.is_(None))
            )
        ).one()
        OUTBOX_BACKLOG.labels(service).set(backlog)
        age = (utcnow() - oldest).total_seconds() if oldest is not None else 0.0
        OUTBOX_OLDEST_AGE.labels(service).set(max(0.0, age))
        letters = await session.execute(
            select(dead_letter.c.consumer, dead_letter.c.type, func.count())
            .where(dead_letter.c.status == "dead")
            .group_by(dead_letter.c.consumer, dead_letter.c.type)
        )
        self._dead_letters.set_all({(service, consumer, kind): count for consumer, kind, count in letters})


def pool_use(service: str, name: str, engine: AsyncEngine) -> None:
    """The pool's size, connections checked out and overflow (a pool without them, SQLite's reader: skipped)."""
    pool: Any = engine.sync_engine.pool
    if not all(hasattr(pool, attr) for attr in ("size", "checkedout", "overflow")):
        return
    DB_POOL_SIZE.labels(service, name).set(pool.size())
    DB_POOL_IN_USE.labels(service, name).set(pool.checkedout())
    DB_POOL_OVERFLOW.labels(service, name).set(pool.overflow())


async def consumer_lag(runtime: Runtime) -> None:
    """Each durable consumer's ``num_pending`` and ``num_ack_pending``, as JetStream counts them (the same whichever
    replica asks); nothing while NATS is away."""
    js = runtime.js
    if js is None or not runtime.nats_connected():
        return
    for subscription in runtime.subscriptions:
        durable = f"{runtime.service}-{subscription.name}"
        try:
            info = await asyncio.wait_for(js.consumer_info(runtime.settings.stream_name, durable), timeout=2.0)
        except Exception as exc:  # noqa: BLE001 - not created yet, or NATS went away meanwhile
            log.debug("consumer info not read", durable=durable, error=str(exc))
            continue
        CONSUMER_PENDING.labels(runtime.service, durable).set(info.num_pending or 0)
        CONSUMER_ACK_PENDING.labels(runtime.service, durable).set(info.num_ack_pending or 0)


def metrics_router() -> APIRouter:
    """``GET /metrics`` of a service (its own port; the gateway routes no such path)."""
    router = service_router(tags=["health"])

    @router.get(
        "/metrics",
        summary="Metrics in Prometheus text (reached on the service's own port, never through the gateway)",
        response_class=Response,
        include_in_schema=False,
    )
    async def metrics(request: Request) -> Response:
        state: ScrapeState | None = getattr(request.app.state, "scrape", None)
        runtime = getattr(request.app.state, "runtime", None)
        if state is not None and runtime is not None:
            await state.refresh(runtime)
        return metrics_response()

    return router


# ------------------------------------------------------------------ a listener of its own


@dataclass
class MetricsListener:
    """``/metrics`` served from a thread of this process on a port of its own."""

    port: int
    stop: Callable[[], None]


def serve_metrics_port(port: int, host: str = "127.0.0.1") -> MetricsListener | None:
    """Serve ``/metrics`` on ``host:port`` (0: a port the system picks) from a thread of this process (the
    gateway, a standalone worker). Of several workers given the same port only the first binds it, and it reports
    them all (``PROMETHEUS_MULTIPROC_DIR``); the others get None."""
    try:
        server, thread = start_http_server(port, addr=host, registry=registry())
    except OSError as exc:
        log.info("metrics port held by another worker of this process group", port=port, error=exc.strerror)
        return None
    log.info("metrics served", host=host, port=server.server_port)

    def stop() -> None:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5.0)

    return MetricsListener(port=int(server.server_port), stop=stop)


# ------------------------------------------------------------------ the middleware


RouteNamer = Callable[[Scope], str | None]


def template_of(scope: Scope) -> str:
    """The route template that served ``scope`` (``service_kit.routing``), else ``unmatched``."""
    return route_template(scope) or UNMATCHED


class HttpMetricsMiddleware:
    """Counts and times every HTTP request by route template (outermost, so every answer is seen: a middleware's
    refusal too). ``route_of`` names what the app's routes do not (the gateway's forwarded paths)."""

    def __init__(self, app: ASGIApp, service: str, route_of: RouteNamer | None = None) -> None:
        self.app = app
        self.service = service
        self.route_of = route_of
        # The labelled series, kept at hand (their labels are bounded): a hit costs a dict lookup, not a lock.
        self._counters: dict[tuple[str, str, int], Any] = {}
        self._timers: dict[tuple[str, str], Any] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            elapsed = time.perf_counter() - started
            route = (self.route_of(scope) if self.route_of is not None else None) or template_of(scope)
            method = scope["method"] if scope["method"] in METHODS else "OTHER"
            counter = self._counters.get((method, route, status))
            if counter is None:
                counter = HTTP_REQUESTS.labels(self.service, method, route, str(status))
                self._counters[(method, route, status)] = counter
            counter.inc()
            timer = self._timers.get((method, route))
            if timer is None:
                timer = self._timers[(method, route)] = HTTP_DURATION.labels(self.service, method, route)
            timer.observe(elapsed)
