"""Every service's /metrics: Prometheus text, RED per route template, the outbox and dead letters read from the
database when scraped, and several worker processes reported as one."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import APIRouter
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import insert

from service_kit.app import ServiceSpec, create_service_app
from service_kit.events.contracts import NeedSubmitted
from service_kit.events.outbox import emit
from service_kit.events.tables import dead_letter
from service_kit.settings import ServiceSettings
from service_kit.testing import listening_socket, running_app
from service_kit.timeutil import utcnow


class KitSettings(ServiceSettings):
    service_name = "kit"


def samples(text: str, name: str) -> list[tuple[dict[str, str], float]]:
    """The samples named ``name`` in Prometheus text, parsed by prometheus-client's own parser."""
    return [
        (sample.labels, sample.value)
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name
    ]


def value(text: str, name: str, **labels: str) -> float:
    """The sum of the samples named ``name`` carrying ``labels`` (0 when there is none)."""
    return sum(v for have, v in samples(text, name) if labels.items() <= have.items())


def things_router() -> APIRouter:
    router = APIRouter(prefix="/api/v1/things")

    @router.get("/{thing_id}")
    async def get_thing(thing_id: str) -> dict[str, str]:
        return {"id": thing_id}

    return router


@pytest.fixture
async def client(service_env: dict[str, Any], kit_db_url: str) -> AsyncIterator[httpx.AsyncClient]:
    # NATS is made unreachable: the relay never starts, so what the outbox holds stays there.
    env = {**service_env, "nats_url": "nats://127.0.0.1:1", "metrics_refresh_seconds": 0}
    settings = KitSettings(**env, database_url=kit_db_url)
    app = create_service_app(ServiceSpec(name="kit", title="kit", settings=settings, routers=[things_router()]))
    async with running_app(app, wait_for_events=False) as http:
        http.app = app  # type: ignore[attr-defined]
        yield http


async def scrape(client: httpx.AsyncClient) -> str:
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return response.text


async def test_a_service_with_metrics_off_serves_no_metrics(service_env: dict[str, Any], kit_db_url: str) -> None:
    env = {**service_env, "nats_url": "nats://127.0.0.1:1", "metrics_enabled": False}
    settings = KitSettings(**env, database_url=kit_db_url)
    app = create_service_app(ServiceSpec(name="kit", title="kit", settings=settings, routers=[things_router()]))
    async with running_app(app, wait_for_events=False) as http:
        assert (await http.get("/api/v1/things/a1")).status_code == 200
        response = await http.get("/metrics")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"


async def test_requests_are_counted_by_route_template_never_by_raw_path(client: httpx.AsyncClient) -> None:
    route = "/api/v1/things/{thing_id}"
    before = await scrape(client)
    for thing in ("lamp", "bench", "lamp"):
        assert (await client.get(f"/api/v1/things/{thing}")).status_code == 200
    assert (await client.head("/api/v1/things/lamp")).status_code == 200
    assert (await client.get("/api/v1/nowhere/13812345678")).status_code == 404
    assert (await client.request("BREW", "/api/v1/things/lamp")).status_code == 405
    after = await scrape(client)

    def grew(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert grew("linli_http_requests_total", service="kit", method="GET", route=route, status="200") == 3
    assert grew("linli_http_requests_total", service="kit", method="HEAD", route=route, status="200") == 1
    assert grew("linli_http_request_duration_seconds_count", service="kit", method="GET", route=route) == 3
    assert grew("linli_http_requests_total", service="kit", route="unmatched", status="404") == 1
    # A made-up method is OTHER: no client can add series of its own.
    assert grew("linli_http_requests_total", service="kit", method="OTHER", route=route, status="405") == 1
    assert not [labels for labels, _ in samples(after, "linli_http_requests_total") if labels["method"] == "BREW"]
    routes = {labels.get("route", "") for labels, _ in samples(after, "linli_http_requests_total")}
    assert not any("lamp" in r or "1381234" in r or "nowhere" in r for r in routes), routes


async def test_the_outbox_backlog_and_dead_letters_are_read_when_scraped(client: httpx.AsyncClient) -> None:
    sessionmaker = client.app.state.sessionmaker  # type: ignore[attr-defined]
    text = await scrape(client)
    assert value(text, "linli_outbox_backlog", service="kit") == 0
    assert value(text, "linli_outbox_oldest_unsent_age_seconds", service="kit") == 0
    assert value(text, "linli_nats_connected", service="kit") == 0
    assert value(text, "linli_db_pool_size", service="kit", pool="write") >= 1  # the pool's size and use

    async with sessionmaker() as session, session.begin():
        for group in ("meals", "baths"):
            need = NeedSubmitted(
                need_id=uuid.uuid4(),
                group_key=group,
                category_code=group,
                summary="A need",
                count=1,
                source="resident",
                submitted_at=utcnow(),
            )
            await emit(session, need)
        await session.execute(
            insert(dead_letter).values(
                id=str(uuid.uuid4()),
                consumer="kit-needs",
                event_id=str(uuid.uuid4()),
                type="linli.need.submitted",
                nats_subject="linli.need.submitted",
                headers={},
                payload=b"{}",
                error="boom",
                deliveries=5,
                status="dead",
                created_at=utcnow(),
            )
        )
    text = await scrape(client)
    assert value(text, "linli_outbox_backlog", service="kit") == 2
    assert value(text, "linli_outbox_oldest_unsent_age_seconds", service="kit") >= 0
    assert value(text, "linli_dead_letters", service="kit", durable="kit-needs", type="linli.need.submitted") == 1


def test_several_worker_processes_are_reported_as_one(tmp_path: Path) -> None:
    """Two worker processes count requests into one PROMETHEUS_MULTIPROC_DIR; a scrape answered by either (here a
    third process) reports their sum."""
    shared = tmp_path / "prometheus"
    shared.mkdir()
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(shared)}
    count = textwrap.dedent(
        """
        import sys
        from service_kit import metrics
        for _ in range(int(sys.argv[1])):
            metrics.HTTP_REQUESTS.labels("kit", "GET", "/api/v1/things/{thing_id}", "200").inc()
        metrics.OUTBOX_BACKLOG.labels("kit").set(int(sys.argv[1]))
        """
    )
    for times in ("3", "4"):
        subprocess.run([sys.executable, "-c", count, times], env=env, check=True, timeout=60)
    scraped = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from service_kit import metrics; sys.stdout.write(metrics.exposition().decode())",
        ],
        env=env,
        check=True,
        timeout=60,
        capture_output=True,
        text=True,
    ).stdout
    assert value(scraped, "linli_http_requests_total", service="kit", route="/api/v1/things/{thing_id}") == 7
    # A gauge read from the shared database: the most recent reading, not a sum of the workers'.
    assert value(scraped, "linli_outbox_backlog", service="kit") == 4


def test_a_standalone_worker_serves_its_metrics_on_the_port_it_is_given(
    nats_url: str, kit_db_url: str, tmp_path: Path
) -> None:
    """``python -m <service>.worker`` has no API port: with LINLI_METRICS_PORT it opens a listener of its own, whose
    database figures are read on a timer, and it closes it when stopped. With LINLI_WORKER_ALIVE_FILE, its
    container's liveness probe passes while it runs."""
    alive = tmp_path / "worker-alive"
    with listening_socket() as probe:
        port = probe.getsockname()[1]
    worker = textwrap.dedent(
        """
        import asyncio
        from service_kit.app import ServiceSpec
        from service_kit.settings import ServiceSettings
        from service_kit.worker import run_worker

        class KitSettings(ServiceSettings):
            service_name = "kit"

        asyncio.run(run_worker(ServiceSpec(name="kit", title="kit", settings=KitSettings())))
        """
    )
    env = {
        **os.environ,
        "LINLI_ENVIRONMENT": "test",
        "LINLI_NATS_URL": nats_url,
        "LINLI_KIT_DATABASE_URL": kit_db_url,
        "LINLI_METRICS_PORT": str(port),
        "LINLI_METRICS_REFRESH_SECONDS": "0",
        "LINLI_WORKER_ALIVE_FILE": str(alive),
    }
    process = subprocess.Popen([sys.executable, "-c", worker], env=env)
    try:

        def scraped() -> str:
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5.0)
            except httpx.HTTPError:
                return ""
            return response.text if response.status_code == 200 else ""

        deadline = time.monotonic() + 60
        while value(text := scraped(), "linli_nats_connected", service="kit") != 1:
            assert process.poll() is None, "the worker exited"
            assert time.monotonic() < deadline, text
            time.sleep(0.2)
        assert value(text, "linli_outbox_backlog", service="kit") == 0
        assert value(text, "linli_db_pool_size", service="kit", pool="write") >= 1
        probe = [sys.executable, "-m", "service_kit.alive", str(alive)]
        while (answer := subprocess.run(probe, capture_output=True, text=True)).returncode != 0:
            assert process.poll() is None, "the worker exited"
            assert time.monotonic() < deadline, answer.stderr
            time.sleep(0.2)
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(30) == 0
    assert scraped() == ""  # the listener closed with the worker
