"""Small builders shared by procurement's tests: contracts as a procurement method makes them (a direct award
proposed by one official and approved by another, for a verified provider's own published offerings, from a
fund), bookings completed, events published as their producers publish them."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

import httpx
from fastapi import FastAPI

from procurement.providers.models import ProviderStanding
from service_kit.events.consumer import ConsumerRunner
from service_kit.events.contracts import BookingCompleted, EventData, OfferingPublished, ProviderVerified
from service_kit.events.envelope import Envelope
from service_kit.testing import TestKeys, eventually

PROVIDER_NAME = "房山区阳光社工事务所"
# The fund's owner pays; by default the buyer the OCDS export names (procurement.opendata.config).
FUND_OWNER = {"owner_id": "fangshan-civil-affairs", "owner_name": "北京市房山区民政局"}
RATIONALE = "单一来源：长阳镇仅此一家机构能提供上门助餐服务（《政府购买服务管理办法》第二十二条）。"


def proposer(keys: TestKeys) -> dict[str, str]:
    """The official who proposes direct awards (the same as sourcing_builders.official)."""
    return keys.headers("official", sub="official-wang", name="王科长")


def approver(keys: TestKeys) -> dict[str, str]:
    """A second official, who approves them (four eyes)."""
    return keys.headers("official", sub="official-li", name="李处长")


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


def runner(app: FastAPI, name: str) -> ConsumerRunner:
    (found,) = [r for r in app.state.runtime.runners if r.durable == f"procurement-{name}"]
    return found


async def deliver_events(app: FastAPI, consumer: str, *events: EventData, source: str = "registry") -> None:
    """Publish events as their producing service would (over the app's own NATS connection), and wait until the
    consumer has taken them all."""
    taken = runner(app, consumer)
    before = taken.applied + taken.duplicates
    for event in events:
        await publish(app.state.runtime.js, Envelope.wrap(event, source=source))

    async def done() -> bool | None:
        return True if taken.applied + taken.duplicates >= before + len(events) else None

    await eventually(done)


def offering_published(
    offering_id: uuid.UUID, provider_id: uuid.UUID, *, status: str = "published", version: int = 1
) -> OfferingPublished:
    return OfferingPublished(
        offering_id=offering_id,
        provider_id=provider_id,
        provider_name=PROVIDER_NAME,
        category_code="elderly.meal_table",
        name_zh="老年餐桌（午餐）",
        mode="at_center",
        price_fen=1500,
        duration_minutes=60,
        capacity_per_slot=10,
        status=status,  # type: ignore[arg-type]
        version=version,
    )


async def known_provider(
    app: FastAPI,
    provider_id: uuid.UUID,
    *offering_ids: uuid.UUID,
    kind: str = "public_welfare",
    name: str = PROVIDER_NAME,
) -> None:
    """Procurement knows the provider as verified by the registry (unless it knows it already, under whatever
    name and standing a test gave it) and its offerings as published."""
    async with app.state.sessionmaker() as session:
        known = await session.get(ProviderStanding, provider_id)
    if known is None:
        verified = ProviderVerified(provider_id=provider_id, name=name, kind=kind, status="verified")  # type: ignore[arg-type]
        await deliver_events(app, "providers", verified)
    if offering_ids:
        await deliver_events(app, "offerings", *(offering_published(o, provider_id) for o in offering_ids))


async def new_fund(
    client: httpx.AsyncClient, keys: TestKeys, budget_fen: int = 1_000_000_000, **owner: str
) -> dict[str, Any]:
    response = await client.post(
        "/api/v1/funds",
        json={"name": "2027年区级社区服务直接委托资金", "year": 2027, "budget_fen": budget_fen, **FUND_OWNER, **owner},
        headers=proposer(keys),
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


def award_body(body: dict[str, Any], fund_id: str, rationale: str = RATIONALE) -> dict[str, Any]:
    return {**body, "fund_id": fund_id, "rationale": rationale}


async def create_contract(
    app: FastAPI,
    client: httpx.AsyncClient,
    keys: TestKeys,
    body: dict[str, Any],
    *,
    fund_id: str | None = None,
    approve: bool = True,
) -> dict[str, Any]:
    """A direct award of ``body``'s terms: its provider known and verified, its offerings the provider's own
    published ones, proposed by one official from a fund (a new one unless named) and, unless ``approve`` is
    False, approved by another. A draft, signed by neither party yet."""
    await known_provider(
        app, uuid.UUID(body["provider_id"]), *(uuid.UUID(o["offering_id"]) for o in body["funded_offerings"])
    )
    if fund_id is None:
        fund_id = (await new_fund(client, keys))["id"]
    response = await client.post("/api/v1/contracts", json=award_body(body, fund_id), headers=proposer(keys))
    assert response.status_code == 201, response.text
    if not approve:
        return dict(response.json())
    approved = await client.post(
        f"/api/v1/contracts/{response.json()['id']}/direct-award/approve", json={}, headers=approver(keys)
    )
    assert approved.status_code == 200, approved.text
    return dict(approved.json())


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


async def signed_contract(
    app: FastAPI, client: httpx.AsyncClient, keys: TestKeys, body: dict[str, Any], *, fund_id: str | None = None
) -> dict[str, Any]:
    return await sign_by_both(client, keys, await create_contract(app, client, keys, body, fund_id=fund_id))


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
