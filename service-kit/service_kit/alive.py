"""A worker container's liveness probe: ``python -m service_kit.alive <file>`` exits 0 while the worker is alive.

A worker (``python -m <package>.worker``) serves no HTTP, so its orchestrator cannot ask it over the network. With
``LINLI_WORKER_ALIVE_FILE`` set, the worker writes into that file, at every heartbeat
(``LINLI_WORKER_HEARTBEAT_SECONDS``), the moment by which it will have written again: three beats ahead, and only
while its relay, every consumer, every job and its heartbeat still run (``Runtime.worker_tasks_running``). A worker
whose event loop is stuck, or one of whose tasks ended (a crash its own loop did not catch), stops writing; the probe
then fails, and the orchestrator restarts the container. Its API's ``/readyz`` only says ``worker: down`` (degraded,
still serving): a restart is the probe's.

Only the standard library: the probe runs every few seconds in the worker's container.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path


def write_deadline(path: Path, deadline: float) -> None:
    """The worker's side: the wall-clock moment (seconds since the epoch) it promises to have written again by."""
    path.write_text(f"{deadline:.3f}\n", encoding="ascii")


def why_not_alive(path: Path, now: float | None = None) -> str | None:
    """None while the worker keeps its promise; otherwise why not, in words for the probe's output."""
    now = time.time() if now is None else now
    try:
        text = path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        return f"{path}: not written yet (the worker has not started its relay and consumers)"
    except OSError as exc:
        return f"{path}: unreadable ({exc.strerror or exc})"
    try:
        deadline = float(text)
    except ValueError:
        return f"{path}: holds {text[:40]!r}, not a time"
    if now > deadline:
        return f"{path}: the worker promised to write again {now - deadline:.1f} s ago and has not"
    return None


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m service_kit.alive <the worker's LINLI_WORKER_ALIVE_FILE>", file=sys.stderr)
        return 2
    why = why_not_alive(Path(argv[0]))
    if why is not None:
        print(f"worker not alive: {why}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
