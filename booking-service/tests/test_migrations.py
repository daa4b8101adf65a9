"""The migrations build exactly the tables the models declare, and undo cleanly."""

import asyncio
from pathlib import Path

from booking.models import Base, load_models
from service_kit import migrations
from service_kit.events.tables import kit_metadata
from service_kit.testing import DatabaseFactory, schema_differences


async def test_migrations_match_the_models_and_downgrade(database_factory: DatabaseFactory, service_dir: Path) -> None:
    load_models()
    url = database_factory.new(service_dir)
    assert await schema_differences(url, Base.metadata, kit_metadata) == []
    await asyncio.to_thread(migrations.downgrade, service_dir, url, "0001")
    assert len(await schema_differences(url, Base.metadata, kit_metadata)) >= 6  # the slice's tables are gone
    await asyncio.to_thread(migrations.upgrade, service_dir, url)
    assert await schema_differences(url, Base.metadata, kit_metadata) == []
