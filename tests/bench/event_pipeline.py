"""The event pipeline at a morning peak: steady emitters and a burst, on SQLite and on PostgreSQL.

Everything production runs between a request's commit and a consumer's applied effect, in two processes as in
production. The producing service's (a process of its own, ``python event_pipeline.py produce``): ``emit`` in small
transactions, each followed by ``relay.wake()`` as a request's unit of work does after its commit, and the
``OutboxRelay`` at its production poll (0.5 s). JetStream: nats-server from the wheel, its embedded config
(``sync_interval: always``). The consuming service's (this process): a ``ConsumerRunner`` with its inbox, whose
handler writes a row. Both on one database, as a service consuming its own events does. The figures:

- steady: emitters commit transactions of ``PER_TRANSACTION`` events on a fixed schedule; commit → applied lag (the
  consumer's transaction committed) p50/p99/max, the rate achieved, CPU per event of the consumer's process, the
  producer's and nats-server. Targets: 300 events/s on SQLite, 1,000 on PostgreSQL, p99 ≤ 100 ms.
- burst: 10,000 events committed at once in transactions of 10, drained by a consumer that applies each fetched
  batch in one transaction, and by one whose subscription opts out (``batch=False``: one transaction per event, as
  before), in turns. Target: drained in ≤ 30 s.

On PostgreSQL each run has a database of its own on ``--postgres-url``, dropped after.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Column, MetaData, String, Table, event, insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from service_kit.db import UTCDateTime, create_engine, create_sessionmaker
from service_kit.events.bus import connect, ensure_streams
from service_kit.events.consumer import ConsumerRunner, Subscription
from service_kit.events.contracts import NeedSubmitted
from service_kit.events.envelope import Envelope
from service_kit.events.outbox import OutboxRelay, emit, pending_count
from service_kit.events.tables import kit_metadata
from service_kit.settings import ServiceSettings
from service_kit.testing import DatabaseFactory, NatsServer

STEADY_TARGETS = {"sqlite": 300, "postgresql": 1000}  # events/s
LAG_P99_MS = 100.0
BURST_EVENTS = 10_000
BURST_SECONDS = 30.0
PER_TRANSACTION = 2  # a steady emitter's transaction: a booking and its notification, say
EMITTERS = 8

pipeline_metadata = MetaData()
received = Table(
    "pipeline_received",
    pipeline_metadata,
    Column("key", String(64), primary_key=True),
    Column("received_at", UTCDateTime(), nullable=False),
)

# Keys a consumer's session applied, stamped when that session's transaction commits (a batch rolled back and
# applied again one by one is stamped once, by the transaction that counted).
_KEYS = "linli_bench_keys"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def process_cpu(pid: int | None = None) -> float:
    """User + system CPU seconds of ``pid`` (this process when None), from /proc."""
    try:
        fields = Path(f"/proc/{pid or os.getpid()}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def need(key: str) -> NeedSubmitted:
    return NeedSubmitted(
        need_id=uuid.uuid4(),
        group_key=key,
        category_code="elderly.meal_table",
        summary=key,
        count=1,
        source="resident",
        submitted_at=datetime.now(UTC),
    )


# ------------------------------------------------------------------ the producing service (a process of its own)


async def produce(url: str, nats_url: str, mode: str, rate: float, count: int, out: Path) -> None:
    """Emit ``count`` events (steady: at ``rate``, ``EMITTERS`` emitters; burst: transactions of 10 at once) with a
    relay running; write each key's commit time (``time.monotonic``, which every process of the machine shares),
    when emitting began and ended, and this process's CPU."""
    logging.getLogger("sqlalchemy.pool").setLevel(logging.CRITICAL)
    engine = create_engine(url)
    sessionmaker = create_sessionmaker(engine)
    nc = await connect(ServiceSettings(nats_url=nats_url, database_url=url), name="bench-producer")
    relay = OutboxRelay(sessionmaker, nc.jetstream(), source="bench")
    relay_task = asyncio.create_task(relay.run())
    committed: dict[str, float] = {}
    per_transaction = PER_TRANSACTION if mode == "steady" else 10
    transactions = count // per_transaction

    async def commit(t: int) -> None:
        keys = [f"{mode}-{t}-{i}" for i in range(per_transaction)]
        async with sessionmaker() as session, session.begin():
            for key in keys:
                await emit(session, need(key))
        now = time.monotonic()
        for key in keys:
            committed[key] = now
        relay.wake()  # as SessionDep does after a request's commit

    async def emitter(n: int, began: float) -> None:
        for t in range(n, transactions, EMITTERS):
            if (wait := began + t * per_transaction / rate - time.monotonic()) > 0:
                await asyncio.sleep(wait)
            await commit(t)

    cpu = process_cpu()
    began = time.monotonic()
    if mode == "steady":
        await asyncio.gather(*(emitter(n, began) for n in range(EMITTERS)))
    else:
        for t in range(transactions):
            await commit(t)
    ended = time.monotonic()
    while True:  # the relay publishes the rest
        async with sessionmaker() as session:
            if not await pending_count(session):
                break
        await asyncio.sleep(0.05)
    cpu = process_cpu() - cpu
    relay.stop()
    relay_task.cancel()
    await asyncio.gather(relay_task, return_exceptions=True)
    await nc.close()
    await engine.dispose()
    out.write_text(json.dumps({"committed": committed, "began": began, "ended": ended, "cpu": cpu}))


# ------------------------------------------------------------------ the consuming service (this process)


@dataclass
class Run:
    events: int
    achieved: float  # events/s committed
    drained: float  # seconds from the first commit to the last applied
    lags_ms: list[float]
    published_ms: list[float]  # commit → on NATS
    consumer_cpu_ms: float  # per event
    producer_cpu_ms: float
    server_cpu_ms: float

    @property
    def p50(self) -> float:
        return percentile(self.lags_ms, 0.5)

    @property
    def p99(self) -> float:
        return percentile(self.lags_ms, 0.99)


async def run_pipeline(
    url: str, workdir: Path, mode: str, rate: float, count: int, batch: bool, producer_url: str | None = None
) -> Run:
    """``producer_url``: the producing service's own database (the outbox); else both share ``url``."""
    server = NatsServer(workdir / f"nats-{uuid.uuid4().hex[:8]}").start()  # a stream of its own
    producer_url = producer_url or url
    for database in {url, producer_url}:
        created = create_engine(database)
        async with created.begin() as conn:
            await conn.run_sync(kit_metadata.create_all)
            await conn.run_sync(pipeline_metadata.create_all)
        await created.dispose()
    engine = create_engine(url)
    sessionmaker = create_sessionmaker(engine)
    settings = ServiceSettings(nats_url=server.url, database_url=url)
    nc = await connect(settings, name="bench-consumer")
    js = nc.jetstream()
    await ensure_streams(js, settings)
    applied: dict[str, float] = {}
    done = asyncio.Event()

    def stamp(session: Session) -> None:
        keys = session.info.pop(_KEYS, None)
        if keys:
            now = time.monotonic()
            for key in keys:
                applied.setdefault(key, now)
            if len(applied) >= count:
                done.set()

    subscription = Subscription("pipeline", batch=batch)

    @subscription.on(NeedSubmitted)
    async def on_need(session: AsyncSession, need: NeedSubmitted, envelope: Envelope) -> None:
        await session.execute(insert(received).values(key=need.summary, received_at=datetime.now(UTC)))
        session.sync_session.info.setdefault(_KEYS, []).append(need.summary)

    runner = ConsumerRunner(subscription, service="bench", sessionmaker=sessionmaker, js=js, stream="LINLI")
    # When each event reached NATS (a plain subscription beside the consumer): the lag splits into the producer's
    # part (commit → published) and the consumer's (published → applied).
    published: dict[str, float] = {}

    async def seen(msg: Any) -> None:
        published.setdefault(json.loads(msg.data)["summary"], time.monotonic())

    await nc.subscribe(NeedSubmitted.type, cb=seen)
    event.listen(Session, "after_commit", stamp)
    task = asyncio.create_task(runner.run())
    out = workdir / f"produced-{uuid.uuid4().hex[:8]}.json"
    command = [sys.executable, __file__, "produce", producer_url, server.url, mode, str(rate), str(count), str(out)]
    producer = subprocess.Popen(command)
    cpu, server_cpu = process_cpu(), process_cpu(server.process.pid if server.process else None)
    try:
        await asyncio.wait_for(done.wait(), timeout=900)
        cpu = process_cpu() - cpu
        server_cpu = process_cpu(server.process.pid if server.process else None) - server_cpu
        if await asyncio.to_thread(producer.wait, 120) != 0:
            raise RuntimeError("the producer failed")
    finally:
        if producer.poll() is None:
            producer.kill()
        event.remove(Session, "after_commit", stamp)
        runner.stop()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await nc.close()
        await engine.dispose()
        server.stop()
    produced = json.loads(out.read_text())
    committed: dict[str, float] = produced["committed"]
    return Run(
        events=count,
        achieved=count / (produced["ended"] - produced["began"]),
        drained=max(applied.values()) - produced["began"],
        lags_ms=[(applied[k] - committed[k]) * 1000 for k in applied if k in committed],
        published_ms=[(published[k] - committed[k]) * 1000 for k in published if k in committed],
        consumer_cpu_ms=cpu * 1000 / count,
        producer_cpu_ms=produced["cpu"] * 1000 / count,
        server_cpu_ms=server_cpu * 1000 / count,
    )


async def bench_pipeline(
    workdir: Path, postgres_url: str | None, seconds: float, burst_events: int, note: str = "", rounds: int = 2
) -> None:
    def verdict(met: bool) -> str:
        return ("MET" if met else "MISSED") + note

    print(
        "event pipeline at a peak: a producing process (emit, then relay.wake(); OutboxRelay at its 0.5 s poll) → "
        "JetStream (nats-server, sync_interval: always) → a consuming process (ConsumerRunner with its inbox), one "
        f"database; {os.cpu_count()} CPUs shared with whatever else runs"
    )
    backends: list[tuple[str, str | None]] = [("sqlite", None)]
    if postgres_url:
        backends.append(("postgresql", postgres_url))
    for backend, server_url in backends:
        factory = DatabaseFactory(workdir / f"pipeline-{backend}", server_url)
        factory.root.mkdir(parents=True, exist_ok=True)
        try:
            try:
                first = factory.new_empty("bench_events")
            except Exception as exc:  # noqa: BLE001 - no PostgreSQL here: said, and the SQLite figures stand
                print(f"  {backend}: not measured ({exc.__class__.__name__}: {exc})")
                continue
            rate = STEADY_TARGETS[backend]
            s = await run_pipeline(first, workdir, "steady", rate, int(rate * seconds), batch=True)
            met = s.achieved >= rate * 0.98 and s.p99 <= LAG_P99_MS
            print(
                f"  {backend}: steady {rate:,} events/s for {seconds:g} s ({EMITTERS} emitters, transactions of "
                f"{PER_TRANSACTION}): achieved {s.achieved:,.0f}/s; commit→applied p50 {s.p50:.1f} ms, p99 "
                f"{s.p99:.1f} ms, max {max(s.lags_ms):.1f} ms (of which commit→published p50 "
                f"{percentile(s.published_ms, 0.5):.1f} ms, p99 {percentile(s.published_ms, 0.99):.1f} ms); "
                f"CPU per event: consumer {s.consumer_cpu_ms:.3f} ms, "
                f"producer {s.producer_cpu_ms:.3f} ms, nats-server {s.server_cpu_ms:.3f} ms "
                f"(target {rate:,}/s with p99 ≤ {LAG_P99_MS:g} ms: {verdict(met)})"
            )
            results: dict[bool, list[Run]] = {True: [], False: []}
            for _ in range(rounds):
                for batch in (True, False):  # in turns: the shared machine disturbs both alike
                    url = factory.new_empty("bench_events")
                    results[batch].append(await run_pipeline(url, workdir, "burst", 0, burst_events, batch))
            for batch, runs in results.items():
                best = min(runs, key=lambda run: run.drained)
                cpu_ms = min(run.consumer_cpu_ms for run in runs)
                label = "batch apply" if batch else "one by one (batch=False)"
                line = (
                    f"  {backend}: burst of {burst_events:,} in transactions of 10, {label:24s}: drained in "
                    f"{best.drained:.1f} s ({burst_events / best.drained:,.0f}/s), consumer CPU per event "
                    f"{cpu_ms:.3f} ms (best of {rounds})"
                )
                if batch:
                    scaled = best.drained * BURST_EVENTS / burst_events
                    line += f" (target {BURST_EVENTS:,} in ≤ {BURST_SECONDS:g} s: {verdict(scaled <= BURST_SECONDS)})"
                print(line)
            speed = min(r.drained for r in results[False]) / min(r.drained for r in results[True])
            cpu = min(r.consumer_cpu_ms for r in results[False]) / min(r.consumer_cpu_ms for r in results[True])
            print(f"  {backend}: batch apply over one by one: {speed:.2f}× faster, {cpu:.2f}× less consumer CPU/event")
        finally:
            factory.drop_all()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="the producing side of the event pipeline bench")
    parser.add_argument("role", choices=["produce"])
    parser.add_argument("url")
    parser.add_argument("nats_url")
    parser.add_argument("mode", choices=["steady", "burst"])
    parser.add_argument("rate", type=float)
    parser.add_argument("count", type=int)
    parser.add_argument("out", type=Path)
    args = parser.parse_args()
    asyncio.run(produce(args.url, args.nats_url, args.mode, args.rate, args.count, args.out))
