import asyncio

import pytest
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import text

from registry.app import SERVICE_DIR
from service_kit import migrations
from service_kit.db import create_engine
from service_kit.testing import DatabaseFactory, table_names


async def test_migrations_downgrade_to_the_backbone_and_upgrade_again(database_factory: DatabaseFactory) -> None:
    url = database_factory.new(SERVICE_DIR)
    registry_tables = {"organization", "organization_status_change", "provider_rating", "provider_contract"}
    registry_tables |= {"category", "offering", "street", "community", "service_center"}
    registry_tables |= {"offering_service_community", "qualification", "staff_member"}
    registry_tables |= {"webhook_endpoint", "webhook_delivery", "webhook_attempt"}
    assert registry_tables <= await table_names(url)

    await asyncio.to_thread(migrations.downgrade, SERVICE_DIR, url, "0001")
    remaining = await table_names(url)
    assert not registry_tables & remaining
    assert "outbox_event" in remaining

    await asyncio.to_thread(migrations.upgrade, SERVICE_DIR, url)
    assert registry_tables <= await table_names(url)
    engine = create_engine(url)
    async with engine.connect() as conn:
        count = (await conn.execute(text("SELECT count(*) FROM category"))).scalar_one()
    await engine.dispose()
    assert count == 7 + 6 + 3 + 4 + 4 + 1 + 1 + 1


async def test_a_database_at_head_is_left_alone(
    database_factory: DatabaseFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``make run`` again on existing data: each database is read for its revision, and no migration runs (nor the
    service's env.py, which imports every model); one revision behind, the upgrade runs."""
    url = database_factory.new(SERVICE_DIR)
    heads = set(ScriptDirectory.from_config(migrations.alembic_config(SERVICE_DIR, url)).get_heads())
    assert await asyncio.to_thread(migrations.current_revisions, url) == heads

    real_upgrade = command.upgrade

    def refused(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("a database at head was migrated again")

    monkeypatch.setattr(command, "upgrade", refused)
    assert await asyncio.to_thread(migrations.upgrade, SERVICE_DIR, url) is False
    monkeypatch.setattr(command, "upgrade", real_upgrade)

    previous = ScriptDirectory.from_config(migrations.alembic_config(SERVICE_DIR, url)).get_revision("head")
    await asyncio.to_thread(migrations.downgrade, SERVICE_DIR, url, "-1")
    assert await asyncio.to_thread(migrations.current_revisions, url) == {previous.down_revision}
    assert await asyncio.to_thread(migrations.upgrade, SERVICE_DIR, url) is True
    assert await asyncio.to_thread(migrations.current_revisions, url) == heads
