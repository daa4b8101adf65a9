"""The kit's engines on SQLite: what SQLAlchemy and aiosqlite do not get right by themselves."""

from __future__ import annotations

import asyncio
from pathlib import Path

from sqlalchemy import Column, Integer, MetaData, Table, bindparam, text
from sqlalchemy.ext.asyncio import AsyncSession

from service_kit.db import UpsertOnce, create_engine


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


async def test_a_writer_of_another_process_waits_for_the_write_lock_and_then_writes(tmp_path: Path) -> None:
    """Two engines on one file stand for two processes (a service's API and its worker): each has its own
    ``WriterQueue``, so they meet at SQLite's write lock. The second waits while the first holds it (its BEGIN
    IMMEDIATE tried again every millisecond or two, not SQLite's busy handler), then writes; nothing is lost, and
    the busy timeout is back for the rest of its transaction."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'kit.db'}"
    api, worker = create_engine(url), create_engine(url)
    async with api.begin() as connection:
        await connection.execute(text("CREATE TABLE note (n INTEGER PRIMARY KEY, by TEXT NOT NULL)"))
    holding, release = asyncio.Event(), asyncio.Event()

    async def hold() -> None:
        async with api.begin() as connection:
            await connection.execute(text("INSERT INTO note (by) VALUES ('api')"))
            holding.set()
            await release.wait()

    async def write() -> int:
        async with worker.begin() as connection:
            timeout = (await connection.execute(text("PRAGMA busy_timeout"))).scalar_one()
            await connection.execute(text("INSERT INTO note (by) VALUES ('worker')"))
            return int(timeout)

    held = asyncio.create_task(hold())
    await holding.wait()
    writing = asyncio.create_task(write())
    for _ in range(20):  # the worker is still waiting for the lock while the API holds it
        await asyncio.sleep(0.01)
        assert not writing.done()
    release.set()
    await held
    assert await writing == 30_000
    async with api.connect() as connection:
        rows = (await connection.execute(text("SELECT by FROM note ORDER BY n"))).scalars().all()
    assert rows == ["api", "worker"]
    await api.dispose()
    await worker.dispose()


async def test_an_upsert_built_once_guards_each_row_by_its_own_parameters(tmp_path: Path) -> None:
    """``UpsertOnce`` builds its statement once for the database and reuses the same object for every call: each
    row, and the ``bindparam`` of its guard, go as parameters, so a counter stops at each call's own capacity."""
    metadata = MetaData()
    counter = Table(
        "counter", metadata, Column("slot", Integer, primary_key=True), Column("used", Integer, nullable=False)
    )
    take = UpsertOnce(
        counter,
        lambda insert: insert.on_conflict_do_update(
            index_elements=[counter.c.slot], set_={"used": counter.c.used + 1}, where=counter.c.used < bindparam("cap")
        ).returning(counter.c.used),
    )
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'kit.db'}")
    async with engine.begin() as connection:
        await connection.run_sync(metadata.create_all)
    async with AsyncSession(engine) as session, session.begin():
        statement = take(session)
        assert take(session) is statement
        taken = [
            (await session.execute(take(session), {"slot": slot, "used": 1, "cap": cap})).scalar()
            for slot, cap in ((1, 2), (1, 2), (1, 2), (2, 1), (2, 1))
        ]
    assert taken == [1, 2, None, 1, None]
    await engine.dispose()
