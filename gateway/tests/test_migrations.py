import asyncio

import sqlalchemy as sa

from gateway.app import SERVICE_DIR
from service_kit import migrations
from service_kit.db import create_engine


async def _tables(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            return set(await connection.run_sync(lambda sync: sa.inspect(sync).get_table_names()))
    finally:
        await engine.dispose()


TABLES = {"account", "resident_identity", "otp_challenge", "refresh_token", "api_key", "sign_in_lockout"}


async def test_downgrade_and_upgrade_again(database_url: str) -> None:
    assert await _tables(database_url) >= TABLES
    await asyncio.to_thread(migrations.downgrade, SERVICE_DIR, database_url)
    assert not TABLES & await _tables(database_url)
    await asyncio.to_thread(migrations.upgrade, SERVICE_DIR, database_url)
    assert await _tables(database_url) >= TABLES
