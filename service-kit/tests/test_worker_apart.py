"""A service whose relay and consumers run in a worker of their own (``LINLI_RUN_WORKER=false`` on the API): a
request's events are published at once (the API wakes the worker's relay over NATS), and the API's readiness says
whether a worker is there."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import APIRouter
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from service_kit.alive import main as alive_main
from service_kit.alive import why_not_alive, write_deadline
from service_kit.app import ServiceSpec, create_service_app
from service_kit.db import SessionDep
from service_kit.events.consumer import Subscription
from service_kit.events.contracts import NeedSubmitted
from service_kit.events.envelope import Envelope
from service_kit.events.outbox import emit
from service_kit.events.tables import outbox_event
from service_kit.runtime import Runtime
from service_kit.settings import ServiceSettings
from service_kit.testing import eventually, running_app


class KitSettings(ServiceSettings):
    service_name = "kit"


def needs_router() -> APIRouter:
    router = APIRouter(prefix="/api/v1/needs")

    @router.post("", status_code=201)
    async def record_need(session: SessionDep) -> dict[str, str]:
        need_id = uuid.uuid4()
        await emit(
            session,
            NeedSubmitted(
                need_id=need_id,
                group_key=str(need_id),
                category_code="elderly.meal_table",
                summary=str(need_id),
                count=1,
                source="resident",
                submitted_at=datetime.now(UTC),
            ),
        )
        return {"id": str(need_id)}

    return router


async def readiness(client: httpx.AsyncClient) -> dict[str, Any]:
    ready = await client.get("/readyz")
    assert ready.status_code == 200, ready.text
    body: dict[str, Any] = ready.json()
    return body


async def test_the_api_wakes_its_workers_relay_and_knows_when_the_worker_is_down(
    service_env: dict[str, Any], kit_db_url: str
) -> None:
    # The relay never polls within the test: only the API's wake publishes a request's event.
    env = {**service_env, "database_url": kit_db_url, "relay_poll_seconds": 3600, "worker_heartbeat_seconds": 0.2}
    api = create_service_app(
        ServiceSpec(name="kit", title="kit", settings=KitSettings(**env, run_worker=False), routers=[needs_router()])
    )
    seen: list[str] = []
    subscription = Subscription("worker-apart")

    @subscription.on(NeedSubmitted)
    async def on_need(session: AsyncSession, event: NeedSubmitted, envelope: Envelope) -> None:
        seen.append(event.summary)

    async with running_app(api) as client:
        runtime: Runtime = api.state.runtime
        assert runtime.relay is None
        assert not runtime.runners
        # No worker yet: the API serves, and says its events wait.
        assert (await readiness(client))["checks"] == {"database": "ok", "nats": "ok", "worker": "down"}

        worker = Runtime("kit", KitSettings(**env, run_worker=True), [subscription], [])
        await worker.start(worker=True)
        try:
            await eventually(lambda: worker.events_ready.is_set())
            ready = await eventually(lambda: _when(readiness(client), lambda r: r["checks"]["worker"] == "ok"))
            assert ready["status"] == "ready"

            recorded = await client.post("/api/v1/needs")
            assert recorded.status_code == 201, recorded.text
            await eventually(lambda: recorded.json()["id"] in seen)

            async def unsent() -> int:
                async with worker.sessionmaker() as session:
                    query = select(func.count()).select_from(outbox_event).where(outbox_event.c.published_at.is_(None))
                    return int(await session.scalar(query) or 0)

            assert await unsent() == 0
        finally:
            await worker.stop()
        # The worker stopped: after three beats unheard the API says so, and stays ready (degraded).
        ready = await eventually(lambda: _when(readiness(client), lambda r: r["checks"]["worker"] == "down"))
        assert ready["status"] == "degraded"


async def _when(answer: Any, condition: Any) -> Any:
    body = await answer
    return body if condition(body) else None


async def test_a_worker_promises_its_liveness_while_every_task_runs_and_not_after_one_ended(
    service_env: dict[str, Any], kit_db_url: str, tmp_path: Path
) -> None:
    """A worker container's liveness probe (``python -m service_kit.alive``) reads what the worker writes at each
    beat: fresh while relay, consumers and heartbeat run; once a consumer's task has ended (as a crash its loop did
    not catch would end it), the worker writes no more, and the probe fails when the last promise lapses."""
    alive = tmp_path / "worker-alive"
    env = {**service_env, "database_url": kit_db_url, "worker_heartbeat_seconds": 0.2, "worker_alive_file": alive}
    subscription = Subscription("liveness")

    @subscription.on(NeedSubmitted)
    async def on_need(session: AsyncSession, event: NeedSubmitted, envelope: Envelope) -> None:
        pass

    assert "not written yet" in str(why_not_alive(alive))
    worker = Runtime("kit", KitSettings(**env, run_worker=True), [subscription], [])
    await worker.start(worker=True)
    try:
        await eventually(lambda: alive.exists() and why_not_alive(alive) is None)
        first = alive.read_text()
        await eventually(lambda: alive.read_text() != first)  # written again at the next beat
        assert worker.worker_tasks_running()

        consumer = next(task for task in asyncio.all_tasks() if task.get_name() == worker.runners[0].durable)
        consumer.cancel()
        await eventually(lambda: not worker.worker_tasks_running())
        last = alive.read_text()
        await eventually(lambda: why_not_alive(alive) is not None)
        assert alive.read_text() == last
        assert "has not" in str(why_not_alive(alive))
    finally:
        await worker.stop()


def test_the_probe_says_why_a_worker_is_not_alive(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    alive = tmp_path / "worker-alive"
    assert alive_main([str(alive)]) == 1
    said = capsys.readouterr().err
    assert said == f"worker not alive: {alive}: not written yet (the worker has not started its relay and consumers)\n"
    write_deadline(alive, 1_000.0)
    assert why_not_alive(alive, now=999.0) is None
    assert why_not_alive(alive, now=1_002.5) == f"{alive}: the worker promised to write again 2.5 s ago and has not"
    alive.write_text("soon\n")
    assert why_not_alive(alive) == f"{alive}: holds 'soon', not a time"
    assert alive_main([]) == 2
    assert "usage: python -m service_kit.alive" in capsys.readouterr().err

    # As the container runs it: a promise still ahead is alive (0), one lapsed is not (1).
    write_deadline(alive, time.time() + 3600)
    probe = [sys.executable, "-m", "service_kit.alive", str(alive)]
    assert subprocess.run(probe, capture_output=True, text=True).returncode == 0
    write_deadline(alive, time.time() - 60)
    lapsed = subprocess.run(probe, capture_output=True, text=True)
    assert (lapsed.returncode, lapsed.stderr.startswith(f"worker not alive: {alive}: the worker promised")) == (1, True)
