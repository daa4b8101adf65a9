import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import nats
import pytest
from fastapi import FastAPI
from nats.aio.client import Client as NATS
from nats.js import JetStreamContext

from procurement.app import SERVICE_DIR, create_app
from procurement.config import Settings
from service_kit.testing import Clock, service_fixtures

# The suite runs with --import-mode=importlib, which puts no test folder on sys.path; the builders module
# (uniquely named, since every service's suite shares one interpreter) is made importable here.
sys.path.insert(0, str(Path(__file__).parent))


settings, app, client, service_dir = service_fixtures(Settings, create_app, SERVICE_DIR)


@pytest.fixture
async def nc(nats_url: str) -> AsyncIterator[NATS]:
    """A NATS connection of the test's own, as another Linli service would hold."""
    connection = await nats.connect(nats_url)
    yield connection
    await connection.close()


@pytest.fixture
def js(nc: NATS) -> JetStreamContext:
    return nc.jetstream()


@pytest.fixture
def clock(app: FastAPI) -> Clock:
    # Friday 27 November 2026, 10:00 in Beijing.
    moving = Clock(datetime(2026, 11, 27, 2, 0, tzinfo=UTC))

    moving.answers(app)
    app.state.documents.clock = moving  # documents (their dates, their links' expiry) alike
    return moving
