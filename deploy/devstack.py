"""The embedded Linli stack on one machine, under one supervisor: nats-server (JetStream on local disk), the four
services and the gateway on SQLite files, demo data, one Ctrl-C to stop everything. ``make run`` calls this; the
whole-stack tests import ``DevStack`` and start the same processes the same way.

    python deploy/devstack.py [--var-dir var] [--gateway-port 8000] [--nats-port N] [--startup-timeout 600]
                              [--no-demo] [--fresh] [--prometheus]

Metrics: each service's ``/metrics`` is on its own port; the gateway's on a metrics port of its own (its public
port serves none). The banner lists them all; ``--prometheus`` also starts Debian's ``prometheus`` (when
installed) scraping every one of them, with Linli's alert rules (deploy/monitoring/alerts.yml) loaded.

Ports: the supervisor binds every service's and the gateway's listening socket itself (a port the system picks,
or the gateway's requested one when it is free) and hands it to uvicorn (``--fd``); it keeps the sockets open, so
a restarted process serves on the same port and no other program can take it meanwhile. nats-server binds a port
of its own choosing (it cannot take a socket) and reports it in its ports file; a restart asks for that port again.

Supervision: start-up waits until every process is ready (printing which are up and which still starting), as long
as it takes up to ``--startup-timeout``; a process that exits meanwhile stops the start with its log's last lines.
Once up, a process that exits is started again after a delay that doubles from 0.5 s up to 30 s (and is reset once
it has stayed up a minute), while the others keep serving. This loop is ours rather than supervisord's or circus's:
those run as daemons from config files (circus with ZeroMQ besides), and the tests need the same start in-process,
with each process's port in hand.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from service_kit.migrations import upgrade
from service_kit.testing import NatsServer, listening_socket, log_tail

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
# uvicorn's httptools protocol with a deadline on reading a request's headers (service_kit/server.py).
HTTP_PROTOCOL = "service_kit.server:HttpToolsProtocol"

STARTUP_TIMEOUT = 600.0  # seconds; the whole start, migrations included (a loaded 2-core machine needs minutes)
PROGRESS_EVERY = 15.0  # seconds between progress lines while nothing changes
RESTART_FIRST_DELAY = 0.5  # seconds before the first restart of a process that exited
RESTART_MAX_DELAY = 30.0  # the cap of the doubling delay: a process that keeps exiting is retried this often
STABLE_AFTER = 60.0  # a process up this long starts again from the first delay when it next exits
STOP_GRACE = 10.0  # seconds between SIGTERM and SIGKILL when stopping
LOG_LINES = 30  # lines of a process's log shown when it fails to start
WORKER_SUFFIX = "-worker"  # a service's worker process is named after its API: booking-worker

# Alembic's ``context`` is global to the interpreter: two stacks started by one process migrate in turn.
_MIGRATIONS = threading.Lock()


@dataclass(frozen=True)
class ServiceDef:
    name: str
    directory: str
    app: str
    default_port: int


SERVICES = (
    ServiceDef("registry", "provider-registry", "registry.app:create_app", 8101),
    ServiceDef("booking", "booking-service", "booking.app:create_app", 8102),
    ServiceDef("procurement", "procurement-service", "procurement.app:create_app", 8103),
    ServiceDef("feedback", "feedback-service", "feedback.app:create_app", 8104),
)
GATEWAY = ServiceDef("gateway", "gateway", "gateway.app:create_app", 8000)


@dataclass(frozen=True)
class Phase:
    """One step of a start: when it began (seconds after the start began), how long it took, and the CPU seconds
    it spent: its own process's (nats-server, a service up to its first ready answer, the demo accounts' CLI), or
    the launcher thread's for work done in the launcher (a migration)."""

    name: str
    began: float
    took: float
    cpu: float

    def as_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "began": round(self.began, 3),
            "took": round(self.took, 3),
            "cpu": round(self.cpu, 3),
        }


def process_cpu(pid: int) -> float:
    """CPU seconds (user + system) the live process ``pid`` has spent so far; 0.0 where /proc cannot tell."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat.rsplit(")", 1)[1].split()  # after the command name, which may hold spaces: field 3 onwards
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class StartupError(RuntimeError):
    """The stack did not come up: which process, why, and the end of its log."""


def _say(line: str) -> None:
    print(line, flush=True)


def describe_exit(status: int) -> str:
    if status < 0:
        with contextlib.suppress(ValueError):
            return f"killed by {signal.Signals(-status).name}"
        return f"killed by signal {-status}"
    return f"exit status {status}"


@dataclass
class Child:
    """One supervised process: how to start it, how to tell that it is ready, and its history of exits."""

    name: str
    spawn: Callable[[], subprocess.Popen[bytes]]
    ready: Callable[[], bool]
    log: Path
    port: int
    process: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    failures: int = 0  # exits in a row, each sooner than STABLE_AFTER after its start
    held: bool = False  # stopped on purpose (``DevStack.hold``): not started again until released
    restart_at: float | None = None  # set while it waits to be started again
    restarts: int = 0


@dataclass
class DevStack:
    var_dir: Path
    gateway_port: int = 0  # asked for (0: the system picks one); once bound, the gateway's port
    nats_port: int = 0  # likewise for nats-server
    service_ports: dict[str, int] = field(default_factory=dict)  # likewise per service
    database_urls: dict[str, str] = field(default_factory=dict)
    extra_env: dict[str, str] = field(default_factory=dict)
    say: Callable[[str], None] = _say  # progress and restart lines
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)  # the current process of each
    children: dict[str, Child] = field(default_factory=dict)
    sockets: dict[str, socket.socket] = field(default_factory=dict)
    nats: NatsServer | None = None
    gateway_metrics_port: int = 0  # the gateway's internal metrics listener (chosen at the first start)
    phases: list[Phase] = field(default_factory=list)  # the last start's steps, as they ended (``make bench``)
    # Each service's relay, consumers and jobs in a worker process of their own (``<name>-worker``), its API with
    # LINLI_RUN_WORKER=false: reads at saturation never starve them (docs/workers.md). False: inside the API.
    workers_apart: bool = True
    workers: set[str] = field(default_factory=set)  # the API processes whose worker runs apart
    began: float = 0.0  # when the last start began (time.monotonic)
    _lock: threading.RLock = field(default_factory=threading.RLock)
    _accounts_began: float = 0.0
    _stopping: threading.Event = field(default_factory=threading.Event)
    _supervisor: threading.Thread | None = None

    # ------------------------------------------------------------------ addresses

    @property
    def gateway_url(self) -> str:
        return f"http://{HOST}:{self.gateway_port}"

    @property
    def nats_url(self) -> str:
        return f"nats://{HOST}:{self.nats_port}"

    def service_url(self, name: str) -> str:
        return f"http://{HOST}:{self.service_ports[name]}"

    def database_url(self, name: str) -> str:
        return self.database_urls.get(name) or f"sqlite+aiosqlite:///{self.var_dir.resolve() / (name + '.db')}"

    @property
    def logs(self) -> Path:
        return self.var_dir / "logs"

    def metrics_urls(self) -> dict[str, str]:
        """Where each process's metrics are (Prometheus text): a service's own port, the gateway's metrics port."""
        urls = {service.name: f"{self.service_url(service.name)}/metrics" for service in SERVICES}
        if self.gateway_metrics_port:
            urls[GATEWAY.name] = f"http://{HOST}:{self.gateway_metrics_port}/metrics"
        return urls

    # ------------------------------------------------------------------ start

    def start(
        self, *, accounts: list[dict[str, object]] | None = None, timeout: float = STARTUP_TIMEOUT
    ) -> dict[str, Any]:
        """Bind the ports, migrate, start nats-server, create ``accounts``, start the services and the gateway, wait
        until all are ready (at most ``timeout`` seconds in all), then supervise them. Returns the gateway's
        ``/healthz``. On failure every process started is stopped again.

        What does not wait on another runs beside it: nats-server starts while the gateway's database is migrated;
        the accounts' CLI (argon2 hashes) runs while the services start; each service starts as soon as its own
        database is migrated, and imports its code while the launcher migrates the next one's. ``phases`` records
        each step's wall and CPU seconds (docs/startup.md)."""
        self.began, launcher_cpu = time.monotonic(), time.process_time()
        self.phases = []
        deadline = self.began + timeout
        self._stopping.clear()
        accounts_cli: subprocess.Popen[bytes] | None = None
        try:
            self.var_dir.mkdir(parents=True, exist_ok=True)
            self.allocate_ports()
            with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
                nats_started = pool.submit(self.start_nats, timeout=max(1.0, deadline - time.monotonic()))
                try:
                    self.migrate_one(GATEWAY)
                    if accounts:
                        accounts_cli = self.spawn_accounts(accounts)
                finally:
                    nats_started.result()  # its URL is in every process's environment
            self.clear_metrics()
            for service in SERVICES:
                self.migrate_one(service)
                self.start_service(service, worker_apart=self.workers_apart)
                if self.workers_apart:
                    self.start_worker(service)
            self.start_service(GATEWAY)
            health = self.wait_ready(max(1.0, deadline - time.monotonic()))
            if accounts_cli is not None:
                self.finish_accounts(accounts_cli, timeout=max(1.0, deadline - time.monotonic()))
                accounts_cli = None
            # The whole start's CPU: the launcher's (all its threads) and every process's, the accounts' CLI too.
            spent = sum(phase.cpu for phase in self.phases if phase.name == "accounts")
            self.record("healthy", self.began, time.process_time() - launcher_cpu + spent + self.children_cpu())
        except BaseException:
            if accounts_cli is not None and accounts_cli.poll() is None:
                accounts_cli.kill()
                accounts_cli.wait()
            self.stop()
            raise
        self.supervise()
        return health

    def record(self, name: str, began: float, cpu: float) -> None:
        """Note a step of the start that began at ``began`` (time.monotonic) and ends now, having spent ``cpu``."""
        with self._lock:
            self.phases.append(Phase(name, began - self.began, time.monotonic() - began, cpu))

    def children_cpu(self) -> float:
        """CPU seconds every live process of the stack has spent so far."""
        with self._lock:
            return sum(process_cpu(process.pid) for process in self.processes.values() if process.poll() is None)

    def allocate_ports(self) -> None:
        """Bind the gateway's and each service's listening socket, held open for the life of the stack."""
        for service in (GATEWAY, *SERVICES):
            if service.name in self.sockets:
                continue
            requested = self.gateway_port if service is GATEWAY else self.service_ports.get(service.name, 0)
            sock = self._bind(service.name, requested)
            self.sockets[service.name] = sock
            port = int(sock.getsockname()[1])
            if service is GATEWAY:
                self.gateway_port = port
            else:
                self.service_ports[service.name] = port
        if not self.gateway_metrics_port:
            # uvicorn serves one socket: the gateway opens its metrics listener itself, on a port chosen here.
            with listening_socket(HOST, 0) as probe:
                self.gateway_metrics_port = int(probe.getsockname()[1])

    def _bind(self, name: str, requested: int) -> socket.socket:
        if requested:
            try:
                return listening_socket(HOST, requested)
            except OSError as exc:
                sock = listening_socket(HOST, 0)
                self.say(
                    f"Linli: port {requested} for the {name} is taken ({exc.strerror}); "
                    f"the {name} listens on {sock.getsockname()[1]} instead."
                )
                return sock
        return listening_socket(HOST, 0)

    def migrate(self) -> None:
        for service in (*SERVICES, GATEWAY):
            self.migrate_one(service)

    def migrate_one(self, service: ServiceDef) -> None:
        """Migrate ``service``'s database (nothing to do, and no ``env.py`` run, when it is at head already)."""
        began, cpu = time.monotonic(), time.thread_time()
        with _MIGRATIONS:
            applied = upgrade(ROOT / service.directory, self.database_url(service.name))
        self.record(f"migrate {service.name}{'' if applied else ' (at head)'}", began, time.thread_time() - cpu)

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("LINLI_")}
        env.update(
            {
                "LINLI_ENVIRONMENT": "dev",
                "LINLI_VAR_DIR": str(self.var_dir.resolve()),
                "LINLI_NATS_URL": self.nats_url,
                "LINLI_JWKS_URL": f"{self.gateway_url}/.well-known/jwks.json",
                # Open-data links name the gateway this stack serves the public at.
                "LINLI_PUBLIC_BASE_URL": self.gateway_url,
                "PYTHONUNBUFFERED": "1",
            }
        )
        for service in (*SERVICES, GATEWAY):
            env[f"LINLI_{service.name.upper()}_DATABASE_URL"] = self.database_url(service.name)
        for service in SERVICES:
            if service.name in self.service_ports:
                env[f"LINLI_GATEWAY_{service.name.upper()}_URL"] = self.service_url(service.name)
        env.update(self.extra_env)
        return env

    def env_of(self, name: str) -> dict[str, str]:
        """``env`` for the process ``name``: the gateway also gets its metrics listener (this machine only); a
        service whose worker runs apart, LINLI_RUN_WORKER=false, and with its worker a metrics folder they share
        (prometheus-client's multiprocess mode: the API's /metrics counts the worker's events too)."""
        env = self.env()
        if name == GATEWAY.name and self.gateway_metrics_port:
            env |= {"LINLI_METRICS_PORT": str(self.gateway_metrics_port), "LINLI_METRICS_HOST": HOST}
        service = name.removesuffix(WORKER_SUFFIX)
        if service in self.workers:
            env["PROMETHEUS_MULTIPROC_DIR"] = str(self.metrics_dir(service))
            env["LINLI_RUN_WORKER"] = "true" if name.endswith(WORKER_SUFFIX) else "false"
        return env

    def workers_started(self) -> list[str]:
        """The names of the worker processes this stack started (``booking-worker``)."""
        return [f"{name}{WORKER_SUFFIX}" for name in sorted(self.workers)]

    def metrics_dir(self, service: str) -> Path:
        return self.var_dir.resolve() / "metrics" / service

    def clear_metrics(self) -> None:
        """A start begins its counters at zero: the files of the last run's processes are removed."""
        shutil.rmtree(self.var_dir / "metrics", ignore_errors=True)

    def _popen(self, name: str, command: list[str], pass_fds: tuple[int, ...] = ()) -> subprocess.Popen[bytes]:
        self.logs.mkdir(parents=True, exist_ok=True)
        with open(self.logs / f"{name}.log", "ab") as log:
            # In the supervisor's process group: a signal to the group (a terminal's Ctrl-C, a CI job cancelled)
            # reaches every child even if the supervisor cannot stop them itself.
            return subprocess.Popen(
                command, env=self.env_of(name), cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, pass_fds=pass_fds
            )

    def _launch(self, child: Child) -> None:
        child.process = child.spawn()
        child.started_at = time.monotonic()
        self.processes[child.name] = child.process

    def start_nats(self, timeout: float = 60.0) -> None:
        began = time.monotonic()
        store = self.var_dir.resolve() / "nats"
        self.nats = NatsServer(
            store, port=self.nats_port, store_dir=store, log_file=self.logs / "nats.log", server_name="linli-devstack"
        )
        requested = self.nats_port
        try:
            self.nats.start(timeout=5.0 if requested else timeout)
        except RuntimeError as exc:
            if not requested:
                raise StartupError(f"nats exited during start-up: {exc}") from exc
            self.nats.port = 0
            self.nats.start(timeout=timeout)
            self.say(f"Linli: nats-server cannot listen on {requested}; it listens on {self.nats.port} instead.")
        self.nats_port = self.nats.port
        nats = self.nats
        child = Child("nats", spawn=nats.spawn, ready=lambda: _port_open(nats.port), log=nats.log_path, port=nats.port)
        child.process, child.started_at = nats.process, time.monotonic()
        assert child.process is not None
        with self._lock:
            self.children["nats"] = child
            self.processes["nats"] = child.process
        self.record("nats", began, process_cpu(child.process.pid))

    def start_service(
        self, service: ServiceDef, port: int | None = None, *, name: str | None = None, worker_apart: bool = False
    ) -> None:
        """Start ``service`` under ``name`` (default: its own name) on the stack's socket for it, or on ``port``
        (a socket of the stack when one has that port; otherwise uvicorn binds it, e.g. an extra replica). With
        ``worker_apart`` its relay and consumers are left to ``start_worker``'s process; otherwise they run in it."""
        name = name or service.name
        if worker_apart:
            self.workers.add(name)
            self.metrics_dir(name).mkdir(parents=True, exist_ok=True)
        if port is None:
            self.allocate_ports()
            sock: socket.socket | None = self.sockets[service.name]
        else:
            sock = next((s for s in self.sockets.values() if s.getsockname()[1] == port), None)
        pass_fds: tuple[int, ...] = ()
        if sock is not None:
            bind, pass_fds, port = ["--fd", str(sock.fileno())], (sock.fileno(),), int(sock.getsockname()[1])
        else:
            assert port is not None
            bind = ["--host", HOST, "--port", str(port)]
        command = [
            sys.executable, "-m", "uvicorn", "--factory", service.app, *bind,
            "--no-access-log", "--log-level", "warning", "--no-server-header",  # no banner for a scanner
            "--no-proxy-headers",  # X-Forwarded-For: only the gateway's LINLI_TRUSTED_PROXIES (gateway/forwarded.py)
            "--loop", "uvloop", "--http", HTTP_PROTOCOL,  # httptools, measured fastest (docs/gateway-benchmark.md)
        ]  # fmt: skip
        url = f"http://{HOST}:{port}/{'healthz' if service is GATEWAY else 'readyz'}"
        child = Child(
            name,
            spawn=lambda: self._popen(name, command, pass_fds),
            ready=lambda: _answers(url),
            log=self.logs / f"{name}.log",
            port=port,
        )
        with self._lock:
            self.children[name] = child
            self._launch(child)

    def start_worker(self, service: ServiceDef, *, name: str | None = None) -> None:
        """Start ``service``'s worker (``python -m <package>.worker``: relay, consumers, jobs) as ``<name>-worker``
        beside its API ``name``, started with ``worker_apart``. It is ready once that API hears it (its /readyz
        says ``checks.worker: ok``)."""
        api = name or service.name
        name = f"{api}{WORKER_SUFFIX}"
        package = service.app.split(".", 1)[0]
        command = [sys.executable, "-m", f"{package}.worker"]
        url = f"http://{HOST}:{self.children[api].port}/readyz"
        child = Child(
            name,
            spawn=lambda: self._popen(name, command),
            ready=lambda: _worker_heard(url),
            log=self.logs / f"{name}.log",
            port=0,
        )
        with self._lock:
            self.children[name] = child
            self._launch(child)

    def bootstrap_accounts(self, accounts: list[dict[str, object]], timeout: float = 120.0) -> None:
        """Create or update staff accounts straight in the gateway's database with its own CLI
        (``python -m gateway.accounts create …``), all in one interpreter, their hashes side by side."""
        self.finish_accounts(self.spawn_accounts(accounts), timeout)

    def spawn_accounts(self, accounts: list[dict[str, object]]) -> subprocess.Popen[bytes]:
        """Start ``bootstrap_accounts``'s CLI without waiting for it (``finish_accounts`` does). Its last line of
        output is the CPU seconds it spent."""
        argvs = []
        for account in accounts:
            argv = [
                "create", "--database-url", self.database_url("gateway"),
                "--username", str(account["username"]), "--password", str(account["password"]),
                "--name", str(account.get("name", account["username"])),
            ]  # fmt: skip
            for role in account["roles"]:  # type: ignore[attr-defined]
                argv += ["--role", str(role)]
            if account.get("provider_id"):
                argv += ["--provider-id", str(account["provider_id"])]
            if account.get("street_code"):
                argv += ["--street-code", str(account["street_code"])]
            argvs.append(argv)
        script = (
            "import json, resource, sys\n"
            "from gateway.accounts.__main__ import main_many\n"
            "status = main_many(json.loads(sys.argv[1]))\n"
            "usage = resource.getrusage(resource.RUSAGE_SELF)\n"
            "print(usage.ru_utime + usage.ru_stime)\n"
            "sys.exit(status)\n"
        )
        process = subprocess.Popen(
            [sys.executable, "-c", script, json.dumps(argvs)],
            env=self.env(),
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        self._accounts_began = time.monotonic()
        return process

    def finish_accounts(self, process: subprocess.Popen[bytes], timeout: float = 120.0) -> None:
        """Wait for the CLI ``spawn_accounts`` started; a StartupError when it fails or takes over ``timeout``."""
        try:
            out, err = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            raise StartupError(f"creating the demo accounts took over {timeout:.0f} s") from None
        if process.returncode != 0:
            tail = "\n".join(err.decode(errors="replace").splitlines()[-LOG_LINES:])
            raise StartupError(f"creating the demo accounts failed ({describe_exit(process.returncode)}):\n{tail}")
        with contextlib.suppress(ValueError, IndexError):
            self.record("accounts", self._accounts_began, float(out.split()[-1]))

    # ------------------------------------------------------------------ readiness

    def wait_ready(self, timeout: float = STARTUP_TIMEOUT) -> dict[str, Any]:
        """Wait until every process is ready, saying which are up and which still starting; fail at once, with
        the end of its log, when one exits, or after ``timeout`` seconds with the end of each waited-for log."""
        began = time.monotonic()
        deadline = began + timeout
        children = list(self.children.values())
        given_up = threading.Event()

        def until_ready(child: Child) -> None:  # each process asked on its own, so none waits for another's answer
            while not given_up.is_set() and not child.ready():
                time.sleep(0.5)  # asking more often only slows a start on a busy machine
            if not given_up.is_set() and child.process is not None and child.name != "nats":
                self.record(f"start {child.name}", child.started_at, process_cpu(child.process.pid))

        pool = concurrent.futures.ThreadPoolExecutor(max_workers=len(children) or 1)
        checks = {child.name: pool.submit(until_ready, child) for child in children}
        said, said_at = "", began
        try:
            while True:
                for child in children:
                    assert child.process is not None
                    status = child.process.poll()
                    if status is not None:
                        raise StartupError(
                            f"{child.name} exited during start-up ({describe_exit(status)}); the last lines of "
                            f"{child.log}:\n{log_tail(child.log, LOG_LINES)}"
                        )
                now = time.monotonic()
                starting = [child.name for child in children if not checks[child.name].done()]
                if not starting:
                    self.say(f"Linli: all {len(children)} processes are up ({now - began:.0f} s).")
                    return self.health()
                line = (
                    f"Linli: up: {', '.join(c.name for c in children if c.name not in starting) or 'none yet'}; "
                    f"starting: {', '.join(starting)}"
                )
                if (line != said and now - said_at >= 2.0) or now - said_at >= PROGRESS_EVERY:
                    self.say(f"{line} ({now - began:.0f} s)")
                    said, said_at = line, now
                if now >= deadline:
                    tails = "\n".join(
                        f"--- the last lines of {child.log}:\n{log_tail(child.log, LOG_LINES)}"
                        for child in children
                        if child.name in starting
                    )
                    raise StartupError(
                        f"not ready after {timeout:.0f} s: {', '.join(starting)} (raise --startup-timeout or "
                        f"LINLI_STARTUP_TIMEOUT on a busy machine)\n{tails}"
                    )
                time.sleep(0.1)
        finally:
            given_up.set()
            pool.shutdown(wait=False, cancel_futures=True)

    def wait_healthy(self, timeout: float = STARTUP_TIMEOUT) -> dict[str, Any]:
        return self.wait_ready(timeout)

    def health(self) -> dict[str, Any]:
        """The gateway's ``/healthz`` (each service's readiness as the gateway sees it)."""
        if not any(name.startswith("gateway") for name in self.children):
            return {}
        response = httpx.get(f"{self.gateway_url}/healthz", timeout=10.0)
        return dict(response.json())

    # ------------------------------------------------------------------ supervision

    def supervise(self) -> None:
        """Restart any process that exits, in a background thread, until ``stop``."""
        if self._supervisor is None or not self._supervisor.is_alive():
            self._supervisor = threading.Thread(target=self._supervise, name="linli-supervisor", daemon=True)
            self._supervisor.start()

    def _supervise(self) -> None:
        while not self._stopping.wait(0.2):
            with self._lock:
                if self._stopping.is_set():
                    return
                for child in list(self.children.values()):
                    self._tend(child, time.monotonic())

    def hold(self, name: str, grace: float = STOP_GRACE) -> None:
        """Stop the process ``name`` and keep it stopped (the supervisor leaves it) until ``release``: an outage
        on purpose, to watch the others ride it out (NATS away: the outboxes fill)."""
        with self._lock:
            child = self.children[name]
            child.held, child.restart_at = True, None
            if child.process is not None:
                _terminate([child.process], grace)

    def release(self, name: str, timeout: float = STARTUP_TIMEOUT) -> None:
        """Start ``name`` again after ``hold`` and wait until it is ready."""
        with self._lock:
            child = self.children[name]
            child.held = False
            self._launch(child)
        deadline = time.monotonic() + timeout
        while not child.ready():
            if time.monotonic() >= deadline:
                raise StartupError(f"{name} not ready {timeout:.0f} s after its release")
            time.sleep(0.2)
            with self._lock:
                if child.process is not None and child.process.poll() is not None:
                    self._launch(child)  # exited at once (its port briefly someone else's): again

    def start_prometheus(self, port: int = 9090) -> str | None:
        """Start Debian's ``prometheus`` scraping every process of the stack every 5 s, with Linli's alert rules;
        supervised like the others. Its address, or None when it is not installed."""
        binary = shutil.which("prometheus")
        if binary is None:
            return None
        home = self.var_dir.resolve() / "prometheus"
        (home / "data").mkdir(parents=True, exist_ok=True)
        config = home / "prometheus.yml"
        config.write_text(json.dumps(prometheus_config(self.metrics_urls()), indent=2))
        sock = self._bind("prometheus", port)  # the port it will take: free now (prometheus binds it itself)
        port = int(sock.getsockname()[1])
        sock.close()
        command = [
            binary, f"--config.file={config}", f"--storage.tsdb.path={home / 'data'}",
            f"--web.listen-address={HOST}:{port}", "--storage.tsdb.retention.time=2d",
        ]  # fmt: skip
        url = f"http://{HOST}:{port}"
        child = Child(
            "prometheus",
            spawn=lambda: self._popen("prometheus", command),
            ready=lambda: _answers(f"{url}/-/ready"),
            log=self.logs / "prometheus.log",
            port=port,
        )
        with self._lock:
            self.children["prometheus"] = child
            self._launch(child)
        return url

    def _tend(self, child: Child, now: float) -> None:
        if child.held:
            return
        if child.restart_at is None:
            assert child.process is not None
            status = child.process.poll()
            if status is None:
                return
            ran = now - child.started_at
            delay = self._schedule_restart(child, now, ran)
            self.say(
                f"Linli: {child.name} exited ({describe_exit(status)}) after {ran:.0f} s; "
                f"restarting it in {delay:g} s{self._keeps_failing(child, delay)}."
            )
        elif now >= child.restart_at:
            child.restart_at = None
            child.restarts += 1
            try:
                self._launch(child)
            except OSError as exc:  # could not even start it: wait as after an exit
                delay = self._schedule_restart(child, now, 0.0)
                self.say(
                    f"Linli: starting {child.name} again failed ({exc}); "
                    f"trying again in {delay:g} s{self._keeps_failing(child, delay)}."
                )
                return
            assert child.process is not None
            self.say(f"Linli: {child.name} started again (pid {child.process.pid}, restart {child.restarts}).")
            threading.Thread(target=self._announce_ready, args=(child, child.process), daemon=True).start()

    @staticmethod
    def _schedule_restart(child: Child, now: float, ran: float) -> float:
        """The delay before the next start: doubling from the first delay up to the cap, reset after a long run."""
        if ran >= STABLE_AFTER:
            child.failures = 0
        delay = min(RESTART_MAX_DELAY, RESTART_FIRST_DELAY * 2**child.failures)
        child.failures += 1
        child.restart_at = now + delay
        return delay

    @staticmethod
    def _keeps_failing(child: Child, delay: float) -> str:
        if delay < RESTART_MAX_DELAY:
            return ""
        return f" (it keeps exiting: tried again every {RESTART_MAX_DELAY:g} s until it stays up; see {child.log})"

    def _announce_ready(self, child: Child, process: subprocess.Popen[bytes]) -> None:
        began = time.monotonic()
        while not self._stopping.is_set() and child.process is process and process.poll() is None:
            if child.ready():
                self.say(f"Linli: {child.name} is up again ({time.monotonic() - began:.0f} s after its restart).")
                return
            time.sleep(0.25)

    # ------------------------------------------------------------------ stop

    def stopping(self) -> None:
        """From now on a process that exits is not started again: the stack is being stopped (a signal handler
        calls this first, as a Ctrl-C reaches the children too)."""
        self._stopping.set()

    def stop(self, grace: float = STOP_GRACE) -> None:
        """Stop supervising, then SIGTERM the gateway and services (SIGKILL after ``grace`` seconds), then
        nats-server likewise, and release the ports."""
        self._stopping.set()
        if self._supervisor is not None:
            self._supervisor.join(10)
            self._supervisor = None
        with self._lock:
            processes = dict(self.processes)
            nats = processes.pop("nats", None)
            _terminate(list(processes.values()), grace)
            _terminate([nats] if nats else [], grace)
            self.processes.clear()
            self.children.clear()
            if self.nats is not None:
                self.nats.process = None
        for sock in self.sockets.values():
            sock.close()
        self.sockets.clear()


def _terminate(processes: list[subprocess.Popen[bytes]], grace: float) -> None:
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + grace
    for process in processes:
        try:
            process.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def prometheus_config(metrics_urls: Mapping[str, str]) -> dict[str, Any]:
    """A Prometheus configuration scraping each of ``metrics_urls`` as job ``linli-<name>`` (the jobs the alert
    rules and dashboards expect), with Linli's alert rules."""
    jobs = []
    for name, url in sorted(metrics_urls.items()):
        parts = urllib.parse.urlsplit(url)
        jobs.append(
            {
                "job_name": f"linli-{name}",
                "metrics_path": parts.path,
                "static_configs": [{"targets": [parts.netloc], "labels": {"component": name}}],
            }
        )
    return {
        "global": {"scrape_interval": "5s", "evaluation_interval": "5s"},
        "rule_files": [str(ROOT / "deploy" / "monitoring" / "alerts.yml")],
        "scrape_configs": jobs,
    }


def _answers(url: str) -> bool:
    """Whether ``url`` answers 200. Asked every half second of a start by each waiting thread: plain
    ``http.client``, since a new httpx client builds a TLS context each time (measured: a quarter of the CPU a
    whole-stack test's own process spent was readiness polls)."""
    parts = urllib.parse.urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname or HOST, parts.port, timeout=5.0)
    try:
        connection.request("GET", parts.path or "/")
        return connection.getresponse().status == 200
    except (OSError, http.client.HTTPException):
        return False
    finally:
        connection.close()


def _worker_heard(readyz: str) -> bool:
    """Whether the API answering ``readyz`` hears its worker (``checks.worker``, service_kit.events.signals)."""
    parts = urllib.parse.urlsplit(readyz)
    connection = http.client.HTTPConnection(parts.hostname or HOST, parts.port, timeout=5.0)
    try:
        connection.request("GET", parts.path)
        answer = connection.getresponse()
        return answer.status == 200 and json.loads(answer.read()).get("checks", {}).get("worker") == "ok"
    except (OSError, http.client.HTTPException, ValueError, AttributeError):
        return False
    finally:
        connection.close()


def _port_open(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(1.0)
        return sock.connect_ex((HOST, port)) == 0


# ------------------------------------------------------------------ the terminal


class Terminal:
    """Under ``make run`` the terminal's Ctrl-C would reach make and uv too, and make dies of it (status 130)
    whatever the stack does. The supervisor takes the terminal's foreground for a process group of its own (its
    children's too), so Ctrl-C reaches only the stack; it stops every child and gives the terminal back before it
    exits 0, and make exits 0."""

    def __init__(self) -> None:
        self.fd: int | None = None
        self.previous = 0

    def take(self) -> None:
        try:
            fd = sys.stdin.fileno()
            if not os.isatty(fd) or os.tcgetpgrp(fd) != os.getpgrp() or os.getpgrp() == os.getpid():
                return  # no terminal, started in the background, or already its own job (run from a shell)
            previous = os.getpgrp()
            os.setpgid(0, 0)
            with _ignoring(signal.SIGTTOU):
                os.tcsetpgrp(fd, os.getpgrp())
        except (OSError, ValueError):
            return
        self.fd, self.previous = fd, previous
        # The shell's job is make's process group, not this one: a Ctrl-Z that stopped the stack would leave the
        # terminal to stopped processes the shell cannot resume. The stack resumes at once instead.
        signal.signal(signal.SIGTSTP, _resume_group)

    def give_back(self) -> None:
        if self.fd is not None:
            with _ignoring(signal.SIGTTOU), contextlib.suppress(OSError):
                os.tcsetpgrp(self.fd, self.previous)
            self.fd = None


def _resume_group(_signum: int, _frame: object) -> None:
    os.killpg(os.getpgrp(), signal.SIGCONT)


@contextlib.contextmanager
def _ignoring(signum: signal.Signals) -> Any:
    previous = signal.signal(signum, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signum, previous)


# ------------------------------------------------------------------ make run


# What the launcher decides for every process itself: how they find each other and where their data lives.
WIRING = re.compile(
    r"LINLI_(ENVIRONMENT|VAR_DIR|NATS_URL|JWKS_URL|PUBLIC_BASE_URL|[A-Z]+_DATABASE_URL|GATEWAY_[A-Z]+_URL"
    r"|GATEWAY_PORT|NATS_PORT|STARTUP_TIMEOUT|RUN_WORKER)"
)


def passed_settings(environ: Mapping[str, str]) -> dict[str, str]:
    """The ``LINLI_*`` settings of the caller's environment that every process gets (``LINLI_LOG_LEVEL=DEBUG make
    run``, a rate limit, an SMS setting), but for the wiring the launcher decides itself (``WIRING``)."""
    return {name: value for name, value in environ.items() if name.startswith("LINLI_") and not WIRING.fullmatch(name)}


def child_settings(environ: Mapping[str, str], *, allow_loopback_webhooks: bool = False) -> dict[str, str]:
    """What ``make run`` gives every process beyond the wiring: the caller's settings, and its options'."""
    settings = passed_settings(environ)
    if allow_loopback_webhooks:
        settings["LINLI_REGISTRY_WEBHOOK_ALLOW_LOOPBACK"] = "true"
    return settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run the whole Linli platform on this machine.")
    parser.add_argument("--var-dir", type=Path, default=Path(os.environ.get("LINLI_VAR_DIR", ROOT / "var")))
    parser.add_argument(
        "--gateway-port",
        type=int,
        default=int(os.environ.get("LINLI_GATEWAY_PORT", 8000)),
        help="the gateway's port when free (otherwise one the system picks); 0: one the system picks",
    )
    parser.add_argument(
        "--nats-port",
        type=int,
        default=int(os.environ.get("LINLI_NATS_PORT", 0)),
        help="nats-server's port when free; 0 (default): one it picks",
    )
    parser.add_argument(
        "--startup-timeout",
        type=float,
        default=float(os.environ.get("LINLI_STARTUP_TIMEOUT", STARTUP_TIMEOUT)),
        help=f"seconds the whole start may take (default {STARTUP_TIMEOUT:g})",
    )
    parser.add_argument(
        "--allow-loopback-webhooks",
        action="store_true",
        help="let providers' webhooks target 127.0.0.1 (a receiver on this machine); private ranges stay refused",
    )
    parser.add_argument("--no-demo", action="store_true", help="do not load the Fangshan demo data")
    parser.add_argument(
        "--prometheus",
        action="store_true",
        help="also start Debian's prometheus (if installed) on :9090 or a free port, scraping every process",
    )
    parser.add_argument("--fresh", action="store_true", help="delete the var directory first")
    args = parser.parse_args(argv)

    settings = child_settings(os.environ, allow_loopback_webhooks=args.allow_loopback_webhooks)
    stack = DevStack(var_dir=args.var_dir, gateway_port=args.gateway_port, nats_port=args.nats_port, extra_env=settings)
    stopping = False

    def on_signal(signum: int, _frame: object) -> None:
        nonlocal stopping
        stack.stopping()
        if not stopping:  # the first one stops the stack; the stop is bounded, so more are not needed
            stopping = True
            raise KeyboardInterrupt

    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT):
        signal.signal(signum, on_signal)
    terminal = Terminal()
    terminal.take()
    try:
        if args.fresh and args.var_dir.exists():
            shutil.rmtree(args.var_dir)
        _say("Linli: applying migrations and starting nats-server, four services and the gateway …")
        from demo_data import DEMO_ACCOUNTS, load_demo_data  # the launcher's neighbour in deploy/

        health = stack.start(accounts=DEMO_ACCOUNTS, timeout=args.startup_timeout)
        summary = None
        if not args.no_demo:
            _say("Linli: loading the demo data …")
            began, cpu = time.monotonic(), time.thread_time() + stack.children_cpu()
            try:
                summary = load_demo_data(stack.gateway_url, report=lambda line: _say(f"Linli: demo data: {line}"))
            except Exception as exc:  # noqa: BLE001 - the platform runs without it
                _say(f"Linli: the demo data could not be loaded ({exc}); the platform runs without it.")
            stack.record("demo data", began, time.thread_time() + stack.children_cpu() - cpu)
        report_phases(stack)
        prometheus = None
        if args.prometheus:
            prometheus = stack.start_prometheus()
            if prometheus is None:
                _say("Linli: --prometheus: no prometheus on the PATH (apt-get install prometheus); metrics as below.")
        print_banner(stack, health, summary, prometheus=prometheus)
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        stopping = True
        _say("\nLinli: stopping every process …")
        return 0
    except StartupError as exc:
        stopping = True
        _say(f"\nLinli did not start: {exc}")
        return 1
    finally:
        stopping = True
        stack.stop()
        terminal.give_back()


def report_phases(stack: DevStack) -> None:
    """Say how long the start took, step by step, and keep it in ``<var dir>/startup.json`` (``make bench``)."""
    phases = [phase.as_dict() for phase in stack.phases]
    with contextlib.suppress(OSError):
        (stack.var_dir / "startup.json").write_text(json.dumps({"phases": phases}, indent=1))
    steps = " · ".join(f"{phase.name} {phase.took:.1f}/{phase.cpu:.1f}" for phase in stack.phases)
    _say(f"Linli: start-up, wall/CPU seconds: {steps} (in {stack.var_dir / 'startup.json'})")


def print_banner(
    stack: DevStack, health: dict[str, Any], summary: dict[str, Any] | None, *, prometheus: str | None = None
) -> None:
    services = health.get("services", {})
    processes = " · ".join(
        f"{child.name}{f' :{child.port}' if child.port else ''} (pid {child.process.pid if child.process else '-'})"
        for child in stack.children.values()
    )
    lines = [
        "",
        "Linli 邻里 is running.",
        f"  Gateway        {stack.gateway_url}",
        f"  API docs       {stack.gateway_url}/docs   (OpenAPI: {stack.gateway_url}/openapi.json)",
        f"  Health         {stack.gateway_url}/healthz   {json.dumps(services, ensure_ascii=False)}",
        f"  NATS           {stack.nats_url}   (JetStream data in {stack.var_dir / 'nats'})",
        f"  Processes      {processes}",
        f"  Data and logs  {stack.var_dir.resolve()}",
        "  Metrics        (Prometheus text; never through the gateway's public port)",
        *(f"                 {name:<12} {url}" for name, url in stack.metrics_urls().items()),
    ]
    if prometheus:
        lines.append(f"  Prometheus     {prometheus}   (alerts: {prometheus}/alerts; make run ARGS=--prometheus)")
    if summary:
        lines.append("  Demo accounts  (POST /api/v1/auth/token with username + password)")
        for account in summary.get("accounts", []):
            lines.append(f"                 {account}")
        lines.append(f"  Demo data      {summary.get('counts')}")
    lines += ["", "A process that exits is started again. Press Ctrl-C to stop every process.", ""]
    print("\n".join(lines), flush=True)


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
