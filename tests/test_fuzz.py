"""Every operation in the gateway's aggregated OpenAPI, fuzzed with schemathesis through the real stack:
whatever a client sends — valid, malformed or hostile — the answer is never a 5xx, and every error is
problem+json."""

from __future__ import annotations

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import Case
from schemathesis.specs.openapi.schemas import BaseOpenAPISchema

from .conftest import DevStack, login

pytestmark = pytest.mark.stack


@pytest.fixture(scope="module")
def api_schema(stack: DevStack) -> BaseOpenAPISchema:
    schema = schemathesis.openapi.from_url(f"{stack.gateway_url}/openapi.json")
    return schema  # type: ignore[return-value]


@pytest.fixture(scope="module")
def admin_headers(stack: DevStack) -> dict[str, str]:
    with httpx.Client(base_url=stack.gateway_url) as client:
        return login(client, "admin")


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_no_server_errors(case: Case, stack: DevStack, admin_headers: dict[str, str]) -> None:
    response = case.call(base_url=stack.gateway_url, headers=admin_headers, timeout=30)
    assert response.status_code < 500, f"{case.method} {case.formatted_path} → {response.status_code}: {response.text}"
    if response.status_code >= 400:
        assert response.headers.get("content-type", "").startswith("application/problem+json"), response.text
        assert "code" in response.json()
