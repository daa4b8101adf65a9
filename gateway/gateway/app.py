"""The gateway: the only public entry of Linli. It issues tokens, forwards every other path to the service
that owns it, reports health, and publishes one OpenAPI document. It holds no business rules."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from asgi_correlation_id import CorrelationIdMiddleware
from fastapi import FastAPI

from gateway import health, openapi
from gateway.accounts.endpoints import router as accounts_router
from gateway.auth import keys
from gateway.auth.endpoints import router as auth_router
from gateway.auth.verifier import GatewayTokenVerifier
from gateway.config import GatewaySettings
from gateway.middleware import BodyLimitMiddleware, RequestLogMiddleware
from gateway.models import load_models
from gateway.proxy import Proxy
from gateway.upstreams import Upstreams
from service_kit.db import create_engine, create_sessionmaker
from service_kit.errors import install_error_handlers
from service_kit.logging import configure_logging

SERVICE_DIR = Path(__file__).resolve().parent.parent


def create_app(settings: GatewaySettings | None = None) -> FastAPI:
    """The gateway app; also a uvicorn factory (``uvicorn --factory gateway.app:create_app``)."""
    settings = settings or GatewaySettings()
    configure_logging("gateway", level=settings.log_level, json=settings.log_json)
    load_models()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # In production the key is provisioned (one key for every replica), never made up on the spot.
        signing_key = await asyncio.to_thread(
            keys.load_or_create, settings.signing_key_path, create=settings.environment != "production"
        )
        engine = create_engine(settings.database_url, echo=settings.database_echo)
        upstreams = Upstreams(settings)
        await upstreams.start()
        app.state.settings = settings
        app.state.engine = engine
        app.state.sessionmaker = create_sessionmaker(engine)
        app.state.signing_key = signing_key
        app.state.token_verifier = GatewayTokenVerifier(settings, signing_key)
        app.state.upstreams = upstreams
        app.state.openapi = openapi.OpenAPIAggregator(app, upstreams, settings.openapi_cache_seconds)
        try:
            yield
        finally:
            await upstreams.close()
            await engine.dispose()

    app = FastAPI(
        title="Linli",
        description="The community services platform of the district: one API through the gateway.",
        version="0.1.0",
        lifespan=lifespan,
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
    )
    install_error_handlers(app)
    app.include_router(auth_router)
    app.include_router(accounts_router)
    app.include_router(health.router)
    app.include_router(openapi.router)
    # Whatever no gateway route matches (a path, not a method) is forwarded to the service owning it.
    app.router.default = Proxy()

    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(RequestLogMiddleware)
    app.add_middleware(CorrelationIdMiddleware, header_name="X-Request-ID")
    return app
