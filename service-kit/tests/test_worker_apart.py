"""A service whose relay and consumers run in a worker of their own (``LINLI_RUN_WORKER=false`` on the API): a
request's events are published at once (the API wakes the worker's relay over NATS), and the API's readiness says
whether a worker is there."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
from fastapi import APIRouter
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

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
