"""Every operation in the gateway's aggregated OpenAPI, fuzzed with schemathesis through the real stack:
whatever a client sends — valid, malformed or hostile — the answer is never a 5xx, and every error is
problem+json."""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Callable

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import Case

from .conftest import DevStack, login

pytestmark = [pytest.mark.stack, pytest.mark.slow_module]

# Hypothesis's first examples per operation are its most telling (empty, boundary, wrong-typed values); five of
# each keep ``make test`` within its time. A deeper sweep: LINLI_FUZZ_EXAMPLES=50 pytest tests/test_fuzz.py.
EXAMPLES_PER_OPERATION = int(os.environ.get("LINLI_FUZZ_EXAMPLES", "5"))


def content_type(_case: Case, response: schemathesis.Response) -> str:
    value = response.headers.get("content-type") or [""]
    return value[0] if isinstance(value, list) else str(value)


def is_error_document(case: Case, response: schemathesis.Response) -> bool:
    """problem+json everywhere, except the Open311 facade, whose clients expect the GeoReport v2 error list."""
    if content_type(case, response).startswith("application/problem+json"):
        return True
    if case.formatted_path.startswith("/open311/") and case.formatted_path.endswith(".xml"):
        errors = ET.fromstring(response.content)
        items = errors.findall("error")
        return (
            errors.tag == "errors"
            and bool(items)
            and all(e.findtext("code") and e.findtext("description") for e in items)
        )
    if case.formatted_path.startswith("/open311/"):
        body = response.json()
        return isinstance(body, list) and all({"code", "description"} <= set(item) for item in body)
    return False


def test_no_server_errors(stack: DevStack, report_figure: Callable[[str], None]) -> None:
    with httpx.Client(base_url=stack.gateway_url) as client:
        headers = login(client, "admin")
    schema = schemathesis.openapi.from_url(f"{stack.gateway_url}/openapi.json")
    failures: list[str] = []
    statuses: Counter[int] = Counter()
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1

        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy())
        def call(case: Case) -> None:
            response = case.call(base_url=stack.gateway_url, headers=headers, timeout=30)
            statuses[response.status_code] += 1
            where = f"{case.method} {case.formatted_path} → {response.status_code}"
            if response.status_code >= 500:
                failures.append(f"{where}: {response.text[:300]}")
            elif response.status_code >= 400 and not is_error_document(case, response):
                failures.append(f"{where}: not problem+json: {response.text[:200]}")

        call()
    report_figure(
        f"fuzzed {operations} operations: {sum(statuses.values())} requests, statuses {dict(sorted(statuses.items()))}"
    )
    assert operations > 20
    assert failures == []
    assert statuses[200] + statuses[201] > 0, "nothing succeeded: the fuzzer only reached validation"
