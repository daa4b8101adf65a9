"""Alembic glue shared by every service: the env.py body, the kit's own tables, programmatic upgrades."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command, context, op
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import MetaData, pool
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import async_engine_from_config

from service_kit.db import JSONDoc, UTCDateTime
from service_kit.events.tables import kit_metadata


def run_env(target_metadata: MetaData) -> None:
    """The whole of a service's ``migrations/env.py``: ``run_env(Base.metadata)``."""
    config = context.config
    metadata = [target_metadata, kit_metadata]

    def do_run(connection: Connection) -> None:
        context.configure(
            connection=connection,
            target_metadata=metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()

    if context.is_offline_mode():
        context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=metadata, literal_binds=True)
        with context.begin_transaction():
            context.run_migrations()
        return

    async def run_async() -> None:
        engine = async_engine_from_config(
            config.get_section(config.config_ini_section, {}), prefix="sqlalchemy.", poolclass=pool.NullPool
        )
        if engine.dialect.name == "sqlite":
            # The journal the services keep (service_kit.db): write-ahead, synced at checkpoints. With SQLite's
            # default (a rollback journal synced at every statement) a new database's migrations waited seconds
            # on the disk per service, most of a fresh ``make run``'s migration time.
            sa.event.listen(engine.sync_engine, "connect", _sqlite_journal)
        async with engine.connect() as connection:
            await connection.run_sync(do_run)
        await engine.dispose()

    asyncio.run(run_async())


def _sqlite_journal(dbapi_connection: Any, _record: object) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def alembic_config(service_dir: Path, database_url: str) -> Config:
    config = Config(str(service_dir / "alembic.ini"))
    config.set_main_option("script_location", str(service_dir / "migrations"))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def current_revisions(database_url: str) -> set[str]:
    """The revisions the database is at (empty when never migrated), read without the service's ``env.py``."""

    async def read() -> set[str]:
        engine = async_engine_from_config(
            {"sqlalchemy.url": database_url}, prefix="sqlalchemy.", poolclass=pool.NullPool
        )
        try:
            async with engine.connect() as connection:
                heads = await connection.run_sync(lambda sync: MigrationContext.configure(sync).get_current_heads())
                return set(heads)
        finally:
            await engine.dispose()

    return asyncio.run(read())


def upgrade(service_dir: Path, database_url: str, revision: str = "head") -> bool:
    """Apply migrations (blocking; from async code call it through ``asyncio.to_thread``). Whether any was applied:
    a database already at head is left without running the service's ``env.py`` (which imports every model), so a
    start on existing data (``make run`` again) spends a read of ``alembic_version`` on it instead of half a second
    of imports."""
    config = alembic_config(service_dir, database_url)
    fresh = False
    if database_url.startswith("sqlite"):
        path = database_url.split("///", 1)[-1]
        fresh = not path or path == ":memory:" or not Path(path).exists()
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
    heads = ScriptDirectory.from_config(config).get_heads() if revision == "head" and not fresh else None
    if heads is not None and current_revisions(database_url) == set(heads):
        return False
    command.upgrade(config, revision)
    return True


def downgrade(service_dir: Path, database_url: str, revision: str = "base") -> None:
    command.downgrade(alembic_config(service_dir, database_url), revision)


def timestamps() -> list[sa.Column[object]]:
    """A table's ``created_at`` and ``updated_at`` columns, as every service's migrations have created them since
    revision 1 (aware UTC, both required); spread into ``op.create_table(..., *timestamps(), ...)``."""
    return [
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
    ]


def create_kit_tables_v1() -> None:
    """The kit's tables as of revision 1; call from each service's first migration. A later change to the kit's
    tables comes as a new function here, called from a new migration of every service."""
    seq = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
    op.create_table(
        "outbox_event",
        sa.Column("seq", seq, primary_key=True, autoincrement=True),
        sa.Column("event_id", sa.String(36), nullable=False),
        sa.Column("type", sa.String(120), nullable=False),
        sa.Column("subject", sa.String(120)),
        sa.Column("data", JSONDoc, nullable=False),
        sa.Column("traceparent", sa.String(64)),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("published_at", UTCDateTime()),
        sa.Column("lease_owner", sa.String(36)),
        sa.Column("lease_until", UTCDateTime()),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("last_error", sa.Text),
        sa.PrimaryKeyConstraint("seq", name="pk_outbox_event"),
        sa.UniqueConstraint("event_id", name="uq_outbox_event_event_id"),
    )
    op.create_index("ix_outbox_event_published_at", "outbox_event", ["published_at"])
    op.create_table(
        "inbox_event",
        sa.Column("consumer", sa.String(80), nullable=False),
        sa.Column("event_id", sa.String(36), nullable=False),
        sa.Column("type", sa.String(120), nullable=False),
        sa.Column("processed_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("consumer", "event_id", name="pk_inbox_event"),
    )
    op.create_table(
        "dead_letter",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("consumer", sa.String(80), nullable=False),
        sa.Column("event_id", sa.String(120), nullable=False),
        sa.Column("type", sa.String(120), nullable=False),
        sa.Column("nats_subject", sa.String(200), nullable=False),
        sa.Column("headers", JSONDoc, nullable=False),
        sa.Column("payload", sa.LargeBinary, nullable=False),
        sa.Column("error", sa.Text, nullable=False),
        sa.Column("deliveries", sa.Integer, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("replayed_at", UTCDateTime()),
        sa.PrimaryKeyConstraint("id", name="pk_dead_letter"),
    )
    op.create_index("ix_dead_letter_consumer", "dead_letter", ["consumer"])
    op.create_table(
        "idempotency_record",
        sa.Column("scope", sa.String(120), nullable=False),
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("method", sa.String(8), nullable=False),
        sa.Column("path", sa.String(500), nullable=False),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("response_status", sa.Integer),
        sa.Column("response_headers", JSONDoc),
        sa.Column("response_body", sa.LargeBinary),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("scope", "key", name="pk_idempotency_record"),
    )
    op.create_index("ix_idempotency_record_created_at", "idempotency_record", ["created_at"])


def drop_kit_tables_v1() -> None:
    for table in ("idempotency_record", "dead_letter", "inbox_event", "outbox_event"):
        op.drop_table(table)


def upgrade_idempotency_v2() -> None:
    """The kit's tables, revision 2: a stored response names the resident it is about (erasure deletes it).
    Records stored before stay replayable (plain, about nobody known) until the worker's first purge removes
    those past the retention; dropping them here would let a retry run a request a second time."""
    with op.batch_alter_table("idempotency_record") as batch:
        batch.add_column(sa.Column("resident_id", sa.Uuid()))
        batch.create_index("ix_idempotency_record_resident_id", ["resident_id"])


def downgrade_idempotency_v2() -> None:
    op.execute(sa.text("DELETE FROM idempotency_record"))
    with op.batch_alter_table("idempotency_record") as batch:
        batch.drop_index("ix_idempotency_record_resident_id")
        batch.drop_column("resident_id")
