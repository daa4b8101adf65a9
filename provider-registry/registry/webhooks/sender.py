"""The background sender: claims due deliveries, signs and sends them, records each attempt, schedules the next.

A delivery is claimed with a lease, so two registry replicas never make the same attempt; the outcome is
written only while the lease is held. 2xx is delivered; 410 Gone disables the endpoint (the provider removed
it); anything else — another status, a redirect (never followed), a timeout, a refused address — waits for
the next attempt of the schedule, each wait drawn between half and all of its nominal value, and after the
last one the delivery is failed. A manual redelivery is a single attempt.
"""

import asyncio
import contextlib
import functools
import json
import random
import ssl
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from registry.config import Settings
from registry.webhooks import repository
from registry.webhooks.guard import IPAddress, Target, UnsafeWebhookUrl, checked_target
from registry.webhooks.models import AttemptTrigger, DeliveryStatus
from registry.webhooks.signing import WEBHOOK_SECRET, sign
from service_kit.events.consumer import raise_if_cancelling
from service_kit.protection import Keyring
from service_kit.runtime import Runtime
from service_kit.timeutil import utcnow

log = structlog.get_logger("linli.registry.webhooks")

EXCERPT_BYTES = 1024
USER_AGENT = "Linli-Webhooks/1.0"


@dataclass(frozen=True)
class Outcome:
    status_code: int | None
    excerpt: str | None
    error: str | None
    duration_ms: int

    connect_failed: bool = False

    @property
    def delivered(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300

    @property
    def gone(self) -> bool:
        return self.status_code == 410


def next_wait(schedule: tuple[float, ...], attempts_made: int) -> float | None:
    """Seconds until the next scheduled attempt after ``attempts_made`` attempts, or None: no more."""
    if attempts_made > len(schedule):
        return None
    nominal = schedule[attempts_made - 1]
    return random.uniform(nominal / 2, nominal)


def request_for(target: Target, address: IPAddress, url: str) -> tuple[httpx.URL, dict[str, str], dict[str, Any]]:
    """The request goes to an address that was checked; Host and TLS SNI still name the provider's host."""
    connect_to = httpx.URL(url).copy_with(host=str(address))
    extensions: dict[str, Any] = {}
    if target.scheme == "https" and target.host != str(address):
        extensions["sni_hostname"] = target.host
    return connect_to, {"host": target.host_header}, extensions


@functools.cache
def tls_context() -> ssl.SSLContext:
    """The system's CA bundle, loaded once per process (a new client would load it again each time)."""
    return httpx.create_ssl_context(trust_env=False)


class WebhookSender:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        settings: Settings,
        *,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.settings = settings
        self.clock = clock  # leases, schedules and the log's age are judged by it; tests move their own
        self.owner = str(uuid.uuid4())
        self.keyring = Keyring.from_settings(settings)
        self.client = httpx.AsyncClient(
            timeout=settings.webhook_timeout_seconds, follow_redirects=False, trust_env=False, verify=tls_context()
        )
        self.attempts_made = 0

    async def close(self) -> None:
        await self.client.aclose()

    async def run(
        self, running: Callable[[], bool] = lambda: True, sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    ) -> None:
        last_purge = None
        try:
            while running():
                try:
                    if last_purge is None or self.clock() - last_purge > timedelta(hours=1):
                        await self.purge_log()
                        last_purge = self.clock()
                    sent = await self.send_due()
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # noqa: BLE001 - the sender outlives database outages
                    raise_if_cancelling()
                    log.warning("webhook pass failed", error=str(exc))
                    sent = 0
                if sent < self.settings.webhook_batch_size:
                    await sleep(self.settings.webhook_poll_seconds)
        finally:
            with contextlib.suppress(Exception):
                await self.close()

    async def purge_log(self) -> None:
        before = self.clock() - timedelta(days=self.settings.webhook_log_retention_days)
        async with self.sessionmaker() as session, session.begin():
            await repository.purge_finished(session, before=before)

    async def send_due(self) -> int:
        """One pass: claim due deliveries, attempt each once (concurrently), record the outcomes."""
        now = self.clock()
        lease_until = now + timedelta(seconds=self.settings.webhook_lease_seconds)
        async with self.sessionmaker() as session, session.begin():
            claimed = await repository.claim_due(
                session, owner=self.owner, now=now, lease_until=lease_until, limit=self.settings.webhook_batch_size
            )
        results = await asyncio.gather(*(self.attempt(row) for row in claimed), return_exceptions=True)
        for row, result in zip(claimed, results, strict=True):
            if isinstance(result, asyncio.CancelledError):
                raise result
            if isinstance(result, BaseException):
                # Not recorded: the lease expires and the attempt is made again.
                log.warning("webhook attempt not recorded", delivery_id=str(row["id"]), error=repr(result))
        return len(claimed)

    def _signatures(self, row: dict[str, Any], message_id: str, timestamp: int, body: bytes) -> str:
        signatures = [sign(self.keyring.open(WEBHOOK_SECRET, row["secret_sealed"]), message_id, timestamp, body)]
        previous_until: datetime | None = row["previous_secret_until"]
        if row["previous_secret_sealed"] and previous_until is not None and previous_until > self.clock():
            # A previous secret whose key was dropped from the settings no longer opens: the new one alone signs.
            with contextlib.suppress(ValueError):
                signatures.append(
                    sign(self.keyring.open(WEBHOOK_SECRET, row["previous_secret_sealed"]), message_id, timestamp, body)
                )
        return " ".join(signatures)

    async def attempt(self, row: dict[str, Any]) -> None:
        message_id = str(row["id"])
        body = json.dumps(row["payload"], ensure_ascii=False, separators=(",", ":")).encode()
        attempted_at = self.clock()
        timestamp = int(attempted_at.timestamp())
        started = time.perf_counter()
        try:
            target = await checked_target(row["url"], allow_loopback=self.settings.webhook_allow_loopback)
            signed = {
                "content-type": "application/json",
                "user-agent": USER_AGENT,
                "webhook-id": message_id,
                "webhook-timestamp": str(timestamp),
                "webhook-signature": self._signatures(row, message_id, timestamp, body),
            }
            # A dual-stack host may not listen on every address it publishes: try the next on a refused connection.
            for address in target.addresses:
                url, headers, extensions = request_for(target, address, row["url"])
                outcome = await self._send(url, headers | signed, extensions, body, started)
                if not outcome.connect_failed:
                    break
        except UnsafeWebhookUrl as exc:
            outcome = Outcome(None, None, f"refused before sending: {exc}"[:500], _ms(started))
        except ValueError as exc:  # a secret that no longer opens (the data key changed)
            outcome = Outcome(None, None, f"not signed: {exc}"[:500], _ms(started))
        self.attempts_made += 1
        await self._record(row, outcome, attempted_at)

    async def _send(
        self, url: httpx.URL, headers: dict[str, str], extensions: dict[str, Any], body: bytes, started: float
    ) -> Outcome:
        try:
            request = self.client.build_request("POST", url, headers=headers, content=body, extensions=extensions)
            response = await self.client.send(request, stream=True)
            try:
                excerpt = b""
                async for chunk in response.aiter_raw():
                    excerpt += chunk
                    if len(excerpt) >= EXCERPT_BYTES:
                        break
            finally:
                await response.aclose()
            text = excerpt[:EXCERPT_BYTES].decode("utf-8", errors="replace") or None
            return Outcome(response.status_code, text, None, _ms(started))
        except httpx.ConnectError as exc:
            return Outcome(None, None, f"ConnectError: {exc}"[:500], _ms(started), connect_failed=True)
        except httpx.TimeoutException as exc:
            return Outcome(None, None, f"timed out ({type(exc).__name__})", _ms(started))
        except httpx.HTTPError as exc:
            return Outcome(None, None, f"{type(exc).__name__}: {exc}"[:500], _ms(started))

    async def _record(self, row: dict[str, Any], outcome: Outcome, attempted_at: datetime) -> None:
        attempts = int(row["attempt_count"]) + 1
        manual = row["trigger"] == AttemptTrigger.manual
        now = self.clock()
        values: dict[str, Any] = {"last_status_code": outcome.status_code, "updated_at": now}
        if outcome.delivered:
            values |= {"status": DeliveryStatus.delivered, "delivered_at": now, "next_attempt_at": None}
        else:
            wait = None if manual or outcome.gone else next_wait(self.settings.webhook_retry_schedule_seconds, attempts)
            if wait is None:
                values |= {"status": DeliveryStatus.failed, "next_attempt_at": None}
            else:
                values |= {"next_attempt_at": now + timedelta(seconds=wait)}
        async with self.sessionmaker() as session, session.begin():
            if not await repository.finish_attempt(
                session, row["id"], owner=self.owner, attempt_count=attempts - 1, values=values
            ):
                # Our lease ran out and another sender took the delivery over: its record is the one kept.
                log.warning("webhook attempt outlived its lease", delivery_id=str(row["id"]))
                return
            await repository.add_attempt(
                session,
                {
                    "id": uuid.uuid4(),
                    "delivery_id": row["id"],
                    "number": attempts,
                    "trigger": AttemptTrigger.manual if manual else AttemptTrigger.scheduled,
                    "attempted_at": attempted_at,
                    "duration_ms": outcome.duration_ms,
                    "status_code": outcome.status_code,
                    "response_excerpt": outcome.excerpt,
                    "error": outcome.error,
                },
            )
            if outcome.gone:
                await repository.disable_endpoint(
                    session, row["endpoint_id"], reason="the receiver answered 410 Gone", at=now
                )
        log.info(
            "webhook attempt",
            delivery_id=str(row["id"]),
            attempt=attempts,
            status_code=outcome.status_code,
            error=outcome.error,
        )


def _ms(started: float) -> int:
    return int((time.perf_counter() - started) * 1000)


async def send_webhooks(runtime: Runtime) -> None:
    """The registry's background job: runs beside the outbox relay in the API process or the worker."""
    settings = runtime.settings
    assert isinstance(settings, Settings)
    await WebhookSender(runtime.sessionmaker, settings).run(lambda: runtime.running, runtime.sleep)
