"""The lockout tests run on a clock of their own: the gateway's ``current_time`` is what the test moves."""

from datetime import UTC, datetime

import pytest
from fastapi import FastAPI

from gateway.clock import current_time
from service_kit.testing import Clock


@pytest.fixture
def clock(gateway: FastAPI) -> Clock:
    clock = Clock(datetime(2026, 12, 8, 1, 0, tzinfo=UTC))
    gateway.dependency_overrides[current_time] = lambda: clock.now
    return clock
