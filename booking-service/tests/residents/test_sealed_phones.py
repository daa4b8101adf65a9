"""Residents' phones at rest: sealed, found by blind index (whole number, last digits), sealed again with the new
key after a data-key rotation (the worker's job), and converted from plain text by the migration."""

import asyncio
import base64
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import create_async_engine

from booking.app import create_app
from booking.config import Settings
from booking.residents.models import SEALED
from service_kit import migrations
from service_kit.db import JSONDoc, UTCDateTime, create_sessionmaker
from service_kit.protection import ID_CARD, PHONE, Keyring, reseal
from service_kit.testing import DatabaseFactory, eventually, running_app

pytestmark = pytest.mark.usefixtures("gazetteer")

RESIDENTS = "/api/v1/residents"
NEW_KEY = "the-data-key-after-rotation-2027-000000"
FANGSHAN_1938 = "11011119380315004X"


def body(phone: str, **overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "name": "王秀兰",
        "phone": phone,
        "community_code": "gongchen.shidai_jiahe",
        "emergency_contact": {"name": "王磊", "phone": "13611112222", "relation": "儿子"},
        "consent": {"version": "2026-11", "channel": "phone"},
    }
    values.update(overrides)
    return values


async def register(world: Any, phone: str, **overrides: Any) -> dict[str, Any]:
    response = await world.client.post(RESIDENTS, json=body(phone, **overrides), headers=world.keys.headers("operator"))
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


async def raw_rows(world: Any) -> list[dict[str, Any]]:
    """The resident table as the database holds it (no model, no keyring)."""
    async with world.sessionmaker() as session:
        rows = (await session.execute(sa.text("SELECT * FROM resident ORDER BY created_at"))).mappings().all()
    return [dict(row) for row in rows]


async def search(client: Any, world: Any, **params: Any) -> list[str]:
    response = await client.get(RESIDENTS, params=params, headers=world.keys.headers("operator"))
    assert response.status_code == 200, response.text
    return [r["phone"] for r in response.json()["items"]]


async def test_the_database_holds_no_phone_in_plain_text(world: Any, settings: Settings) -> None:
    resident = await register(world, "138 1111 5678")
    assert resident["phone"] == "+8613811115678"  # the answer is as before
    assert resident["emergency_contact"]["phone"] == "+8613611112222"
    (row,) = await raw_rows(world)
    assert "phone" not in row
    assert "emergency_contact_phone" not in row
    for digits in ("13811115678", "13611112222"):
        assert not [k for k, v in row.items() if isinstance(v, str) and digits in v], digits
    assert row["phone_sealed"].startswith("v2:")
    assert row["emergency_contact_phone_sealed"].startswith("v2:")
    assert len(row["phone_index"]) == len(row["phone_last4_index"]) == 64
    # A phone's index is not its ID number's, nor its last digits' (each kind has its own key).
    keyring = Keyring.from_settings(settings)
    assert row["phone_index"] == keyring.blind_index(PHONE, "+8613811115678")
    assert row["phone_index"] != keyring.blind_index(ID_CARD, "+8613811115678")


async def test_operators_find_a_caller_by_the_whole_phone_or_its_last_digits(world: Any) -> None:
    await register(world, "13811115678")
    await register(world, "13922225678", emergency_contact=None)
    await register(world, "13933331234")
    assert await search(world.client, world, phone="139-2222-5678") == ["+8613922225678"]
    assert await search(world.client, world, phone_suffix="5678") == ["+8613811115678", "+8613922225678"]
    assert await search(world.client, world, phone_suffix="15678") == ["+8613811115678"]
    assert await search(world.client, world, phone_suffix="13922225678") == ["+8613922225678"]
    assert await search(world.client, world, phone_suffix="5678", limit=1, offset=1) == ["+8613922225678"]
    assert await search(world.client, world, phone_suffix="05678") == []
    assert await search(world.client, world, phone_suffix="0000") == []
    # The emergency contact's phone is no resident's phone.
    assert await search(world.client, world, phone="13611112222") == []


def _legacy_id_card(secret: str, number: str) -> str:
    """An ID number as booking sealed it before the kit's module: ``v1:``, no key named."""
    nonce = b"\x07" * 12
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"linli-booking", info=b"id-card-encryption")
    sealed = AESGCM(key.derive(secret.encode())).encrypt(nonce, number.encode(), b"linli.booking.resident.id_card")
    return "v1:" + base64.b64encode(nonce + sealed).decode()


async def _rotated_registrations(world: Any, settings: Settings) -> list[str]:
    """Six residents registered with the old key, one with an ID number sealed in the older ``v1`` form."""
    phones = [f"+86139{n:04d}{n:04d}" for n in range(1, 6)]
    for phone in phones:
        await register(world, phone)
    await register(world, "+8613800001111", id_card_number=FANGSHAN_1938, emergency_contact=None)
    # One ID number still in the form booking stored before the kit's module.
    async with world.sessionmaker() as session, session.begin():
        legacy = _legacy_id_card(settings.data_key.get_secret_value(), FANGSHAN_1938)
        await session.execute(
            sa.text("UPDATE resident SET id_card_encrypted = :v WHERE id_card_encrypted IS NOT NULL"), {"v": legacy}
        )
    return [*phones, "+8613800001111"]


def _rotated(settings: Settings, **more: Any) -> Settings:
    return settings.model_copy(
        update={
            "data_key": SecretStr(NEW_KEY),
            "data_keys_retired": [settings.data_key],
            "data_index_key": settings.data_key,
            **more,
        }
    )


def _all_open_with_the_new_key_alone(rows: list[dict[str, Any]], settings: Settings) -> bool:
    new_only = Keyring(NEW_KEY, index_key=settings.data_key)
    for row in rows:
        for column, purpose in SEALED[0].columns.items():
            if row[column] is None:
                continue
            if not new_only.is_current(row[column]):
                return False
            new_only.open(purpose, row[column])
    return True


async def test_after_a_key_rotation_the_worker_seals_every_row_again_and_searches_still_find_them(
    world: Any, settings: Settings
) -> None:
    phones = await _rotated_registrations(world, settings)
    before = await raw_rows(world)
    assert not _all_open_with_the_new_key_alone(before, settings)
    rotated = create_app(_rotated(settings, data_reseal_sweep_seconds=0.05, data_reseal_batch=2))
    async with running_app(rotated) as client:
        after: list[dict[str, Any]] = []

        async def resealed() -> bool:
            after[:] = await raw_rows(world)
            return _all_open_with_the_new_key_alone(after, settings)

        await eventually(resealed)
        new_only = Keyring(NEW_KEY, index_key=settings.data_key)
        assert sorted(new_only.open(PHONE, r["phone_sealed"]) for r in after) == sorted(phones)
        assert {
            new_only.open(PHONE, r["emergency_contact_phone_sealed"])
            for r in after
            if r["emergency_contact_phone_sealed"]
        } == {"+8613611112222"}
        (id_card,) = [r["id_card_encrypted"] for r in after if r["id_card_encrypted"]]
        assert new_only.open(ID_CARD, id_card) == FANGSHAN_1938
        # The indexes did not move: the rotated service finds every resident as before.
        assert [r["phone_index"] for r in after] == [r["phone_index"] for r in before]
        for phone in phones:
            assert await search(client, world, phone=phone) == [phone]
        assert await search(client, world, phone_suffix="0003") == ["+8613900030003"]
        found = await client.get(
            RESIDENTS, params={"id_card_number": FANGSHAN_1938}, headers=world.keys.headers("operator")
        )
        assert [r["phone"] for r in found.json()["items"]] == ["+8613800001111"]


async def test_two_workers_resealing_at_once_seal_each_row_once(world: Any, settings: Settings) -> None:
    phones = await _rotated_registrations(world, settings)
    keyring = Keyring.from_settings(_rotated(settings))
    engine = world.sessionmaker.kw["bind"]
    first, second = create_sessionmaker(engine, keyring=keyring), create_sessionmaker(engine, keyring=keyring)
    changed = await asyncio.gather(reseal(first, SEALED, batch=1), reseal(second, SEALED, batch=1))
    assert sum(changed) == len(phones)  # every row had a phone sealed with the old key; none was written twice
    assert _all_open_with_the_new_key_alone(await raw_rows(world), settings)
    assert await reseal(first, SEALED, batch=1) == 0  # nothing left: running it again changes nothing


# ------------------------------------------------------------------ the migration

resident_0010 = sa.table(
    "resident",
    sa.column("id", sa.Uuid()),
    sa.column("name", sa.String()),
    sa.column("phone", sa.String()),
    sa.column("emergency_contact_phone", sa.String()),
    sa.column("eligibility_tags", JSONDoc),
    sa.column("consent_purpose", sa.String()),
    sa.column("consent_version", sa.String()),
    sa.column("consent_channel", sa.String()),
    sa.column("consent_at", UTCDateTime()),
    sa.column("registered_by", sa.String()),
    sa.column("created_at", UTCDateTime()),
    sa.column("updated_at", UTCDateTime()),
)


async def test_the_migration_seals_the_phones_it_finds_and_the_downgrade_opens_them(
    database_factory: DatabaseFactory, service_dir: Path
) -> None:
    url = database_factory.new(service_dir)
    await asyncio.to_thread(migrations.downgrade, service_dir, url, "0010")
    now = datetime.now(UTC)
    people = [(uuid.uuid4(), f"+86139{n:08d}", "+8613611112222" if n % 2 else None) for n in range(1, 1203)]
    engine = create_async_engine(url)
    try:
        async with engine.begin() as connection:
            await connection.execute(
                resident_0010.insert(),
                [
                    {
                        "id": i,
                        "name": "居民",
                        "phone": p,
                        "emergency_contact_phone": e,
                        "eligibility_tags": [],
                        "consent_purpose": "community_services",
                        "consent_version": "2026-11",
                        "consent_channel": "phone",
                        "consent_at": now,
                        "registered_by": "operator",
                        "created_at": now,
                        "updated_at": now,
                    }
                    for i, p, e in people
                ],
            )
        await asyncio.to_thread(migrations.upgrade, service_dir, url)
        keyring = Keyring.from_settings(Settings())
        async with engine.connect() as connection:
            rows = (await connection.execute(sa.text("SELECT * FROM resident"))).mappings().all()
        assert len(rows) == len(people)
        assert all("phone" not in row for row in rows)
        by_index = {row["phone_index"]: row for row in rows}
        for _, phone, emergency in people:
            row = by_index[keyring.blind_index(PHONE, phone)]
            assert keyring.open(PHONE, row["phone_sealed"]) == phone
            assert row["phone_last4_index"] == keyring.phone_indexes(phone)[1]
            sealed = row["emergency_contact_phone_sealed"]
            assert (keyring.open(PHONE, sealed) if sealed else None) == emergency

        await asyncio.to_thread(migrations.downgrade, service_dir, url, "0010")
        async with engine.connect() as connection:
            back = (
                await connection.execute(
                    sa.select(resident_0010.c.id, resident_0010.c.phone, resident_0010.c.emergency_contact_phone)
                )
            ).all()
        assert sorted((r.id, r.phone, r.emergency_contact_phone) for r in back) == sorted(people)
    finally:
        await engine.dispose()
