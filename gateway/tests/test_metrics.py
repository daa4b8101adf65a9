"""The gateway's metrics: on a listener of their own (never its public port), every answer by route, each
upstream's latency, each replica's breaker, the rate limits' refusals; no caller's data in a label."""

from __future__ import annotations

import re
from collections.abc import Callable

import httpx
from prometheus_client.parser import text_string_to_metric_families

from gateway.app import create_app
from gateway.config import GatewaySettings
from service_kit.testing import running_app

from .conftest import Server

PHONE = re.compile(r"1[3-9]\d{9}")


def value(text: str, name: str, **labels: str) -> float:
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name and labels.items() <= sample.labels.items()
    )


def label_values(text: str) -> set[str]:
    return {v for family in text_string_to_metric_families(text) for s in family.samples for v in s.labels.values()}


async def test_the_gateway_counts_on_its_own_listener_and_never_on_its_public_port(
    make_settings: Callable[..., GatewaySettings], services: dict[str, Server]
) -> None:
    settings = make_settings(services, metrics_port=0, rate_limit_anonymous="2/minute", circuit_failure_threshold=1)
    app = create_app(settings)
    async with running_app(app, wait_for_events=False) as client:
        listener = app.state.metrics_listener
        assert listener is not None
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{listener.port}") as internal:

            async def scrape() -> str:
                response = await internal.get("/metrics")
                assert response.status_code == 200
                return response.text

            before = await scrape()
            # The public listener has no /metrics: the gateway neither serves nor forwards it.
            public = await client.get("/metrics")
            assert public.status_code == 404
            assert "linli_http_requests_total" not in public.text

            for phone in ("13812345678", "13912345678"):
                assert (await client.get(f"/api/v1/categories/{phone}")).status_code == 200
            refused = await client.get("/api/v1/categories/13712345678")  # the third this minute
            assert refused.status_code == 429
            after = await scrape()

            def grew(name: str, **labels: str) -> float:
                return value(after, name, **labels) - value(before, name, **labels)

            route = "/api/v1/categories/**"
            assert grew("linli_http_requests_total", service="gateway", route=route, status="200") == 2
            assert grew("linli_http_requests_total", service="gateway", route=route, status="429") == 1
            assert grew("linli_gateway_upstream_duration_seconds_count", upstream="registry", outcome="2xx") == 2
            assert grew("linli_gateway_rate_limited_total", limit="ip") == 1
            assert grew("linli_http_requests_total", service="gateway", route="unmatched", status="404") == 1

            assert not [v for v in label_values(after) if PHONE.search(v)]
            # Its database pool, read on a timer.
            assert value(after, "linli_db_pool_size", service="gateway", pool="write") >= 1


async def test_a_replica_s_open_circuit_shows(
    make_settings: Callable[..., GatewaySettings], services: dict[str, Server]
) -> None:
    app = create_app(make_settings(services, metrics_port=0, circuit_failure_threshold=1))
    async with running_app(app, wait_for_events=False) as client:
        port = app.state.metrics_listener.port
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as internal:
            registry = services["registry"]
            assert (await client.get("/api/v1/categories")).status_code == 200
            text = (await internal.get("/metrics")).text
            assert value(text, "linli_gateway_breaker_open", upstream="registry", replica=registry.url) == 0
            # A replica that cannot be reached opens its circuit (after one failure, here): the gauge says so.
            await registry.stop()
            assert (await client.get("/api/v1/categories")).status_code == 503
            text = (await internal.get("/metrics")).text
            assert value(text, "linli_gateway_breaker_open", upstream="registry", replica=registry.url) == 1
            unavailable = value(
                text,
                "linli_gateway_upstream_duration_seconds_count",
                upstream="registry",
                outcome="upstream_unavailable",
            )
            assert unavailable >= 1


async def test_no_listener_unless_a_port_is_given(
    make_settings: Callable[..., GatewaySettings], services: dict[str, Server]
) -> None:
    app = create_app(make_settings(services))
    async with running_app(app, wait_for_events=False) as client:
        assert app.state.metrics_listener is None
        assert (await client.get("/metrics")).status_code == 404
