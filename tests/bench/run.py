"""``make bench``: figures for the event backbone and the gateway, measured on this machine.

Prints (1) the outbox → JetStream → inbox pipeline's throughput and end-to-end latency on SQLite, and (2) the
gateway's added latency: the same GET through the gateway and straight to the service, p50/p99 and their ratio.
Speed is reported, not asserted: the tests check correctness.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import httpx
from sqlalchemy import Column, MetaData, String, Table, insert
from sqlalchemy.ext.asyncio import AsyncSession

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "deploy"))

from service_kit.db import UTCDateTime, create_engine, create_sessionmaker  # noqa: E402
from service_kit.events.bus import connect, ensure_streams  # noqa: E402
from service_kit.events.consumer import ConsumerRunner, Subscription  # noqa: E402
from service_kit.events.contracts import NeedSubmitted  # noqa: E402
from service_kit.events.envelope import Envelope  # noqa: E402
from service_kit.events.outbox import OutboxRelay, emit  # noqa: E402
from service_kit.events.tables import kit_metadata  # noqa: E402
from service_kit.settings import ServiceSettings  # noqa: E402
from service_kit.testing import NatsServer, free_port  # noqa: E402

bench_metadata = MetaData()
received = Table(
    "received",
    bench_metadata,
    Column("key", String(64), primary_key=True),
    Column("received_at", UTCDateTime(), nullable=False),
)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def bench_events(total: int, per_transaction: int, workdir: Path) -> None:
    server = NatsServer(workdir / "nats").start()
    url = f"sqlite+aiosqlite:///{workdir / 'bench.db'}"
    engine = create_engine(url)
    async with engine.begin() as conn:
        await conn.run_sync(kit_metadata.create_all)
        await conn.run_sync(bench_metadata.create_all)
    sessionmaker = create_sessionmaker(engine)
    settings = ServiceSettings(nats_url=server.url, database_url=url)
    nc = await connect(settings, name="bench")
    js = nc.jetstream()
    await ensure_streams(js, settings)
    sent_at: dict[str, float] = {}
    latencies: list[float] = []
    done = asyncio.Event()

    async def on_need(session: AsyncSession, event: NeedSubmitted, envelope: Envelope) -> None:
        await session.execute(insert(received).values(key=event.summary, received_at=datetime.now(UTC)))
        latencies.append(time.perf_counter() - sent_at[event.summary])
        if len(latencies) == total:
            done.set()

    subscription = Subscription("bench")
    subscription.on(NeedSubmitted)(on_need)
    relay = OutboxRelay(sessionmaker, js, source="bench", poll_seconds=0.05)
    runner = ConsumerRunner(subscription, service="bench", sessionmaker=sessionmaker, js=js, stream="LINLI")
    tasks = [asyncio.create_task(relay.run()), asyncio.create_task(runner.run())]
    started = time.perf_counter()
    for batch in range(total // per_transaction):
        async with sessionmaker() as session, session.begin():
            for i in range(per_transaction):
                key = f"{batch}-{i}"
                sent_at[key] = time.perf_counter()
                await emit(
                    session,
                    NeedSubmitted(
                        need_id=uuid.uuid4(),
                        group_key=key,
                        category_code="elderly.meal_table",
                        summary=key,
                        count=1,
                        source="resident",
                        submitted_at=datetime.now(UTC),
                    ),
                )
        relay.wake()
    produced = time.perf_counter() - started
    await asyncio.wait_for(done.wait(), timeout=300)
    elapsed = time.perf_counter() - started
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    await nc.close()
    await engine.dispose()
    server.stop()
    ms = [v * 1000 for v in latencies]
    print(f"events: {total} in transactions of {per_transaction} on SQLite, nats-server sync_interval=always")
    print("  (every stored message and ack is fsynced by nats-server: that, not Python, bounds this figure)")
    print(
        f"  produced in {produced:.2f}s; all applied after {elapsed:.2f}s → {total / elapsed:,.0f} events/s end to end"
    )
    print(
        f"  commit→applied latency: p50 {percentile(ms, 0.5):.1f} ms, p99 {percentile(ms, 0.99):.1f} ms, "
        f"max {max(ms):.1f} ms"
    )


def bench_gateway(requests: int, workdir: Path) -> None:
    from devstack import SERVICES, DevStack

    stack = DevStack(
        var_dir=workdir / "stack",
        gateway_port=free_port(),
        nats_port=free_port(),
        service_ports={s.name: free_port() for s in SERVICES},
        extra_env={"LINLI_LOG_LEVEL": "WARNING"},
    )
    stack.start()
    try:
        results = {}
        for label, base in (
            ("direct to registry", stack.service_url("registry")),
            ("through gateway", stack.gateway_url),
        ):
            with httpx.Client(base_url=base) as client:
                for _ in range(50):
                    client.get("/api/v1/categories")
                timings = []
                for _ in range(requests):
                    t0 = time.perf_counter()
                    response = client.get("/api/v1/categories")
                    timings.append((time.perf_counter() - t0) * 1000)
                    response.raise_for_status()
            results[label] = timings
        print(f"gateway: {requests} sequential GET /api/v1/categories (keep-alive) after 50 warm-up requests")
        for label, timings in results.items():
            print(
                f"  {label:20s} p50 {percentile(timings, 0.5):6.2f} ms  p99 {percentile(timings, 0.99):6.2f} ms  "
                f"mean {statistics.mean(timings):6.2f} ms"
            )
        ratio = percentile(results["through gateway"], 0.5) / percentile(results["direct to registry"], 0.5)
        print(f"  gateway/direct p50 ratio: {ratio:.2f}")
    finally:
        stack.stop()


def main() -> None:
    # Cancelling the relay and consumer mid-transaction at the end makes the pool log the rollback it abandoned.
    logging.getLogger("sqlalchemy.pool").setLevel(logging.CRITICAL)
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--per-transaction", type=int, default=10)
    parser.add_argument("--requests", type=int, default=500)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="linli-bench-") as tmp:
        asyncio.run(bench_events(args.events, args.per_transaction, Path(tmp)))
        bench_gateway(args.requests, Path(tmp))


if __name__ == "__main__":
    main()
