"""The gateway: the only public entry of Linli. It issues tokens, forwards every other path to the service
that owns it, reports health, and publishes one OpenAPI document. It holds no business rules."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

from gateway import console, health, openapi
from gateway import metrics as gateway_metrics
from gateway.accounts.endpoints import router as accounts_router
from gateway.apikeys.endpoints import router as api_keys_router
from gateway.apikeys.exchange import ApiKeyExchange
from gateway.auth import keys, rotation
from gateway.auth.endpoints import router as auth_router
from gateway.auth.verifier import GatewayTokenVerifier
from gateway.config import GatewaySettings
from gateway.forwarded import ClientAddressMiddleware
from gateway.home.endpoints import router as home_router
from gateway.lockout.endpoints import router as lockout_router
from gateway.models import load_models
from gateway.proxy import Proxy
from gateway.ratelimit import EdgeLimiter
from gateway.readmostly import EdgeCopies
from gateway.residents import erasure
from gateway.residents.endpoints import router as residents_router
from gateway.residents.linking import ResidentLinker
from gateway.residents.models import SEALED
from gateway.routes import GATEWAY, owner_of
from gateway.upstreams import Upstreams
from service_kit.apidocs import docs_router
from service_kit.app import HeadAsGet
from service_kit.auth import GatewayScope
from service_kit.db import create_engine, create_sessionmaker
from service_kit.documents import FORM_ALLOWANCE, is_upload_route
from service_kit.edge import BodyLimitMiddleware, EdgeMiddleware
from service_kit.errors import install_error_handlers
from service_kit.logging import configure_logging
from service_kit.metrics import HttpMetricsMiddleware, serve_metrics_port
from service_kit.notify.settings import sms_sender
from service_kit.operation_ids import operation_id
from service_kit.protection import Keyring, reseal_forever
from service_kit.responses import LinliJSONResponse
from service_kit.routing import OverridesNotSeen, mount, refuse_threaded_calls
from service_kit.runtime import freeze_startup_heap
from service_kit.tracing import TracingMiddleware, configure_tracing

SERVICE_DIR = Path(__file__).resolve().parent.parent


class ForwardOwnedPaths:
    """Innermost middleware: hands a path the route table gives to a service to the proxy at once. No gateway
    route lies under a service's prefix, so this is what the router would do, minus matching every route."""

    def __init__(self, app: ASGIApp, proxy: ASGIApp) -> None:
        self.app = app
        self.proxy = proxy

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and owner_of(scope["path"]) not in (None, GATEWAY):
            await self.proxy(scope, receive, send)
        else:
            await self.app(scope, receive, send)


def create_app(settings: GatewaySettings | None = None) -> FastAPI:
    """The gateway app; also a uvicorn factory (``uvicorn --factory gateway.app:create_app``)."""
    settings = settings or GatewaySettings()
    configure_logging("gateway", level=settings.log_level, json=settings.log_json)
    traced = configure_tracing("gateway")
    load_models()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # In production the key is provisioned (one key for every replica), never made up on the spot.
        keyring = await asyncio.to_thread(
            keys.load_keyring, settings.signing_key_path, create=settings.environment != "production"
        )
        engine = create_engine(
            settings.database_url,
            echo=settings.database_echo,
            pool_size=settings.database_pool_size,
            max_overflow=settings.database_max_overflow,
        )
        upstreams = Upstreams(settings)
        await upstreams.start()
        app.state.settings = settings
        app.state.engine = engine
        # Residents' phones are sealed at rest (service_kit/protection.py): every session carries the data keyring.
        app.state.sessionmaker = create_sessionmaker(engine, keyring=Keyring.from_settings(settings))
        app.state.api_keys = ApiKeyExchange(settings, app.state.sessionmaker)
        app.state.token_verifier = GatewayTokenVerifier(settings, keyring)
        rotation.install_keyring(app, keyring)
        app.state.upstreams = upstreams
        app.state.sms_sender = sms_sender(settings)
        app.state.limiter = EdgeLimiter(settings)
        app.state.read_mostly = EdgeCopies(
            upstreams,
            lambda: app.state.keyring.current.sign_call(
                settings.jwt_issuer, settings.jwt_audience, GatewayScope.read_mostly.value
            ),
            enabled=settings.read_mostly_copies,
            wait_seconds=settings.read_mostly_poll_seconds,
        )
        app.state.breakers = upstreams.breakers
        app.state.openapi = openapi.OpenAPIAggregator(
            app, upstreams, settings.openapi_cache_seconds, settings.openapi_retry_seconds
        )
        # The gateway's metrics on a listener of their own: its public port serves no /metrics.
        metrics_listener = (
            serve_metrics_port(settings.metrics_port, settings.metrics_host)
            if settings.metrics_port is not None and settings.metrics_enabled
            else None
        )
        app.state.metrics_listener = metrics_listener
        # Its database pool's use, for that listener (read on a timer: the listener answers from a thread).
        pool_gauges = asyncio.create_task(
            gateway_metrics.pool_use_forever(engine, max(settings.metrics_refresh_seconds, 1.0)), name="pool-gauges"
        )
        reloading = asyncio.create_task(rotation.reload_forever(app, settings), name="signing-key-reload")
        # After a data-key rotation, phones sealed with a retired key are sealed again (any replica; safe at once).
        stop_resealing = asyncio.Event()
        resealing = asyncio.create_task(
            reseal_forever(
                app.state.sessionmaker,
                SEALED,
                every_seconds=settings.data_reseal_sweep_seconds,
                batch=settings.data_reseal_batch,
                stopping=stop_resealing,
            ),
            name="data-reseal",
        )
        # Erasures the forwarded DELETE's answer did not let this replica forget (gateway/residents/erasure.py).
        reconciling = asyncio.create_task(
            erasure.reconcile_forever(
                app.state.sessionmaker,
                lambda: ResidentLinker(upstreams, app.state.keyring.current, settings),
                every_seconds=settings.erasure_reconcile_seconds,
                stopping=stop_resealing,
            ),
            name="erasure-reconcile",
        )
        freeze_startup_heap()
        try:
            yield
        finally:
            reloading.cancel()
            pool_gauges.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reloading
            stop_resealing.set()  # it ends after the transaction under way
            await resealing
            await reconciling
            await app.state.read_mostly.close()
            await upstreams.close()
            await engine.dispose()
            if metrics_listener is not None:
                await asyncio.to_thread(metrics_listener.stop)

    app = FastAPI(
        title="Linli",
        description="The community services platform of the district: one API through the gateway.",
        version="0.1.0",
        lifespan=lifespan,
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
        # Linli's spans are service_kit.tracing's (named by route template, from its own provider); FastAPI would
        # otherwise look for a provider (in os.environ) on every request (docs/gateway-benchmark.md).
        telemetry={"tracing": False, "metrics": False, "logs": False},
        # The gateway's own answers write date-times as every service's do (service_kit.responses).
        default_response_class=LinliJSONResponse,
        # The operation ids every service's document has too (service_kit.operation_ids).
        generate_unique_id_function=operation_id,
    )
    install_error_handlers(app)
    # Its own modules' routes are served as built (service_kit.routing.mount), and would not see an override.
    app.dependency_overrides = OverridesNotSeen()
    mount(app, auth_router)
    mount(app, residents_router)
    mount(app, accounts_router)
    mount(app, lockout_router)
    mount(app, api_keys_router)
    app.include_router(health.router)
    app.include_router(openapi.router)
    app.include_router(docs_router(app.title))
    mount(app, home_router)
    app.include_router(console.router)
    refuse_threaded_calls(app)
    # Whatever no gateway route matches (a path, not a method) is forwarded to the service owning it.
    app.router.default = Proxy()
    # The gateway's own GET routes answer HEAD too; a forwarded HEAD stays HEAD (its service answers it).
    app.add_middleware(HeadAsGet)
    # A path a service owns goes straight there, without first trying every gateway route (docs/gateway-benchmark.md).
    app.add_middleware(ForwardOwnedPaths, proxy=app.router.default)

    app.add_middleware(
        BodyLimitMiddleware,
        max_bytes=settings.max_body_bytes,
        read_timeout_seconds=settings.body_read_timeout_seconds,
        # Only the routes that take a document accept a body as large as one (service_kit.documents).
        upload_bytes=settings.max_document_bytes + FORM_ALLOWANCE,
        is_upload=is_upload_route,
    )
    if settings.cors_allow_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_allow_origins,
            allow_methods=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "Idempotency-Key", "X-API-Key", "X-Request-ID"],
            expose_headers=["Retry-After", "X-Request-ID", "Location"],
            max_age=600,
        )
    # Request id, security headers and the request log, in one layer outside CORS (as they were as three).
    app.add_middleware(EdgeMiddleware)
    if traced:
        # A span per request, continuing the caller's traceparent; the request log line is written under it.
        app.add_middleware(TracingMiddleware)
    # Outermost: who the caller is (the trusted proxies' X-Forwarded-For), before anything logs or counts them.
    app.add_middleware(ClientAddressMiddleware, trusted=settings.trusted_proxies)
    if settings.metrics_enabled:
        # Every answer, counted by route: a forwarded path by its service's prefix (gateway/metrics.py).
        app.add_middleware(HttpMetricsMiddleware, service="gateway", route_of=gateway_metrics.route_of)
    return app
