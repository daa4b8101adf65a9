"""Fault tests: a crashed NATS server and a crashed consumer process lose nothing and apply nothing twice."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import nats
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service_kit.events.bus import connect, ensure_streams
from service_kit.events.consumer import ConsumerRunner
from service_kit.events.envelope import Envelope
from service_kit.events.outbox import OutboxRelay, emit
from service_kit.settings import ServiceSettings
from service_kit.testing import NatsServer, eventually

from .kit_service import all_applied, applied_counts, need, needs_subscription, running

pytestmark = pytest.mark.fault


async def test_nats_killed_and_restarted_while_producing(
    tmp_path: Path, kit_sessionmaker: async_sessionmaker[AsyncSession], report_figure: Callable[[str], None]
) -> None:
    server = NatsServer(tmp_path / "nats").start()
    settings = ServiceSettings(nats_url=server.url)
    nc = await connect(settings, name="fault-test")
    js = nc.jetstream()
    await ensure_streams(js, settings)
    relay = OutboxRelay(kit_sessionmaker, js, source="fault-test", poll_seconds=0.05, publish_timeout=2.0)
    runner = ConsumerRunner(
        needs_subscription(), service="kit", sessionmaker=kit_sessionmaker, js=js, stream="LINLI", ack_wait=3.0
    )
    total, per_transaction = 1000, 10
    try:
        async with running(relay.run(), runner.run()):
            for batch in range(total // per_transaction):
                async with kit_sessionmaker() as session, session.begin():
                    for i in range(per_transaction):
                        await emit(session, need(f"e{batch:03d}-{i}"))
                relay.wake()
                if batch == 30:
                    server.kill()
                    killed_at = time.monotonic()
                if batch == 60:
                    await asyncio.sleep(max(0.0, 1.0 - (time.monotonic() - killed_at)))
                    server.start()
                await asyncio.sleep(0.01)
            counts = await eventually(lambda: all_applied(kit_sessionmaker, total), timeout=90)
            stream = await js.stream_info("LINLI")
    finally:
        await nc.close()
        server.stop()
    twice = [k for k, times in counts.items() if times != 1]
    report_figure(
        f"nats-server SIGKILL during {total} events: applied {len(counts)}, applied twice {len(twice)}, "
        f"stream messages {stream.state.messages}, redeliveries absorbed by the inbox {runner.duplicates}"
    )
    assert len(counts) == total
    assert twice == []
    assert stream.state.messages == total  # JetStream's duplicate window dropped every re-published copy


async def test_consumer_process_killed_mid_batch(
    nats_url: str,
    kit_db_url: str,
    kit_sessionmaker: async_sessionmaker[AsyncSession],
    report_figure: Callable[[str], None],
) -> None:
    total = 400
    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    await ensure_streams(js, ServiceSettings(nats_url=nats_url))
    for i in range(total):
        envelope = Envelope.wrap(need(f"k{i:03d}"), source="fault-test")
        await js.publish(envelope.type, envelope.payload(), headers=envelope.headers())
    await nc.close()

    script = Path(__file__).with_name("kit_service.py")
    command = [sys.executable, str(script), "--database-url", kit_db_url, "--nats-url", nats_url]
    # The process kills itself inside the handler of the 150th event, mid-batch (batches of 20): no poll from
    # here has to catch it in time.
    first = subprocess.Popen([*command, "--crash-after", "150"])
    assert await asyncio.to_thread(first.wait, 90) == -signal.SIGKILL
    applied_before_kill = len(await applied_counts(kit_sessionmaker))
    second = subprocess.Popen(command)
    try:
        counts = await eventually(lambda: all_applied(kit_sessionmaker, total), timeout=90)
    finally:
        second.terminate()
        second.wait(10)
    twice = [k for k, times in counts.items() if times != 1]
    report_figure(
        f"consumer process SIGKILL after {applied_before_kill} of {total} events: applied {len(counts)}, "
        f"applied twice {len(twice)}"
    )
    assert 0 < applied_before_kill < total
    assert len(counts) == total
    assert twice == []
