"""The migrations build exactly the tables the models declare, and undo cleanly."""

import asyncio
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.ext.asyncio import create_async_engine

from booking.models import Base, load_models
from service_kit import migrations
from service_kit.events.tables import kit_metadata
from service_kit.testing import DatabaseFactory


async def differences(url: str) -> list[object]:
    load_models()
    engine = create_async_engine(url)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(
                lambda sync: compare_metadata(
                    MigrationContext.configure(sync, opts={"compare_type": True}), [Base.metadata, kit_metadata]
                )
            )
    finally:
        await engine.dispose()


async def test_migrations_match_the_models_and_downgrade(database_factory: DatabaseFactory, service_dir: Path) -> None:
    url = database_factory.new(service_dir)
    assert await differences(url) == []
    await asyncio.to_thread(migrations.downgrade, service_dir, url, "0001")
    assert len(await differences(url)) >= 6  # the slice's tables are gone
    await asyncio.to_thread(migrations.upgrade, service_dir, url)
    assert await differences(url) == []
