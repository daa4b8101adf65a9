"""The kit's engines: what SQLAlchemy, aiosqlite and asyncpg do not get right by themselves."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Column, Integer, MetaData, Table, bindparam, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from service_kit import db
from service_kit.db import UpsertOnce, create_engine, create_sessionmaker, execute_alone
from service_kit.events.outbox import emit
from service_kit.events.tables import outbox_event
from service_kit.testing import DatabaseFactory, eventually

from .kit_service import need


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


async def test_a_sqlite_unit_of_work_makes_no_trip_to_roll_back_what_it_committed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SQLAlchemy's pool rolls back every connection given back to it. After a commit there is nothing to roll
    back, and no trip to the connection's thread is made for it; a unit of work that failed is rolled back there."""
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'kit.db'}")
    sessionmaker = create_sessionmaker(engine)
    async with sessionmaker() as session, session.begin():
        await session.execute(text("create table t (x integer)"))
    trips: list[str] = []
    execute = db._SqliteConnection._execute

    async def counted(self: Any, fn: Any, *args: Any, **kwargs: Any) -> Any:
        trips.append(fn.__name__)
        return await execute(self, fn, *args, **kwargs)

    monkeypatch.setattr(db._SqliteConnection, "_execute", counted)
    async with sessionmaker() as session, session.begin():
        await session.execute(text("insert into t values (1)"))
    assert trips == ["_begin_immediate", "_run", "commit"]

    async def failing() -> None:
        async with sessionmaker() as session, session.begin():
            await session.execute(text("insert into t values (2)"))
            raise RuntimeError("the unit of work failed")

    trips.clear()
    with pytest.raises(RuntimeError):
        await failing()
    assert trips == ["_begin_immediate", "_run", "rollback"]
    async with sessionmaker() as session:
        assert (await session.execute(text("select x from t"))).scalars().all() == [1]
    await engine.dispose()


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


async def test_a_pooled_postgresql_connection_is_asked_whether_it_lives_only_when_it_may_not(
    kit_db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A connection given back moments ago is handed out again without a round trip; one idle longer than
    ``ALIVE_WITHOUT_ASKING_SECONDS`` is pinged first; one whose server process ended (a restart, an operator's
    ``pg_terminate_backend``) is replaced, and the session using the pool never sees it."""
    if not kit_db_url.startswith("postgresql"):
        pytest.skip("the pool of connections is PostgreSQL's: SQLite opens its file")
    engine = create_engine(kit_db_url, pool_size=1, max_overflow=0)
    sent: list[str] = []
    drivers: list[Any] = []  # each connection the pool opened, its queries logged

    async def backend(session: AsyncSession) -> int:
        connection = await session.connection()
        driver = (await connection.get_raw_connection()).driver_connection
        if driver not in drivers:  # every query this connection sends, pings included
            driver.add_query_logger(lambda record: sent.append(record.query))
            drivers.append(driver)
        return int((await session.execute(text("select pg_backend_pid()"))).scalar_one())

    async with AsyncSession(engine) as session:
        first = await backend(session)
    sent.clear()
    async with AsyncSession(engine) as session:
        assert await backend(session) == first
    assert ";" not in sent  # given back moments ago: no ping

    monkeypatch.setattr(db, "ALIVE_WITHOUT_ASKING_SECONDS", 0.0)
    sent.clear()
    async with AsyncSession(engine) as session:
        assert await backend(session) == first
    assert sent[0] == ";"  # idle longer than the window: pinged before anything else

    monkeypatch.setattr(db, "ALIVE_WITHOUT_ASKING_SECONDS", 3600.0)
    other = create_engine(kit_db_url)
    async with other.begin() as connection:
        await connection.execute(text("select pg_terminate_backend(:pid)"), {"pid": first})
    await other.dispose()
    # The server's goodbye reaches the client as soon as the loop reads the socket; a checkout in the instant
    # between would send its statement to a closing connection, as with any check short of a ping per checkout.
    await eventually(drivers[0].is_closed)
    async with AsyncSession(engine) as session:
        replaced = await backend(session)
    assert replaced != first  # the ended one was discarded, and the session never saw it
    await engine.dispose()


async def test_a_statement_that_is_its_own_transaction_is_one_round_trip_on_postgresql(kit_db_url: str) -> None:
    """``execute_alone`` commits one statement and returns its rows: on PostgreSQL the statement is all the
    connection sends (no BEGIN, no COMMIT, each a round trip); on SQLite it is a writing transaction of its own."""
    engine = create_engine(kit_db_url, pool_size=1, max_overflow=0)
    sessionmaker = create_sessionmaker(engine)
    sent: list[str] = []  # what the pool's one connection sends besides prepared statements
    if engine.dialect.name == "postgresql":
        async with engine.connect() as connection:
            driver = (await connection.get_raw_connection()).driver_connection
            driver.add_query_logger(lambda record: sent.append(record.query))
    async with sessionmaker() as session, session.begin():
        await emit(session, need("once"))
    assert sent == (["BEGIN;", "COMMIT;"] if engine.dialect.name == "postgresql" else [])
    sent.clear()
    more = outbox_event.c.attempts + bindparam("more")
    statement = update(outbox_event).values(attempts=more).returning(outbox_event.c.attempts)
    assert await execute_alone(sessionmaker, statement, {"more": 2}) == [{"attempts": 2}]
    assert sent == []
    other = create_engine(kit_db_url)
    async with AsyncSession(other) as session:  # committed: another connection sees it
        assert (await session.execute(text("select attempts from outbox_event"))).scalar_one() == 2
    await other.dispose()
    await engine.dispose()


async def test_the_suites_databases_commit_without_waiting_for_the_disk_and_the_benchmarks_do_not(
    database_factory: DatabaseFactory, tmp_path: Path
) -> None:
    """The suite's PostgreSQL databases are made with ``synchronous_commit`` off (no test crashes the server); a
    benchmark's factory keeps the server's default, as production does, so its figures pay for every fsync."""
    if database_factory.postgres_url is None:
        pytest.skip("SQLite's durability is the file's: the suite's files are as any other")
    benchmarks = DatabaseFactory(tmp_path, database_factory.postgres_url)
    urls = {"suite": database_factory.new_empty("durability"), "benchmark": benchmarks.new_empty("durability")}
    try:
        shown = {}
        for who, url in urls.items():
            engine = create_engine(url)
            async with engine.connect() as connection:
                shown[who] = await connection.scalar(text("SHOW synchronous_commit"))
            await engine.dispose()
        assert shown == {"suite": "off", "benchmark": "on"}
    finally:
        benchmarks.drop_all()
