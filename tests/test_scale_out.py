"""Scale-out, proven on one machine: a 3-node NATS JetStream cluster (the stream at replicas 3), two replicas of
every service and of the gateway, all on PostgreSQL. Load runs through both gateways while one NATS node is
SIGKILLed (and later restarted), then one replica of every service and one gateway are SIGKILLed.

What must hold: no accepted request is lost (every need a caller was told was recorded reaches procurement's need
pool), no event is lost or applied twice (outbox rows = stream messages = inbox rows, and the pool counts every
need once), and the surviving replicas keep serving (every request eventually succeeds through a gateway).
The counts are printed under "Linli figures".
"""

from __future__ import annotations

import asyncio
import itertools
import os
import random
import socket
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import nats
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from service_kit.testing import DatabaseFactory, NatsCluster, eventually_blocking, refusing_socket

from .conftest import DEMO_ACCOUNTS, GATEWAY, RATE_LIMITED, SERVICES, SMALL_POOLS, DevStack, login

pytestmark = [
    pytest.mark.stack,
    pytest.mark.fault,
    pytest.mark.skipif(
        not os.environ.get("LINLI_TEST_POSTGRES_URL"),
        reason="replicas share their service's database: runs in the PostgreSQL suite (make test-postgres)",
    ),
]

CATEGORY = "elderly.meal_table"
LOAD_WORKERS = 8
# Seconds after the load starts: a NATS node dies; one replica of everything dies; the NATS node comes back; the
# load may stop (it goes on until the survivors have served enough to judge them by).
KILL_NATS_AT, KILL_REPLICAS_AT, RESTART_NATS_AT, LOAD_ENDS_AT = 4.0, 9.0, 15.0, 21.0
GIVE_UP_AFTER = 90.0  # a caller's app keeps retrying a request this long before it counts as lost
RETRIED_STATUSES = {502, 503, 504}


@dataclass
class Tally:
    accepted: Counter[str] = field(default_factory=Counter)
    lost: Counter[str] = field(default_factory=Counter)
    retries: Counter[str] = field(default_factory=Counter)
    replayed: int = 0
    need_ids: set[str] = field(default_factory=set)
    success_times: list[float] = field(default_factory=list)


class Callers:
    """Operators' consoles calling through whichever gateway answers, as a load balancer would send them: a
    connection failure or a 502/503/504 is retried on the other gateway with the same Idempotency-Key."""

    def __init__(self, gateways: list[str], headers: dict[str, str], tally: Tally, started: float) -> None:
        self.gateways = gateways
        self.headers = headers
        self.tally = tally
        self.started = started
        self.client = httpx.AsyncClient(timeout=15.0)

    async def call(self, kind: str, method: str, path: str, body: dict[str, Any] | None = None) -> None:
        headers = dict(self.headers)
        if method == "POST":
            headers["Idempotency-Key"] = str(uuid.uuid4())
        deadline = time.monotonic() + GIVE_UP_AFTER
        gateway = random.randrange(len(self.gateways))
        while True:
            try:
                response = await self.client.request(method, self.gateways[gateway] + path, json=body, headers=headers)
                retry = response.status_code in RETRIED_STATUSES or (
                    response.status_code == 409
                    and response.headers.get("content-type", "").startswith("application/problem+json")
                    and response.json().get("code") in {"idempotency_in_progress", "idempotency_retry"}
                )
                reason = str(response.status_code)
            except httpx.TransportError as exc:
                retry, reason = True, type(exc).__name__
            if not retry:
                break
            if time.monotonic() > deadline:
                self.tally.lost[kind] += 1
                return
            self.tally.retries[reason] += 1
            gateway = (gateway + 1) % len(self.gateways)
            await asyncio.sleep(0.2)
        assert response.status_code < 300, f"{method} {path}: {response.status_code} {response.text}"
        self.tally.accepted[kind] += 1
        self.tally.success_times.append(time.monotonic() - self.started)
        if response.headers.get("idempotent-replayed") == "true":
            self.tally.replayed += 1
        if kind == "need":
            self.tally.need_ids.add(response.json()["id"])

    async def worker(self, number: int, stop: asyncio.Event) -> None:
        paths = [
            ("offerings", "GET", "/api/v1/offerings?limit=5"),
            ("categories", "GET", "/api/v1/categories"),
            ("calls", "GET", "/api/v1/calls"),
            ("residents", "GET", "/api/v1/residents?phone_suffix=0000"),
            ("complaints", "GET", "/api/v1/complaints"),
        ]
        i = 0
        while not stop.is_set():
            i += 1
            if i % 2:
                body = {"category_code": CATEGORY, "text": f"scale-out caller {number}-{i} asks for a meal table"}
                await self.call("need", "POST", "/api/v1/needs", body)
            else:
                await self.call(*paths[(i // 2 + number) % len(paths)])


async def _scalar(url: str, sql: str, **params: Any) -> Any:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            return (await conn.execute(text(sql), params)).scalar()
    finally:
        await engine.dispose()


async def _stream_messages(servers: str, subject: str) -> int:
    nc = await nats.connect(servers.split(","))
    try:
        info = await nc.jetstream().stream_info("LINLI", subjects_filter=subject)
        return sum((info.state.subjects or {}).values())
    finally:
        await nc.close()


async def _wait_for(check: Callable[[], Any], timeout: float) -> float:
    started = time.monotonic()
    while not await check():
        if time.monotonic() - started > timeout:
            raise AssertionError(f"not reached within {timeout}s")
        await asyncio.sleep(0.5)
    return time.monotonic() - started


def _start_replicated_stack(
    tmp_path: Path, databases: dict[str, str], cluster: NatsCluster, reserved: list[socket.socket]
) -> tuple[DevStack, str]:
    """Each replica's port is held by a bound, non-listening socket of the test's (``reserved``, closed by the
    caller) from before the replica starts until the test ends: no other process can be given it, and once the
    replica is killed it refuses connections at once, as a dead machine's port does."""

    def port() -> int:
        reserved.append(refusing_socket())
        return int(reserved[-1].getsockname()[1])

    replica_ports = {s.name: [port(), port()] for s in SERVICES}
    second_gateway = port()
    stack = DevStack(
        var_dir=tmp_path / "stack",
        gateway_port=port(),
        service_ports={name: ports[0] for name, ports in replica_ports.items()},
        database_urls=databases,
        extra_env={
            **SMALL_POOLS,
            "LINLI_NATS_URL": cluster.url,
            "LINLI_STREAM_REPLICAS": "3",
            "LINLI_LOG_LEVEL": "WARNING",
            "LINLI_RELAY_POLL_SECONDS": "0.1",
            # A dead replica's claims on outbox rows and un-acked events come back quickly.
            "LINLI_RELAY_LEASE_SECONDS": "5",
            "LINLI_CONSUMER_ACK_WAIT_SECONDS": "5",
            # A POST cut off by the kill holds its Idempotency-Key until then; the retry runs it after (once).
            "LINLI_IDEMPOTENCY_STALE_SECONDS": "10",
            **{f"LINLI_RATE_LIMIT_{kind}": "100000/minute" for kind in RATE_LIMITED},
            **{
                f"LINLI_GATEWAY_{name.upper()}_URL": ",".join(f"http://127.0.0.1:{port}" for port in ports)
                for name, ports in replica_ports.items()
            },
        },
    )
    stack.var_dir.mkdir(parents=True)
    stack.migrate()
    stack.bootstrap_accounts(DEMO_ACCOUNTS)
    for service in SERVICES:
        for replica, port in enumerate(replica_ports[service.name], start=1):
            stack.start_service(service, port, name=f"{service.name}-{replica}")
    stack.start_service(GATEWAY, stack.gateway_port, name="gateway-1")
    stack.wait_healthy(90)
    # The second gateway shares the first's signing key (same key folder) and database.
    stack.start_service(GATEWAY, second_gateway, name="gateway-2")

    def second_gateway_healthy() -> bool:
        try:
            return httpx.get(f"http://127.0.0.1:{second_gateway}/healthz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    eventually_blocking(second_gateway_healthy, timeout=120)
    return stack, f"http://127.0.0.1:{second_gateway}"


async def test_replicas_and_a_nats_node_die_under_load(
    tmp_path: Path, database_factory: DatabaseFactory, report_figure: Callable[[str], None]
) -> None:
    cluster = NatsCluster(tmp_path / "nats").start()
    databases = {s.name: database_factory.new_empty(s.name) for s in (*SERVICES, GATEWAY)}
    reserved: list[socket.socket] = []
    stack, second_gateway = await asyncio.to_thread(_start_replicated_stack, tmp_path, databases, cluster, reserved)
    try:
        gateways = [stack.gateway_url, second_gateway]
        with httpx.Client(base_url=gateways[0], timeout=30) as client:
            headers = login(client, "operator")
        tally = Tally()
        started = time.monotonic()
        callers = Callers(gateways, headers, tally, started)
        stop = asyncio.Event()
        load = asyncio.gather(*(callers.worker(n, stop) for n in range(LOAD_WORKERS)))

        victim = cluster.nodes[1]
        await asyncio.sleep(KILL_NATS_AT)
        victim.kill()
        await asyncio.sleep(KILL_REPLICAS_AT - KILL_NATS_AT)
        killed_at = time.monotonic() - started
        for name in [f"{s.name}-1" for s in SERVICES] + ["gateway-2"]:
            stack.processes[name].kill()
        await asyncio.sleep(RESTART_NATS_AT - KILL_REPLICAS_AT)
        await asyncio.to_thread(victim.start)
        restarted_at = time.monotonic() - started

        # The load runs until LOAD_ENDS_AT, and on until the survivors have served enough to judge them by (a
        # loaded machine serves fewer requests in the same seconds).
        async def load_served_enough() -> bool:
            return time.monotonic() - started >= LOAD_ENDS_AT and (
                tally.accepted["need"] > 50 and any(t > restarted_at for t in tally.success_times)
            )

        await _wait_for(load_served_enough, 300)
        stop.set()
        await load
        await callers.client.aclose()

        feedback_db, procurement_db = databases["feedback"], databases["procurement"]
        produced_sql = "SELECT count(*) FROM outbox_event WHERE type = 'linli.need.submitted.v1'"
        applied_sql = "SELECT count(*) FROM inbox_event WHERE consumer = 'procurement-needs'"

        async def all_applied() -> bool:
            produced = await _scalar(feedback_db, produced_sql)
            return produced > 0 and produced == await _scalar(procurement_db, applied_sql)

        settle = await _wait_for(all_applied, 120)
        produced = await _scalar(feedback_db, produced_sql)
        applied = await _scalar(procurement_db, applied_sql)
        unpublished = await _scalar(feedback_db, "SELECT count(*) FROM outbox_event WHERE published_at IS NULL")
        in_stream = await _stream_messages(cluster.url, "linli.need.submitted.v1")
        recorded = await _scalar(feedback_db, "SELECT count(*) FROM need WHERE category_code = :c", c=CATEGORY)
        pooled = await _scalar(procurement_db, "SELECT max(count) FROM need WHERE category_code = :c", c=CATEGORY)
        times = sorted(tally.success_times)
        gaps = [(b - a, a) for a, b in itertools.pairwise(times)]
        stall, stall_from = max(gaps, default=(0.0, 0.0))
        after_kill = [t for t in tally.success_times if t > killed_at]
        accepted, retried = sum(tally.accepted.values()), sum(tally.retries.values())
        first_after_kill = (after_kill[0] - killed_at) if after_kill else float("nan")
        report_figure(
            "scale-out (3 NATS nodes R3, 2 replicas of each service and gateway, PostgreSQL): "
            f"requests accepted {accepted} {dict(tally.accepted)}, lost {sum(tally.lost.values())}, "
            f"retried {retried} {dict(tally.retries)}, idempotent replays {tally.replayed}; "
            f"needs accepted {len(tally.need_ids)}, events produced {produced}, in the stream {in_stream}, "
            f"applied {applied}, unpublished {unpublished}; longest stall {stall:.1f} s (from {stall_from:.1f} s; "
            f"kills at {KILL_NATS_AT:g} and {killed_at:.1f} s), first success after the replica kill "
            f"{first_after_kill:.1f} s, all applied {settle:.1f} s after the load ended"
        )

        assert not tally.lost, f"requests given up: {dict(tally.lost)}"
        assert tally.accepted["need"] > 50
        assert all(tally.accepted[k] for k in ("offerings", "calls", "residents"))
        assert after_kill, "nothing succeeded after one replica of everything was killed"
        # Every accepted need was recorded exactly once, and nothing the callers were not told about.
        assert len(tally.need_ids) == tally.accepted["need"] == recorded
        # Every event published once, applied once; the pool counted every need.
        assert produced == recorded == in_stream == applied
        assert unpublished == 0
        assert pooled == recorded
    finally:
        await asyncio.to_thread(stack.stop)
        await asyncio.to_thread(cluster.stop)
        for sock in reserved:
            sock.close()
