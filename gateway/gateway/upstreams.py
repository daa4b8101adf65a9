"""The services behind the gateway, reached through a pool of keep-alive connections per replica
(gateway/transport.py: the gateway's own client, gateway/http1.py, or aiohttp's).

A service may run as several replicas (``LINLI_GATEWAY_<SERVICE>_URL`` lists their base URLs). Requests take
the replicas in turn (round-robin); each replica has its own circuit breaker, and a replica whose circuit is
open is skipped. When a replica fails, the request moves on to the next one if that cannot do harm:

- the connection could not be made (refused, connect timeout): nothing reached the service, so any method
  moves on;
- every connection to the replica stayed busy for the request's whole time (``PoolTimeout``): nothing was sent,
  so any method moves on, and the replica's circuit does not count it (the replica is busy, not failing); when
  no replica is left the caller gets 503 ``upstream_busy`` with Retry-After;
- the connection broke or the answer was too slow after the request may have been sent (the service closed
  the connection, read timeout, a garbled answer): only GET and HEAD move on; a write is answered 502/504,
  since the service may have acted on it.

The gateway answers 503 (with Retry-After) only when every replica is paused, busy or unreachable. A request
HTTP/1.1 cannot carry as given (a control character in a header, say) is 400 ``unforwardable_request``: it never
leaves the gateway. Each attempt on a replica has the request's timeout as its deadline (gateway/http1.py).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

import structlog
from multidict import CIMultiDict

from gateway import metrics
from gateway.breaker import CircuitBreakers
from gateway.config import GatewaySettings
from gateway.errors import (
    RETRY_AFTER_SECONDS,
    BadGateway,
    Unforwardable,
    UpstreamBusy,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from gateway.http1 import BrokenResponse, Disconnected, InvalidRequest, NotSent, PoolTimeout, UpstreamError
from gateway.routes import UPSTREAMS
from gateway.transport import ReplicaPool, Response, replica_pool
from service_kit.errors import LinliError

log = structlog.get_logger("linli.gateway.upstreams")

Readiness = Literal["ok", "degraded", "down"]

# Methods that may be sent again (to another replica) after the service may have received them: never a write.
RESENDABLE_METHODS = frozenset({"GET", "HEAD"})


@dataclass(frozen=True)
class Replica:
    service: str
    url: str  # base URL, no trailing slash; also the key of the replica's circuit


class _Failed(Exception):
    """One replica failed this request; ``sent`` tells whether the service may have received it, ``blamed``
    whether it counts against the replica's circuit."""

    def __init__(self, error: LinliError, *, sent: bool, blamed: bool = True) -> None:
        super().__init__(str(error))
        self.error = error
        self.sent = sent
        self.blamed = blamed


class Upstreams:
    def __init__(self, settings: GatewaySettings) -> None:
        self.settings = settings
        self.replicas: dict[str, tuple[Replica, ...]] = {
            name: tuple(Replica(name, url) for url in urls) for name, urls in settings.upstream_urls().items()
        }
        self.metered = settings.metrics_enabled
        service_of = {replica.url: name for name, replicas in self.replicas.items() for replica in replicas}
        self.breakers = CircuitBreakers(
            settings.circuit_failure_threshold,
            settings.circuit_open_seconds,
            on_change=lambda url, is_open: metrics.breaker(service_of.get(url, "unknown"), url, is_open=is_open),
        )
        self._turns: dict[str, Iterator[int]] = {name: itertools.count() for name in self.replicas}
        self._pools: dict[str, ReplicaPool] = {}

    async def start(self) -> None:
        settings = self.settings
        self._pools = {
            replica.url: replica_pool(
                settings.upstream_client,
                replica.url,
                limit=settings.upstream_max_connections,
                keepalive_seconds=settings.upstream_keepalive_seconds,
                connect_timeout_seconds=settings.upstream_connect_timeout_seconds,
            )
            for replicas in self.replicas.values()
            for replica in replicas
        }

    def _pool(self, replica: Replica) -> ReplicaPool:
        pool = self._pools.get(replica.url)
        if pool is None:
            raise RuntimeError("the upstream pools are not started (the app's lifespan did not run)")
        return pool

    async def close(self) -> None:
        for pool in self._pools.values():
            await pool.aclose()
        self._pools = {}

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
        body: bytes = b"",
        timeout: float | None = None,
    ) -> Response:
        """Send ``method target`` (path and query, already encoded) to a replica of ``service``; the caller
        reads and releases the response. Raises the gateway's 502/503/504 problems when no replica answers."""
        if not self.metered:
            return await self._request(service, method, target, headers=headers, body=body, timeout=timeout)
        started = time.perf_counter()
        try:
            response = await self._request(service, method, target, headers=headers, body=body, timeout=timeout)
        except LinliError as exc:
            metrics.upstream_answered(service, exc.code or str(exc.status), time.perf_counter() - started)
            raise
        metrics.upstream_answered(service, f"{response.status // 100}xx", time.perf_counter() - started)
        return response

    async def _request(
        self,
        service: str,
        method: str,
        target: str,
        *,
        headers: CIMultiDict[str] | dict[str, str] | None = None,
        body: bytes = b"",
        timeout: float | None = None,
    ) -> Response:
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
                if failure.blamed:
                    self.breakers.failed(replica.url)
                else:
                    self.breakers.abandoned(replica.url)
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
        body: bytes,
        seconds: float,
        same_again: bool,
    ) -> Response:
        service = replica.service
        pool = self._pool(replica)
        pairs = list(headers.items()) if headers else []
        for attempt in (1, 2):
            try:
                return await pool.request(method, target, pairs, body, seconds=seconds)
            except InvalidRequest as exc:  # nothing was sent (and the replica is not to blame)
                raise Unforwardable(f"The gateway cannot forward this request: {exc}.") from exc
            except PoolTimeout as exc:
                log.warning("replica busy", replica=replica.url, error=repr(exc))
                busy = UpstreamBusy(
                    f"The {service} service is busy: no connection to it was free within {seconds:g} s.",
                    retry_after=RETRY_AFTER_SECONDS,
                )
                raise _Failed(busy, sent=False, blamed=False) from exc
            except NotSent as exc:
                log.warning("replica unreachable", replica=replica.url, error=repr(exc))
                unreachable = UpstreamUnavailable(
                    f"The {service} service cannot be reached.", retry_after=RETRY_AFTER_SECONDS
                )
                raise _Failed(unreachable, sent=False) from exc
            except Disconnected as exc:
                log.warning("replica closed the connection", replica=replica.url, attempt=attempt, error=repr(exc))
                if same_again and attempt == 1:
                    continue
                closed = BadGateway(f"The {service} service closed the connection without answering.")
                raise _Failed(closed, sent=True) from exc
            except TimeoutError as exc:
                log.warning("replica too slow", replica=replica.url, seconds=seconds)
                slow = UpstreamTimeout(f"The {service} service did not answer within {seconds:g} s.")
                raise _Failed(slow, sent=True) from exc
            except BrokenResponse as exc:
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
            return await _status_and_json(response)
        except (UpstreamError, TimeoutError) as exc:
            raise BadGateway(f"The {service} service broke off its answer.") from exc

    async def post_json(
        self,
        service: str,
        target: str,
        *,
        body: bytes,
        headers: dict[str, str] | None = None,
        timeout: float | None = None,
    ) -> tuple[int, Any]:
        """POST ``body`` to ``target`` of a replica of ``service`` (the gateway's own calls): its status and JSON
        body (None when not JSON). Moves to another replica only when nothing was sent, like any write."""
        response = await self.request(service, "POST", target, headers=headers, body=body, timeout=timeout)
        try:
            return await _status_and_json(response)
        except (UpstreamError, TimeoutError) as exc:
            raise BadGateway(f"The {service} service broke off its answer.") from exc

    # ------------------------------------------------------------------ health and OpenAPI, from any replica

    async def get_json(
        self,
        replica: Replica,
        path: str,
        seconds: float | None = None,
        headers: tuple[tuple[str, str], ...] = (),
    ) -> tuple[int, Any]:
        """GET ``path`` from this ``replica`` alone (no failover, no circuit breaker): its status and JSON body."""
        seconds = seconds or self.settings.health_timeout_seconds
        async with asyncio.timeout(seconds):
            response = await self._pool(replica).request("GET", path, headers, b"", seconds=seconds)
            return await _status_and_json(response)

    async def _replica_readiness(self, replica: Replica) -> Readiness:
        try:
            status, body = await self.get_json(replica, "/readyz")
        except (UpstreamError, TimeoutError) as exc:
            log.info("replica not ready", replica=replica.url, error=repr(exc))
            return "down"
        if status != 200:
            return "down"
        # Ready without NATS (its events wait in its outbox): it serves, and says so.
        return "degraded" if isinstance(body, dict) and body.get("status") == "degraded" else "ok"

    async def readiness_of_replicas(self, service: str) -> dict[str, Readiness]:
        """Each replica's readiness: ``ok`` when its ``/readyz`` answers 200 within the health timeout, ``degraded``
        when that answer says NATS is away."""
        replicas = self.replicas[service]
        results = await asyncio.gather(*(self._replica_readiness(replica) for replica in replicas))
        return {replica.url: result for replica, result in zip(replicas, results, strict=True)}

    async def readiness(self, service: str) -> Readiness:
        """A service is ``ok`` when any of its replicas is ready, ``degraded`` when the best of them is."""
        states = set((await self.readiness_of_replicas(service)).values())
        return "ok" if "ok" in states else "degraded" if "degraded" in states else "down"

    async def readiness_of_all(self) -> dict[str, Readiness]:
        results = await asyncio.gather(*(self.readiness(name) for name in UPSTREAMS))
        return dict(zip(UPSTREAMS, results, strict=True))

    async def openapi(self, service: str) -> dict[str, Any] | None:
        """The service's OpenAPI document from the first replica that gives one, or None when none can now."""
        for replica in self.in_turn(service):
            try:
                # A service builds its document on the first request: seconds on a busy machine.
                status, document = await self.get_json(replica, "/openapi.json", self.settings.openapi_timeout_seconds)
            except (UpstreamError, TimeoutError) as exc:
                log.info("replica's OpenAPI unavailable", replica=replica.url, error=repr(exc))
                continue
            if status == 200 and isinstance(document, dict) and isinstance(document.get("paths"), dict):
                return document
        return None


async def _status_and_json(response: Response) -> tuple[int, Any]:
    """The answer's status and JSON body (None when not JSON); the response is read to its end and released."""
    try:
        body = await response.read()
    finally:
        response.release()
    try:
        return response.status, json.loads(body)
    except ValueError:
        return response.status, None
