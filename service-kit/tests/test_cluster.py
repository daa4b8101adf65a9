"""A 3-node JetStream cluster with the stream at replicas 3: one node SIGKILLed and restarted while events
are produced loses nothing and applies nothing twice."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service_kit.events.bus import connect, ensure_streams
from service_kit.events.consumer import ConsumerRunner
from service_kit.events.outbox import OutboxRelay, emit
from service_kit.settings import ServiceSettings
from service_kit.testing import NatsCluster, eventually

from .kit_service import all_applied, need, needs_subscription, running

pytestmark = pytest.mark.fault


async def test_cluster_node_killed_while_producing(
    tmp_path: Path, kit_sessionmaker: async_sessionmaker[AsyncSession], report_figure: Callable[[str], None]
) -> None:
    cluster = NatsCluster(tmp_path / "cluster").start()
    settings = ServiceSettings(nats_url=cluster.url, stream_replicas=3)
    nc = await connect(settings, name="cluster-test")
    js = nc.jetstream()
    # The cluster elects its JetStream meta leader after the routes form; creating the stream waits for it.
    deadline = time.monotonic() + 30
    while True:
        try:
            await ensure_streams(js, settings)
            info = await js.stream_info("LINLI")
            break
        except Exception:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.5)
    assert info.config.num_replicas == 3

    relay = OutboxRelay(kit_sessionmaker, js, source="cluster-test", poll_seconds=0.05, publish_timeout=3.0)
    runner = ConsumerRunner(
        needs_subscription(), service="kit", sessionmaker=kit_sessionmaker, js=js, stream="LINLI", ack_wait=5.0
    )
    total, per_transaction = 1000, 10
    victim = cluster.nodes[0]
    try:
        async with running(relay.run(), runner.run()):
            for batch in range(total // per_transaction):
                async with kit_sessionmaker() as session, session.begin():
                    for i in range(per_transaction):
                        await emit(session, need(f"c{batch:03d}-{i}"))
                relay.wake()
                if batch == 30:
                    victim.kill()
                if batch == 70:
                    victim.start()
                await asyncio.sleep(0.01)

            counts = await eventually(lambda: all_applied(kit_sessionmaker, total), timeout=120)
            stream = await js.stream_info("LINLI")
    finally:
        await nc.close()
        cluster.stop()
    twice = [k for k, times in counts.items() if times != 1]
    report_figure(
        f"3-node cluster, R3 stream, one node SIGKILLed during {total} events: applied {len(counts)}, "
        f"applied twice {len(twice)}, stream messages {stream.state.messages}"
    )
    assert len(counts) == total
    assert twice == []
    assert stream.state.messages == total
