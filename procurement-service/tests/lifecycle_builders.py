"""Builders for the back half of a contract's life: an awarded, signed contract and the steps after signing."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
from fastapi import FastAPI
from nats.js import JetStreamContext
from nats.js.api import DeliverPolicy
from procurement_builders import booking_completed, known_provider, sign_by_both
from sourcing_builders import (
    DEADLINE,
    apply,
    assign,
    create_fund,
    deliver,
    official,
    published_call,
    review,
    verified_provider,
)

from service_kit.testing import TestKeys

# Monday 14 December 2026, 10:00 in Beijing; the notice's five working days end on 21 December.
NOTICE_AT = datetime(2026, 12, 14, 2, 0, tzinfo=UTC)
AFTER_NOTICE = datetime(2026, 12, 22, 1, 0, tzinfo=UTC)


async def awarded_contract(
    app: FastAPI,
    client: httpx.AsyncClient,
    js: JetStreamContext,
    keys: TestKeys,
    clock: Any,
    *,
    budget_fen: int = 100_000_000,
    amount_fen: int = 20_000_000,
    offering_id: uuid.UUID | None = None,
    quota: int = 10,
    promised: int | None = None,
) -> tuple[dict[str, Any], dict[str, Any], uuid.UUID]:
    """A provider's application approved within a fund, announced, drafted and signed: (fund, contract, provider).
    The contract funds ``quota`` services of the provider's offering; with ``promised``, the application promised
    that many of them (else it promised a category of service, and the quota is the contract's target)."""
    provider_id = await verified_provider(app, js)
    offering_id = offering_id or uuid.uuid4()
    await known_provider(app, provider_id, offering_id)  # the contract funds the provider's own offering
    fund = await create_fund(client, keys, budget_fen=budget_fen)
    call = await published_call(client, keys, fund["id"])
    overrides: dict[str, Any] = {}
    if promised is not None:
        overrides["deliverables"] = [
            {
                "offering_id": str(offering_id),
                "quantity": promised,
                "target_group": "80+",
                "period_start": "2027-01-01",
                "period_end": "2027-12-31",
            }
        ]
    application = await apply(client, keys, call["id"], provider_id, budget_request_fen=amount_fen, **overrides)
    clock.now = DEADLINE
    base = f"/api/v1/calls/{call['id']}"
    assert (await client.post(f"{base}/close", headers=official(keys))).status_code == 200
    await assign(client, keys, call["id"], "expert-li")
    await review(client, keys, call["id"], application["id"], "expert-li", (90, 90, 90))
    assert (await client.post(f"{base}/close-review", headers=official(keys))).status_code == 200
    approved = await client.post(f"{base}/applications/{application['id']}/approve", json={}, headers=official(keys))
    assert approved.status_code == 200, approved.text
    clock.now = NOTICE_AT
    assert (await client.post(f"{base}/notice", json={}, headers=official(keys))).status_code == 201
    clock.now = AFTER_NOTICE
    terms = {
        "start_date": "2027-01-01",
        "end_date": "2027-12-31",
        "funded_offerings": [
            {
                "offering_id": str(offering_id),
                "unit_price_fen": 1500,
                "resident_price_fen": 300,
                "quota": quota,
                "eligibility_tags": ["80+"],
            }
        ],
    }
    drafted = await client.post(f"{base}/applications/{application['id']}/contract", json=terms, headers=official(keys))
    assert drafted.status_code == 201, drafted.text
    return fund, await sign_by_both(client, keys, drafted.json(), official(keys)), provider_id


def evaluator(keys: TestKeys) -> dict[str, str]:
    return keys.headers("evaluator", sub="evaluator-zhongcheng", name="中诚评估")


async def assign_evaluator(
    client: httpx.AsyncClient, keys: TestKeys, contract_id: str, *, declare: bool = True, **body: Any
) -> dict[str, Any]:
    """An official assigns the evaluator to the contract (once); the evaluator declares no conflict of interest."""
    base = f"/api/v1/contracts/{contract_id}/evaluators"
    assigned = await client.post(
        base,
        json={"evaluator_subject": "evaluator-zhongcheng", "evaluator_name": "中诚评估", **body},
        headers=official(keys),
    )
    assert assigned.status_code in (201, 409), assigned.text
    if not declare or (assigned.status_code == 201 and assigned.json()["conflict"] is not None):
        return dict(assigned.json())
    declared = await client.post(
        f"{base}/declaration", json={"conflict": False, "note": "与该服务机构无关联。"}, headers=evaluator(keys)
    )
    assert declared.status_code in (201, 409), declared.text
    return dict(declared.json())


async def deliver_services(
    app: FastAPI, js: JetStreamContext, contract: dict[str, Any], count: int, *, offering: int = 0
) -> list[uuid.UUID]:
    """``count`` funded bookings of the contract's offering completed (booking-service's events); their ids."""
    funded = contract["funded_offerings"][offering]
    events = [
        booking_completed(
            offering_id=uuid.UUID(funded["offering_id"]),
            provider_id=uuid.UUID(contract["provider_id"]),
            occurred_at=datetime(2027, 3, 1 + n % 28, 6, 0, tzinfo=UTC),
            funded_contract_id=contract["id"],
        )
        for n in range(count)
    ]
    await deliver(app, js, "deliverables", *events, source="booking")
    return [event.booking_id for event in events]


async def evaluate(
    client: httpx.AsyncClient, keys: TestKeys, contract_id: str, stage: str, purchaser: float, third_party: float
) -> dict[str, Any]:
    """Open, score by both parties (the evaluator assigned and declared first) and finalize an evaluation stage."""
    await assign_evaluator(client, keys, contract_id)
    base = f"/api/v1/contracts/{contract_id}/evaluations"
    opened = await client.post(base, json={"stage": stage}, headers=official(keys))
    assert opened.status_code == 201, opened.text
    for score, headers in ((purchaser, official(keys)), (third_party, evaluator(keys))):
        scored = await client.post(f"{base}/{stage}/scores", json={"score": score}, headers=headers)
        assert scored.status_code == 200, scored.text
    finalized = await client.post(f"{base}/{stage}/finalize", headers=official(keys))
    assert finalized.status_code == 200, finalized.text
    return dict(finalized.json())


def acceptance_body(result: str = "passed", **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "result": result,
        "summary": "服务人次、满意度均达到合同约定。",
        "recipient_opinions": [
            {"name": "张桂兰", "opinion": "送餐准时，饭菜可口。电话13812345678", "satisfied": True},
            {"name": "李德顺", "opinion": "希望增加探访次数。", "satisfied": False},
        ],
        "evaluator_opinion": "建议通过验收。",
    }
    body.update(overrides)
    return body


def voucher(seq: int, paid_on: str = AFTER_NOTICE.date().isoformat(), **overrides: Any) -> dict[str, Any]:
    """A payment recorded on the day ``awarded_contract`` is signed; the payer (the fund's owner) and the payee
    (the provider's registered name) are left to their defaults unless given."""
    body: dict[str, Any] = {"voucher_number": f"FS-2027-{uuid.uuid4().hex[:8]}-{seq}", "paid_on": paid_on}
    body.update(overrides)
    return body


async def events_of(js: JetStreamContext, subject: str, count: int) -> list[dict[str, Any]]:
    """The first ``count`` events published on ``subject`` (from the start of the stream)."""
    sub = await js.subscribe(subject, deliver_policy=DeliverPolicy.ALL, ordered_consumer=True)
    try:
        return [json.loads((await sub.next_msg(timeout=15)).data) for _ in range(count)]
    finally:
        await sub.unsubscribe()
