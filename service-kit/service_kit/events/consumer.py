"""Durable pull consumers with explicit ack, an inbox for exactly-once effects, and dead letters.

For each message the handler's effects and the inbox row ``(consumer, event_id)`` commit in one
transaction, so a redelivery (after a crash, a lost ack, a competing replica) changes nothing. A fetched batch
of messages is applied in one transaction with all its inbox rows (``ConsumerRunner.handle_batch``); if anything
in it fails, it is rolled back and its messages go through the one-message path. A message
that fails ``max_deliver`` times, or that is not a valid Linli event at all, is stored in ``dead_letter``,
copied to ``linli-dlq.<service>.<consumer>``, and terminated so the stream keeps flowing.
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import structlog
from nats.aio.msg import Msg
from nats.errors import ConnectionClosedError, NoRespondersError
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from sqlalchemy import insert
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service_kit import metrics, tracing
from service_kit.db import UpsertOnce
from service_kit.events.contracts import EventData
from service_kit.events.envelope import Envelope, MalformedEvent
from service_kit.events.tables import dead_letter, inbox_event
from service_kit.idle import IdleTasks
from service_kit.timeutil import utcnow

log = structlog.get_logger("linli.consumer")

Handler = Callable[[AsyncSession, Any, Envelope], Awaitable[None]]


@dataclass
class Subscription:
    """A named durable consumer of some event types, each with its handler.

    ``handlers`` maps an event class (from ``service_kit.events.contracts``) to ``async def h(session, event,
    envelope)``. The handler must not commit; it runs inside the consumer's transaction.

    ``wanted``, when given, is asked first, in a read-only session: ``async def w(session, event, envelope) ->
    bool``. An event it declines is acknowledged with no write transaction and no inbox row (``skipped``): for a
    consumer that acts on few of its events (the registry's webhooks act only for providers with an endpoint), a
    write transaction per event (on SQLite, the database's one write lock and an fsync) is most of its cost. It
    must only decline events the handler would do nothing with, judging by committed state.

    ``batch`` (the default): a fetched batch of events is applied in one transaction, each handler after the
    previous one's writes (flushed; a fresh identity map for each, as a session of its own would have). A handler
    must not depend on its transaction holding its event alone, nor act outside the database (an HTTP call, an
    SMS): when a batch fails it is rolled back and its events applied again one by one. A subscription whose
    handlers cannot live with that says ``batch=False`` and gets one transaction per event.
    """

    name: str
    handlers: dict[type[EventData], Handler] = field(default_factory=dict)
    wanted: Callable[[AsyncSession, Any, Envelope], Awaitable[bool]] | None = None
    batch: bool = True

    def on(self, *event_types: type[EventData]) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            for event_type in event_types:
                self.handlers[event_type] = handler
            return handler

        return register

    def handler_for(self, type_name: str) -> Handler | None:
        for event_type, handler in self.handlers.items():
            if event_type.type == type_name:
                return handler
        return None


def raise_if_cancelling() -> None:
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


async def apply_event(
    sessionmaker: async_sessionmaker[AsyncSession], consumer: str, handler: Handler, envelope: Envelope
) -> bool:
    """Apply one event exactly once for ``consumer``. Returns False when it had already been applied.

    The inbox row goes in first, unless it is there: a redelivery, or a competing replica that committed the same
    event first (its uncommitted row makes this one wait for its end), finds it and runs no handler.
    A handler that lost a race on another unique key (two events of one contract writing the one report it
    gets, say) runs again at once in a new transaction, which sees what the winner committed."""
    event = envelope.parse()
    runs_left = _RACE_RUNS
    while True:
        try:
            async with sessionmaker() as session, session.begin():
                row = {"consumer": consumer, "event_id": envelope.id, "type": envelope.type, "processed_at": utcnow()}
                if not (await session.execute(_INTO_INBOX(session), row)).first():
                    return False
                await handler(session, event, envelope)
        except IntegrityError as exc:
            runs_left -= 1
            if not runs_left:
                raise exc from None
            continue
        return True


# A handler losing races on a unique key runs this many times in all before the event goes back for redelivery.
_RACE_RUNS = 3
# How long a fetch waits for a message before it asks again (ConsumerRunner._waiting_after).
FETCH_SECONDS = 1.0


# The inbox rows of events not applied before, and which of them went in; built once per database. A row another
# transaction has written and not committed yet is waited for: its commit makes this one a duplicate.
_INTO_INBOX = UpsertOnce(
    inbox_event,
    lambda insert: insert.on_conflict_do_nothing(index_elements=["consumer", "event_id"]).returning(
        inbox_event.c.event_id
    ),
)


@dataclass
class _Delivery:
    """A fetched message of a batch, parsed; ``outcome`` once known (applied, duplicate, skipped)."""

    msg: Msg
    envelope: Envelope
    event: EventData
    handler: Handler
    deliveries: int
    outcome: str | None = None


class ConsumerRunner:
    """Runs one ``Subscription`` as the durable JetStream consumer ``<service>-<name>``."""

    def __init__(
        self,
        subscription: Subscription,
        *,
        service: str,
        sessionmaker: async_sessionmaker[AsyncSession],
        js: JetStreamContext,
        stream: str,
        max_deliver: int = 5,
        ack_wait: float = 30.0,
        retry_base_seconds: float = 1.0,
        batch_size: int = 64,
        apply_batch_size: int = 64,
        apply_batch_bytes: int = 1 << 20,
        on_applied: Callable[[], None] | None = None,
        idle: IdleTasks | None = None,
        read_sessionmaker: async_sessionmaker[AsyncSession] | None = None,
    ) -> None:
        self.subscription = subscription
        self.service = service
        self._timed_out_at = float("-inf")
        self.durable = f"{service}-{subscription.name}"
        self.sessionmaker = sessionmaker
        self.read_sessionmaker = read_sessionmaker or sessionmaker
        self.js = js
        self.stream = stream
        self.max_deliver = max_deliver
        self.ack_wait = ack_wait
        self.retry_base_seconds = retry_base_seconds
        self.batch_size = batch_size
        # A batch applied in one transaction holds the database's write lock (SQLite) and its rows' locks that long.
        self.apply_batch_size = apply_batch_size
        self.apply_batch_bytes = apply_batch_bytes
        # Called after each event (or batch) applied: what the handler emitted is in the outbox, and the relay need not
        # wait for its next poll to publish it (events that cause events travel at once).
        self.on_applied = on_applied
        self.idle = idle or IdleTasks()
        self.applied = 0
        self.duplicates = 0
        self.skipped = 0
        self.dead_lettered = 0
        self._stopping = False

    def stop(self) -> None:
        """End ``run`` at its next turn, whatever became of the task's cancellation."""
        self._stopping = True

    @property
    def subjects(self) -> list[str]:
        return sorted(event_type.type for event_type in self.subscription.handlers)

    async def ensure_consumer(self) -> None:
        await self.js.add_consumer(
            self.stream,
            ConsumerConfig(
                durable_name=self.durable,
                filter_subjects=self.subjects,
                ack_policy=AckPolicy.EXPLICIT,
                deliver_policy=DeliverPolicy.ALL,
                ack_wait=self.ack_wait,
                # Dead-lettering is ours (stored, replayable); the server never gives up on its own.
                max_deliver=-1,
                max_ack_pending=1000,
            ),
        )

    async def run(self) -> None:
        while not self._stopping:
            try:
                await self.ensure_consumer()
                subscription = await self.js.pull_subscribe_bind(durable=self.durable, stream=self.stream)
                break
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - NATS may be restarting
                raise_if_cancelling()
                log.warning("consumer not ready", consumer=self.durable, error=str(exc))
                await asyncio.sleep(0.5)
        else:
            return
        wanted = self.batch_size
        while not self._stopping:
            try:
                with self.idle.waiting():
                    messages = await subscription.fetch(wanted, timeout=FETCH_SECONDS)
            except (NatsTimeoutError, TimeoutError):
                self._timed_out_at, wanted = time.monotonic(), 1
                # Python 3.11's wait_for can turn a cancellation that races the fetch timeout into a
                # TimeoutError; a runner being stopped must stop, not fetch again.
                raise_if_cancelling()
                continue
            except asyncio.CancelledError:
                raise
            except (ConnectionClosedError, NoRespondersError, Exception) as exc:  # noqa: BLE001
                raise_if_cancelling()
                log.debug("fetch failed", consumer=self.durable, error=str(exc))
                await asyncio.sleep(0.5)
                continue
            wanted = self._waiting_after(messages)
            if self.subscription.batch and len(messages) > 1:
                await self.handle_batch(messages)
                continue
            for msg in messages:
                if self._stopping:
                    break  # the rest are redelivered after ack_wait
                await self.handle(msg)

    def _waiting_after(self, messages: list[Msg]) -> int:
        """How many to fetch next: a batch, or what the server said still waits for this consumer after the last
        message (its ``num_pending``), up to a batch; but one for a while after a fetch that found nothing.

        A fetch that times out can leave its pull request open on the server (nats.py#933), up to the fetch's
        time. A new message then goes to that request, and a fetch of several holds it until the next message
        comes: 100 ms at 10 events/s, up to a second when they are rarer. A fetch of one returns on the first
        message there is, wherever it was delivered, so it is what follows a timeout until such a request is
        surely gone; then batches again."""
        try:
            pending = messages[-1].metadata.num_pending if messages else 0
        except (AttributeError, ValueError):
            pending = 0
        if pending:
            return max(1, min(self.batch_size, pending))
        if time.monotonic() - self._timed_out_at < FETCH_SECONDS * 1.5:
            return 1
        return self.batch_size

    async def handle(self, msg: Msg) -> None:
        deliveries = msg.metadata.num_delivered if msg.metadata else 1
        # Each delivery is a span in the event's trace (service_kit.tracing), a redelivery's too.
        with tracing.consuming(msg.headers, msg.subject, self.durable, deliveries):
            await self._handle(msg, deliveries)

    async def _handle(self, msg: Msg, deliveries: int) -> None:
        try:
            envelope = Envelope.from_message(msg.headers, msg.data)
            handler = self.subscription.handler_for(envelope.type)
            if handler is None:
                raise MalformedEvent(f"{self.durable} has no handler for {envelope.type}")
            if not await self._wanted(envelope):
                self.skipped += 1
                outcome = "skipped"
            elif await apply_event(self.sessionmaker, self.durable, handler, envelope):
                self.applied += 1
                outcome = "applied"
                if self.on_applied is not None:
                    self.on_applied()
            else:
                self.duplicates += 1
                outcome = "duplicate"
            await self._settle(msg.ack())
            metrics.consumed(self.service, self.durable, outcome, deliveries)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - a handler failure is retried, then dead-lettered
            await self._failed(msg, exc, deliveries)

    async def _failed(self, msg: Msg, exc: Exception, deliveries: int) -> None:
        """Settle a delivery whose event could not be applied: a retry after a backoff, or a dead letter."""
        tracing.record_failure(exc)
        if isinstance(exc, MalformedEvent):
            # It will never become valid: no point in retrying.
            await self.dead_letter(msg, str(exc), deliveries)
        elif deliveries >= self.max_deliver:
            await self.dead_letter(msg, f"{type(exc).__name__}: {exc}", deliveries)
        else:
            delay = self.retry_base_seconds * (2 ** (deliveries - 1)) * random.uniform(0.8, 1.2)
            log.warning(
                "event handler failed, will retry",
                consumer=self.durable,
                deliveries=deliveries,
                error=str(exc),
            )
            await self._settle(msg.nak(delay=min(delay, 300.0)))
            metrics.consumed(self.service, self.durable, "retry", deliveries)

    async def handle_batch(self, messages: list[Msg]) -> None:
        """Apply fetched messages in as few transactions as the bounds allow (``apply_batch_size`` messages,
        ``apply_batch_bytes`` of payload), each with all its inbox rows; then acknowledge them. A message that is
        not a valid Linli event is dead-lettered first, as on the one-message path."""
        items: list[_Delivery] = []
        for msg in messages:
            deliveries = msg.metadata.num_delivered if msg.metadata else 1
            try:
                envelope = Envelope.from_message(msg.headers, msg.data)
                handler = self.subscription.handler_for(envelope.type)
                if handler is None:
                    raise MalformedEvent(f"{self.durable} has no handler for {envelope.type}")
                event = envelope.parse()
            except MalformedEvent as exc:
                with tracing.consuming(msg.headers, msg.subject, self.durable, deliveries):
                    await self._failed(msg, exc, deliveries)
                continue
            items.append(_Delivery(msg, envelope, event, handler, deliveries))
        chunk: list[_Delivery] = []
        size = 0
        for item in items:
            if chunk and (len(chunk) >= self.apply_batch_size or size + len(item.msg.data) > self.apply_batch_bytes):
                await self._apply_batch(chunk)
                chunk, size = [], 0
            chunk.append(item)
            size += len(item.msg.data)
        if chunk:
            await self._apply_batch(chunk)

    async def _apply_batch(self, batch: list[_Delivery]) -> None:
        if self._stopping:
            return  # redelivered after ack_wait
        failed_at: _Delivery | None = None
        try:
            wanted = await self._judge(batch)
            if any(item.outcome is None for item in batch):
                async with self.sessionmaker() as session, session.begin():
                    # The inbox rows go in first, in one statement: an event applied before (a redelivered batch: a
                    # lost ack, a crash after the commit), or by a competing replica (whose batch this one waits
                    # for), is found there and runs no handler.
                    await self._into_inbox(session, [item for item in batch if item.outcome is None])
                    applied_before = False
                    for item in batch:
                        if item.outcome == "duplicate":
                            continue
                        # Declined on committed state; the events applied before it in this batch are not committed
                        # yet, and may make it wanted: judged again on what they wrote.
                        if item.outcome == "skipped" and not (
                            applied_before and wanted is not None and await wanted(session, item.event, item.envelope)
                        ):
                            continue
                        if item.outcome == "skipped" and not await self._into_inbox(session, [item]):
                            continue
                        failed_at = item
                        with tracing.consuming(item.msg.headers, item.msg.subject, self.durable, item.deliveries):
                            await item.handler(session, item.event, item.envelope)
                            await session.flush()
                        # The next handler starts from the database, as in a session of its own.
                        session.expunge_all()
                        failed_at = None
                        item.outcome = "applied"
                        applied_before = True
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - rolled back: one by one, as if never batched
            raise_if_cancelling()
            await self._one_by_one(batch, failed_at, exc)
            return
        applied = 0
        for item in batch:
            outcome = item.outcome or "skipped"
            if outcome == "applied":
                applied += 1
            elif outcome == "duplicate":
                self.duplicates += 1
            else:
                self.skipped += 1
            metrics.consumed(self.service, self.durable, outcome, item.deliveries)
        self.applied += applied
        if applied and self.on_applied is not None:
            self.on_applied()
        await asyncio.gather(*(self._settle(item.msg.ack()) for item in batch))

    async def _into_inbox(self, session: AsyncSession, items: list[_Delivery]) -> bool:
        """Write the items' inbox rows; mark ``duplicate`` each whose row was there already, or which a copy
        earlier in the batch takes. Whether any went in."""
        first: dict[str, _Delivery] = {}
        for item in items:
            if item.envelope.id in first:
                item.outcome = "duplicate"
            else:
                first[item.envelope.id] = item
        if not first:
            return False
        now = utcnow()
        rows = [
            {"consumer": self.durable, "event_id": event_id, "type": item.envelope.type, "processed_at": now}
            for event_id, item in first.items()
        ]
        written = set((await session.execute(_INTO_INBOX(session), rows)).scalars())
        for event_id, item in first.items():
            if event_id not in written:
                item.outcome = "duplicate"
        return bool(written)

    async def _judge(self, batch: list[_Delivery]) -> Callable[[AsyncSession, Any, Envelope], Awaitable[bool]] | None:
        """Mark what ``wanted`` declines on committed state, asked in a read session of its own. Returns
        ``wanted``. (Whether an event was applied before is for its inbox row to say, in the batch's
        transaction.)"""
        wanted = self.subscription.wanted
        if wanted is not None:
            async with self.read_sessionmaker() as session:
                for item in batch:
                    if not await wanted(session, item.event, item.envelope):
                        item.outcome = "skipped"
        return wanted

    async def _one_by_one(self, batch: list[_Delivery], failed_at: _Delivery | None, exc: Exception) -> None:
        """A batch rolled back: each of its messages takes the one-message path (its own transaction, retry,
        backoff, dead letter). A handler that raised on its own (not the database refusing a row: a unique key
        another event of the batch took, or a competing replica's) has had this delivery's attempt: it is settled as
        failed without running again."""
        log.info("batch rolled back, applying its events one by one", consumer=self.durable, error=str(exc)[:300])
        for item in batch:
            if self._stopping:
                return  # the rest are redelivered after ack_wait
            if item is failed_at and not isinstance(exc, DBAPIError):
                with tracing.consuming(item.msg.headers, item.msg.subject, self.durable, item.deliveries):
                    await self._failed(item.msg, exc, item.deliveries)
                continue
            await self.handle(item.msg)

    async def _wanted(self, envelope: Envelope) -> bool:
        wanted = self.subscription.wanted
        if wanted is None:
            return True
        event = envelope.parse()
        async with self.read_sessionmaker() as session:
            return await wanted(session, event, envelope)

    async def _settle(self, ack: Awaitable[None]) -> None:
        try:
            await ack
        except Exception as exc:  # noqa: BLE001 - a lost ack means a redelivery, which the inbox absorbs
            log.debug("ack failed", consumer=self.durable, error=str(exc))

    async def dead_letter(self, msg: Msg, error: str, deliveries: int) -> None:
        headers = dict(msg.headers or {})
        event_id = headers.get("ce-id") or headers.get("Nats-Msg-Id") or str(uuid.uuid4())
        letter_id = str(uuid.uuid4())
        try:
            async with self.sessionmaker() as session, session.begin():
                await session.execute(
                    insert(dead_letter).values(
                        id=letter_id,
                        consumer=self.durable,
                        event_id=event_id[:120],
                        type=headers.get("ce-type", "unknown")[:120],
                        nats_subject=msg.subject[:200],
                        headers=headers,
                        payload=msg.data,
                        error=error[:4000],
                        deliveries=deliveries,
                        status="dead",
                        created_at=utcnow(),
                    )
                )
        except Exception as exc:  # noqa: BLE001 - cannot store it: leave it to be redelivered
            log.error("dead letter not stored", consumer=self.durable, error=str(exc))
            await self._settle(msg.nak(delay=5.0))
            return
        try:
            dlq_headers = {k: v for k, v in headers.items() if k != "Nats-Msg-Id"}
            dlq_headers["linli-dead-letter-id"] = letter_id
            dlq_headers["linli-error"] = error[:500]
            await self.js.publish(f"linli-dlq.{self.durable}", msg.data, headers=dlq_headers)
        except Exception as exc:  # noqa: BLE001 - the stored copy is the one that counts
            log.warning("dead letter not copied to the DLQ stream", error=str(exc))
        self.dead_lettered += 1
        # The subject, not the envelope's type: the consumer's filter bounds it to Linli's event types.
        metrics.consumed(self.service, self.durable, "dead_letter", deliveries)
        metrics.dead_lettered(self.service, self.durable, msg.subject)
        log.error("event dead-lettered", consumer=self.durable, event_id=event_id, error=error[:300])
        await self._settle(msg.term())
