from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from registry.app import SERVICE_DIR, create_app
from registry.config import Settings
from service_kit.testing import DatabaseFactory, running_app


@pytest.fixture
def settings(service_env: dict[str, Any], database_factory: DatabaseFactory) -> Settings:
    return Settings(**service_env, database_url=database_factory.new(SERVICE_DIR))


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async with running_app(create_app(settings)) as client:
        yield client


@pytest.fixture
def service_dir() -> Path:
    return SERVICE_DIR
