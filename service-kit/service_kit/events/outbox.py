"""Transactional outbox: events are rows written with the state change; a relay publishes them to JetStream.

A row is claimed with a lease (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, the database write lock on SQLite),
published with ``Nats-Msg-Id`` = event id, and marked published only after JetStream acknowledged it. If a
relay dies between publish and mark, the lease expires, the row is published again, and JetStream's
duplicate window drops the copy.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta

import structlog
from nats.js import JetStreamContext
from sqlalchemy import BindParameter, Update, bindparam, delete, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service_kit import metrics, tracing
from service_kit.db import execute_alone
from service_kit.events.consumer import raise_if_cancelling
from service_kit.events.contracts import EventData
from service_kit.events.envelope import Envelope
from service_kit.events.tables import outbox_event
from service_kit.idle import IdleTasks
from service_kit.timeutil import utcnow

log = structlog.get_logger("linli.outbox")


async def emit(
    session: AsyncSession, event: EventData, *, traceparent: str | None = None, event_id: str | None = None
) -> str:
    """Record ``event`` in the caller's transaction; it is published only if that transaction commits.

    ``event_id`` names an event that must exist once whatever happens (derived from what it is about): the
    outbox's unique key then refuses a second one, so of two racing transactions one fails and is run again
    (``apply_event`` does so at once for a consumer's handler).
    The event joins the trace under way (service_kit.tracing), stored with it for the relay and consumers."""
    event_id = event_id or str(uuid.uuid4())
    traceparent = traceparent or tracing.message_traceparent(event.type)
    await session.execute(_INSERT, _row(event_id, event, traceparent, utcnow()))
    return event_id


async def emit_many(session: AsyncSession, events: Sequence[EventData]) -> list[str]:
    """Record ``events`` in the caller's transaction, as ``emit`` records each, in one statement (a series'
    bookings): the relay publishes them in this order. Their ids, in the same order."""
    if not events:
        return []
    created_at = utcnow()
    ids = [str(uuid.uuid4()) for _ in events]
    rows = [
        _row(event_id, event, tracing.message_traceparent(event.type), created_at)
        for event_id, event in zip(ids, events, strict=True)
    ]
    await session.execute(_INSERT, rows)
    return ids


# Built once: its values go as parameters, so each event costs no statement to build (nor a cache key to make).
_INSERT = insert(outbox_event)


def _row(event_id: str, event: EventData, traceparent: str | None, created_at: datetime) -> dict[str, object]:
    return {
        "event_id": event_id,
        "type": event.type,
        "subject": event.subject(),
        "data": event.model_dump(mode="json"),
        "traceparent": traceparent,
        "created_at": created_at,
        "attempts": 0,
    }


class OutboxRelay:
    """Publishes unpublished outbox rows in order of writing. Several relays may run against one database."""

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        js: JetStreamContext,
        *,
        source: str,
        batch_size: int = 256,
        lease_seconds: float = 30.0,
        poll_seconds: float = 0.5,
        publish_timeout: float = 10.0,
        keep_published: timedelta = timedelta(days=7),
        idle: IdleTasks | None = None,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.js = js
        self.source = source
        self.batch_size = batch_size
        self.lease = timedelta(seconds=lease_seconds)
        self.poll_seconds = poll_seconds
        self.publish_timeout = publish_timeout
        self.keep_published = keep_published
        self.owner = str(uuid.uuid4())
        self._wake = asyncio.Event()
        self.idle = idle or IdleTasks()
        self._stopping = False
        self.published_total = 0
        self._claim_statement = _claim_statement(batch_size)

    def wake(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        """End ``run`` at its next turn, whatever became of the task's cancellation."""
        self._stopping = True
        self._wake.set()

    async def run(self) -> None:
        last_purge = utcnow()
        while not self._stopping:
            try:
                count = await self.publish_pending()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - the relay outlives database and NATS outages
                # nats-py may answer a cancellation inside publish_async with its own error.
                raise_if_cancelling()
                log.warning("outbox relay pass failed", error=str(exc))
                count = 0
                await asyncio.sleep(self.poll_seconds)
            if count >= self.batch_size:
                continue
            if utcnow() - last_purge > timedelta(hours=1):
                await self.purge_published()
                last_purge = utcnow()
            with self.idle.waiting(), contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self.poll_seconds)
            raise_if_cancelling()
            self._wake.clear()

    async def _claim(self) -> list[dict[str, object]]:
        """Lease the next batch in one statement, and return it in order of writing. Rows this relay leased in a pass
        that failed before marking them are taken again at once rather than when their lease runs out."""
        now = utcnow()
        params = {"now": now, "until": now + self.lease, "owner": self.owner}
        return sorted(await execute_alone(self.sessionmaker, self._claim_statement, params), key=lambda r: r["seq"])

    async def publish_pending(self) -> int:
        """One pass: claim a batch, publish it, mark what JetStream acknowledged. Returns rows published."""
        rows = await self._claim()
        if not rows:
            return 0
        started = time.perf_counter()
        futures = []
        # Each publish is a span in its event's trace, however long after the request the event was written in.
        sends = tracing.start_sends(
            [(str(r["event_id"]), str(r["type"]), str(r["traceparent"]) if r["traceparent"] else None) for r in rows]
        )
        for row in rows:
            envelope = Envelope(
                id=str(row["event_id"]),
                type=str(row["type"]),
                source=self.source,
                time=row["created_at"],  # type: ignore[arg-type]
                data=row["data"],  # type: ignore[arg-type]
                subject=row["subject"],  # type: ignore[arg-type]
                traceparent=row["traceparent"],  # type: ignore[arg-type]
            )
            futures.append(await self.js.publish_async(envelope.type, envelope.payload(), headers=envelope.headers()))
        results = await asyncio.gather(
            *(asyncio.wait_for(f, self.publish_timeout) for f in futures), return_exceptions=True
        )
        tracing.end_sends(sends, results)
        acked = [row["seq"] for row, res in zip(rows, results, strict=True) if not isinstance(res, BaseException)]
        failed = [(row["seq"], res) for row, res in zip(rows, results, strict=True) if isinstance(res, BaseException)]
        metrics.published(self.source, len(acked), len(failed), time.perf_counter() - started)
        if acked:
            await execute_alone(
                self.sessionmaker, _MARK_PUBLISHED, {"seqs": acked, "owner": self.owner, "now": utcnow()}
            )
        if failed:
            async with self.sessionmaker() as session, session.begin():
                for seq, exc in failed:
                    await session.execute(
                        update(outbox_event)
                        .where(outbox_event.c.seq == seq)
                        .values(
                            lease_owner=None,
                            lease_until=None,
                            attempts=outbox_event.c.attempts + 1,
                            last_error=repr(exc)[:1000],
                        )
                    )
            log.warning("outbox publish failed", failed=len(failed), published=len(acked))
            await asyncio.sleep(self.poll_seconds)
        self.published_total += len(acked)
        return len(acked)

    async def purge_published(self) -> None:
        try:
            async with self.sessionmaker() as session, session.begin():
                await session.execute(
                    delete(outbox_event).where(outbox_event.c.published_at < utcnow() - self.keep_published)
                )
        except Exception as exc:  # noqa: BLE001
            log.warning("outbox purge failed", error=str(exc))


def _claim_statement(batch_size: int) -> Update:
    """``UPDATE … RETURNING`` of the oldest unpublished rows that no other relay holds (``FOR UPDATE SKIP LOCKED``
    on PostgreSQL; SQLite's write lock serialises relays): one round trip where a lease and a read of what it
    leased took two. Built once; ``now``, ``until`` and ``owner`` go as parameters."""
    owner: BindParameter[str] = bindparam("owner", type_=outbox_event.c.lease_owner.type)
    claimable = (
        select(outbox_event.c.seq)
        .where(
            outbox_event.c.published_at.is_(None),
            or_(
                outbox_event.c.lease_until.is_(None),
                outbox_event.c.lease_until < bindparam("now", type_=outbox_event.c.lease_until.type),
                outbox_event.c.lease_owner == owner,
            ),
        )
        .order_by(outbox_event.c.seq)
        .limit(batch_size)
        .with_for_update(skip_locked=True)
    )
    return (
        update(outbox_event)
        .where(outbox_event.c.seq.in_(claimable))
        .values(lease_owner=owner, lease_until=bindparam("until", type_=outbox_event.c.lease_until.type))
        .returning(*outbox_event.c)
    )


# Built once, as the claim: building an UPDATE with its IN list took a sixth of a relay's pass of one event.
_MARK_PUBLISHED = (
    update(outbox_event)
    .where(
        outbox_event.c.seq.in_(bindparam("seqs", expanding=True)),
        outbox_event.c.lease_owner == bindparam("owner", type_=outbox_event.c.lease_owner.type),
    )
    .values(published_at=bindparam("now", type_=outbox_event.c.published_at.type), lease_owner=None, lease_until=None)
)


async def pending_count(session: AsyncSession) -> int:
    result = await session.execute(
        select(func.count()).select_from(outbox_event).where(outbox_event.c.published_at.is_(None))
    )
    return int(result.scalar_one())
