"""``make bench`` part (5): ``make run`` from its command to healthy (issue 21: at most 15 s on a quiet 2-core
machine), step by step, in wall and CPU seconds.

Each round runs the launcher as ``make run`` does (``python deploy/devstack.py``, on a var directory of its own
and a port the system picks), twice: on a new directory (``fresh``: every migration, the demo data created) and
again on the data the first left (``again``: migrations at head, the demo loader finds everything). The launcher
keeps its steps in ``<var dir>/startup.json`` (``DevStack.phases``); beside them this prints what only the caller
sees: the launcher's own start (interpreter and imports, to its first line), the time to "all processes are up"
and to the banner, and the CPU of everything it ran (the launcher and every process, reaped: ``RUSAGE_CHILDREN``).
CPU seconds are the steadier figure on a shared machine; wall seconds are what a developer waits.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("service-kit", "gateway", "booking-service", "procurement-service", "provider-registry", "feedback-service")
HEALTHY_WITHIN = 15.0  # seconds from the command to every process up (issue 21)


def _cpu_of_children() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def one_start(var_dir: Path, root: Path = ROOT) -> dict[str, tuple[float, float]]:
    """One ``make run`` on ``var_dir`` until its banner, then Ctrl-C: each step's (wall, CPU) seconds. ``root``:
    the checkout whose launcher runs (another one's, e.g. main's before a change, has its packages first on
    PYTHONPATH; without ``startup.json`` only the caller's figures are shown)."""
    began, cpu = time.monotonic(), _cpu_of_children()
    env = dict(os.environ)
    if root != ROOT:
        packages = [str(root / p) for p in PACKAGES]
        env["PYTHONPATH"] = os.pathsep.join([*packages, env.get("PYTHONPATH", "")])
    launcher = subprocess.Popen(
        [sys.executable, str(root / "deploy" / "devstack.py"), "--var-dir", str(var_dir), "--gateway-port", "0"],
        cwd=root,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    seen: dict[str, float] = {}
    output: list[str] = []
    assert launcher.stdout is not None
    for line in launcher.stdout:
        output.append(line)
        now = time.monotonic() - began
        seen.setdefault("first line", now)
        if "processes are up" in line:
            seen["up"] = now
        if "Press Ctrl-C" in line:
            seen["banner"] = now
            launcher.send_signal(signal.SIGINT)
    status = launcher.wait()
    if status != 0 or "up" not in seen:
        raise RuntimeError(f"the launcher did not start (status {status}):\n{''.join(output[-30:])}")
    kept = var_dir / "startup.json"
    phases = json.loads(kept.read_text())["phases"] if kept.exists() else []
    steps = {
        "launcher: interpreter and imports": (seen["first line"], 0.0),
        **{phase["name"]: (phase["took"], phase["cpu"]) for phase in phases},
        "command to all processes up": (seen["up"], 0.0),
        "command to banner (demo data loaded)": (seen.get("banner", 0.0), 0.0),
        "every process, start to Ctrl-C (CPU)": (0.0, _cpu_of_children() - cpu),
    }
    return steps


def bench_startup(tmp: Path, rounds: int, note: str = "", root: Path = ROOT, *, again: bool = True) -> None:
    """``again=False`` (``--quick``): the fresh start only."""
    then = " and a start again on its data" if again else " (quick: no start again)"
    print(f"\n(5) make run to healthy: {rounds} round(s) of a fresh start{then}{note}")
    kinds = ("fresh", "again") if again else ("fresh",)
    figures: dict[str, dict[str, list[tuple[float, float]]]] = {"fresh": {}, "again": {}}
    for index in range(rounds):
        var_dir = tmp / f"startup-{index}"
        for kind in kinds:
            for name, figure in one_start(var_dir, root).items():
                figures[kind].setdefault(name, []).append(figure)
    names = list(dict.fromkeys([*figures["fresh"], *figures["again"]]))
    print(f"  {'step (median of rounds)':<44} {'fresh wall':>10} {'CPU':>6} {'again wall':>11} {'CPU':>6}")
    for name in names:
        cells = []
        for kind in ("fresh", "again"):
            values = figures[kind].get(name)
            if values is None:
                cells += ["-", "-"]
                continue
            wall = statistics.median(v[0] for v in values)
            cpu = statistics.median(v[1] for v in values)
            cells += [f"{wall:.1f}" if wall else "", f"{cpu:.1f}" if cpu else ""]
        print(f"  {name:<44} {cells[0]:>10} {cells[1]:>6} {cells[2]:>11} {cells[3]:>6}")
    for kind in kinds:
        up = statistics.median(v[0] for v in figures[kind]["command to all processes up"])
        verdict = "MET" if up <= HEALTHY_WITHIN else "MISSED"
        print(f"  {kind}: all processes up {up:.1f} s after the command; target ≤ {HEALTHY_WITHIN:g} s: {verdict}")
    print(
        "  steps overlap (nats-server beside the gateway's migration, the accounts' CLI beside the services' starts,"
        " each service's start beside the next one's migration); a service's CPU is its own to its first ready "
        "answer; `make run` adds `uv run`'s check of the environment (about 0.1 s) before the launcher."
    )
