"""The metrics of a running stack, as Prometheus scrapes them: every process's /metrics parses as Prometheus text and
moves with what residents and staff do — a booking counts, NATS away fills the booking service's outbox and its
return drains it — while the gateway's public port serves none, and no label carries a phone number."""

from __future__ import annotations

import re
import shutil
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from service_kit.testing import DatabaseFactory

from .conftest import (
    STACK_ENV,
    DevStack,
    eventually_blocking,
    free_slots,
    login,
    new_phone,
    own_stack,
    provider_with_offering,
)

pytestmark = pytest.mark.stack

PHONE = re.compile(r"1[3-9]\d{9}")
COMPONENTS = {"gateway", "registry", "booking", "procurement", "feedback"}


@pytest.fixture(scope="module")
def watched(tmp_path_factory: pytest.TempPathFactory, _database_factory_session: DatabaseFactory) -> Iterator[DevStack]:
    """A stack of its own (the test stops its NATS), whose scrapes read the databases every time."""
    env = {**STACK_ENV, "LINLI_METRICS_REFRESH_SECONDS": "0"}
    with own_stack(tmp_path_factory, _database_factory_session, "metrics", env) as dev:
        yield dev


@pytest.fixture(scope="module")
def world(watched: DevStack) -> dict[str, Any]:
    """A provider's offering with free slots, and a resident the operator registered (by phone)."""
    with httpx.Client(base_url=watched.gateway_url, timeout=30.0) as gateway:
        operator = login(gateway, "operator")
        provider = provider_with_offering(gateway, f"观测{uuid.uuid4().int % 10**6:06d}")
        resident = gateway.post(
            "/api/v1/residents",
            headers=operator,
            json={"name": "周秀英", "phone": new_phone(), "consent": {"version": "2026-11", "channel": "phone"}},
        )
        assert resident.status_code == 201, resident.text
        slots = free_slots(gateway, provider["offering_id"], operator, 2)
    return {"operator": operator, "offering_id": provider["offering_id"], "resident": resident.json(), "slots": slots}


def scrape(url: str) -> str:
    response = httpx.get(url, timeout=30.0)
    assert response.status_code == 200, url
    assert response.headers["content-type"].startswith("text/plain")
    return response.text


def value(text: str, name: str, **labels: str) -> float:
    """The sum of the samples ``name`` carrying ``labels``, parsed with prometheus-client's own parser."""
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name and labels.items() <= sample.labels.items()
    )


def label_values(text: str) -> set[str]:
    return {v for family in text_string_to_metric_families(text) for s in family.samples for v in s.labels.values()}


def book(stack: DevStack, world: dict[str, Any], slot: dict[str, Any]) -> dict[str, Any]:
    with httpx.Client(base_url=stack.gateway_url, timeout=30.0) as gateway:
        response = gateway.post(
            "/api/v1/bookings",
            headers=world["operator"],
            json={
                "offering_id": world["offering_id"],
                "slot_start": slot["start"],
                "resident_id": world["resident"]["id"],
                "channel": "phone",
            },
        )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def test_every_process_serves_metrics_that_move_with_a_booking(watched: DevStack, world: dict[str, Any]) -> None:
    urls = watched.metrics_urls()
    assert set(urls) == COMPONENTS
    # The gateway's public port serves no metrics, and forwards no /metrics to a service.
    public = httpx.get(f"{watched.gateway_url}/metrics", timeout=30.0)
    assert public.status_code == 404
    assert "linli_" not in public.text

    before = {name: scrape(url) for name, url in urls.items()}
    booking = book(watched, world, world["slots"][0])
    assert booking["status"] == "requested"
    after = {name: scrape(url) for name, url in urls.items()}

    def grew(component: str, name: str, **labels: str) -> float:
        return value(after[component], name, **labels) - value(before[component], name, **labels)

    # Booking's own count, read from its database: one more phone booking, requested.
    assert grew("booking", "linli_bookings", channel="phone", status="requested") == 1
    # The POST, by its route template at the service and by its route's prefix at the gateway.
    assert grew("booking", "linli_http_requests_total", method="POST", route="/api/v1/bookings", status="201") == 1
    assert grew("gateway", "linli_http_requests_total", method="POST", route="/api/v1/bookings/**", status="201") == 1
    assert grew("gateway", "linli_gateway_upstream_duration_seconds_count", upstream="booking", outcome="2xx") >= 1
    for component, text in after.items():
        assert value(text, "linli_http_requests_total") > 0, component
        # Route templates, never a raw path with an id in it; no phone number in any label.
        routes = {labels.get("route", "") for labels in _labels(text, "linli_http_requests_total")}
        assert not [r for r in routes if booking["id"] in r or world["resident"]["id"] in r], routes
        assert not [v for v in label_values(text) if PHONE.search(v)], component
    # The booking's event reached the stream: the booking service's outbox is empty again.
    eventually_blocking(
        lambda: value(scrape(urls["booking"]), "linli_outbox_backlog", service="booking") == 0, timeout=120
    )


def _labels(text: str, name: str) -> list[dict[str, str]]:
    return [
        sample.labels
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name
    ]


def test_nats_away_fills_the_outbox_and_its_return_drains_it(watched: DevStack, world: dict[str, Any]) -> None:
    booking_metrics = watched.metrics_urls()["booking"]
    published_before = value(
        scrape(booking_metrics), "linli_outbox_published_total", service="booking", outcome="published"
    )
    watched.hold("nats")
    try:
        eventually_blocking(
            lambda: value(scrape(booking_metrics), "linli_nats_connected", service="booking") == 0, timeout=60
        )
        # A booking is still taken: its event waits in the outbox.
        book(watched, world, world["slots"][1])
        text = scrape(booking_metrics)
        assert value(text, "linli_outbox_backlog", service="booking") >= 1
        eventually_blocking(
            lambda: value(scrape(booking_metrics), "linli_outbox_oldest_unsent_age_seconds", service="booking") > 0
        )
    finally:
        watched.release("nats")
    # NATS is back: the relay publishes what waited, and the gauge says so.
    eventually_blocking(
        lambda: value(scrape(booking_metrics), "linli_outbox_backlog", service="booking") == 0, timeout=180
    )
    text = scrape(booking_metrics)
    assert value(text, "linli_outbox_oldest_unsent_age_seconds", service="booking") == 0
    assert value(text, "linli_outbox_published_total", service="booking", outcome="published") > published_before
    # The durable consumers' lag is read from JetStream again.
    eventually_blocking(
        lambda: value(scrape(booking_metrics), "linli_nats_connected", service="booking") == 1, timeout=60
    )
    assert _labels(scrape(booking_metrics), "linli_consumer_pending")


@pytest.mark.skipif(
    shutil.which("prometheus") is None, reason="make run --prometheus starts Debian's prometheus, not installed here"
)
def test_make_runs_prometheus_scrapes_every_process(watched: DevStack) -> None:
    url = watched.start_prometheus(port=0)
    assert url is not None

    def healthy() -> set[str]:
        try:
            targets = httpx.get(f"{url}/api/v1/targets", timeout=10.0).json()["data"]["activeTargets"]
        except (httpx.HTTPError, ValueError, KeyError):
            return set()
        return {target["labels"]["job"] for target in targets if target["health"] == "up"}

    eventually_blocking(lambda: healthy() == {f"linli-{name}" for name in COMPONENTS}, timeout=120)
    # Linli's alert rules are loaded.
    rules = httpx.get(f"{url}/api/v1/rules", timeout=10.0).json()["data"]["groups"]
    assert {group["name"] for group in rules} == {"linli-availability", "linli-events", "linli-domain"}
