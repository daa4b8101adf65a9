"""Fixtures for the kit's own tests: a fresh database holding the kit's tables and the test service's."""

from __future__ import annotations

from collections.abc import AsyncIterator

import nats
import pytest
from nats.js import JetStreamContext
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from service_kit.db import create_engine, create_sessionmaker
from service_kit.events.bus import ensure_streams
from service_kit.settings import ServiceSettings
from service_kit.testing import DatabaseFactory

from .kit_service import create_tables


@pytest.fixture
async def kit_db_url(database_factory: DatabaseFactory) -> str:
    url = database_factory.new_empty("kit")
    await create_tables(url)
    return url


@pytest.fixture
async def kit_engine(kit_db_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(kit_db_url)
    yield engine
    await engine.dispose()


@pytest.fixture
def kit_sessionmaker(kit_engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return create_sessionmaker(kit_engine)


@pytest.fixture
async def js(nats_url: str) -> AsyncIterator[JetStreamContext]:
    """JetStream on the session's nats-server, with Linli's streams."""
    nc = await nats.connect(nats_url)
    jetstream = nc.jetstream()
    await ensure_streams(jetstream, ServiceSettings(nats_url=nats_url))
    yield jetstream
    await nc.close()
