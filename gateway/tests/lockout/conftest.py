"""The lockout tests run on a clock of their own: the gateway's requests' "now" (``app.state.clock``) is what the
test moves."""

from datetime import UTC, datetime

import pytest
from fastapi import FastAPI

from service_kit.testing import Clock


@pytest.fixture
def clock(gateway: FastAPI) -> Clock:
    clock = Clock(datetime(2026, 12, 8, 1, 0, tzinfo=UTC))
    clock.answers(gateway)
    return clock
