"""The migrations build exactly the tables the models describe, and come down again cleanly."""

import uuid
from pathlib import Path

import pytest
from sqlalchemy import Uuid, bindparam, text
from sqlalchemy.exc import IntegrityError

from feedback.complaints import references
from feedback.models import Base, load_models
from feedback.reference.models import KnownBooking
from service_kit import migrations
from service_kit.db import create_engine, create_sessionmaker
from service_kit.events.tables import kit_metadata
from service_kit.testing import DatabaseFactory, _in_thread, schema_differences, table_names


async def test_models_match_migrations(database_factory: DatabaseFactory, service_dir: Path) -> None:
    load_models()
    url = database_factory.new(service_dir)
    assert await schema_differences(url, Base.metadata, kit_metadata) == []


async def test_downgrade_and_upgrade_again(database_factory: DatabaseFactory, service_dir: Path) -> None:
    url = database_factory.new(service_dir)
    _in_thread(lambda: migrations.downgrade(service_dir, url, "0001"))
    assert {"rating", "rating_invitation", "complaint", "need", "booking_outcome"}.isdisjoint(await table_names(url))
    _in_thread(lambda: migrations.upgrade(service_dir, url))
    assert {"rating", "rating_invitation", "complaint", "need", "booking_outcome"} <= await table_names(url)


async def test_needs_recorded_before_streets_get_theirs(database_factory: DatabaseFactory, service_dir: Path) -> None:
    url = database_factory.new(service_dir)
    _in_thread(lambda: migrations.downgrade(service_dir, url, "0003"))
    engine = create_engine(url)
    recorded = {
        "1b7f3c1e-0c1a-4f5e-9d61-0a6f1b2c3d01": "gongchen.shidai_jiahe",
        "1b7f3c1e-0c1a-4f5e-9d61-0a6f1b2c3d02": "FS-GY-001",
        "1b7f3c1e-0c1a-4f5e-9d61-0a6f1b2c3d03": None,
    }
    try:
        async with engine.begin() as conn:
            await conn.execute(
                text(
                    "INSERT INTO need_group (group_key, category_code, community_code, count, first_at, last_at) "
                    "VALUES ('elderly@x', 'elderly', NULL, 3, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
                )
            )
            for need_id, community_code in recorded.items():
                community = f"'{community_code}'" if community_code else "NULL"
                await conn.execute(
                    text(
                        "INSERT INTO need (id, group_key, kind, category_code, community_code, text, source, "
                        "submitted_by, via_open311, created_at) VALUES "
                        f"('{need_id}', 'elderly@x', 'need', 'elderly', {community}, '希望', 'operator', 'op', "
                        "false, CURRENT_TIMESTAMP)"
                    )
                )
        _in_thread(lambda: migrations.upgrade(service_dir, url))
        async with engine.connect() as conn:
            streets = await conn.execute(text("SELECT community_code, street_code FROM need"))
            assert sorted(streets.all(), key=str) == sorted(
                [("gongchen.shidai_jiahe", "gongchen"), ("FS-GY-001", None), (None, None)], key=str
            )
    finally:
        await engine.dispose()


async def test_bookings_seen_before_the_projections_stay_known(
    database_factory: DatabaseFactory, service_dir: Path
) -> None:
    """Revision 0005: a booking feedback saw end before it kept every booking is still its resident's to complain
    about, and its provider and offering are known."""
    url = database_factory.new(service_dir)
    _in_thread(lambda: migrations.downgrade(service_dir, url, "0004"))
    engine = create_engine(url)
    booking, resident, provider, offering = (
        "2c0f3c1e-0c1a-4f5e-9d61-0a6f1b2c3d01",
        "2c0f3c1e-0c1a-4f5e-9d61-0a6f1b2c3d02",
        "2c0f3c1e-0c1a-4f5e-9d61-0a6f1b2c3d03",
        "2c0f3c1e-0c1a-4f5e-9d61-0a6f1b2c3d04",
    )
    try:
        async with engine.begin() as conn:
            for booking_id, outcome in ((booking, "completed"), ("2c0f3c1e-0c1a-4f5e-9d61-0a6f1b2c3d05", "no_show")):
                await conn.execute(
                    text(
                        "INSERT INTO booking_outcome (booking_id, provider_id, offering_id, resident_id, outcome, "
                        "occurred_at) VALUES (:b, :p, :o, :r, :outcome, CURRENT_TIMESTAMP)"
                    ).bindparams(*(bindparam(name, type_=Uuid()) for name in "bpor")),
                    {
                        "b": uuid.UUID(booking_id),
                        "p": uuid.UUID(provider),
                        "o": uuid.UUID(offering),
                        "r": uuid.UUID(resident),
                        "outcome": outcome,
                    },
                )
        _in_thread(lambda: migrations.upgrade(service_dir, url))
        async with engine.connect() as conn:
            bookings = (await conn.execute(text("SELECT count(*) FROM known_booking"))).scalar_one()
            providers = (await conn.execute(text("SELECT status FROM known_provider"))).scalars().all()
            offerings = (await conn.execute(text("SELECT version FROM known_offering"))).scalars().all()
        assert (bookings, providers, offerings) == (2, ["verified"], [0])
        async with create_sessionmaker(engine)() as session:
            known = await session.get(KnownBooking, uuid.UUID(booking))
            assert known is not None
            assert (known.resident_id, known.provider_id, known.status) == (
                uuid.UUID(resident),
                uuid.UUID(provider),
                "completed",
            )
    finally:
        await engine.dispose()


async def test_complaints_filed_before_references_get_one_each(
    database_factory: DatabaseFactory, service_dir: Path
) -> None:
    """Revision 0010: every complaint filed before complaints had a number is given one a caller can read back:
    eight digits, a valid check digit, no two alike."""
    url = database_factory.new(service_dir)
    _in_thread(lambda: migrations.downgrade(service_dir, url, "0009"))
    engine = create_engine(url)
    filed = [uuid.UUID(f"3d0f3c1e-0c1a-4f5e-9d61-0a6f1b2c3d{n:02d}") for n in range(1, 31)]
    try:
        async with engine.begin() as conn:
            for complaint_id in filed:
                await conn.execute(
                    text(
                        "INSERT INTO complaint (id, channel, category, severity, status, target_kind, target_id, "
                        "description, attachments, filed_by, ack_due_at, resolve_due_at, created_at, updated_at) "
                        "VALUES (:id, 'phone', 'punctuality', 'normal', 'submitted', 'provider', :id, '迟到', '[]', "
                        "'operator', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
                    ).bindparams(bindparam("id", type_=Uuid())),
                    {"id": complaint_id},
                )
        _in_thread(lambda: migrations.upgrade(service_dir, url))
        async with engine.connect() as conn:
            given = (await conn.execute(text("SELECT reference FROM complaint"))).scalars().all()
        assert len(given) == len(filed)
        assert len(set(given)) == len(filed)
        assert all(references.is_valid(reference) for reference in given), given
        async with engine.begin() as conn:
            with pytest.raises(IntegrityError):
                await conn.execute(text("UPDATE complaint SET reference = :r WHERE reference <> :r"), {"r": given[0]})
    finally:
        await engine.dispose()
