import asyncio

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
