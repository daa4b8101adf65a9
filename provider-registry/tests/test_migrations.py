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


async def test_a_test_s_database_is_handed_on_as_the_migrations_left_it(database_factory: DatabaseFactory) -> None:
    """On PostgreSQL the next test is handed the last one's database back (a copy of the template costs the
    server ~0.4 s): what the test wrote is gone, the migrations' seeded categories are back as they were, and a
    database whose schema the test changed is dropped rather than handed on."""

    async def categories(url: str) -> list[tuple[str, str]]:
        engine = create_engine(url)
        try:
            async with engine.connect() as conn:
                rows = await conn.execute(text("SELECT code, name_zh FROM category ORDER BY code"))
                return [(code, name) for code, name in rows]
        finally:
            await engine.dispose()

    first = database_factory.new(SERVICE_DIR)
    seeded = await categories(first)
    engine = create_engine(first)
    async with engine.begin() as conn:
        await conn.execute(text("UPDATE category SET name_zh = '改过的' WHERE parent_code IS NULL"))
        await conn.execute(
            text("INSERT INTO category (code, name_zh, name_en, position) VALUES ('test.only', '测试', 'Test', 99)")
        )
    await engine.dispose()
    assert len(await categories(first)) == len(seeded) + 1
    database_factory.drop_test_databases()

    second = database_factory.new(SERVICE_DIR)
    assert await categories(second) == seeded
    if database_factory.backend == "postgresql":
        assert second == first
    await asyncio.to_thread(migrations.downgrade, SERVICE_DIR, second, "0001")
    database_factory.drop_test_databases()

    third = database_factory.new(SERVICE_DIR)
    assert third != second
    heads = set(ScriptDirectory.from_config(migrations.alembic_config(SERVICE_DIR, third)).get_heads())
    assert await asyncio.to_thread(migrations.current_revisions, third) == heads
    assert await categories(third) == seeded
