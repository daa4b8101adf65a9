"""Whole-stack fixtures: the real launcher starts nats-server, the four services and the gateway as processes."""

from __future__ import annotations

import os
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from stdnum.cn import uscc

from service_kit.testing import DatabaseFactory

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "deploy"))

from demo_data import DEMO_ACCOUNTS, DEMO_PASSWORD  # noqa: E402
from devstack import GATEWAY, SERVICES, DevStack  # noqa: E402

RATE_LIMITED = ("PRINCIPAL", "API_KEY", "ANONYMOUS", "SIGN_IN")

# The journeys book tomorrow and deliver at once: booking's visit timing rules (start at most 30 minutes before
# the slot, last half of it) are off in the shared stack, and tested through a stack of their own with the
# district's settings in test_delivery_evidence.py.
ANY_TIME_VISITS = {"LINLI_VISIT_START_MARGIN_MINUTES": str(366 * 24 * 60), "LINLI_VISIT_MIN_DURATION_SHARE": "0"}

# A whole-stack test's processes keep few PostgreSQL connections open: two workers, each with its stacks (a
# service per database, replicas in the scale-out test), stay under the server's 100 connections.
SMALL_POOLS = {"LINLI_DATABASE_POOL_SIZE": "2", "LINLI_DATABASE_MAX_OVERFLOW": "6"}

# The whole-stack tests' settings on top of the launcher's.
STACK_ENV = {
    **SMALL_POOLS,
    "LINLI_LOG_LEVEL": "WARNING",
    "LINLI_REGISTRY_WEBHOOK_ALLOW_LOOPBACK": "true",
    # feedback-service announces a provider's new score (score.updated) at most this often; 30 s by default.
    "LINLI_SCORE_DEBOUNCE_SECONDS": "1",
    # Every test signs in from 127.0.0.1 and the fuzzer sends hundreds of requests a minute; the gateway's
    # limits are tested in its own suite.
    **{f"LINLI_RATE_LIMIT_{kind}": "100000/minute" for kind in RATE_LIMITED},
    **ANY_TIME_VISITS,
    # The journeys run at any hour: no SMS waits for the end of the quiet hours here (21:00–08:00, tested on
    # booking's clock in booking-service/tests/notifications/test_delivery.py).
    "LINLI_SMS_QUIET_HOURS": "false",
}


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory, _database_factory_session: DatabaseFactory) -> Iterator[DevStack]:
    var_dir = tmp_path_factory.mktemp("stack")
    databases = {}
    if os.environ.get("LINLI_TEST_POSTGRES_URL"):
        databases = {
            s.name: _database_factory_session.new_empty(s.name, for_session=True) for s in (*SERVICES, GATEWAY)
        }
    dev = DevStack(var_dir=var_dir, database_urls=databases, extra_env=STACK_ENV)
    try:
        # The launcher's own start: ports bound by the supervisor (none picked in advance), every process ready
        # however long a loaded machine takes (up to its overall limit), crashed processes restarted.
        dev.start(accounts=DEMO_ACCOUNTS)
        wait_until_communities_known(dev.gateway_url)
        yield dev
    finally:
        dev.stop()
        for name in ("registry", "booking", "procurement", "feedback", "gateway"):
            log = var_dir / "logs" / f"{name}.log"
            if log.exists() and "Traceback" in log.read_text(errors="replace"):
                print(f"\n--- {name}.log (has a traceback) ---\n{log.read_text(errors='replace')[-4000:]}")


def wait_until_communities_known(gateway_url: str, timeout: float = 120.0) -> None:
    """Booking refuses a resident's unknown community, and learns the gazetteer from the registry's announcement at
    its start, a moment after every process is ready: wait until it knows every community the registry has."""
    with httpx.Client(base_url=gateway_url, timeout=30.0) as client:
        operator = login(client, "operator")

        def total(path: str) -> int:
            response = client.get(path, params={"limit": 1}, headers=operator)
            return int(response.json()["total"]) if response.status_code == 200 else -1

        wait_for(lambda: 0 < total("/api/v1/communities") <= total("/api/v1/residents/communities"), timeout)


@pytest.fixture
def gateway(stack: DevStack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=stack.gateway_url, timeout=30.0) as client:
        yield client


def login(client: httpx.Client, username: str, password: str = DEMO_PASSWORD) -> dict[str, str]:
    response = client.post("/api/v1/auth/token", json={"username": username, "password": password})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def wait_for(check: Callable[[], Any], timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(0.1)
    raise AssertionError(f"not reached within {timeout}s: {last!r}")


def new_uscc() -> str:
    body = "91110111MA" + uuid.uuid4().hex[:7].upper()
    return body + uscc.calc_check_digit(body)
