"""Database access shared by every service: engine, sessions, the base model, portable column types."""

from __future__ import annotations

import asyncio
import collections
import itertools
import re
import sqlite3
import time
import uuid
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import Annotated, Any, NoReturn

import aiosqlite
from fastapi import Depends, Request
from sqlalchemy import JSON, DateTime, MetaData, TypeDecorator, event, inspect, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import CursorResult, Dialect, make_url
from sqlalchemy.exc import DisconnectionError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.util.concurrency import await_

from service_kit.protection import KEYRING_INFO, Keyring
from service_kit.timeutil import utcnow

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware timestamp on every backend: stored in UTC, always read back aware."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime refused: Linli stores only timezone-aware times")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# JSON documents: JSONB on PostgreSQL, JSON text on SQLite.
JSONDoc = JSON().with_variant(JSONB(), "postgresql")


def new_metadata() -> MetaData:
    return MetaData(naming_convention=NAMING_CONVENTION)


# Each service declares its own base, so services never share tables or class registries:
#     class Base(DeclarativeBase):
#         metadata = new_metadata()
#         type_annotation_map = TYPE_ANNOTATION_MAP
TYPE_ANNOTATION_MAP: dict[Any, Any] = {datetime: UTCDateTime(), dict[str, Any]: JSONDoc, list[Any]: JSONDoc}


class IdMixin:
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)


class TimestampMixin:
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


# How long a writer waits for its turn: SQLite's own busy timeout, which it replaces within a process.
WRITE_TURN_SECONDS = 30.0


class WriterQueue:
    """The writers of one SQLite database in this process, served one at a time in the order they came.

    A writing transaction holds SQLite's write lock from its ``BEGIN IMMEDIATE`` to its commit. Left to SQLite,
    writers that find it taken sleep in its busy handler and retry, sleeping longer each time (up to 100 ms): at 32
    callers a request could wait seconds while later ones went first. Here a connection takes its turn before its
    BEGIN and hands it on at its commit or rollback, so the next writer starts at once and no one is overtaken; the
    busy handler is left for other processes sharing the file. One turn per event loop (tests run several)."""

    def __init__(self) -> None:
        self._turns: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = weakref.WeakKeyDictionary()

    def _turn(self) -> asyncio.Lock:
        loop = asyncio.get_running_loop()
        turn = self._turns.get(loop)
        if turn is None:
            turn = self._turns[loop] = asyncio.Lock()
        return turn

    async def take(self) -> asyncio.Lock:
        turn = self._turn()
        if not turn.locked():
            await turn.acquire()  # free: taken at once, without a task or a timer
            return turn
        try:
            await asyncio.wait_for(turn.acquire(), WRITE_TURN_SECONDS)
        except TimeoutError:
            raise sqlite3.OperationalError("database is locked (no turn to write within the busy timeout)") from None
        return turn


# Every other wait for a lock (SQLite's busy handler): as long as a writer waits for its turn.
BUSY_TIMEOUT = f"PRAGMA busy_timeout={int(WRITE_TURN_SECONDS * 1000)}"
# While another process holds the write lock, BEGIN IMMEDIATE is tried again after these pauses (the last one
# repeating), for at most WRITE_TURN_SECONDS.
_BEGIN_PAUSES = (0.0005, 0.001, 0.002)


def _begin_immediate(db: sqlite3.Connection) -> None:
    """Take the write lock, in the connection's own thread. Within a process writers take turns
    (``WriterQueue``); between processes (a service's API and its worker share the file) SQLite's busy handler
    would sleep 1, 2, 5, 10, 15, 20, 25, 25, 25, 50, 50 and then 100 ms at a time, and a writer finding the lock
    taken for 2 ms waited 25-100 ms: the event pipeline's tail on SQLite. Here the attempt is repeated every
    millisecond or two, with the busy handler off for the attempt only (every other wait keeps it)."""
    db.execute("PRAGMA busy_timeout=0")
    try:
        deadline = time.monotonic() + WRITE_TURN_SECONDS
        for attempt in itertools.count():
            try:
                db.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) and "busy" not in str(exc):
                    raise
                if time.monotonic() >= deadline:
                    raise
            time.sleep(_BEGIN_PAUSES[min(attempt, len(_BEGIN_PAUSES) - 1)])
    finally:
        db.execute(BUSY_TIMEOUT)


class _OneTripCursor:
    """A cursor whose statement is run, read and closed in one trip to the connection's thread.

    aiosqlite's cursor makes a trip for each step: open the cursor, execute, fetch the rows, close it (four for a
    query, each a wake-up of the thread and then of the event loop), and SQLAlchemy takes every step. Here
    ``execute`` does them all at once and keeps what the steps after it read (the rows, ``description``,
    ``rowcount``, ``lastrowid``); a booking's dozen statements make a dozen trips instead of forty.
    SQLAlchemy reads every row of a statement at once anyway (its server-side cursors here are buffered too)."""

    arraysize = 1
    row_factory = None

    def __init__(self, connection: _SqliteConnection) -> None:
        self._connection = connection
        self._rows: collections.deque[Any] = collections.deque()
        self.description: Any = None
        self.rowcount: int = -1
        self.lastrowid: int | None = None

    async def __aenter__(self) -> _OneTripCursor:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    def _run(self, method: str, sql: str, parameters: Any) -> None:
        cursor = self._connection._conn.cursor()
        try:
            getattr(cursor, method)(sql, parameters)
            self.description = cursor.description
            self._rows = collections.deque(cursor.fetchall() if cursor.description else ())
            self.rowcount, self.lastrowid = cursor.rowcount, cursor.lastrowid
        finally:
            cursor.close()

    async def execute(self, sql: str, parameters: Any = ()) -> _OneTripCursor:
        await self._connection._execute(self._run, "execute", sql, parameters)
        return self

    async def executemany(self, sql: str, parameters: Any) -> _OneTripCursor:
        await self._connection._execute(self._run, "executemany", sql, parameters)
        return self

    async def fetchone(self) -> Any:
        return self._rows.popleft() if self._rows else None

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        size = self.arraysize if size is None else size
        return [self._rows.popleft() for _ in range(min(size, len(self._rows)))]

    async def fetchall(self) -> list[Any]:
        taken = list(self._rows)
        self._rows.clear()
        return taken

    async def close(self) -> None:
        self._rows.clear()


class _SqliteConnection(aiosqlite.Connection):
    """aiosqlite's connection, whose worker thread is asked to stop once, and which hands its turn to write on
    (``WriterQueue``) when its transaction ends.

    SQLAlchemy ends the connection of a cancelled task with a graceful close, shielded from the cancellation,
    and stops it outright if cancelled again meanwhile. aiosqlite 0.22's close then asks the worker thread to stop
    a second time, after the thread has ended on the first request: nothing answers, and the close (and any
    shutdown waiting for it) waits forever. A second request is answered at once here: the first one closes the
    database connection and ends the thread."""

    _stop_requested = False
    writers: WriterQueue | None = None
    _turn: asyncio.Lock | None = None

    def cursor(self) -> Any:
        """A cursor of one trip to the thread per statement (``_OneTripCursor``)."""
        return _OneTripCursor(self)

    def take_turn(self) -> None:
        """Wait for this connection's turn to write (called in SQLAlchemy's greenlet, before BEGIN IMMEDIATE)."""
        if self.writers is not None and self._turn is None:
            self._turn = await_(self.writers.take())

    async def begin_immediate(self) -> None:
        """``BEGIN IMMEDIATE``, in the connection's thread, retried every millisecond or so while another process
        holds the write lock (``_begin_immediate``)."""
        await self._execute(_begin_immediate, self._conn)

    def _hand_on(self) -> None:
        turn, self._turn = self._turn, None
        if turn is not None:
            turn.release()

    async def commit(self) -> None:
        try:
            await super().commit()
        finally:
            self._hand_on()

    async def rollback(self) -> None:
        """Roll back, in the connection's thread; with no transaction open, nothing to do and no trip to make.
        SQLAlchemy's pool rolls back every connection it is given back, after a commit too: on SQLite that was a
        trip to the thread per unit of work, for a rollback SQLite would have skipped."""
        try:
            if self._conn.in_transaction:
                await super().rollback()
        finally:
            self._hand_on()

    async def close(self) -> None:
        try:
            await super().close()
        finally:
            self._hand_on()

    def stop(self) -> asyncio.Future[Any] | None:
        self._hand_on()
        if self._stop_requested:
            return None
        self._stop_requested = True
        return super().stop()


def _sqlite_connector(url: str, writers: WriterQueue | None = None) -> Callable[[], Awaitable[aiosqlite.Connection]]:
    """What SQLAlchemy's aiosqlite dialect would open for ``url`` (a file, a 30 s busy timeout), as a
    ``_SqliteConnection``; with ``writers``, its transactions take their turn there."""
    database = make_url(url).database or ":memory:"

    async def connect() -> aiosqlite.Connection:
        connection = _SqliteConnection(
            lambda: sqlite3.connect(database, timeout=WRITE_TURN_SECONDS), iter_chunk_size=64
        )
        connection.writers = writers
        connection._thread.daemon = True  # as the dialect does: a connection never closed does not hold up exit
        return await connection

    return connect


def create_engine(
    url: str, *, echo: bool = False, reads_only: bool = False, pool_size: int = 10, max_overflow: int = 10
) -> AsyncEngine:
    """An async engine. SQLite gets WAL, a busy timeout and foreign keys; PostgreSQL a pool of ``pool_size``
    connections kept open and ``max_overflow`` more for a burst.

    On SQLite a writing transaction begins IMMEDIATE (it takes the write lock at once, so writers queue instead
    of failing on a lock upgrade), after its turn in the engine's ``WriterQueue`` (writers of this process queue
    there in order; the busy timeout serves other processes). ``reads_only`` (SQLite; see ``reading_engine``): its
    connections refuse to write and its transactions begin DEFERRED, which under WAL takes no lock."""
    if url.startswith("sqlite"):
        writers = None if reads_only else WriterQueue()
        engine = create_async_engine(url, echo=echo, async_creator=_sqlite_connector(url, writers))

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            # aiosqlite opens connections in a thread; pysqlite's implicit transactions are replaced by
            # an explicit BEGIN so that the kind of transaction is ours to choose.
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute(BUSY_TIMEOUT)
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA synchronous=NORMAL")
            if reads_only:
                cursor.execute("PRAGMA query_only=ON")
            cursor.close()

        begin = "BEGIN DEFERRED" if reads_only else "BEGIN IMMEDIATE"

        @event.listens_for(engine.sync_engine, "begin")
        def _sqlite_begin(conn: Any) -> None:
            driver = conn.connection.driver_connection
            if isinstance(driver, _SqliteConnection) and not reads_only:
                driver.take_turn()
                await_(driver.begin_immediate())
                return
            conn.exec_driver_sql(begin)

        return engine
    engine = create_async_engine(url, echo=echo, pool_size=pool_size, max_overflow=max_overflow)
    _check_alive_on_checkout(engine)
    return engine


# A pooled connection given back this recently is handed out again without asking the server whether it lives (as
# HikariCP's alive-bypass window, 500 ms): under load that is every checkout. SQLAlchemy's ``pool_pre_ping`` asks on
# every checkout, and on asyncpg its ask is three round trips (BEGIN, an empty query, ROLLBACK): on the event
# pipeline's producer at 1,000 events/s that was a tenth of its CPU, and as much again on the server.
ALIVE_WITHOUT_ASKING_SECONDS = 0.5


def _check_alive_on_checkout(engine: AsyncEngine) -> None:
    """A connection the server closed (a restart, ``pg_terminate_backend``) is seen at once: asyncpg reads the
    socket's end as it happens. One idle for longer is asked with a ping. Either way a dead one is discarded and the
    pool hands out a new one (``DisconnectionError``), so the request never sees it."""

    @event.listens_for(engine.sync_engine, "connect")
    @event.listens_for(engine.sync_engine, "checkin")
    def _stamp(dbapi_connection: Any, record: Any) -> None:
        record.info["linli_used_at"] = time.monotonic()

    @event.listens_for(engine.sync_engine, "checkout")
    def _alive(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        if dbapi_connection.driver_connection.is_closed():
            raise DisconnectionError("the server closed this connection")
        if time.monotonic() - record.info.get("linli_used_at", 0.0) <= ALIVE_WITHOUT_ASKING_SECONDS:
            return
        try:
            await_(dbapi_connection.driver_connection.fetchrow(";"))
        except Exception as exc:  # whatever the ping met, this connection is not to be used
            raise DisconnectionError(f"the connection did not answer a ping: {exc!r}") from exc


async def execute_alone(
    sessionmaker: async_sessionmaker[AsyncSession], statement: Any, params: dict[str, Any]
) -> list[dict[str, Any]]:
    """Run one statement that is a transaction by itself, and return the rows it returned (as dicts).

    On PostgreSQL it is sent alone, in autocommit: one round trip where ``BEGIN``, the statement and ``COMMIT`` (or
    a read-only transaction's ``ROLLBACK``) take three. A single statement is atomic either way, and sees one
    snapshot. On SQLite it runs in a transaction of the sessionmaker's engine (the writing engine's takes its turn
    in the queue, the reading engine's is ``DEFERRED``), as every statement does there: no round trip to save."""
    engine = sessionmaker.kw["bind"]
    if engine.dialect.name == "postgresql":
        async with engine.connect() as connection:
            autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
            return _rows(await autocommit.execute(statement, params))
    async with sessionmaker() as session, session.begin():
        connection = await session.connection()
        return _rows(await connection.execute(statement, params))


def _rows(result: CursorResult[Any]) -> list[dict[str, Any]]:
    return [dict(row._mapping) for row in result] if result.returns_rows else []


class WriteInReadingUnitOfWork(RuntimeError):
    """A unit of work that only reads (``ReadSessionDep``, a consumer's read) was asked to write: the code
    took the wrong session. It is refused before it reaches the database."""


# What a unit of work that only reads may send: queries, and the transaction's own statements (SQLite's BEGIN).
_READING_VERBS = frozenset({"select", "with", "values", "show", "explain", "begin", "commit", "rollback"})
_WRITING_WORD = re.compile(r"\b(insert|update|delete|merge)\b", re.IGNORECASE)


def _refuse_writes(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "before_cursor_execute")
    def _reads_only(_conn: Any, _cursor: Any, statement: str, _params: Any, context: Any, _many: bool) -> None:
        words = statement.lstrip(" \t\r\n(").split(None, 1)
        verb = words[0].lower() if words else ""
        writes = context is not None and (context.isinsert or context.isupdate or context.isdelete)
        # A WITH may hide a writing statement in its CTEs (``WITH moved AS (UPDATE …) SELECT …``).
        if writes or verb not in _READING_VERBS or (verb == "with" and _WRITING_WORD.search(statement)):
            raise WriteInReadingUnitOfWork(
                f"a unit of work that only reads was asked to write ({' '.join(statement.split()[:3])} …); "
                "take SessionDep (or the service's sessionmaker) where an endpoint or a consumer writes"
            )


def reading_engine(url: str, engine: AsyncEngine, *, echo: bool = False) -> AsyncEngine:
    """The engine of units of work that only read (``ReadSessionDep``): a write in one is refused
    (``WriteInReadingUnitOfWork``) before it is sent, and on SQLite by the connection too (``query_only``).

    On SQLite it is a second pool of connections, whose readers wait neither for a writer nor for each other. On
    PostgreSQL it shares ``engine``'s pool, in autocommit: a transaction there bought only a server-side read-only
    guard, for two round trips (BEGIN, ROLLBACK) beside every read's statements. Under READ COMMITTED each statement
    sees its own snapshot, in a transaction or not, so what a read answers is the same."""
    if url.startswith("sqlite"):
        reader = create_engine(url, echo=echo, reads_only=True)
    else:
        reader = engine.execution_options(isolation_level="AUTOCOMMIT")
    _refuse_writes(reader)
    return reader


def upsert(session: AsyncSession, table: Any, rows: Sequence[dict[str, Any]] = ()) -> Any:
    """``INSERT`` with ``ON CONFLICT`` for the session's database (PostgreSQL and SQLite share the syntax, not
    the construct): ``upsert(session, Model).values(...).on_conflict_do_nothing(index_elements=[...])``.

    ``rows``: the values of several rows (a series' slots). A single one is written as one row: SQLAlchemy keeps the
    compiled statement of a one-row ``VALUES`` and compiles a multi-row one anew on every call, and a booking's one
    slot paid for that."""
    insert = _insert_for(session.get_bind().dialect.name, table)
    if not rows:
        return insert
    return insert.values(rows[0] if len(rows) == 1 else list(rows))


class UpsertOnce:
    """An upsert of the hot path built once for each database it runs on: ``build(insert)`` makes it from that
    database's ``insert(table)`` (``upsert``'s construct), with no values of its own; each call sends its row as
    parameters, the columns by name and any ``bindparam`` of the statement beside them. A statement built anew per
    call costs ~0.15 ms to build and to make its cache key, however often SQLAlchemy has compiled it before.

    ``_take = UpsertOnce(table, lambda insert: insert.on_conflict_do_update(…, where=table.c.used < bindparam("cap")))``
    then ``await session.execute(_take(session), {"offering_id": …, "used": 1, "cap": 3})``."""

    def __init__(self, table: Any, build: Callable[[Any], Any]) -> None:
        self.table, self.build = table, build
        self._statements: dict[str, Any] = {}

    def __call__(self, session: AsyncSession) -> Any:
        return self.statement(session.get_bind().dialect.name)

    def statement(self, dialect: str) -> Any:
        """The statement for the database named ``dialect`` (``postgresql``, ``sqlite``)."""
        statement = self._statements.get(dialect)
        if statement is None:
            statement = self._statements[dialect] = self.build(_insert_for(dialect, self.table))
        return statement


def _insert_for(dialect: str, table: Any) -> Any:
    """The ``insert`` construct with ``ON CONFLICT`` of the database named ``dialect``."""
    return postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)


def create_sessionmaker(engine: AsyncEngine, *, keyring: Keyring | None = None) -> async_sessionmaker[AsyncSession]:
    """Sessions of ``engine``; with ``keyring``, each carries it (``service_kit.protection.keyring_of``), and the
    sealed fields of the models it loads open with it."""
    info = {KEYRING_INFO: keyring} if keyring is not None else None
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=True, info=info)


async def reassign(session: AsyncSession, column: Any, old: Any, new: Any) -> int:
    """Set ``column`` (a mapped attribute: ``Call.resident_id``) to ``new`` on every row holding ``old`` (a merged
    record's rows given to the one that stays), in one statement; how many rows changed."""
    result = await session.execute(
        update(column.class_)
        .where(column == old)
        .values({column.key: new})
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def add_unless_taken(session: AsyncSession, row: Any) -> bool:
    """Insert ``row`` in a savepoint; False when a unique key (a partial index included) already holds its values,
    the transaction going on without it. The database decides, so two racing requests make one row."""
    try:
        async with session.begin_nested():
            session.add(row)
            await session.flush()
    except IntegrityError:
        return False
    return True


class InsertUnlessTaken:
    """``add_unless_taken`` in one statement: ``INSERT … ON CONFLICT (unique) [WHERE where] DO NOTHING
    RETURNING`` the row, for a unique index of ``model`` on the ``unique`` columns (partial with ``where``).

    Made once, at import (``_add = InsertUnlessTaken(Booking, unique=(…), where=…)``); each call inserts a row
    with one statement built once per database and set of given columns, its values passed as parameters: a
    statement built anew each time (46 columns made into bind parameters and a cache key) cost a booking 0.3 ms."""

    def __init__(self, model: Any, *, unique: Sequence[Any], where: Any = None) -> None:
        self.model, self.unique, self.where = model, tuple(unique), where
        self._statements: dict[tuple[str, tuple[str, ...]], Any] = {}

    async def __call__(self, session: AsyncSession, row: Any) -> Any | None:
        """``row`` as stored (a persistent instance of the session, with its column defaults), or None when the
        index already holds its values; the transaction goes on either way, with no savepoint. The database
        decides, so two racing requests make one row."""
        state = inspect(row)
        # What the row was given (None included, as a flush would write it); the columns' defaults fill the rest.
        values = {attr.key: state.dict[attr.key] for attr in state.mapper.column_attrs if attr.key in state.dict}
        key = (session.get_bind().dialect.name, tuple(values))
        statement = self._statements.get(key)
        if statement is None:
            statement = self._statements[key] = (
                upsert(session, self.model)
                .on_conflict_do_nothing(index_elements=list(self.unique), index_where=self.where)
                .returning(self.model)
            )
        return (await session.scalars(statement, values)).first()


async def commit_then_raise(session: AsyncSession, error: Exception) -> NoReturn:
    """Keep what the unit of work has written, then refuse with ``error``.

    An endpoint that raises has its unit of work rolled back (``get_session``); a refusal whose record must stay
    (a wrong password or sign-in code counted towards a lockout, a reused refresh token's family revoked) commits
    it first, here, so the intent is written where it happens."""
    await session.commit()
    raise error


# Where the idempotency middleware leaves the request's unit of work (service_kit/idempotency.py).
UNIT_OF_WORK = "linli.idempotent_unit_of_work"


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """The request's unit of work: commits when the endpoint returns, rolls back when it raises.
    After a commit that wrote outbox rows, the relay is woken so events leave at once.

    Under an ``Idempotency-Key`` the idempotency middleware commits instead, together with the stored
    response (service_kit/idempotency.py): here the writes are only flushed, so a constraint the database
    refuses still surfaces inside the endpoint's error handling."""
    unit = request.scope.get("state", {}).get(UNIT_OF_WORK)
    sessionmaker: async_sessionmaker[AsyncSession] = request.app.state.sessionmaker
    if unit is not None:
        session = unit["session"] = unit["session"] or sessionmaker()
        try:
            yield session
            await session.flush()
        except BaseException:
            await session.rollback()
            raise
        return
    async with sessionmaker() as session:
        try:
            yield session
            await session.commit()
        except BaseException:
            await session.rollback()
            raise
    wake: Callable[[], None] | None = getattr(request.app.state, "wake_relay", None)
    if wake is not None:
        wake()


async def get_read_session(request: Request) -> AsyncIterator[AsyncSession]:
    """A unit of work that only reads (it is rolled back at the end; a write in it fails). Endpoints that read
    and never write take it (``ReadSessionDep``): on SQLite they then never queue for the write lock."""
    async with request.app.state.read_sessionmaker() as session:
        yield session


ReadSessionDep = Annotated[AsyncSession, Depends(get_read_session)]

# scope="function": the commit happens before the response is sent, so a failed commit is never reported
# to the client as success.
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]
