import asyncio

from gateway.app import SERVICE_DIR
from service_kit import migrations
from service_kit.testing import table_names

TABLES = {"account", "resident_identity", "otp_challenge", "refresh_token", "api_key", "sign_in_lockout"}


async def test_downgrade_and_upgrade_again(database_url: str) -> None:
    assert await table_names(database_url) >= TABLES
    await asyncio.to_thread(migrations.downgrade, SERVICE_DIR, database_url)
    assert not TABLES & await table_names(database_url)
    await asyncio.to_thread(migrations.upgrade, SERVICE_DIR, database_url)
    assert await table_names(database_url) >= TABLES
