"""Builders for the sourcing lifecycle's tests: funds, verified providers, calls, applications, reviews."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
from fastapi import FastAPI
from nats.js import JetStreamContext
from procurement_builders import FUND_OWNER, publish

from service_kit.events.consumer import ConsumerRunner
from service_kit.events.contracts import EventData, ProviderRestored, ProviderSanctioned, ProviderVerified
from service_kit.events.envelope import Envelope
from service_kit.testing import Clock, TestKeys, eventually

DEADLINE = datetime(2026, 12, 10, 10, 0, tzinfo=UTC)  # Thursday 10 December 2026, 18:00 in Beijing
CRITERIA = [
    {"code": "feasibility", "name": "项目可行性", "weight": 40},
    {"code": "capacity", "name": "机构能力", "weight": 35},
    {"code": "budget", "name": "预算合理性", "weight": 25},
]


def official(keys: TestKeys) -> dict[str, str]:
    return keys.headers("official", sub="official-wang", name="王科长")


def provider_admin(keys: TestKeys, provider_id: uuid.UUID | str) -> dict[str, str]:
    return keys.headers("provider_admin", sub=f"admin-of-{provider_id}", provider_id=str(provider_id))


def reviewer(keys: TestKeys, sub: str) -> dict[str, str]:
    return keys.headers("reviewer", sub=sub, name=sub)


def runner(app: FastAPI, name: str) -> ConsumerRunner:
    (found,) = [r for r in app.state.runtime.runners if r.durable == f"procurement-{name}"]
    return found


async def deliver(app: FastAPI, js: Any, consumer: str, *events: EventData, source: str = "registry") -> None:
    """Publish events as their producing service would, and wait until the consumer has taken them all."""
    taken = runner(app, consumer)
    before = taken.applied + taken.duplicates
    for event in events:
        await publish(js, Envelope.wrap(event, source=source))

    async def done() -> bool | None:
        return True if taken.applied + taken.duplicates >= before + len(events) else None

    await eventually(done)


def verified(
    provider_id: uuid.UUID, kind: str = "public_welfare", name: str = "房山区阳光社工事务所"
) -> ProviderVerified:
    return ProviderVerified(provider_id=provider_id, name=name, kind=kind, status="verified")  # type: ignore[arg-type]


def sanctioned(provider_id: uuid.UUID, at: datetime, until: str | None = "2027-12-31") -> ProviderSanctioned:
    return ProviderSanctioned(
        provider_id=provider_id,
        sanction_id=uuid.uuid4(),
        measure="excluded_from_calls",
        reason="验收不合格",
        until=datetime.fromisoformat(until).date() if until else None,
        occurred_at=at,
    )


def restored(provider_id: uuid.UUID, at: datetime) -> ProviderRestored:
    """The sanction that kept ``provider_id`` out of calls is lifted: rectification done."""
    return ProviderRestored(
        provider_id=provider_id,
        sanction_id=uuid.uuid4(),
        measure="excluded_from_calls",
        reason="整改完成",
        occurred_at=at,
    )


async def verified_provider(app: FastAPI, js: Any, kind: str = "public_welfare") -> uuid.UUID:
    provider_id = uuid.uuid4()
    await deliver(app, js, "providers", verified(provider_id, kind))
    return provider_id


async def create_fund(
    client: httpx.AsyncClient, keys: TestKeys, budget_fen: int = 100_000_000, **owner: str
) -> dict[str, Any]:
    response = await client.post(
        "/api/v1/funds",
        json={"name": "2026年社区服务专项资金", "year": 2026, "budget_fen": budget_fen, **FUND_OWNER, **owner},
        headers=official(keys),
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


def call_body(fund_id: str, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "title": "2027年长阳镇居家养老服务项目征集",
        "description": "面向80岁以上及独居老人的助餐、助洁、探访服务。",
        "directions": ["elderly_care", "special_groups"],
        "budget_cap_fen": 30_000_000,
        "fund_id": fund_id,
        "eligible_kinds": ["public_welfare", "startup"],
        "criteria": CRITERIA,
        "deadline": DEADLINE.isoformat(),
    }
    body.update(overrides)
    return body


async def published_call(client: httpx.AsyncClient, keys: TestKeys, fund_id: str, **overrides: Any) -> dict[str, Any]:
    response = await client.post("/api/v1/calls", json=call_body(fund_id, **overrides), headers=official(keys))
    assert response.status_code == 201, response.text
    published = await client.post(f"/api/v1/calls/{response.json()['id']}/publish", headers=official(keys))
    assert published.status_code == 200, published.text
    return dict(published.json())


def application_body(
    budget_request_fen: int = 20_000_000, offering_id: uuid.UUID | None = None, **overrides: Any
) -> dict[str, Any]:
    """An application promising meals of a category and, with ``offering_id``, visits of that offering (one of
    the applicant's own published offerings, else it is refused)."""
    body: dict[str, Any] = {
        "title": "长阳镇老年餐桌与探访服务",
        "proposal": "在长阳镇6个社区设老年餐桌，每周探访独居老人。",
        "budget_request_fen": budget_request_fen,
        "deliverables": [
            {
                "service_type": "elderly.meal_table",
                "quantity": 12000,
                "target_group": "80+",
                "period_start": "2027-01-01",
                "period_end": "2027-12-31",
            },
        ],
        "kpis": [{"name": "服务满意度", "target": "≥ 90%"}, {"name": "助餐人次", "target": "12000"}],
    }
    if offering_id is not None:
        body["deliverables"].append(
            {
                "offering_id": str(offering_id),
                "quantity": 2000,
                "target_group": "living_alone",
                "period_start": "2027-01-01",
                "period_end": "2027-12-31",
            }
        )
    body.update(overrides)
    return body


async def apply(
    client: httpx.AsyncClient, keys: TestKeys, call_id: str, provider_id: uuid.UUID, **overrides: Any
) -> dict[str, Any]:
    response = await client.post(
        f"/api/v1/calls/{call_id}/applications",
        json=application_body(**overrides),
        headers=provider_admin(keys, provider_id),
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


async def assign(
    client: httpx.AsyncClient, keys: TestKeys, call_id: str, sub: str, linked: tuple[uuid.UUID, ...] = ()
) -> dict[str, Any]:
    response = await client.post(
        f"/api/v1/calls/{call_id}/reviewers",
        json={"reviewer_subject": sub, "reviewer_name": f"专家{sub}", "linked_provider_ids": [str(p) for p in linked]},
        headers=official(keys),
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


async def review(
    client: httpx.AsyncClient, keys: TestKeys, call_id: str, application_id: str, sub: str, scores: tuple[int, int, int]
) -> dict[str, Any]:
    """A reviewer declares no conflict and scores feasibility, capacity and budget."""
    base = f"/api/v1/calls/{call_id}/applications/{application_id}"
    declared = await client.post(f"{base}/declaration", json={"conflict": False}, headers=reviewer(keys, sub))
    assert declared.status_code == 201, declared.text
    sheet = {"scores": dict(zip(("feasibility", "capacity", "budget"), scores, strict=True))}
    scored = await client.put(f"{base}/my-scores", json=sheet, headers=reviewer(keys, sub))
    assert scored.status_code == 200, scored.text
    return dict(scored.json())


async def an_application(
    app: FastAPI, client: httpx.AsyncClient, js: Any, keys: TestKeys
) -> tuple[uuid.UUID, dict[str, Any], dict[str, Any], dict[str, Any]]:
    """A verified provider's application to a published call of a new fund: (provider id, fund, call,
    application)."""
    provider_id = await verified_provider(app, js)
    fund = await create_fund(client, keys)
    call = await published_call(client, keys, fund["id"])
    application = await apply(client, keys, call["id"], provider_id)
    return provider_id, fund, call, application


# Monday 14 December 2026, 10:00 in Beijing: five working days run 15–18 and 21 December.
NOTICE_AT = datetime(2026, 12, 14, 2, 0, tzinfo=UTC)


async def reviewed_call(
    app: FastAPI,
    client: httpx.AsyncClient,
    js: JetStreamContext,
    keys: TestKeys,
    clock: Clock,
    *,
    budget_fen: int = 40_000_000,
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any], dict[str, Any]]:
    first, second = await verified_provider(app, js), await verified_provider(app, js)
    fund = await create_fund(client, keys, budget_fen=budget_fen)
    call = await published_call(client, keys, fund["id"])
    a = await apply(client, keys, call["id"], first, budget_request_fen=25_000_000)
    b = await apply(client, keys, call["id"], second, budget_request_fen=20_000_000)
    clock.now = DEADLINE
    await client.post(f"/api/v1/calls/{call['id']}/close", headers=official(keys))
    await assign(client, keys, call["id"], "expert-li")
    await review(client, keys, call["id"], a["id"], "expert-li", (90, 90, 90))
    await review(client, keys, call["id"], b["id"], "expert-li", (80, 80, 80))
    closed = await client.post(f"/api/v1/calls/{call['id']}/close-review", headers=official(keys))
    assert closed.status_code == 200, closed.text
    return fund, call, a, b


def approve_url(call: dict[str, Any], application: dict[str, Any]) -> str:
    return f"/api/v1/calls/{call['id']}/applications/{application['id']}/approve"
