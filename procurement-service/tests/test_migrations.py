"""The migrations build exactly the tables the models describe, and undo themselves."""

import asyncio
import uuid
from datetime import UTC, datetime
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import MetaData, insert, inspect, select

from procurement.audit.models import AuditEntry
from procurement.history.models import HistoricalProject
from procurement.models import Base, load_models
from service_kit import migrations
from service_kit.db import create_engine
from service_kit.events.tables import kit_metadata
from service_kit.testing import DatabaseFactory


def differences(connection: object) -> list[object]:
    # The service's tables and the kit's, as one schema: what a database of procurement holds.
    schema = MetaData()
    for table in [*Base.metadata.tables.values(), *kit_metadata.tables.values()]:
        table.to_metadata(schema)
    context = MigrationContext.configure(connection, opts={"compare_type": True})  # type: ignore[arg-type]
    return list(compare_metadata(context, schema))


def table_names(connection: object) -> set[str]:
    return set(inspect(connection).get_table_names())


async def test_migrations_match_the_models_and_downgrade(database_factory: DatabaseFactory, service_dir: Path) -> None:
    load_models()
    url = database_factory.new(service_dir)
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            assert await conn.run_sync(differences) == []

        await asyncio.to_thread(migrations.downgrade, service_dir, url, "0001")
        async with engine.connect() as conn:
            tables = await conn.run_sync(table_names)
        assert "contract" not in tables
        assert "deliverable" not in tables
        assert "outbox_event" in tables

        await asyncio.to_thread(migrations.upgrade, service_dir, url)
        async with engine.connect() as conn:
            assert await conn.run_sync(differences) == []
    finally:
        await engine.dispose()


async def test_historical_projects_move_from_the_audit_trail_to_their_table(
    database_factory: DatabaseFactory, service_dir: Path
) -> None:
    """Projects imported before revision 0006 are in the audit trail only; the upgrade gives each its row, with
    the facts of its latest entry."""
    load_models()
    url = database_factory.new(service_dir)
    await asyncio.to_thread(migrations.downgrade, service_dir, url, "0005")
    project_id, provider_id = uuid.uuid4(), uuid.uuid4()
    facts = {
        "reference": "FS-2024-001",
        "year": 2024,
        "title": "拱辰街道老年餐桌助餐服务",
        "direction": "elderly_care",
        "street_code": "gongchen",
        "provider": {"organization_id": str(provider_id), "name": "北京小康之家社区服务有限公司", "kind": "commercial"},
        "amount_fen": 12_000_000,
        "result": "excellent",
        "score": 92,
    }
    recorded, corrected = datetime(2026, 1, 5, 2, 0, tzinfo=UTC), datetime(2026, 2, 5, 2, 0, tzinfo=UTC)
    entries = [
        (recorded, "recorded", facts),
        (corrected, "corrected", {**facts, "amount_fen": 11_500_000, "score": None}),
    ]
    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            for at, action, details in entries:
                await conn.execute(
                    insert(AuditEntry.__table__).values(
                        subject_kind="historical_project",
                        subject_id=project_id,
                        action=action,
                        actor_subject="official-wang",
                        actor_roles=["official"],
                        occurred_at=at,
                        details=details,
                    )
                )
        await asyncio.to_thread(migrations.upgrade, service_dir, url)
        async with engine.connect() as conn:
            (row,) = (await conn.execute(select(HistoricalProject.__table__))).mappings().all()
    finally:
        await engine.dispose()
    assert (row["id"], row["provider_id"], row["provider_kind"]) == (project_id, provider_id, "commercial")
    assert (row["amount_fen"], row["score"], row["title"]) == (11_500_000, None, facts["title"])
    assert (row["recorded_at"], row["updated_at"]) == (recorded, corrected)
