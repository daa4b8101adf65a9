"""What a running service holds: database, NATS, relay, consumers — shared by the API process and the worker."""

from __future__ import annotations

import asyncio
import gc
import io
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import structlog
from nats.aio.client import Client as NATS
from nats.js import JetStreamContext
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from service_kit.auth import TokenVerifier
from service_kit.db import create_engine, create_sessionmaker, reading_engine
from service_kit.events.bus import connect, ensure_streams
from service_kit.events.consumer import ConsumerRunner, Subscription, raise_if_cancelling
from service_kit.events.outbox import OutboxRelay
from service_kit.events.signals import ApiSide, WorkerSide
from service_kit.idempotency import purge_expired
from service_kit.idle import IdleTasks
from service_kit.protection import Keyring
from service_kit.settings import ServiceSettings

log = structlog.get_logger("linli.runtime")

BackgroundJob = Callable[["Runtime"], Awaitable[None]]
# How long a task inside a unit of work is let finish it when the service stops.
STOP_GRACE_SECONDS = 5.0


@dataclass
class Runtime:
    service: str
    settings: ServiceSettings
    subscriptions: list[Subscription]
    background_jobs: list[BackgroundJob]
    engine: AsyncEngine = field(init=False)
    sessionmaker: async_sessionmaker[AsyncSession] = field(init=False)
    read_engine: AsyncEngine = field(init=False)
    read_sessionmaker: async_sessionmaker[AsyncSession] = field(init=False)
    keyring: Keyring = field(init=False)
    token_verifier: TokenVerifier = field(init=False)
    nc: NATS | None = None
    js: JetStreamContext | None = None
    relay: OutboxRelay | None = None
    runners: list[ConsumerRunner] = field(default_factory=list)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)
    _starting: asyncio.Task[None] | None = None  # connects and starts the rest, then ends
    events_ready: asyncio.Event = field(default_factory=asyncio.Event)
    stopping: asyncio.Event = field(default_factory=asyncio.Event)
    idle: IdleTasks = field(init=False)
    # With the worker in a process of its own: how this API hears it and wakes its relay.
    api_side: ApiSide | None = None

    def __post_init__(self) -> None:
        self.idle = IdleTasks(self.stopping)
        self.engine = create_engine(
            self.settings.database_url,
            echo=self.settings.database_echo,
            pool_size=self.settings.database_pool_size,
            max_overflow=self.settings.database_max_overflow,
        )
        # Personal data sealed at rest opens with it (service_kit/protection.py), in every session of the service.
        self.keyring = Keyring.from_settings(self.settings)
        self.sessionmaker = create_sessionmaker(self.engine, keyring=self.keyring)
        self.read_engine = reading_engine(self.settings.database_url, self.engine, echo=self.settings.database_echo)
        self.read_sessionmaker = create_sessionmaker(self.read_engine, keyring=self.keyring)
        self.token_verifier = TokenVerifier(self.settings)

    async def start(self, *, worker: bool) -> None:
        """Connect to NATS in the background (the API serves meanwhile); with ``worker``, run relay and consumers."""
        if not worker:
            self.api_side = ApiSide(self.service, heartbeat_seconds=self.settings.worker_heartbeat_seconds)
        self._starting = asyncio.create_task(self._start_events(worker), name=f"{self.service}-events")
        self._tasks.append(self._starting)

    async def _start_events(self, worker: bool) -> None:
        self.nc = await connect(self.settings, name=self.service)
        self.js = self.nc.jetstream()
        while True:
            try:
                await ensure_streams(self.js, self.settings)
                break
            except Exception as exc:  # noqa: BLE001 - JetStream may not be ready right after a restart
                log.warning("streams not ready", error=str(exc))
                await asyncio.sleep(0.5)
        if worker:
            self.relay = OutboxRelay(
                self.sessionmaker,
                self.js,
                source=self.service,
                poll_seconds=self.settings.relay_poll_seconds,
                lease_seconds=self.settings.relay_lease_seconds,
                idle=self.idle,
            )
            self._tasks.append(asyncio.create_task(self.relay.run(), name=f"{self.service}-relay"))
            for subscription in self.subscriptions:
                runner = ConsumerRunner(
                    subscription,
                    service=self.service,
                    sessionmaker=self.sessionmaker,
                    js=self.js,
                    stream=self.settings.stream_name,
                    max_deliver=self.settings.consumer_max_deliver,
                    ack_wait=self.settings.consumer_ack_wait_seconds,
                    retry_base_seconds=self.settings.consumer_retry_base_seconds,
                    on_applied=self.wake_relay,
                    idle=self.idle,
                    read_sessionmaker=self.read_sessionmaker,
                )
                self.runners.append(runner)
                self._tasks.append(asyncio.create_task(runner.run(), name=runner.durable))
            jobs = [purge_idempotency_records, *self.background_jobs] if self.settings.run_background_jobs else []
            for job in jobs:
                self._tasks.append(asyncio.create_task(_forever(job, self), name=job.__name__))
            side = WorkerSide(
                self.service,
                heartbeat_seconds=self.settings.worker_heartbeat_seconds,
                alive_file=self.settings.worker_alive_file,
                healthy=self.worker_tasks_running,
            )
            self._signals(side.run(self.nc, self.wake_relay, self.stopping), "worker-signals")
        elif self.api_side is not None:
            self._signals(self.api_side.run(self.nc, self.stopping), "api-signals")
        self.events_ready.set()

    def _signals(self, talk: Coroutine[Any, Any, None], name: str) -> None:
        """Run the API's or the worker's side of their talk (``service_kit.events.signals``): always waiting, so a
        stop cancels it at once."""

        async def run() -> None:
            with self.idle.waiting():
                await talk

        self._tasks.append(asyncio.create_task(run(), name=f"{self.service}-{name}"))

    @property
    def running(self) -> bool:
        """False once ``stop`` began: a background job's loop ends on it even if a library swallowed its
        cancellation (``while runtime.running: ...``)."""
        return not self.stopping.is_set()

    async def sleep(self, seconds: float) -> None:
        """A background job's wait between passes: cut short when the service stops, and never mistaken at
        shutdown for work under way."""
        await self.idle.sleep(seconds)

    def wake_relay(self) -> None:
        """After a commit that may have written events: wake the relay here, or the worker's (in its process)."""
        if self.relay is not None:
            self.relay.wake()
        elif self.api_side is not None:
            self.api_side.wake()

    def worker_tasks_running(self) -> bool:
        """Whether the relay, every consumer and job and the heartbeat still run here: one that ended while the
        service runs (a crash its own loop did not catch) would leave its events waiting with the process up."""
        return self.running and not any(task.done() for task in self._tasks if task is not self._starting)

    def worker_alive(self) -> bool:
        """Whether relay and consumers run: here, or in a worker process heard within three beats."""
        return self.api_side.alive() if self.api_side is not None else True

    async def check_database(self) -> bool:
        try:
            async with self.engine.connect() as conn:
                await asyncio.wait_for(conn.execute(text("SELECT 1")), timeout=2.0)
            return True
        except Exception:  # noqa: BLE001
            return False

    def nats_connected(self) -> bool:
        return self.nc is not None and self.nc.is_connected

    async def stop(self, timeout: float = 10.0) -> None:
        """Stop relay, consumers and jobs, then NATS and the database, each within a bound: a shutdown that
        waits forever on one stuck task is worse than one that leaves it behind and says where it hung."""
        self.stopping.set()
        if self.relay is not None:
            self.relay.stop()
        for runner in self.runners:
            runner.stop()
        # Waiting tasks (a job's sleep, a consumer's fetch, the relay's poll) are cancelled at once. A relay's turn,
        # a consumer's event or a job's pass under way is let finish (``service_kit.idle``), and then ends at its
        # loop's check; whatever still runs after the grace is cancelled.
        if self._tasks:
            for task in self._tasks:
                if self.idle.is_waiting(task):
                    task.cancel()
            await asyncio.wait(self._tasks, timeout=STOP_GRACE_SECONDS)
            for task in self._tasks:
                task.cancel()
            _, pending = await asyncio.wait(self._tasks, timeout=timeout)
            for task in pending:
                stack = io.StringIO()
                task.print_stack(file=stack)
                log.error("background task did not stop in time", task=task.get_name(), stack=stack.getvalue())
        self._tasks.clear()
        if self.nc is not None and not self.nc.is_closed:
            await _bounded(self.nc.close(), "nats close", 2.0)
        await _bounded(self.read_engine.dispose(), "database dispose", 5.0)
        await _bounded(self.engine.dispose(), "database dispose", 5.0)


def freeze_startup_heap() -> None:
    """Take what start-up allocated out of the garbage collector's way, once a process is ready to serve.

    Modules, classes, compiled statements and validation schemas (~135,000 objects in a service) live as long as
    the process. Every full collection walked them all: a pause of ~50 ms, which a request that allocates much
    (the circle's ~1,400 hits at 1,000,000 offerings) met every few dozen requests — its whole p99 (79 → 18 ms,
    docs/circle-spatial-index.md). Frozen, they are never examined again; what requests allocate is collected as
    before."""
    gc.collect()
    gc.freeze()


async def _bounded(operation: Awaitable[None], what: str, timeout: float) -> None:
    """Await ``operation`` at most ``timeout`` seconds, not waiting for it to honour its cancellation (as
    ``asyncio.wait_for`` would)."""
    task = asyncio.ensure_future(operation)
    done, _ = await asyncio.wait({task}, timeout=timeout)
    if not done:
        task.cancel()
        log.error("shutdown step did not finish in time", step=what)
    elif not task.cancelled() and task.exception() is not None:
        log.warning("shutdown step failed", step=what, error=str(task.exception()))


async def purge_idempotency_records(runtime: Runtime) -> None:
    """The kit's own job in every service's worker: at its start and every ``idempotency_purge_interval_seconds``,
    delete the stored responses past ``idempotency_retention_seconds`` (24 h). Several replicas purging at once
    delete the same rows; none of them minds."""
    retention = timedelta(seconds=runtime.settings.idempotency_retention_seconds)
    while runtime.running:
        async with runtime.sessionmaker() as session, session.begin():
            purged = await purge_expired(session, retention)
        if purged:
            log.info("idempotency records purged", count=purged)
        await runtime.sleep(runtime.settings.idempotency_purge_interval_seconds)


async def _forever(job: BackgroundJob, runtime: Runtime) -> None:
    """Run a periodic job (sweeps, reminders); a failure is logged and the job is started again."""
    while runtime.running:
        try:
            await job(runtime)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            # A job interrupted by its cancellation may fail with another error (a closed connection): that is
            # the stop, not a failure to restart from, or the task would never end and shutdown would hang.
            raise_if_cancelling()
            log.exception("background job failed", job=job.__name__, error=str(exc))
            await runtime.sleep(1.0)
