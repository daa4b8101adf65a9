"""Every refusal the gateway makes on /open311 reaches a GeoReport v2 client as the standard's error list
(``[{"code", "description"}]`` or ``<errors><error>``, by the path's suffix), with the HTTP status alike: a body
above the edge's limit (413), too many requests (429), a service that is down (503), whose circuit is open (503),
or that is too slow (504). The same refusals elsewhere stay problem+json."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from gateway.app import create_app
from gateway.config import GatewaySettings
from service_kit.documents import FORM_ALLOWANCE
from service_kit.testing import MonotonicClock, running_app

XML = "text/xml; charset=utf-8"


def georeport_json(response: httpx.Response, status: int) -> str:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    (error,) = response.json()
    assert set(error) == {"code", "description"}
    assert error["code"] == status
    description: str = error["description"]
    return description


def georeport_xml(response: httpx.Response, status: int) -> str:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == XML
    errors = ET.fromstring(response.content)
    assert (errors.tag, [e.tag for e in errors]) == ("errors", ["error"])
    assert errors.findtext("error/code") == str(status)
    return errors.findtext("error/description") or ""


@pytest.fixture
def small_limits(make_settings: Callable[..., GatewaySettings], services: dict[str, Any]) -> GatewaySettings:
    return make_settings(services, max_body_bytes=2_000, max_document_bytes=10_000)


async def test_a_body_above_the_edge_limit_is_a_georeport_413(small_limits: GatewaySettings) -> None:
    upload_limit = 10_000 + FORM_ALLOWANCE
    async with running_app(create_app(small_limits), wait_for_events=False) as client:
        # Filing a request takes a photo: its limit is a document's, and above it the edge refuses, as JSON...
        too_large = b"x" * (upload_limit + 1)
        refused = await client.post(
            "/open311/v2/requests.json", content=too_large, headers={"content-type": "multipart/form-data; boundary=b"}
        )
        assert f"limit of {upload_limit} bytes" in georeport_json(refused, 413)
        # ... or as XML, and also when the body arrives in chunks with no length declared.

        async def chunks() -> AsyncIterator[bytes]:
            for _ in range(upload_limit // 1000 + 2):
                yield b"x" * 1000

        streamed = await client.post(
            "/open311/v2/requests.xml", content=chunks(), headers={"content-type": "multipart/form-data; boundary=b"}
        )
        assert f"limit of {upload_limit} bytes" in georeport_xml(streamed, 413)
        # A route that takes no document has the ordinary limit.
        listing = await client.request("GET", "/open311/v2/services.xml", content=b"x" * 2_001)
        assert "limit of 2000 bytes" in georeport_xml(listing, 413)
        # Elsewhere the same refusal is problem+json.
        elsewhere = await client.post("/api/v1/complaints", content=b"x" * 2_001)
        assert (elsewhere.status_code, elsewhere.headers["content-type"]) == (413, "application/problem+json")


async def test_too_many_requests_is_a_georeport_429(
    make_settings: Callable[..., GatewaySettings], services: dict[str, Any]
) -> None:
    app: FastAPI = create_app(make_settings(services, rate_limit_anonymous="2/minute"))
    async with running_app(app, wait_for_events=False) as client:
        app.state.limiter._window.clock = MonotonicClock()  # the minute lasts as long as the test needs
        for _ in range(2):
            assert (await client.get("/open311/v2/services.json")).status_code == 200
        refused = await client.get("/open311/v2/services.json")
        assert georeport_json(refused, 429)
        assert 1 <= int(refused.headers["retry-after"]) <= 60
        assert georeport_xml(await client.get("/open311/v2/services.xml"), 429)


async def test_a_service_down_or_its_open_circuit_is_a_georeport_503(
    make_settings: Callable[..., GatewaySettings], services: dict[str, Any], open_gateway: Any
) -> None:
    settings = make_settings(services, circuit_failure_threshold=1, circuit_open_seconds=30)
    async with open_gateway(settings) as client:
        client._transport.app.state.breakers.clock = MonotonicClock()
        await services["feedback"].stop()
        down = await client.get("/open311/v2/services.json")
        assert "feedback" in georeport_json(down, 503)
        assert down.headers["retry-after"] == "2"
        circuit_open = await client.get("/open311/v2/requests.xml")
        assert georeport_xml(circuit_open, 503)
        assert circuit_open.headers["retry-after"] == "30"
        elsewhere = await client.get("/api/v1/ratings")
        assert (elsewhere.status_code, elsewhere.json()["code"]) == (503, "circuit_open")


async def test_a_slow_service_is_a_georeport_504(
    make_settings: Callable[..., GatewaySettings], services: dict[str, Any], open_gateway: Any
) -> None:
    async with open_gateway(make_settings(services, upstream_timeout_seconds=0.3)) as client:
        slow = await client.get("/open311/v2/services.xml", headers={"X-Echo-Sleep": "1.5"})
    assert "0.3 s" in georeport_xml(slow, 504)
