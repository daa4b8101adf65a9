"""Small builders shared by procurement's tests."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

import httpx

from service_kit.events.contracts import BookingCompleted
from service_kit.events.envelope import Envelope
from service_kit.testing import TestKeys


def contract_body(
    provider_id: uuid.UUID,
    /,
    *offering_ids: uuid.UUID,
    amount_fen: int = 10_000_000,
    start: str = "2027-01-01",
    end: str = "2027-12-31",
    **overrides: Any,
) -> dict[str, Any]:
    offerings = offering_ids or (uuid.uuid4(),)
    body: dict[str, Any] = {
        "title": "长阳镇老年餐桌服务项目",
        "provider_id": str(provider_id),
        "amount_fen": amount_fen,
        "start_date": start,
        "end_date": end,
        "funded_offerings": [
            {
                "offering_id": str(offering_id),
                "unit_price_fen": 1500,
                "resident_price_fen": 300,
                "quota": 2000,
                "eligibility_tags": ["80+", "living_alone"],
            }
            for offering_id in offerings
        ],
    }
    body.update(overrides)
    return body


async def create_contract(client: httpx.AsyncClient, keys: TestKeys, body: dict[str, Any]) -> dict[str, Any]:
    response = await client.post("/api/v1/contracts", json=body, headers=keys.headers("official", name="王科长"))
    assert response.status_code == 201, response.text
    return dict(response.json())


async def sign_by_both(
    client: httpx.AsyncClient, keys: TestKeys, contract: dict[str, Any], official: dict[str, str] | None = None
) -> dict[str, Any]:
    """The purchaser (an official) signs the draft, then the contracted provider's admin: it is signed (active)."""
    url = f"/api/v1/contracts/{contract['id']}/sign"
    purchaser = await client.post(url, headers=official or keys.headers("official"))
    assert purchaser.status_code == 200, purchaser.text
    assert purchaser.json()["status"] == "draft"
    provider = await client.post(url, headers=keys.headers("provider_admin", provider_id=str(contract["provider_id"])))
    assert provider.status_code == 200, provider.text
    assert provider.json()["status"] == "active"
    return dict(provider.json())


async def signed_contract(client: httpx.AsyncClient, keys: TestKeys, body: dict[str, Any]) -> dict[str, Any]:
    return await sign_by_both(client, keys, await create_contract(client, keys, body))


def booking_completed(
    *,
    offering_id: uuid.UUID,
    provider_id: uuid.UUID,
    occurred_at: datetime,
    funded_contract_id: uuid.UUID | str | None = None,
    booking_id: uuid.UUID | None = None,
) -> BookingCompleted:
    """A completed booking as booking-service announces it."""
    return BookingCompleted(
        booking_id=booking_id or uuid.uuid4(),
        offering_id=offering_id,
        provider_id=provider_id,
        resident_id=uuid.uuid4(),
        status="completed",
        channel="phone",
        slot_start=occurred_at.replace(hour=3, minute=0),
        slot_end=occurred_at.replace(hour=4, minute=0),
        price_fen=300,
        funded_contract_id=uuid.UUID(str(funded_contract_id)) if funded_contract_id else None,
        subsidy_fen=1200 if funded_contract_id else 0,
        actor="provider-staff-1",
        occurred_at=occurred_at,
    )


async def publish(js: Any, envelope: Envelope, *, dedupe: bool = True) -> None:
    """Publish like booking-service's outbox relay does; ``dedupe=False`` drops ``Nats-Msg-Id`` so JetStream
    stores a second copy of the same event, as it does for a republish after its duplicate window."""
    headers = envelope.headers()
    if not dedupe:
        headers.pop("Nats-Msg-Id")
    await js.publish(envelope.type, envelope.payload(), headers=headers)


def on(day: str) -> date:
    return date.fromisoformat(day)
