"""The app factory every service uses: lifespan, middleware, errors, health, operations endpoints."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.responses import JSONResponse
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service_kit.apidocs import docs_router, place_examples
from service_kit.documents import FORM_ALLOWANCE, is_upload_route
from service_kit.edge import BodyLimitMiddleware, EdgeMiddleware
from service_kit.errors import install_error_handlers, problem_response, problem_schema
from service_kit.events.consumer import Subscription
from service_kit.idempotency import IdempotencyMiddleware, KeyringSealer
from service_kit.logging import configure_logging
from service_kit.metrics import HttpMetricsMiddleware, MetricsProbe, ScrapeState, metrics_router
from service_kit.operation_ids import operation_id
from service_kit.ops import dead_letter_router
from service_kit.protection import Keyring
from service_kit.responses import LinliJSONResponse
from service_kit.routing import OverridesNotSeen, mount, refuse_threaded_calls, service_router
from service_kit.runtime import BackgroundJob, Runtime, freeze_startup_heap
from service_kit.settings import ServiceSettings
from service_kit.timeutil import TIMESTAMP_CONVENTION
from service_kit.tracing import TracingMiddleware, configure_tracing


@dataclass
class ServiceSpec:
    """What makes one service: its name, routers, event subscriptions and periodic jobs."""

    name: str
    title: str
    settings: ServiceSettings
    routers: Sequence[APIRouter] = ()
    subscriptions: Sequence[Subscription] = ()
    background_jobs: Sequence[BackgroundJob] = ()
    description: str = ""
    version: str = "0.1.0"
    cors_origins: Sequence[str] = field(default_factory=list)
    # The service's own figures, read from its database when /metrics is scraped (service_kit.metrics).
    metrics_probes: Sequence[MetricsProbe] = ()


class HeadAsGet:
    """``HEAD`` is answered as ``GET`` is, without the body (RFC 9110 §9.3.2): FastAPI's routes answer only the
    methods they name, and a provider's uptime check or ``curl -I`` would otherwise get 405 where the gateway's
    policy and CORS allow HEAD. Placed next to the router, so logs and the request id still see HEAD."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return

        async def without_body(message: Message) -> None:
            if message["type"] == "http.response.body":
                message = {**message, "body": b""}
            await send(message)

        as_get = {**scope, "method": "GET"}
        await self.app(as_get, receive, without_body)
        if "route" in as_get:  # the route that answered, for the request's metrics (service_kit.metrics)
            scope["route"] = as_get["route"]


def create_service_app(spec: ServiceSpec) -> FastAPI:
    settings = spec.settings
    configure_logging(spec.name, level=settings.log_level, json=settings.log_json)
    traced = configure_tracing(spec.name)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runtime = Runtime(spec.name, settings, list(spec.subscriptions), list(spec.background_jobs))
        app.state.runtime = runtime
        app.state.sessionmaker = runtime.sessionmaker
        app.state.read_sessionmaker = runtime.read_sessionmaker
        app.state.token_verifier = runtime.token_verifier
        app.state.wake_relay = runtime.wake_relay
        await runtime.start(worker=settings.run_worker)
        freeze_startup_heap()
        try:
            yield
        finally:
            await runtime.stop()

    app = FastAPI(
        title=spec.title,
        description=f"{spec.description}\n\n{TIMESTAMP_CONVENTION}".strip(),
        version=spec.version,
        lifespan=lifespan,
        openapi_url="/openapi.json",
        docs_url=None,
        redoc_url=None,
        # Every JSON answer writes its date-times one way (service_kit.responses).
        default_response_class=LinliJSONResponse,
        # Spans are service_kit.tracing's, named by route template; FastAPI's own would record raw paths and
        # query strings, where a resident's phone number may be.
        telemetry={"tracing": False},
        # Operation ids a generated client can call by: createBooking, not create_booking_api_v1_bookings_post.
        generate_unique_id_function=operation_id,
    )
    install_error_handlers(app)
    # Each router's routes as its module built them, not built again for this app (service_kit.routing.mount).
    mount(app, docs_router(spec.title))
    for router in spec.routers:
        mount(app, router)
    mount(app, dead_letter_router(spec.name))
    mount(app, health_router())
    if settings.metrics_enabled:  # off: nothing is counted, and nothing pretends to be a scrape target
        mount(app, metrics_router())
    app.dependency_overrides = OverridesNotSeen()
    app.state.scrape = ScrapeState(settings.metrics_refresh_seconds, list(spec.metrics_probes))
    refuse_threaded_calls(app)

    app.add_middleware(HeadAsGet)
    sealer = KeyringSealer(Keyring.from_settings(settings))
    app.add_middleware(
        IdempotencyMiddleware,
        sessionmaker=lambda: app.state.sessionmaker,
        stale_after=lambda: timedelta(seconds=spec.settings.idempotency_stale_seconds),
        retention=lambda: timedelta(seconds=spec.settings.idempotency_retention_seconds),
        sealer=lambda: sealer,
    )
    # Reached on its own port, a service keeps the gateway's edge: the same body limit and body deadline...
    app.add_middleware(
        BodyLimitMiddleware,
        max_bytes=settings.max_body_bytes,
        read_timeout_seconds=settings.body_read_timeout_seconds,
        upload_bytes=settings.max_document_bytes + FORM_ALLOWANCE,
        is_upload=is_upload_route,
    )
    if spec.cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=list(spec.cors_origins), allow_methods=["*"])
    # ... and the same request id, headers (Cache-Control: no-store unless a route says otherwise) and request log.
    app.add_middleware(EdgeMiddleware)
    if traced:
        # Outside the edge: its request log line is written under the request's span (with its trace_id).
        app.add_middleware(TracingMiddleware)
    if settings.metrics_enabled:
        # Outermost: every answer is counted by its route template, the edge's refusals too.
        app.add_middleware(HttpMetricsMiddleware, service=spec.name)

    # Declare the problem schema once so every operation's error responses can reference it.
    original_openapi = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = original_openapi()
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        components.setdefault("Problem", problem_schema())
        declare_idempotency_key(schema)
        place_examples(schema)
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app


IDEMPOTENCY_KEY_PARAMETER: dict[str, Any] = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": (
        "Makes a retry safe: a POST sent again with the same key (by the same caller, within 24 hours) gets the "
        "first answer instead of doing it twice; the same key with another body is refused (422 "
        "`idempotency_key_reused`)."
    ),
    "schema": {"type": "string", "minLength": 1, "maxLength": 255},
}


def declare_idempotency_key(document: dict[str, Any]) -> None:
    """Every POST of a service takes ``Idempotency-Key`` (``IdempotencyMiddleware``): the document says so for
    Linli's own API (``/api/``), and a generated client lets the app send one. The standards' facades (Open311)
    keep the parameters their clients know."""
    for path, item in document.get("paths", {}).items():
        operation = item.get("post") if path.startswith("/api/") else None
        if operation is None:
            continue
        parameters = operation.setdefault("parameters", [])
        if not any(p.get("in") == "header" and p.get("name", "").lower() == "idempotency-key" for p in parameters):
            parameters.append(dict(IDEMPOTENCY_KEY_PARAMETER))


def health_router() -> APIRouter:
    router = service_router(tags=["health"])

    @router.get("/livez", summary="Liveness: the process answers (it asks nothing)")
    async def livez() -> dict[str, str]:
        """What a liveness or startup probe asks: it touches neither the database nor NATS (nor the runtime), so
        an outage of either never restarts every replica; ``/readyz`` is the one that asks them."""
        return {"status": "ok"}

    @router.get("/healthz", summary="Liveness: the process answers")
    async def healthz(request: Request) -> dict[str, str]:
        return {"status": "ok", "service": request.app.state.runtime.service}

    @router.get("/readyz", summary="Readiness: the database answers (NATS away is degraded, still ready)")
    async def readyz(request: Request) -> Response:
        """What a readiness probe asks: can this replica serve? It can while its database answers, even with NATS
        away: every write's events wait in the outbox and are published when NATS returns, and consumers catch up
        from their durable position. So NATS away is ``degraded`` (200, said in ``checks``), never 503; taking
        every replica out of rotation for it would refuse writes that would have succeeded. A worker process
        unheard (``LINLI_RUN_WORKER=false``, the worker apart) is ``degraded`` likewise."""
        runtime: Runtime = request.app.state.runtime
        checks = {
            "database": "ok" if await runtime.check_database() else "down",
            "nats": "ok" if runtime.nats_connected() else "down",
            # Relay and consumers: in this process, or a worker process heard lately (service_kit.events.signals).
            "worker": "ok" if runtime.worker_alive() else "down",
        }
        if checks["database"] == "ok":
            status = "ready" if checks["nats"] == checks["worker"] == "ok" else "degraded"
            return JSONResponse({"status": status, "service": runtime.service, "checks": checks})
        return problem_response(
            {
                "type": "about:blank",
                "title": "Not ready",
                "status": 503,
                "code": "not_ready",
                "detail": ", ".join(f"{k} {v}" for k, v in checks.items()),
                "checks": checks,
            },
            {"Retry-After": "1"},
        )

    return router
