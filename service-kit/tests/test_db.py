"""The kit's engines on SQLite: what SQLAlchemy and aiosqlite do not get right by themselves."""

from __future__ import annotations

import asyncio
from pathlib import Path

from sqlalchemy import text

from service_kit.db import create_engine


async def test_a_sqlite_connection_stopped_while_it_closes_still_finishes_closing(tmp_path: Path) -> None:
    """SQLAlchemy ends the connection of a cancelled task with a graceful close, shielded from the cancellation,
    and stops it outright if cancelled again meanwhile. aiosqlite's close then asks its worker thread to stop a
    second time, after the thread has ended on the first request: nothing answers, the close waits forever, and
    so does every shutdown that waits for it (the hang at the end of a service's life)."""
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'kit.db'}")
    async with engine.connect() as connection:
        assert (await connection.execute(text("SELECT 1"))).scalar_one() == 1
        raw = await connection.get_raw_connection()
        driver = raw.driver_connection
        assert driver is not None
        graceful = asyncio.ensure_future(driver.close())  # SQLAlchemy's _terminate_graceful_close
        await asyncio.sleep(0)
        driver.stop()  # SQLAlchemy's _terminate_force_close, on a second cancellation
        await asyncio.wait_for(graceful, timeout=5)
        raw.invalidate()
    await engine.dispose()
