"""The migrations build exactly the tables the models describe, and undo themselves."""

import asyncio
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import MetaData, inspect

from procurement.models import Base, load_models
from service_kit import migrations
from service_kit.db import create_engine
from service_kit.events.tables import kit_metadata
from service_kit.testing import DatabaseFactory


def differences(connection: object) -> list[object]:
    # The service's tables and the kit's, as one schema: what a database of procurement holds.
    schema = MetaData()
    for table in [*Base.metadata.tables.values(), *kit_metadata.tables.values()]:
        table.to_metadata(schema)
    context = MigrationContext.configure(connection, opts={"compare_type": True})  # type: ignore[arg-type]
    return list(compare_metadata(context, schema))


def table_names(connection: object) -> set[str]:
    return set(inspect(connection).get_table_names())


async def test_migrations_match_the_models_and_downgrade(database_factory: DatabaseFactory, service_dir: Path) -> None:
    load_models()
    url = database_factory.new(service_dir)
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            assert await conn.run_sync(differences) == []

        await asyncio.to_thread(migrations.downgrade, service_dir, url, "0001")
        async with engine.connect() as conn:
            tables = await conn.run_sync(table_names)
        assert "contract" not in tables
        assert "deliverable" not in tables
        assert "outbox_event" in tables

        await asyncio.to_thread(migrations.upgrade, service_dir, url)
        async with engine.connect() as conn:
            assert await conn.run_sync(differences) == []
    finally:
        await engine.dispose()
