"""The embedded Linli stack on one machine: nats-server (JetStream on local disk), the four services and the
gateway on SQLite files, demo data, one Ctrl-C to stop everything. ``make run`` calls this; the whole-stack
tests import ``DevStack`` and start the same processes.

    python deploy/devstack.py [--var-dir var] [--gateway-port 8000] [--no-demo] [--fresh]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import httpx

from service_kit.migrations import upgrade
from service_kit.testing import nats_server_binary, write_nats_config

ROOT = Path(__file__).resolve().parent.parent


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


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


def pick_port(preferred: int, taken: set[int]) -> int:
    """The preferred port when free, otherwise the next free one (so a busy 4222 or 8000 never stops the stack)."""
    port = preferred
    while port in taken or not port_is_free(port):
        port += 1
    taken.add(port)
    return port


@dataclass
class DevStack:
    var_dir: Path
    gateway_port: int = 8000
    nats_port: int = 4222
    service_ports: dict[str, int] = field(default_factory=dict)
    database_urls: dict[str, str] = field(default_factory=dict)
    extra_env: dict[str, str] = field(default_factory=dict)
    log_to_console: bool = False
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    _logs: list[IO[bytes]] = field(default_factory=list)

    # ------------------------------------------------------------------ addresses

    @property
    def gateway_url(self) -> str:
        return f"http://127.0.0.1:{self.gateway_port}"

    @property
    def nats_url(self) -> str:
        return f"nats://127.0.0.1:{self.nats_port}"

    def service_url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.service_ports[name]}"

    def database_url(self, name: str) -> str:
        return self.database_urls.get(name) or f"sqlite+aiosqlite:///{self.var_dir.resolve() / (name + '.db')}"

    # ------------------------------------------------------------------ life cycle

    def allocate_ports(self) -> None:
        taken: set[int] = set()
        self.nats_port = pick_port(self.nats_port, taken)
        self.gateway_port = pick_port(self.gateway_port, taken)
        for service in SERVICES:
            self.service_ports[service.name] = pick_port(
                self.service_ports.get(service.name, service.default_port), taken
            )

    def migrate(self) -> None:
        for service in (*SERVICES, GATEWAY):
            upgrade(ROOT / service.directory, self.database_url(service.name))

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("LINLI_")}
        env.update(
            {
                "LINLI_ENVIRONMENT": "dev",
                "LINLI_VAR_DIR": str(self.var_dir.resolve()),
                "LINLI_NATS_URL": self.nats_url,
                "LINLI_JWKS_URL": f"{self.gateway_url}/.well-known/jwks.json",
                "PYTHONUNBUFFERED": "1",
            }
        )
        for service in (*SERVICES, GATEWAY):
            env[f"LINLI_{service.name.upper()}_DATABASE_URL"] = self.database_url(service.name)
        for service in SERVICES:
            env[f"LINLI_GATEWAY_{service.name.upper()}_URL"] = self.service_url(service.name)
        env.update(self.extra_env)
        return env

    def _spawn(self, name: str, command: list[str]) -> subprocess.Popen[bytes]:
        logs = self.var_dir / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        out: IO[bytes] | None = None
        if not self.log_to_console:
            out = open(logs / f"{name}.log", "ab")  # noqa: SIM115 - lives as long as the process
            self._logs.append(out)
        process = subprocess.Popen(
            command, env=self.env(), cwd=ROOT, stdout=out, stderr=subprocess.STDOUT if out else None
        )
        self.processes[name] = process
        return process

    def start_nats(self) -> None:
        store = self.var_dir.resolve() / "nats"
        store.mkdir(parents=True, exist_ok=True)
        config = write_nats_config(self.var_dir / "nats.conf", port=self.nats_port, store_dir=store)
        self._spawn("nats", [nats_server_binary(), "-c", str(config)])
        wait_for_port(self.nats_port, 15)

    def start_service(self, service: ServiceDef, port: int, *, name: str | None = None) -> None:
        command = [
            sys.executable, "-m", "uvicorn", "--factory", service.app,
            "--host", "127.0.0.1", "--port", str(port), "--no-access-log", "--log-level", "warning",
            "--loop", "uvloop", "--http", "httptools",  # measured fastest (docs/gateway-benchmark.md)
        ]  # fmt: skip
        self._spawn(name or service.name, command)

    def bootstrap_accounts(self, accounts: list[dict[str, object]]) -> None:
        """Create or update staff accounts straight in the gateway's database (its own CLI), in parallel."""
        running = []
        for account in accounts:
            command = [
                sys.executable, "-m", "gateway.accounts", "create",
                "--database-url", self.database_url("gateway"),
                "--username", str(account["username"]), "--password", str(account["password"]),
                "--name", str(account.get("name", account["username"])),
            ]  # fmt: skip
            for role in account["roles"]:  # type: ignore[attr-defined]
                command += ["--role", str(role)]
            if account.get("provider_id"):
                command += ["--provider-id", str(account["provider_id"])]
            running.append(subprocess.Popen(command, env=self.env(), cwd=ROOT, stdout=subprocess.DEVNULL))
        for process in running:
            if process.wait(120) != 0:
                raise RuntimeError(f"creating a demo account failed: {process.args!r}")

    def start(self, *, timeout: float = 60.0) -> None:
        self.var_dir.mkdir(parents=True, exist_ok=True)
        self.allocate_ports()
        self.migrate()
        self.start_nats()
        for service in SERVICES:
            self.start_service(service, self.service_ports[service.name])
        self.start_service(GATEWAY, self.gateway_port)
        self.wait_healthy(timeout)

    def wait_healthy(self, timeout: float = 60.0) -> dict[str, object]:
        deadline = time.monotonic() + timeout
        last: object = None
        while time.monotonic() < deadline:
            for name, process in self.processes.items():
                if process.poll() is not None:
                    raise RuntimeError(f"{name} exited with {process.returncode}; see {self.var_dir}/logs/{name}.log")
            try:
                response = httpx.get(f"{self.gateway_url}/healthz", timeout=2.0)
                last = response.json()
                if response.status_code == 200:
                    return dict(last)  # type: ignore[call-overload]
            except (httpx.HTTPError, ValueError) as exc:
                last = str(exc)
            time.sleep(0.25)
        raise TimeoutError(f"the stack is not healthy after {timeout}s: {last}")

    def stop(self) -> None:
        for name in reversed(list(self.processes)):
            process = self.processes[name]
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes.values():
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
        self.processes.clear()
        for log in self._logs:
            log.close()
        self._logs.clear()


def wait_for_port(port: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            sock.settimeout(0.2)
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on port {port}")


def main() -> int:
    parser = argparse.ArgumentParser(description="Run the whole Linli platform on this machine.")
    parser.add_argument("--var-dir", type=Path, default=Path(os.environ.get("LINLI_VAR_DIR", ROOT / "var")))
    parser.add_argument("--gateway-port", type=int, default=int(os.environ.get("LINLI_GATEWAY_PORT", 8000)))
    parser.add_argument("--nats-port", type=int, default=int(os.environ.get("LINLI_NATS_PORT", 4222)))
    parser.add_argument("--no-demo", action="store_true", help="do not load the Fangshan demo data")
    parser.add_argument("--fresh", action="store_true", help="delete the var directory first")
    args = parser.parse_args()

    if args.fresh and args.var_dir.exists():
        shutil.rmtree(args.var_dir)
    stack = DevStack(var_dir=args.var_dir, gateway_port=args.gateway_port, nats_port=args.nats_port)
    stopping = False

    def on_signal(signum: int, _frame: object) -> None:
        nonlocal stopping
        if not stopping:
            stopping = True
            raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_signal)
    try:
        print("Linli: applying migrations and starting nats-server, four services and the gateway …", flush=True)
        stack.allocate_ports()
        stack.var_dir.mkdir(parents=True, exist_ok=True)
        stack.migrate()
        from demo_data import DEMO_ACCOUNTS, load_demo_data  # the launcher's neighbour in deploy/

        stack.bootstrap_accounts(DEMO_ACCOUNTS)
        stack.start_nats()
        for service in SERVICES:
            stack.start_service(service, stack.service_ports[service.name])
        stack.start_service(GATEWAY, stack.gateway_port)
        health = stack.wait_healthy(60)
        summary = None if args.no_demo else load_demo_data(stack.gateway_url)
        print_banner(stack, health, summary)
        while True:
            for name, process in stack.processes.items():
                if process.poll() is not None:
                    print(f"\n{name} stopped (exit {process.returncode}); see {stack.var_dir}/logs/{name}.log")
                    return 1
            time.sleep(0.5)
    except KeyboardInterrupt:
        print("\nStopping Linli …", flush=True)
        return 0
    finally:
        stack.stop()


def print_banner(stack: DevStack, health: dict[str, object], summary: dict[str, object] | None) -> None:
    services = health.get("services", {})
    lines = [
        "",
        "Linli 邻里 is running.",
        f"  Gateway        {stack.gateway_url}",
        f"  API docs       {stack.gateway_url}/docs   (OpenAPI: {stack.gateway_url}/openapi.json)",
        f"  Health         {stack.gateway_url}/healthz   {json.dumps(services, ensure_ascii=False)}",
        f"  NATS           {stack.nats_url}   (JetStream data in {stack.var_dir / 'nats'})",
        f"  Data and logs  {stack.var_dir.resolve()}",
    ]
    if summary:
        lines.append("  Demo accounts  (POST /api/v1/auth/token with username + password)")
        for account in summary.get("accounts", []):  # type: ignore[attr-defined]
            lines.append(f"                 {account}")
        lines.append(f"  Demo data      {summary.get('counts')}")
    lines += ["", "Press Ctrl-C to stop every process.", ""]
    print("\n".join(lines), flush=True)


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
