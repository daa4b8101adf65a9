"""``make run``'s supervisor (deploy/devstack.py): two stacks started at the same moment each get their own ports;
nats-server and a service SIGKILLed under write load come back on their ports with every accepted write kept; the
demo loader leaves existing data alone, even data changed since; SIGINT stops every process and exits 0.

Two extra stacks, started together by the module's fixture, serve all four tests: the first takes the load and the
kills, the second the demo loader, after which its data is restarted by ``python deploy/devstack.py`` itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import devstack
import httpx
import nats
import pytest

from service_kit.testing import eventually_blocking, read_nats_ports

from .conftest import (
    DEMO_ACCOUNTS,
    ROOT,
    SERVICES,
    STACK_ENV,
    DevStack,
    login,
    new_phone,
    wait_until_communities_known,
)

pytestmark = [pytest.mark.stack, pytest.mark.slow_module]

START_LIMIT = 600.0  # seconds; generous bounds on conditions, never expected durations
CATEGORY = "elderly.meal_table"
# An outbox row or an event whose handling a SIGKILL cut off is taken up again after 5 s instead of 30.
TWIN_ENV = {**STACK_ENV, "LINLI_RELAY_LEASE_SECONDS": "5", "LINLI_CONSUMER_ACK_WAIT_SECONDS": "5"}


@dataclass
class Twins:
    stacks: list[DevStack]
    lines: list[list[str]]
    demo_loaded: bool = False  # the second stack holds the demo data
    offering_withdrawn: bool = False  # and one of its offerings is withdrawn, in a category since changed


@pytest.fixture(scope="module")
def twins(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Twins]:
    """Two stacks whose starts begin at the same moment, from two threads of this process."""
    lines: list[list[str]] = [[], []]
    stacks = [
        DevStack(var_dir=tmp_path_factory.mktemp(f"twin{i}"), extra_env=TWIN_ENV, say=lines[i].append) for i in range(2)
    ]
    barrier = threading.Barrier(len(stacks))
    failures: list[BaseException] = []

    def start(stack: DevStack) -> None:
        barrier.wait()
        try:
            stack.start(accounts=DEMO_ACCOUNTS, timeout=START_LIMIT)
        except BaseException as exc:  # noqa: BLE001 - reported below, from the test's thread
            failures.append(exc)

    threads = [threading.Thread(target=start, args=(stack,)) for stack in stacks]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    try:
        assert not failures, failures
        yield Twins(stacks, lines)
    finally:
        for stack in stacks:
            stack.stop()
        for i, said in enumerate(lines):
            print(f"\n--- twin {i} said ---\n" + "\n".join(said))


def register_resident(client: httpx.Client, phone: str) -> None:
    body = {
        "name": "测试居民",
        "phone": phone,
        "community_code": "gongchen.shidai_jiahe",
        "eligibility_tags": [],
        "consent": {"version": "2026-11", "channel": "phone"},
    }
    response = client.post("/api/v1/residents", headers=login(client, "operator"), json=body)
    assert response.status_code == 201, response.text


class Signed:
    """Each user's token, signed in once (sign-ins are rate limited per address, and slow on purpose)."""

    def __init__(self, client: httpx.Client) -> None:
        self.client = client
        self.headers: dict[str, dict[str, str]] = {}

    def __call__(self, username: str) -> dict[str, str]:
        if username not in self.headers:
            self.headers[username] = login(self.client, username)
        return self.headers[username]


def residents_with(client: httpx.Client, phone: str, operator: dict[str, str] | None = None) -> int:
    operator = operator or login(client, "operator")
    found = client.get("/api/v1/residents", headers=operator, params={"phone": phone})
    assert found.status_code == 200, found.text
    body = found.json()
    return len(body["items"] if isinstance(body, dict) else body)


# ------------------------------------------------------------------ (a) two stacks at once


def test_two_stacks_started_at_once_get_their_own_ports(twins: Twins) -> None:
    ports = [
        {"gateway": s.gateway_port, "nats": s.nats_port, **{n: s.service_ports[n] for n in s.service_ports}}
        for s in twins.stacks
    ]
    for own in ports:
        assert len(set(own.values())) == len(own) == 2 + len(SERVICES), own
    assert not set(ports[0].values()) & set(ports[1].values()), ports

    phones = [new_phone(), new_phone()]
    for stack, phone in zip(twins.stacks, phones, strict=True):
        # Every process answers on the port its stack reports for it, and is the process it says it is.
        nats_server = stack.nats
        assert nats_server is not None
        assert nats_server.process is not None
        assert read_nats_ports(nats_server.workdir, nats_server.process.pid) == {"nats": stack.nats_port}
        for service in SERVICES:
            answer = httpx.get(f"{stack.service_url(service.name)}/healthz", timeout=30).json()
            assert answer["service"] == service.name
        health = httpx.get(f"{stack.gateway_url}/healthz", timeout=30)
        assert health.status_code == 200, health.text
        assert set(health.json()["services"].values()) == {"ok"}
        # Booking learns the gazetteer's communities (which a registration names) from the registry's
        # announcement at its start, a moment after every process is ready.
        wait_until_communities_known(stack.gateway_url)
        with httpx.Client(base_url=stack.gateway_url, timeout=30) as client:
            register_resident(client, phone)
    # Each gateway reaches its own services: what one stack recorded, the other does not have.
    for stack, own, other in zip(twins.stacks, phones, reversed(phones), strict=True):
        with httpx.Client(base_url=stack.gateway_url, timeout=30) as client:
            assert residents_with(client, own) == 1
            assert residents_with(client, other) == 0


# ------------------------------------------------------------------ (b) kill -9 under load


@dataclass
class Load:
    """Operators recording needs (the writes) and residents browsing offerings (other requests), until stopped."""

    base_url: str
    headers: dict[str, str]
    accepted: list[str] = field(default_factory=list)  # ids of needs answered 2xx
    refused: Counter[str] = field(default_factory=Counter)
    reads: Counter[str] = field(default_factory=Counter)  # answers to the other requests, by status
    stop: threading.Event = field(default_factory=threading.Event)

    def write(self) -> None:
        with httpx.Client(base_url=self.base_url, timeout=15) as client:
            while not self.stop.is_set():
                body = {"category_code": CATEGORY, "text": f"supervisor test {uuid.uuid4().hex[:8]} asks for meals"}
                try:
                    response = client.post("/api/v1/needs", json=body, headers=self.headers)
                except httpx.TransportError as exc:
                    self.refused[type(exc).__name__] += 1
                else:
                    if response.is_success:
                        self.accepted.append(response.json()["id"])
                    else:
                        self.refused[str(response.status_code)] += 1
                time.sleep(0.02)

    def read(self) -> None:
        with httpx.Client(base_url=self.base_url, timeout=15) as client:
            while not self.stop.is_set():
                try:
                    self.reads[str(client.get("/api/v1/offerings", params={"limit": 5}).status_code)] += 1
                except httpx.TransportError as exc:
                    self.reads[type(exc).__name__] += 1
                time.sleep(0.05)

    def more_writes(self, count: int) -> None:
        target = len(self.accepted) + count
        eventually_blocking(lambda: len(self.accepted) >= target, timeout=START_LIMIT)


def came_back(stack: DevStack, name: str, killed: subprocess.Popen[bytes]) -> bool:
    current = stack.processes.get(name)
    return current is not None and current is not killed and current.poll() is None and stack.children[name].ready()


def test_killed_processes_come_back_and_keep_the_data(twins: Twins) -> None:
    stack, said = twins.stacks[0], twins.lines[0]
    with httpx.Client(base_url=stack.gateway_url, timeout=30) as client:
        load = Load(stack.gateway_url, login(client, "operator"))
    workers = [threading.Thread(target=load.write), threading.Thread(target=load.read)]
    for worker in workers:
        worker.start()
    try:
        load.more_writes(10)
        for name in ("nats", "feedback"):
            victim = stack.processes[name]
            port = stack.children[name].port
            victim.kill()  # SIGKILL
            victim.wait()
            eventually_blocking(lambda name=name, victim=victim: came_back(stack, name, victim), timeout=START_LIMIT)
            assert stack.children[name].port == port
            load.more_writes(10)  # writes are accepted again after the restart
    finally:
        load.stop.set()
        for worker in workers:
            worker.join()

    assert any(re.search(r"nats exited \(killed by SIGKILL\).*restarting it in", line) for line in said), said
    assert any(re.search(r"feedback exited \(killed by SIGKILL\).*restarting it in", line) for line in said), said
    # The registry kept answering whatever happened to nats-server and feedback.
    assert set(load.reads) == {"200"}, load.reads

    # Every accepted write is still there (feedback's SQLite file), and its event reached procurement's need pool
    # through the restarted nats-server (the JetStream store kept what was acked before the kill).
    with httpx.Client(base_url=stack.gateway_url, timeout=30) as client:
        operator, official = login(client, "operator"), login(client, "official")
        recorded: set[str] = set()
        offset = 0
        while True:
            page = client.get(
                "/api/v1/needs", headers=operator, params={"category_code": CATEGORY, "limit": 200, "offset": offset}
            ).json()
            recorded |= {need["id"] for need in page["items"]}
            offset += len(page["items"])
            if not page["items"] or offset >= page["total"]:
                break
        assert set(load.accepted) <= recorded, f"{len(set(load.accepted) - recorded)} accepted needs lost"

        def pooled() -> int:
            pool = client.get("/api/v1/need-pool", headers=official, params={"limit": 200}).json()
            return max((item["count"] for item in pool["items"] if item["category_code"] == CATEGORY), default=0)

        eventually_blocking(lambda: pooled() >= len(load.accepted), timeout=START_LIMIT)

    async def stream_messages() -> int:
        nc = await nats.connect(stack.nats_url)
        try:
            info = await nc.jetstream().stream_info("LINLI", subjects_filter="linli.need.submitted.v1")
            return sum((info.state.subjects or {}).values())
        finally:
            await nc.close()

    # An event whose publishing the kill of feedback cut off is published again once its lease ends.
    eventually_blocking(lambda: asyncio.run(stream_messages()) >= len(load.accepted), timeout=START_LIMIT)
    print(f"needs accepted {len(load.accepted)}, refused {dict(load.refused)}; reads {dict(load.reads)}")


# ------------------------------------------------------------------ (c) the demo loader on existing data


def demo_inventory(client: httpx.Client, signed: Signed) -> dict[str, int]:
    """How many of each demo record the platform holds, by the key the loader finds it by."""
    from demo_data import ORGANIZATIONS, RESIDENTS

    official = signed("official")

    def every(path: str, headers: dict[str, str], **params: Any) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        while True:
            page = client.get(path, headers=headers, params={**params, "limit": 200, "offset": len(items)}).json()
            items += page["items"]
            if not page["items"] or len(items) >= page["total"]:
                return items

    counts: Counter[str] = Counter()
    organizations = every("/api/v1/organizations", official)
    for spec in ORGANIZATIONS:
        mine = [o for o in organizations if o["uscc"] == spec["org"]["uscc"]]
        counts[f"organization {spec['username']}"] = len(mine)
        for offering in every("/api/v1/offerings", signed(spec["username"]), provider_id=mine[0]["id"]):
            counts[f"offering {offering['name_zh']}"] += 1
    for resident in RESIDENTS:
        counts[f"resident {resident['phone']}"] = residents_with(client, resident["phone"], signed("operator"))
    for contract in every("/api/v1/contracts", official):
        counts[f"contract {contract['title']}"] += 1
    for fund in every("/api/v1/funds", official):
        counts[f"fund {fund['name']}"] += 1
    for call in every("/api/v1/calls", official):
        counts[f"call {call['title']}"] += 1
        counts[f"applications to {call['title']}"] = len(every(f"/api/v1/calls/{call['id']}/applications", official))
    for notice in every("/api/v1/notices", official):
        counts[f"notice {notice['title']}"] += 1
    for need in every("/api/v1/need-pool", official):
        if need["source"] == "official":  # the demo's; the platform adds others of its own (coverage gaps)
            counts[f"need {need['summary']}"] += 1
    counts["historical projects"] = client.get(
        "/api/v1/funds/historical-projects", headers=official, params={"limit": 1}
    ).json()["total"]
    return dict(counts)


def test_demo_loader_leaves_existing_data_alone(twins: Twins) -> None:
    from demo_data import ORGANIZATIONS, load_demo_data

    stack = twins.stacks[1]
    reports: list[list[str]] = [[], []]
    first = load_demo_data(stack.gateway_url, report=reports[0].append)
    twins.demo_loaded = True
    with httpx.Client(base_url=stack.gateway_url, timeout=30) as client:
        signed = Signed(client)
        loaded = demo_inventory(client, signed)
        assert reports[0][0].startswith("created organizations 3, accounts 3, offerings 5"), reports[0]
        # All of it, at first, but the signature of the contract from this year's call: it waits for the call's
        # public notice to end (a working day at least), and a load on a later day signs it.
        skipped = [line for line in reports[0] if line.startswith("skipped")]
        assert len(skipped) == 1, reports[0]
        assert skipped[0].startswith("skipped signing"), reports[0]
        assert "public notice takes objections until" in skipped[0], reports[0]
        assert {k: v for k, v in loaded.items() if k != "historical projects" and not k.startswith("applications")} == {
            k: 1 for k in loaded if k != "historical projects" and not k.startswith("applications")
        }, loaded

        # Since then an official made a category require a qualification the provider does not hold, and the
        # provider withdrew its offering in it: publishing it again would be refused (409).
        official, provider = signed("official"), signed("xiaokang")
        changed = client.patch(
            "/api/v1/categories/elderly.home_care", headers=official, json={"required_qualification": "home_care"}
        )
        assert changed.status_code == 200, changed.text
        name = ORGANIZATIONS[0]["offerings"][1]["name_zh"]
        offering = next(
            o for o in client.get("/api/v1/offerings", params={"limit": 200}).json()["items"] if o["name_zh"] == name
        )
        withdrawn = client.post(f"/api/v1/offerings/{offering['id']}/withdraw", headers=provider, json={})
        assert withdrawn.status_code == 200, withdrawn.text
        twins.offering_withdrawn = True
        refused = client.post(f"/api/v1/offerings/{offering['id']}/publish", headers=provider, json={})
        assert refused.status_code == 409, refused.text

        again = load_demo_data(stack.gateway_url, report=reports[1].append)
        assert again == first
        assert reports[1][0] == "created nothing", reports[1]
        assert any(name in line and "withdrawn" in line for line in reports[1]), reports[1]
        assert demo_inventory(client, signed) == loaded
        offering = client.get(f"/api/v1/offerings/{offering['id']}", headers=provider).json()
        assert offering["status"] == "withdrawn"  # left as the provider left it


# ------------------------------------------------------------------ (d) make run on existing data, and Ctrl-C


def test_sigint_stops_every_process_and_exits_0(twins: Twins) -> None:
    """``python deploy/devstack.py`` on the second stack's data (restarted: the demo loader meets its own data and
    the changed category); SIGINT stops every process it started, and it exits 0."""
    stack = twins.stacks[1]
    stack.stop()
    env = {k: v for k, v in os.environ.items() if not k.startswith("LINLI_")}
    command = [sys.executable, str(ROOT / "deploy" / "devstack.py"), "--var-dir", str(stack.var_dir)]
    launcher = subprocess.Popen(
        [*command, "--gateway-port", "0"],
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,  # not a terminal pytest may run in: the launcher would take its foreground
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its own process group, which a failed test kills whole
    )
    output: list[str] = []
    running = threading.Event()

    def read() -> None:
        assert launcher.stdout is not None
        for line in launcher.stdout:
            output.append(line.rstrip("\n"))
            if "Press Ctrl-C" in line:
                running.set()
        running.set()  # the launcher ended: nothing more to wait for

    reader = threading.Thread(target=read)
    reader.start()
    try:
        running.wait(START_LIMIT)
        assert launcher.poll() is None, "\n".join(output)
        text = "\n".join(output)
        processes = next(line for line in output if line.strip().startswith("Processes"))
        pids = [int(pid) for pid in re.findall(r"pid (\d+)", processes)]
        # nats-server, the gateway, and each service's API and worker.
        assert len(pids) == 2 + 2 * len(SERVICES), processes
        gateway = re.search(r"Gateway\s+(http://\S+)", text)
        assert gateway is not None, text
        assert httpx.get(f"{gateway[1]}/healthz", timeout=30).status_code == 200
        assert "could not be loaded" not in text, text
        if twins.demo_loaded:
            assert "Linli: demo data: created nothing" in text, text
        if twins.offering_withdrawn:
            assert "withdrawn: left as it is" in text, text

        launcher.send_signal(signal.SIGINT)
        assert launcher.wait(120) == 0, "\n".join(output)
    finally:
        if launcher.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(launcher.pid, signal.SIGKILL)
            launcher.wait()
        reader.join()
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{gateway[1]}/healthz", timeout=5)
    assert "stopping every process" in "\n".join(output)
    assert Path(stack.var_dir / "nats").is_dir()


def test_make_run_passes_the_callers_settings_but_never_its_own_wiring(tmp_path: Path) -> None:
    """``LINLI_LOG_LEVEL=DEBUG make run`` reaches every process; what the launcher wires (ports, databases, the
    public address, NATS) is its own; ``ARGS=--allow-loopback-webhooks`` lets a webhook reach this machine."""
    environ = {
        "LINLI_LOG_LEVEL": "DEBUG",
        "LINLI_RATE_LIMIT_SIGN_IN": "100/minute",
        "LINLI_BOOKING_DATABASE_URL": "postgresql+asyncpg://elsewhere/booking",
        "LINLI_GATEWAY_REGISTRY_URL": "http://elsewhere:8000",
        "LINLI_NATS_URL": "nats://elsewhere:4222",
        "LINLI_PUBLIC_BASE_URL": "https://elsewhere.example",
        "LINLI_ENVIRONMENT": "production",
        "PATH": "/usr/bin",
    }
    assert devstack.child_settings(environ) == {"LINLI_LOG_LEVEL": "DEBUG", "LINLI_RATE_LIMIT_SIGN_IN": "100/minute"}
    assert devstack.child_settings({}, allow_loopback_webhooks=True) == {
        "LINLI_REGISTRY_WEBHOOK_ALLOW_LOOPBACK": "true"
    }
    stack = DevStack(var_dir=Path("/tmp/never-started"), extra_env=devstack.child_settings(environ))
    env = stack.env()
    assert env["LINLI_LOG_LEVEL"] == "DEBUG"
    assert env["LINLI_ENVIRONMENT"] == "dev"
    assert env["LINLI_BOOKING_DATABASE_URL"].startswith("sqlite+aiosqlite:///")


def test_no_process_of_the_stack_imports_alembic() -> None:
    """Migrations run in the launcher (or a deploy's job), never in a service: Alembic, about 0.15 s of a
    process's imports, stays out of every API and worker process (``docs/startup.md``)."""
    modules = [s.app.split(":")[0] for s in (*devstack.SERVICES, devstack.GATEWAY)]
    modules += [f"{m.split('.')[0]}.worker" for m in modules if m != "gateway.app"]
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}: importlib.import_module(name)\n"
        "print(sorted(m for m in sys.modules if m == 'alembic' or m.startswith('alembic.')))"
    )
    shown = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.strip() == "[]"
