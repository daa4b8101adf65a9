"""Each service's worker (relay + consumers without the HTTP API, for production) starts against the running
stack and stops cleanly on SIGTERM."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import pytest

from .conftest import ROOT, DevStack

pytestmark = pytest.mark.stack


@pytest.mark.parametrize("package", ["registry", "booking", "procurement", "feedback"])
def test_worker_runs_and_stops_on_sigterm(stack: DevStack, package: str) -> None:
    env = stack.env() | {"LINLI_LOG_JSON": "true", "LINLI_LOG_LEVEL": "INFO"}
    worker = subprocess.Popen(
        [sys.executable, "-m", f"{package}.worker"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    seen: list[str] = []
    try:
        assert worker.stdout is not None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = worker.stdout.readline().decode()
            seen.append(line)
            if "worker started" in line or not line:
                break
        assert any("worker started" in line for line in seen), "".join(seen)
        worker.send_signal(signal.SIGTERM)
        output = worker.communicate(timeout=15)[0].decode()
    finally:
        if worker.poll() is None:
            worker.kill()
    output = "".join(seen) + output
    assert worker.returncode == 0, output
    assert "Traceback" not in output, output
