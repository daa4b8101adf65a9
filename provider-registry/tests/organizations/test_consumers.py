"""The registry's standing consumers, fed with real events over JetStream as feedback and procurement publish them."""

import uuid
from datetime import UTC, date, datetime
from typing import Any

import httpx
from fastapi import FastAPI

from registry.organizations.scoring import bayesian_score
from service_kit.events.contracts import ContractSigned, ContractTerminated, RatingSubmitted
from service_kit.testing import eventually


def rating(provider_id: str, stars: int, rating_id: uuid.UUID | None = None) -> RatingSubmitted:
    return RatingSubmitted(
        rating_id=rating_id or uuid.uuid4(),
        booking_id=uuid.uuid4(),
        provider_id=uuid.UUID(provider_id),
        offering_id=uuid.uuid4(),
        stars=stars,
        submitted_at=datetime.now(UTC),
    )


def contract_event(
    cls: type[ContractSigned] | type[ContractTerminated], provider_id: str, contract_id: uuid.UUID
) -> Any:
    return cls(
        contract_id=contract_id,
        provider_id=uuid.UUID(provider_id),
        title="房山区老年餐桌运营补贴",
        amount_fen=12_000_000,
        start_date=date(2027, 1, 1),
        end_date=date(2027, 12, 31),
        status="terminated" if cls is ContractTerminated else "active",
        occurred_at=datetime.now(UTC),
    )


async def test_ratings_from_feedback_feed_the_provider_score(
    client: httpx.AsyncClient, app: FastAPI, registry, publish_event
) -> None:
    provider = await registry.organization()
    first = rating(provider["id"], 5)
    await publish_event(first, source="feedback")
    await publish_event(rating(provider["id"], 3), source="feedback")
    await publish_event(rating(provider["id"], 4), source="feedback")
    # The same rating again under another event id (a producer retry): counted once.
    await publish_event(first, source="feedback")

    async def score() -> dict[str, Any] | None:
        body: dict[str, Any] = (await client.get(f"/api/v1/organizations/{provider['id']}")).json()
        return body["score"] if body["score"]["count"] == 3 else None

    result = await eventually(score)
    assert result["average"] == 4.0
    assert result["bayesian"] == round(bayesian_score(12, 3), 4)

    # Give the duplicate time to arrive; it must not be counted.
    await eventually(lambda: _applied(app.state.runtime, 4))
    final = (await client.get(f"/api/v1/organizations/{provider['id']}")).json()["score"]
    assert final["count"] == 3


async def _applied(runtime: Any, count: int) -> bool:
    return sum(r.applied for r in runtime.runners) >= count


async def test_contracts_from_procurement_set_and_clear_the_government_contract_flag(
    client: httpx.AsyncClient, registry, publish_event
) -> None:
    provider = await registry.organization()
    contract_id = uuid.uuid4()
    url = f"/api/v1/organizations/{provider['id']}"

    await publish_event(contract_event(ContractSigned, provider["id"], contract_id), source="procurement")

    async def flag(expected: bool) -> bool:
        return bool((await client.get(url)).json()["has_government_contract"] is expected)

    await eventually(lambda: flag(True))
    await publish_event(contract_event(ContractTerminated, provider["id"], contract_id), source="procurement")
    await eventually(lambda: flag(False))


async def test_verification_is_announced_on_the_bus(client: httpx.AsyncClient, registry, published_events) -> None:
    provider = await registry.organization(verified=True)

    async def announced() -> list[dict[str, Any]]:
        return await published_events("linli.provider.verified.v1")

    events = await eventually(announced)
    assert events[0]["source"] == "registry"
    assert events[0]["data"]["provider_id"] == provider["id"]
    assert events[0]["data"]["status"] == "verified"
    assert events[0]["data"]["kind"] == "public_welfare"
