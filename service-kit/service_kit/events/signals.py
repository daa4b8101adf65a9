"""What an API process and its service's worker processes tell each other over core NATS (docs/workers.md).

A service's relay, consumers and jobs run in a worker process of their own (``python -m <package>.worker``), the
API with ``LINLI_RUN_WORKER=false``: reads at saturation then never starve the consumers. Two things the one
process did for itself now cross between processes, as plain NATS messages (not JetStream: nothing to keep):

- **wake**: a request that committed wakes the relay at once, or its events would wait for the relay's poll
  (0.5 s). The API publishes ``linli-worker.<service>.wake`` (at most one per turn of its event loop, however many
  requests committed meanwhile); every worker of the service wakes its relay, and the relays' claims keep a row
  from being published twice.
- **alive**: each worker says ``linli-worker.<service>.alive`` every ``worker_heartbeat_seconds``, and at once when
  an API process asks (``….ping``, sent when it connects). The API's ``/readyz`` says ``checks.worker: "down"`` and
  ``degraded`` when none spoke for three beats: the service still serves, its events wait — as with NATS away.
  With ``worker_alive_file``, the same beat writes the worker's liveness for its container (``service_kit.alive``).

The subjects are outside ``linli.>``, so the ``LINLI`` stream never stores them.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from pathlib import Path

import structlog
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg

from service_kit.alive import write_deadline

log = structlog.get_logger("linli.workers")

# A worker is counted down after this many beats unheard.
MISSED_BEATS = 3


def subject(service: str, what: str) -> str:
    return f"linli-worker.{service}.{what}"


class WorkerSide:
    """In a process running the worker: wake the relay when an API asks, say it is alive."""

    def __init__(
        self,
        service: str,
        *,
        heartbeat_seconds: float,
        alive_file: Path | None = None,
        healthy: Callable[[], bool] = lambda: True,
    ) -> None:
        self.service = service
        self.heartbeat_seconds = heartbeat_seconds
        self.alive_file, self.healthy = alive_file, healthy
        self._asked = asyncio.Event()
        self._unwritable = False

    def _write_alive(self) -> None:
        """The liveness a container's probe reads (``service_kit.alive``): only while every task still runs."""
        if self.alive_file is None or not self.healthy():
            return
        try:
            write_deadline(self.alive_file, time.time() + MISSED_BEATS * self.heartbeat_seconds)
        except OSError as exc:
            if not self._unwritable:  # said once: the probe will say the rest
                log.warning("liveness file not written", path=str(self.alive_file), error=str(exc))
            self._unwritable = True

    async def run(self, nc: NATS, wake_relay: Callable[[], None], stopping: asyncio.Event) -> None:
        async def woken(_msg: Msg) -> None:
            wake_relay()

        async def pinged(_msg: Msg) -> None:
            self._asked.set()

        await nc.subscribe(subject(self.service, "wake"), cb=woken)
        await nc.subscribe(subject(self.service, "ping"), cb=pinged)
        while not stopping.is_set():
            self._write_alive()
            try:
                await nc.publish(subject(self.service, "alive"), b"")
            except Exception as exc:  # noqa: BLE001 - NATS away: the API says so itself
                log.debug("heartbeat not sent", error=str(exc))
            self._asked.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._asked.wait(), timeout=self.heartbeat_seconds)


class ApiSide:
    """In an API process whose worker runs apart: hear the workers, and wake their relays after a commit."""

    def __init__(self, service: str, *, heartbeat_seconds: float) -> None:
        self.service = service
        self.heartbeat_seconds = heartbeat_seconds
        self.heard_at: float | None = None
        self._wanted = asyncio.Event()

    def alive(self) -> bool:
        return self.heard_at is not None and time.monotonic() - self.heard_at <= MISSED_BEATS * self.heartbeat_seconds

    def wake(self) -> None:
        """Called after every commit: the next turn of the loop sends one wake for all of them."""
        self._wanted.set()

    async def run(self, nc: NATS, stopping: asyncio.Event) -> None:
        async def heard(_msg: Msg) -> None:
            self.heard_at = time.monotonic()

        await nc.subscribe(subject(self.service, "alive"), cb=heard)
        await nc.publish(subject(self.service, "ping"), b"")
        while not stopping.is_set():
            await self._wanted.wait()
            self._wanted.clear()
            try:
                await nc.publish(subject(self.service, "wake"), b"")
            except Exception as exc:  # noqa: BLE001 - the relay's poll publishes the rows anyway
                log.debug("wake not sent", error=str(exc))
