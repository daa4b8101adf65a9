"""Contracts announce themselves: contract.signed and contract.terminated go out through the outbox to NATS."""

import asyncio
import json
import uuid
from typing import Any

import httpx
from fastapi import FastAPI
from nats.js import JetStreamContext
from nats.js.api import DeliverPolicy
from procurement_builders import contract_body, create_contract, signed_contract
from sqlalchemy import select

from procurement.config import Settings
from service_kit.db import create_engine
from service_kit.events.contracts import ContractSigned, ContractTerminated
from service_kit.events.tables import outbox_event
from service_kit.testing import TestKeys, eventually


async def outbox_rows(settings: Settings) -> list[dict[str, Any]]:
    engine = create_engine(settings.database_url)
    try:
        async with engine.connect() as conn:
            result = await conn.execute(select(outbox_event).order_by(outbox_event.c.seq))
            return [dict(row._mapping) for row in result]
    finally:
        await engine.dispose()


async def next_event(js: JetStreamContext, subject: str) -> tuple[dict[str, str], dict[str, Any]]:
    sub = await js.subscribe(subject, deliver_policy=DeliverPolicy.ALL, ordered_consumer=True)
    try:
        msg = await sub.next_msg(timeout=15)
    finally:
        await sub.unsubscribe()
    return dict(msg.headers or {}), json.loads(msg.data)


async def test_signing_emits_contract_signed_with_the_funded_offerings(
    app: FastAPI, client: httpx.AsyncClient, js: JetStreamContext, settings: Settings, test_keys: TestKeys
) -> None:
    provider_id, offering_id = uuid.uuid4(), uuid.uuid4()
    draft = await create_contract(app, client, test_keys, contract_body(provider_id, offering_id))
    assert await outbox_rows(settings) == []  # a draft announces nothing

    url = f"/api/v1/contracts/{draft['id']}/sign"
    purchaser = await client.post(url, headers=test_keys.headers("official"))
    assert (purchaser.status_code, purchaser.json()["status"]) == (200, "draft")
    assert await outbox_rows(settings) == []  # signed by one party only: still a draft
    response = await client.post(url, headers=test_keys.headers("provider_admin", provider_id=str(provider_id)))
    assert response.status_code == 200

    (row,) = await outbox_rows(settings)
    assert row["type"] == "linli.contract.signed.v1"
    assert row["subject"] == draft["id"]

    headers, data = await next_event(js, ContractSigned.type)
    assert headers["ce-type"] == "linli.contract.signed.v1"
    assert headers["ce-source"] == "procurement"
    assert headers["ce-id"] == row["event_id"]
    event = ContractSigned.model_validate(data)
    assert str(event.contract_id) == draft["id"]
    assert event.provider_id == provider_id
    assert event.status == "active"
    assert event.amount_fen == 10_000_000
    assert str(event.start_date) == "2027-01-01"
    assert str(event.end_date) == "2027-12-31"
    (funded,) = event.funded_offerings
    assert funded.offering_id == offering_id
    assert (funded.unit_price_fen, funded.resident_price_fen, funded.quota) == (1500, 300, 2000)
    assert funded.eligibility_tags == ("80+", "living_alone")

    async def published() -> bool:
        return all(r["published_at"] is not None for r in await outbox_rows(settings))

    await eventually(published)


async def test_the_provider_signing_alone_emits_nothing(
    app: FastAPI, client: httpx.AsyncClient, settings: Settings, test_keys: TestKeys
) -> None:
    provider_id = uuid.uuid4()
    draft = await create_contract(app, client, test_keys, contract_body(provider_id))
    provider = test_keys.headers("provider_admin", provider_id=str(provider_id))
    signed = await client.post(f"/api/v1/contracts/{draft['id']}/sign", headers=provider)
    assert (signed.status_code, signed.json()["status"]) == (200, "draft")
    assert signed.json()["provider_signature"]["signed_at"] is not None
    assert await outbox_rows(settings) == []


async def test_both_parties_signing_at_once_sign_the_contract_once(
    app: FastAPI, client: httpx.AsyncClient, settings: Settings, test_keys: TestKeys
) -> None:
    provider_id = uuid.uuid4()
    purchaser, provider = (
        test_keys.headers("official"),
        test_keys.headers("provider_admin", provider_id=str(provider_id)),
    )
    drafts = [await create_contract(app, client, test_keys, contract_body(provider_id)) for _ in range(4)]
    for draft in drafts:
        url = f"/api/v1/contracts/{draft['id']}/sign"
        responses = await asyncio.gather(client.post(url, headers=purchaser), client.post(url, headers=provider))
        assert [r.status_code for r in responses] == [200, 200], [r.text for r in responses]
        # Whichever signature came second made the contract signed; the other saw a draft.
        assert sorted(r.json()["status"] for r in responses) == ["active", "draft"]
        versions = await client.get(f"/api/v1/contracts/{draft['id']}/versions", headers=purchaser)
        assert [v["version"] for v in versions.json()["items"]] == [1]
    rows = await outbox_rows(settings)
    assert sorted(r["subject"] for r in rows) == sorted(d["id"] for d in drafts)
    assert {r["type"] for r in rows} == {"linli.contract.signed.v1"}


async def test_a_refused_transition_emits_nothing(
    app: FastAPI, client: httpx.AsyncClient, settings: Settings, test_keys: TestKeys
) -> None:
    contract = await signed_contract(app, client, test_keys, contract_body(uuid.uuid4()))
    again = await client.post(f"/api/v1/contracts/{contract['id']}/sign", headers=test_keys.headers("official"))
    assert again.status_code == 409
    assert [r["type"] for r in await outbox_rows(settings)] == ["linli.contract.signed.v1"]


async def test_terminating_emits_contract_terminated_with_the_reason(
    app: FastAPI, client: httpx.AsyncClient, js: JetStreamContext, test_keys: TestKeys
) -> None:
    contract = await signed_contract(app, client, test_keys, contract_body(uuid.uuid4()))
    response = await client.post(
        f"/api/v1/contracts/{contract['id']}/terminate",
        json={"reason": "服务质量不达标"},
        headers=test_keys.headers("official"),
    )
    assert response.status_code == 200

    _, data = await next_event(js, ContractTerminated.type)
    event = ContractTerminated.model_validate(data)
    assert str(event.contract_id) == contract["id"]
    assert event.status == "terminated"
    assert event.reason == "服务质量不达标"
    assert len(event.funded_offerings) == 1
