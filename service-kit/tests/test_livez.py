"""``/livez``, every kit-based service's liveness probe: the process answers, and it asks nothing else."""

from __future__ import annotations

from pathlib import Path

import httpx

from service_kit.app import ServiceSpec, create_service_app
from service_kit.settings import ServiceSettings


class LiveSettings(ServiceSettings):
    service_name = "live"


async def test_livez_answers_with_no_database_no_nats_and_nothing_started(tmp_path: Path) -> None:
    settings = LiveSettings(
        var_dir=tmp_path,
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'absent' / 'live.db'}",  # a folder that does not exist
        nats_url="nats://127.0.0.1:1",  # nothing listens there
    )
    app = create_service_app(ServiceSpec(name="live", title="live", settings=settings))
    # No lifespan: no runtime, no database engine, no NATS connection. A liveness probe must not depend on them.
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://live") as client:
        live = await client.get("/livez")
        head = await client.head("/livez")
        spec = (await client.get("/openapi.json")).json()

    assert live.status_code == 200
    assert live.json() == {"status": "ok"}
    assert head.status_code == 200
    assert head.content == b""
    assert "/livez" in spec["paths"]
