"""A minimal Linli service built from the kit alone, for the kit's own tests and fault tests.

Its consumer counts how many times each event's effect was applied; exactly-once means every count ends at 1.
Run as a script it is a consumer process that a fault test can SIGKILL:
``python kit_service.py --database-url URL --nats-url URL``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import sys
import uuid
from collections.abc import AsyncIterator, Coroutine
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI, Response
from fastapi.responses import JSONResponse, StreamingResponse
from sqlalchemy import Column, Integer, MetaData, String, Table, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service_kit.app import ServiceSpec, create_service_app
from service_kit.auth import CurrentPrincipal
from service_kit.db import SessionDep, create_engine, create_sessionmaker
from service_kit.events.bus import connect, ensure_streams
from service_kit.events.consumer import ConsumerRunner, Subscription
from service_kit.events.contracts import NeedSubmitted
from service_kit.events.envelope import Envelope
from service_kit.events.tables import kit_metadata
from service_kit.settings import ServiceSettings

test_metadata = MetaData()
# How many times each event's effect was applied: exactly-once means every row ends at 1.
applied = Table(
    "applied",
    test_metadata,
    Column("key", String(120), primary_key=True),
    Column("times", Integer, nullable=False),
)


# Notes written through the HTTP API of ``notes_app`` (the idempotency crash test).
notes = Table(
    "notes",
    test_metadata,
    Column("id", String(36), primary_key=True),
    Column("text", String(120), nullable=False),
)


def notes_app() -> FastAPI:
    """A kit service with one POST that writes a note. The first "crash" note stalls its response after the
    write (a marker file tells the test the moment has come to SIGKILL the process); later ones answer at once.
    Run with ``uvicorn --factory kit_service:notes_app``; settings from ``LINLI_*``."""
    settings = ServiceSettings()
    marker = Path(os.environ["LINLI_TEST_STALL_MARKER"])
    router = APIRouter(prefix="/api/v1/notes")

    @router.post("", status_code=201)
    async def create_note(body: dict[str, str], principal: CurrentPrincipal, session: SessionDep) -> Response:
        note_id = str(uuid.uuid4())
        await session.execute(notes.insert().values(id=note_id, text=body.get("text", "")[:120]))
        if body.get("text") != "crash" or marker.exists():
            return JSONResponse({"id": note_id}, status_code=201)

        async def stalled() -> AsyncIterator[bytes]:
            marker.write_text(note_id)
            await asyncio.sleep(120)
            yield b"{}"

        return StreamingResponse(stalled(), status_code=201, media_type="application/json")

    return create_service_app(ServiceSpec(name="kit", title="kit", settings=settings, routers=[router]))


async def record_need(session: AsyncSession, event: NeedSubmitted, envelope: Envelope) -> None:
    row = (await session.execute(select(applied.c.times).where(applied.c.key == event.summary))).first()
    if row is None:
        await session.execute(applied.insert().values(key=event.summary, times=1))
    else:
        await session.execute(update(applied).where(applied.c.key == event.summary).values(times=applied.c.times + 1))


def needs_subscription() -> Subscription:
    subscription = Subscription("needs")
    subscription.on(NeedSubmitted)(record_need)
    return subscription


async def create_tables(url: str) -> None:
    engine = create_engine(url)
    async with engine.begin() as conn:
        await conn.run_sync(kit_metadata.create_all)
        await conn.run_sync(test_metadata.create_all)
    await engine.dispose()


def need(key: str) -> NeedSubmitted:
    """A resident's need, told apart by ``key`` (its summary: what ``applied`` counts by)."""
    return NeedSubmitted(
        need_id=uuid.uuid4(),
        group_key=f"elderly.meal_table:{key}",
        category_code="elderly.meal_table",
        summary=key,
        count=1,
        source="resident",
        submitted_at=datetime.now(UTC),
    )


@contextlib.asynccontextmanager
async def running(*coroutines: Coroutine[Any, Any, Any]) -> AsyncIterator[None]:
    """Run ``coroutines`` (a relay, a consumer) as tasks for the block, cancelled and awaited after it."""
    tasks = [asyncio.create_task(c) for c in coroutines]
    try:
        yield
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def applied_counts(sessionmaker: async_sessionmaker[AsyncSession]) -> dict[str, Any]:
    async with sessionmaker() as session:
        rows = await session.execute(select(applied.c.key, applied.c.times))
        return {key: times for key, times in rows}


async def all_applied(sessionmaker: async_sessionmaker[AsyncSession], expected: int) -> dict[str, Any]:
    """How often each need was applied, once ``expected`` needs were (empty before: ``eventually`` waits on)."""
    counts = await applied_counts(sessionmaker)
    return counts if len(counts) >= expected else {}


async def waiting_on_a_lock(sessionmaker: async_sessionmaker[AsyncSession]) -> bool:
    """Whether a transaction of this PostgreSQL database waits for a lock another holds."""
    statement = "select count(*) from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'"
    async with sessionmaker() as session:
        return bool(await session.scalar(text(statement)))


async def consume_forever(
    database_url: str, nats_url: str, handler_delay: float, ack_wait: float, crash_after: int | None = None
) -> None:
    """Consume needs into ``applied``; with ``crash_after``, SIGKILL this process inside the handler of that
    event (its transaction open, earlier ones of its batch committed but not all acknowledged)."""
    settings = ServiceSettings(nats_url=nats_url, database_url=database_url)
    engine = create_engine(database_url)
    sessionmaker = create_sessionmaker(engine)
    nc = await connect(settings, name="kit-consumer")
    js = nc.jetstream()
    await ensure_streams(js, settings)
    subscription = needs_subscription()
    record = subscription.handlers[NeedSubmitted]

    handled = 0

    async def slow_record(session: AsyncSession, event: NeedSubmitted, envelope: Envelope) -> None:
        nonlocal handled
        await record(session, event, envelope)
        handled += 1
        if handled == crash_after:
            os.kill(os.getpid(), signal.SIGKILL)
        await asyncio.sleep(handler_delay)

    subscription.handlers[NeedSubmitted] = slow_record
    runner = ConsumerRunner(
        subscription, service="kit", sessionmaker=sessionmaker, js=js, stream="LINLI", ack_wait=ack_wait, batch_size=20
    )
    print("consumer ready", flush=True)
    await runner.run()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--nats-url", required=True)
    parser.add_argument("--handler-delay", type=float, default=0.005)
    parser.add_argument("--ack-wait", type=float, default=2.0)
    parser.add_argument("--crash-after", type=int, help="SIGKILL itself while handling this event")
    args = parser.parse_args()
    try:
        asyncio.run(
            consume_forever(args.database_url, args.nats_url, args.handler_delay, args.ack_wait, args.crash_after)
        )
    except KeyboardInterrupt:
        sys.exit(0)
