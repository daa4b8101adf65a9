"""A replica SIGKILLed in the middle of a POST: the client's retry with the same Idempotency-Key applies the
request exactly once. The write and the stored response commit together, so the kill leaves neither."""

from __future__ import annotations

import concurrent.futures
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service_kit.testing import TestKeys, listening_socket

from .kit_service import notes

pytestmark = pytest.mark.fault

HERE = Path(__file__).resolve().parent


def start_replica(env: dict[str, str], sock: socket.socket) -> subprocess.Popen[bytes]:
    """A replica serving on ``sock``, which the test holds for both replicas: the port is never free between them,
    and a request sent before the replica is up waits in the socket's queue."""
    command = [sys.executable, "-m", "uvicorn", "--factory", "kit_service:notes_app", "--app-dir", str(HERE),
               "--fd", str(sock.fileno()), "--log-level", "warning"]  # fmt: skip
    return subprocess.Popen(command, env=env, pass_fds=[sock.fileno()])


async def test_a_post_killed_mid_response_is_applied_once_on_retry(
    service_env: dict[str, Any],
    kit_db_url: str,
    kit_sessionmaker: async_sessionmaker[AsyncSession],
    test_keys: TestKeys,
    tmp_path: Path,
) -> None:
    marker = tmp_path / "stalled"
    env = {k: v for k, v in os.environ.items() if not k.startswith("LINLI_")}
    env |= {f"LINLI_{key.upper()}": str(value) for key, value in service_env.items()}
    env |= {
        "LINLI_DATABASE_URL": kit_db_url,
        "LINLI_IDEMPOTENCY_STALE_SECONDS": "1",
        "LINLI_TEST_STALL_MARKER": str(marker),
    }
    headers = test_keys.headers("operator", sub="caller-7") | {"Idempotency-Key": "note-crash-1"}
    sock = listening_socket()
    replica = start_replica(env, sock)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{sock.getsockname()[1]}", timeout=60) as client:
            # The note is written, the response stalls, and the replica dies before answering.
            doomed = concurrent.futures.ThreadPoolExecutor(1).submit(
                client.post, "/api/v1/notes", json={"text": "crash"}, headers=headers
            )
            deadline = time.monotonic() + 30
            while not marker.exists() and not doomed.done() and time.monotonic() < deadline:
                time.sleep(0.02)
            replica.kill()
            with pytest.raises(httpx.HTTPError):
                doomed.result(30)
            assert marker.exists()
            replica.wait(10)
            replica = start_replica(env, sock)
            # The client retries until the dead replica's reservation is stale (1 s here).
            deadline = time.monotonic() + 20
            while True:
                retry = client.post("/api/v1/notes", json={"text": "crash"}, headers=headers)
                if retry.status_code != 409 or time.monotonic() > deadline:
                    break
                assert retry.json()["code"] == "idempotency_in_progress"
                time.sleep(0.2)
            assert retry.status_code == 201, retry.text
            again = client.post("/api/v1/notes", json={"text": "crash"}, headers=headers)
            assert (again.status_code, again.json()) == (201, retry.json())
            assert again.headers["idempotent-replayed"] == "true"
    finally:
        replica.kill()
        replica.wait(10)
        sock.close()
    async with kit_sessionmaker() as session:
        written = await session.scalar(select(func.count()).select_from(notes).where(notes.c.text == "crash"))
    assert written == 1
