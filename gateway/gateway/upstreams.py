"""The services behind the gateway, reached through one shared aiohttp session (connection pooling).

A service may run as several replicas (``LINLI_GATEWAY_<SERVICE>_URL`` lists their base URLs). Requests take
the replicas in turn (round-robin); each replica has its own circuit breaker, and a replica whose circuit is
open is skipped. When a replica fails, the request moves on to the next one if that cannot do harm:

- the connection could not be made (refused, connect timeout): nothing reached the service, so any method
  moves on;
- the connection broke or the answer was too slow after the request may have been sent (the service closed
  the connection, read timeout, a garbled answer): only GET and HEAD move on; a write is answered 502/504,
  since the service may have acted on it.

The gateway answers 503 (with Retry-After) only when every replica is paused or unreachable.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

import aiohttp
import structlog
from multidict import CIMultiDict
from yarl import URL

from gateway.breaker import CircuitBreakers
from gateway.config import GatewaySettings
from gateway.errors import RETRY_AFTER_SECONDS, BadGateway, UpstreamTimeout, UpstreamUnavailable
from gateway.routes import UPSTREAMS
from service_kit.errors import LinliError

log = structlog.get_logger("linli.gateway.upstreams")

Readiness = Literal["ok", "down"]

# Methods that may be sent again (to another replica) after the service may have received them: never a write.
RESENDABLE_METHODS = frozenset({"GET", "HEAD"})
# The connection was never made: the request did not reach the service.
NOT_SENT = (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError)


@dataclass(frozen=True)
class Replica:
    service: str
    url: str  # base URL, no trailing slash; also the key of the replica's circuit


class _Failed(Exception):
    """One replica failed this request; ``sent`` tells whether the service may have received it."""

    def __init__(self, error: LinliError, *, sent: bool) -> None:
        super().__init__(str(error))
        self.error = error
        self.sent = sent


class Upstreams:
    def __init__(self, settings: GatewaySettings) -> None:
        self.settings = settings
        self.replicas: dict[str, tuple[Replica, ...]] = {
            name: tuple(Replica(name, url) for url in urls) for name, urls in settings.upstream_urls().items()
        }
        self.breakers = CircuitBreakers(settings.circuit_failure_threshold, settings.circuit_open_seconds)
        self._turns: dict[str, Iterator[int]] = {name: itertools.count() for name in self.replicas}
        self._session: aiohttp.ClientSession | None = None
        self._timeouts: dict[float, aiohttp.ClientTimeout] = {}

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
            timeout=self._timeout(settings.upstream_timeout_seconds),
            trust_env=False,
        )
        # aiohttp would send PUT and DELETE again after a broken connection; which requests are sent again, and
        # where, is decided here instead (no public switch exists for it).
        self._session._retry_connection = False

    def _timeout(self, seconds: float) -> aiohttp.ClientTimeout:
        # sock_read also bounds each pause while a response streams back. A route's timeout is one of a few
        # values: made once each, not on every request.
        timeout = self._timeouts.get(seconds)
        if timeout is None:
            timeout = self._timeouts[seconds] = aiohttp.ClientTimeout(
                total=None, sock_connect=self.settings.upstream_connect_timeout_seconds, sock_read=seconds
            )
        return timeout

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            raise RuntimeError("the upstream session is not started (the app's lifespan did not run)")
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    # ------------------------------------------------------------------ requests, balanced and failed over

    def in_turn(self, service: str) -> list[Replica]:
        """The service's replicas, starting with the next one in the round-robin."""
        replicas = self.replicas[service]
        start = next(self._turns[service]) % len(replicas)
        return [*replicas[start:], *replicas[:start]]

    async def request(
        self,
        service: str,
        method: str,
        target: str,
        *,
        headers: CIMultiDict[str] | dict[str, str] | None = None,
        body: bytes | None = None,
        timeout: float | None = None,
    ) -> aiohttp.ClientResponse:
        """Send ``method target`` (path and query, already encoded) to a replica of ``service``; the caller
        reads and releases the response. Raises the gateway's 502/503/504 problems when no replica answers."""
        seconds = timeout or self.settings.upstream_timeout_seconds
        replicas = self.in_turn(service)
        # One replica: a GET may be tried twice on it (a pooled connection the service had just closed).
        same_again = len(replicas) == 1 and method in RESENDABLE_METHODS
        last: LinliError | None = None
        for replica in replicas:
            if not self.breakers.acquire(replica.url):
                continue
            try:
                response = await self._attempt(replica, method, target, headers, body, seconds, same_again)
            except _Failed as failure:
                self.breakers.failed(replica.url)
                last = failure.error
                if failure.sent and method not in RESENDABLE_METHODS:
                    raise failure.error from failure
                continue
            except BaseException:
                self.breakers.abandoned(replica.url)  # cancelled: the caller left
                raise
            self.breakers.succeeded(replica.url)
            return response
        if last is None:
            wait = min(self.breakers.retry_after(replica.url) for replica in replicas)
            raise UpstreamUnavailable(
                f"The {service} service is failing; the gateway pauses calls to it.",
                code="circuit_open",
                retry_after=wait,
            )
        raise last

    async def _attempt(
        self,
        replica: Replica,
        method: str,
        target: str,
        headers: CIMultiDict[str] | dict[str, str] | None,
        body: bytes | None,
        seconds: float,
        same_again: bool,
    ) -> aiohttp.ClientResponse:
        service = replica.service
        url = URL(replica.url + target, encoded=True)
        for attempt in (1, 2):
            try:
                async with asyncio.timeout(seconds):
                    return await self.session.request(
                        method,
                        url,
                        headers=headers,
                        data=body or None,
                        allow_redirects=False,
                        timeout=self._timeout(seconds),
                    )
            except NOT_SENT as exc:
                log.warning("replica unreachable", replica=replica.url, error=repr(exc))
                unreachable = UpstreamUnavailable(
                    f"The {service} service cannot be reached.", retry_after=RETRY_AFTER_SECONDS
                )
                raise _Failed(unreachable, sent=False) from exc
            except aiohttp.ServerDisconnectedError as exc:
                log.warning("replica closed the connection", replica=replica.url, attempt=attempt, error=repr(exc))
                if same_again and attempt == 1:
                    continue
                closed = BadGateway(f"The {service} service closed the connection without answering.")
                raise _Failed(closed, sent=True) from exc
            except TimeoutError as exc:
                log.warning("replica too slow", replica=replica.url, seconds=seconds)
                slow = UpstreamTimeout(f"The {service} service did not answer within {seconds:g} s.")
                raise _Failed(slow, sent=True) from exc
            except aiohttp.ClientError as exc:
                log.warning("replica answered badly", replica=replica.url, error=repr(exc))
                raise _Failed(BadGateway(f"The {service} service answered badly."), sent=True) from exc
        raise AssertionError("unreachable: the last attempt returns or raises")

    async def fetch_json(
        self, service: str, target: str, *, headers: dict[str, str] | None = None, timeout: float | None = None
    ) -> tuple[int, Any]:
        """GET ``target`` from a replica of ``service``: its status and JSON body (None when not JSON).
        Balanced and failed over like any forwarded GET; raises the gateway's 502/503/504 problems."""
        response = await self.request(service, "GET", target, headers=headers, timeout=timeout)
        try:
            body = await response.read()
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise BadGateway(f"The {service} service broke off its answer.") from exc
        finally:
            response.release()
        try:
            return response.status, json.loads(body)
        except ValueError:
            return response.status, None

    # ------------------------------------------------------------------ health and OpenAPI, from any replica

    async def _get_json(self, replica: Replica, path: str) -> tuple[int, Any]:
        timeout = aiohttp.ClientTimeout(total=self.settings.health_timeout_seconds)
        async with self.session.get(f"{replica.url}{path}", timeout=timeout) as response:
            body = await response.read()
            try:
                return response.status, json.loads(body)
            except ValueError:
                return response.status, None

    async def _replica_readiness(self, replica: Replica) -> Readiness:
        try:
            status, _ = await self._get_json(replica, "/readyz")
        except (aiohttp.ClientError, TimeoutError) as exc:
            log.info("replica not ready", replica=replica.url, error=repr(exc))
            return "down"
        return "ok" if status == 200 else "down"

    async def readiness_of_replicas(self, service: str) -> dict[str, Readiness]:
        """Each replica's readiness: ``ok`` when its ``/readyz`` answers 200 within the health timeout."""
        replicas = self.replicas[service]
        results = await asyncio.gather(*(self._replica_readiness(replica) for replica in replicas))
        return {replica.url: result for replica, result in zip(replicas, results, strict=True)}

    async def readiness(self, service: str) -> Readiness:
        """A service is ``ok`` when any of its replicas is ready."""
        replicas = await self.readiness_of_replicas(service)
        return "ok" if "ok" in replicas.values() else "down"

    async def readiness_of_all(self) -> dict[str, Readiness]:
        results = await asyncio.gather(*(self.readiness(name) for name in UPSTREAMS))
        return dict(zip(UPSTREAMS, results, strict=True))

    async def openapi(self, service: str) -> dict[str, Any] | None:
        """The service's OpenAPI document from the first replica that gives one, or None when none can now."""
        for replica in self.in_turn(service):
            try:
                status, document = await self._get_json(replica, "/openapi.json")
            except (aiohttp.ClientError, TimeoutError) as exc:
                log.info("replica's OpenAPI unavailable", replica=replica.url, error=repr(exc))
                continue
            if status == 200 and isinstance(document, dict) and isinstance(document.get("paths"), dict):
                return document
        return None
