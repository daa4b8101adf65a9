"""The services behind the gateway, reached through one shared aiohttp session (connection pooling)."""

from __future__ import annotations

import asyncio
import json
from typing import Any, Literal

import aiohttp
import structlog

from gateway.config import GatewaySettings
from gateway.routes import UPSTREAMS

log = structlog.get_logger("linli.gateway.upstreams")

Readiness = Literal["ok", "down"]


class Upstreams:
    def __init__(self, settings: GatewaySettings) -> None:
        self.settings = settings
        self.urls = settings.upstream_urls()
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        settings = self.settings
        connector = aiohttp.TCPConnector(
            limit=settings.upstream_max_connections,
            keepalive_timeout=settings.upstream_keepalive_seconds,
            ttl_dns_cache=300,
        )
        self._session = aiohttp.ClientSession(
            connector=connector,
            # One session serves every caller: it must never keep cookies between them.
            cookie_jar=aiohttp.DummyCookieJar(),
            # Bytes pass through untouched: the caller decodes what the service encoded.
            auto_decompress=False,
            # Headers aiohttp would invent; the caller's own are forwarded instead.
            skip_auto_headers=("User-Agent", "Accept-Encoding", "Content-Type"),
            timeout=aiohttp.ClientTimeout(
                total=None,
                sock_connect=settings.upstream_connect_timeout_seconds,
                sock_read=settings.upstream_timeout_seconds,
            ),
            trust_env=False,
        )

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            raise RuntimeError("the upstream session is not started (the app's lifespan did not run)")
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _get_json(self, service: str, path: str) -> tuple[int, Any]:
        timeout = aiohttp.ClientTimeout(total=self.settings.health_timeout_seconds)
        async with self.session.get(f"{self.urls[service]}{path}", timeout=timeout) as response:
            body = await response.read()
            try:
                return response.status, json.loads(body)
            except ValueError:
                return response.status, None

    async def readiness(self, service: str) -> Readiness:
        """A service is ``ok`` when its ``/readyz`` answers 200 within the health timeout."""
        try:
            status, _ = await self._get_json(service, "/readyz")
        except (aiohttp.ClientError, TimeoutError) as exc:
            log.info("service not ready", service=service, error=repr(exc))
            return "down"
        return "ok" if status == 200 else "down"

    async def readiness_of_all(self) -> dict[str, Readiness]:
        results = await asyncio.gather(*(self.readiness(name) for name in UPSTREAMS))
        return dict(zip(UPSTREAMS, results, strict=True))

    async def openapi(self, service: str) -> dict[str, Any] | None:
        """The service's OpenAPI document, or None when it cannot be had right now."""
        try:
            status, document = await self._get_json(service, "/openapi.json")
        except (aiohttp.ClientError, TimeoutError) as exc:
            log.info("service's OpenAPI unavailable", service=service, error=repr(exc))
            return None
        if status != 200 or not isinstance(document, dict) or not isinstance(document.get("paths"), dict):
            return None
        return document
