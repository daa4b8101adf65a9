"""The migrations build exactly the tables the models describe, and undo themselves."""

import asyncio
import uuid
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import column, insert, select
from sqlalchemy import table as sql_table

from procurement.audit.models import AuditEntry
from procurement.contracts.models import Contract
from procurement.funds.models import Fund
from procurement.history.models import HistoricalProject
from procurement.models import Base, load_models
from service_kit import migrations
from service_kit.db import create_engine
from service_kit.events.tables import kit_metadata
from service_kit.testing import DatabaseFactory, schema_differences, table_names


async def test_migrations_match_the_models_and_downgrade(database_factory: DatabaseFactory, service_dir: Path) -> None:
    load_models()
    url = database_factory.new(service_dir)
    assert await schema_differences(url, Base.metadata, kit_metadata) == []

    await asyncio.to_thread(migrations.downgrade, service_dir, url, "0001")
    tables = await table_names(url)
    assert "contract" not in tables
    assert "deliverable" not in tables
    assert "outbox_event" in tables

    await asyncio.to_thread(migrations.upgrade, service_dir, url)
    assert await schema_differences(url, Base.metadata, kit_metadata) == []


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


def rows(table_name: str, /, **values: Any) -> Any:
    """INSERT of one row into ``table_name`` as the database stands (a revision's columns, not today's models';
    each typed as the model still types it)."""
    types = Base.metadata.tables[table_name].c
    return insert(sql_table(table_name, *(column(key, types[key].type) for key in values))).values(**values)


async def test_contracts_get_their_method_award_and_fund_and_funds_their_owner(
    database_factory: DatabaseFactory, service_dir: Path
) -> None:
    """Revision 0007 upgrades a database holding data: a contract drawn from an application becomes ``open``,
    awarded by that approval and drawing on its call's fund; one drafted bare becomes an unapproved ``direct``
    contract with no fund (never signed, nor paid, again); every fund gets the former payer as its owner."""
    load_models()
    url = database_factory.new(service_dir)
    await asyncio.to_thread(migrations.downgrade, service_dir, url, "0006")
    at, approved_at = datetime(2026, 11, 1, 2, 0, tzinfo=UTC), datetime(2026, 11, 10, 2, 0, tzinfo=UTC)
    fund_id, call_id, application_id = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    competitive, bare = uuid.uuid4(), uuid.uuid4()
    stamps = {"created_at": at, "updated_at": at}
    contract = {
        "provider_id": uuid.uuid4(),
        "title": "长阳镇老年餐桌服务项目",
        "amount_fen": 20_000_000,
        "start_date": date(2027, 1, 1),
        "end_date": date(2027, 12, 31),
        "stable_service": False,
        "status": "active",
        "created_by": "official-wang",
        "signed_at": at,
        "supplement_fen": 0,
        "disbursed_fen": 0,
        "paid_installments": 0,
        "version": 1,
        **stamps,
    }
    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.execute(
                rows(
                    "fund",
                    id=fund_id,
                    name="2026年社区服务专项资金",
                    year=2026,
                    budget_fen=100_000_000,
                    committed_fen=20_000_000,
                    spent_fen=0,
                    created_by="official-wang",
                    **stamps,
                )
            )
            await conn.execute(
                rows(
                    "proposal_call",
                    id=call_id,
                    title="2027年居家养老服务项目征集",
                    description="助餐",
                    directions=["elderly_care"],
                    budget_cap_fen=30_000_000,
                    fund_id=fund_id,
                    need_ids=[],
                    eligible_kinds=[],
                    criteria=[],
                    deadline=at,
                    status="reviewed",
                    created_by="official-wang",
                    **stamps,
                )
            )
            await conn.execute(
                rows(
                    "application",
                    id=application_id,
                    call_id=call_id,
                    provider_id=contract["provider_id"],
                    title="长阳镇老年餐桌",
                    proposal="助餐",
                    budget_request_fen=20_000_000,
                    deliverables=[],
                    kpis=[],
                    status="approved",
                    submitted_by="admin",
                    submitted_at=at,
                    approved_amount_fen=20_000_000,
                    approved_at=approved_at,
                    approved_by="official-li",
                    **stamps,
                )
            )
            await conn.execute(rows("contract", id=competitive, application_id=application_id, **contract))
            await conn.execute(rows("contract", id=bare, **{**contract, "amount_fen": 900_000_000_000}))
        await asyncio.to_thread(migrations.upgrade, service_dir, url)
        async with engine.connect() as conn:
            (fund,) = (await conn.execute(select(Fund.__table__))).mappings().all()
            upgraded = {row["id"]: row for row in (await conn.execute(select(Contract.__table__))).mappings().all()}
    finally:
        await engine.dispose()
    assert await schema_differences(url, Base.metadata, kit_metadata) == []
    assert (fund["owner_id"], fund["owner_name"]) == ("fangshan-civil-affairs", "北京市房山区民政局")
    drawn = upgraded[competitive]
    assert (drawn["procurement_method"], drawn["fund_id"], drawn["award_status"]) == ("open", fund_id, "approved")
    assert (drawn["award_decided_by"], drawn["award_decided_at"]) == ("official-li", approved_at)
    unchecked = upgraded[bare]
    assert (unchecked["procurement_method"], unchecked["fund_id"], unchecked["award_status"]) == (
        "direct",
        None,
        "unapproved",
    )
    assert (unchecked["rationale"], unchecked["award_decided_by"]) == (None, None)
