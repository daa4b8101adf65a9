"""Residents' phones in the gateway's database: identities hold theirs sealed and indexed, codes only the index;
after a data-key rotation every replica seals the identities' phones again with the new key."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import sqlalchemy as sa
from fastapi import FastAPI
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import create_async_engine

from gateway.app import SERVICE_DIR, create_app
from gateway.config import GatewaySettings
from gateway.residents.sms import FakeSmsSender
from service_kit import migrations
from service_kit.db import UTCDateTime
from service_kit.protection import PHONE, Keyring
from service_kit.testing import eventually
from service_kit.timeutil import utcnow

MOBILE = "+8613812345678"
NEW_KEY = "the-gateway-data-key-after-rotation-0000"


async def sign_in(client: httpx.AsyncClient, gateway: FastAPI, phone: str) -> dict[str, Any]:
    sent = await client.post("/api/v1/auth/otp", json={"phone": phone})
    assert sent.status_code == 202, sent.text
    sender: FakeSmsSender = gateway.state.sms_sender
    code = sender.last_code(sent.json()["phone"])
    response = await client.post("/api/v1/auth/otp/verify", json={"phone": phone, "code": code})
    assert response.status_code == 200, response.text
    principal = await gateway.state.token_verifier.verify(response.json()["access_token"])
    return {"sub": principal.subject, "phone": principal.verified_phone}


async def raw(gateway: FastAPI, table: str) -> list[dict[str, Any]]:
    async with gateway.state.sessionmaker() as session:
        return [dict(r) for r in (await session.execute(sa.text(f"SELECT * FROM {table}"))).mappings().all()]


async def test_the_gateway_keeps_no_phone_in_plain_text(
    client: httpx.AsyncClient, gateway: FastAPI, settings: GatewaySettings
) -> None:
    first = await sign_in(client, gateway, MOBILE)
    assert first["phone"] == MOBILE  # the token still carries the phone it proved
    again = await sign_in(client, gateway, "138 1234 5678")
    assert again["sub"] == first["sub"]  # found again by its blind index: one identity per phone
    keyring = Keyring.from_settings(settings)
    (identity,) = await raw(gateway, "resident_identity")
    challenges = await raw(gateway, "otp_challenge")
    assert len(challenges) == 2
    for row in [identity, *challenges]:
        assert "phone" not in row
        assert not [k for k, v in row.items() if isinstance(v, str) and "13812345678" in v]
        assert row["phone_index"] == keyring.blind_index(PHONE, MOBILE)
    assert keyring.open(PHONE, identity["phone_sealed"]) == MOBILE


async def test_after_a_key_rotation_identities_are_sealed_again_and_still_sign_in(
    client: httpx.AsyncClient,
    gateway: FastAPI,
    settings: GatewaySettings,
    make_settings: Callable[..., GatewaySettings],
    services: Any,
) -> None:
    phones = ["+8613812345678", "+8613912345678", "+8615012345678"]
    subjects = {phone: (await sign_in(client, gateway, phone))["sub"] for phone in phones}
    old_key = settings.data_key
    rotated = create_app(
        make_settings(
            services,
            data_key=SecretStr(NEW_KEY),
            data_keys_retired=[old_key],
            data_index_key=old_key,
            data_reseal_sweep_seconds=0.05,
            data_reseal_batch=2,
        )
    )
    new_only = Keyring(NEW_KEY, index_key=old_key)
    async with rotated.router.lifespan_context(rotated):
        rows: list[dict[str, Any]] = []

        async def resealed() -> bool:
            rows[:] = await raw(rotated, "resident_identity")
            return all(new_only.is_current(r["phone_sealed"]) for r in rows)

        await eventually(resealed)
        assert sorted(new_only.open(PHONE, r["phone_sealed"]) for r in rows) == sorted(phones)
        transport = httpx.ASGITransport(app=rotated)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as rotated_client:
            for phone in phones:
                assert await sign_in(rotated_client, rotated, phone) == {"sub": subjects[phone], "phone": phone}


identity_0006 = sa.table(
    "resident_identity",
    sa.column("id", sa.Uuid()),
    sa.column("phone", sa.String()),
    sa.column("active", sa.Boolean()),
    sa.column("created_at", UTCDateTime()),
    sa.column("updated_at", UTCDateTime()),
)
challenge_0006 = sa.table(
    "otp_challenge",
    sa.column("id", sa.Uuid()),
    sa.column("phone", sa.String()),
    sa.column("code_hash", sa.String()),
    sa.column("expires_at", UTCDateTime()),
    sa.column("attempts", sa.Integer()),
    sa.column("created_at", UTCDateTime()),
    sa.column("updated_at", UTCDateTime()),
)


async def test_the_migration_seals_the_phones_it_finds_and_the_downgrade_opens_them(database_url: str) -> None:
    await asyncio.to_thread(migrations.downgrade, SERVICE_DIR, database_url, "0006")
    now = utcnow()
    people = {uuid.uuid4(): f"+86139{n:08d}" for n in range(1, 1103)}
    engine = create_async_engine(database_url)
    try:
        async with engine.begin() as connection:
            stamps = {"created_at": now, "updated_at": now}
            await connection.execute(
                identity_0006.insert(), [{"id": i, "phone": p, "active": True, **stamps} for i, p in people.items()]
            )
            await connection.execute(
                challenge_0006.insert(),
                [
                    {
                        "id": uuid.uuid4(),
                        "phone": MOBILE,
                        "code_hash": "0" * 64,
                        "expires_at": now,
                        "attempts": 0,
                        **stamps,
                    }
                    for _ in range(3)
                ],
            )
        await asyncio.to_thread(migrations.upgrade, SERVICE_DIR, database_url)
        keyring = Keyring.from_settings(GatewaySettings())
        async with engine.connect() as connection:
            identities = (await connection.execute(sa.text("SELECT * FROM resident_identity"))).mappings().all()
            challenges = (await connection.execute(sa.text("SELECT * FROM otp_challenge"))).mappings().all()
        assert sorted(keyring.open(PHONE, row["phone_sealed"]) for row in identities) == sorted(people.values())
        assert {row["phone_index"] for row in identities} == {keyring.blind_index(PHONE, p) for p in people.values()}
        assert [row["phone_index"] for row in challenges] == [keyring.blind_index(PHONE, MOBILE)] * 3
        assert all("phone" not in row for row in [*identities, *challenges])

        await asyncio.to_thread(migrations.downgrade, SERVICE_DIR, database_url, "0006")
        async with engine.connect() as connection:
            back = (await connection.execute(sa.select(identity_0006.c.id, identity_0006.c.phone))).all()
            codes = (await connection.execute(sa.select(sa.func.count()).select_from(challenge_0006))).scalar_one()
        assert dict(back) == people
        assert codes == 0  # only their index was kept: codes live minutes, a resident asks for a new one
    finally:
        await engine.dispose()
