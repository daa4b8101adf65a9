"""A whole sourcing lifecycle built through procurement's API, for the reporting tests (OCDS, dashboard)."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
from fastapi import FastAPI
from lifecycle_builders import deliver_services
from procurement_builders import contract_body, known_provider, sign_by_both
from sourcing_builders import (
    DEADLINE,
    apply,
    assign,
    create_fund,
    deliver,
    official,
    provider_admin,
    published_call,
    review,
    verified,
)

from service_kit.testing import TestKeys

# Monday 14 December 2026, 10:00 in Beijing; the five working days of the notice end on 21 December.
NOTICE_AT = datetime(2026, 12, 14, 2, 0, tzinfo=UTC)
SIGNED_AT = datetime(2026, 12, 22, 1, 0, tzinfo=UTC)


@dataclass
class Lifecycle:
    need: dict[str, Any]
    fund: dict[str, Any]
    call: dict[str, Any]
    approved: dict[str, Any]
    rejected: dict[str, Any]
    notice: dict[str, Any]
    contract: dict[str, Any]
    providers: tuple[uuid.UUID, uuid.UUID]


async def ok(request: Awaitable[httpx.Response], status: int = 200) -> dict[str, Any]:
    result = await request
    assert result.status_code == status, result.text
    return dict(result.json())


async def lifecycle(app: FastAPI, client: httpx.AsyncClient, js: Any, keys: TestKeys, clock: Any) -> Lifecycle:
    """need → call → two applications → review → one approval → public notice → contract, signed."""
    providers = (uuid.uuid4(), uuid.uuid4())
    await deliver(
        app,
        js,
        "providers",
        verified(providers[0], "public_welfare", "房山区阳光社工事务所"),
        verified(providers[1], "startup", "绿邻环保创业工作室"),
    )
    headers = official(keys)
    need = await ok(
        client.post(
            "/api/v1/need-pool",
            json={
                "category_code": "elderly.meal_table",
                "street_code": "changyang",
                "community_code": "changyang-01",
                "target_group": "80+",
                "summary": "社区缺少老年餐桌，独居老人吃饭难。",
                "count": 12,
            },
            headers=headers,
        ),
        201,
    )
    fund = await create_fund(client, keys, budget_fen=100_000_000)
    call = await published_call(client, keys, fund["id"], need_ids=[need["id"]])
    approved = await apply(client, keys, call["id"], providers[0], budget_request_fen=25_000_000)
    rejected = await apply(client, keys, call["id"], providers[1], budget_request_fen=20_000_000)
    clock.now = DEADLINE
    await ok(client.post(f"/api/v1/calls/{call['id']}/close", headers=headers))
    await assign(client, keys, call["id"], "expert-li")
    await review(client, keys, call["id"], approved["id"], "expert-li", (90, 85, 80))
    await review(client, keys, call["id"], rejected["id"], "expert-li", (60, 60, 60))
    await ok(client.post(f"/api/v1/calls/{call['id']}/close-review", headers=headers))
    base = f"/api/v1/calls/{call['id']}/applications/{approved['id']}"
    approved = await ok(client.post(f"{base}/approve", json={}, headers=headers))
    clock.now = NOTICE_AT
    notice = await ok(client.post(f"/api/v1/calls/{call['id']}/notice", json={}, headers=headers), 201)
    offering_id = uuid.uuid4()
    await known_provider(app, providers[0], offering_id)  # the contract funds the provider's own offering
    terms = contract_body(providers[0], offering_id, start="2027-01-01", end="2027-12-31")
    terms = {k: terms[k] for k in ("start_date", "end_date", "funded_offerings")}
    terms["funded_offerings"][0]["quota"] = 10  # 10 meals at 15 yuan: the quantity target
    contract = await ok(client.post(f"{base}/contract", json=terms, headers=headers), 201)
    clock.now = SIGNED_AT
    contract = await sign_by_both(client, keys, contract, headers)
    return Lifecycle(need, fund, call, approved, rejected, notice, contract, providers)


async def implemented(
    app: FastAPI, client: httpx.AsyncClient, js: Any, keys: TestKeys, clock: Any, flow: Lifecycle
) -> None:
    """The signed contract runs its course: paid on signing, amended by both parties, its evaluator assigned,
    evaluated mid-term, paid again, its services delivered, evaluated at the end, accepted, paid in full."""
    contract_url = f"/api/v1/contracts/{flow.contract['id']}"
    headers, provider = official(keys), provider_admin(keys, flow.providers[0])
    evaluator = keys.headers("evaluator", sub="evaluator-zhang", name="第三方评估机构")

    async def pay(voucher: str, day: str) -> None:
        clock.now = datetime.fromisoformat(f"{day}T10:00:00+08:00")
        body = {
            "voucher_number": voucher,
            "payer": "北京市房山区民政局",
            "payee": "房山区阳光社工事务所",
            "paid_on": day,
        }
        await ok(client.post(f"{contract_url}/disbursements", json=body, headers=headers), 201)

    async def evaluate(stage: str, day: str, purchaser: float, third_party: float) -> None:
        clock.now = datetime.fromisoformat(f"{day}T10:00:00+08:00")
        await ok(client.post(f"{contract_url}/evaluations", json={"stage": stage}, headers=headers), 201)
        scores = f"{contract_url}/evaluations/{stage}/scores"
        await ok(client.post(scores, json={"score": purchaser}, headers=headers))
        await ok(client.post(scores, json={"score": third_party}, headers=evaluator))
        await ok(client.post(f"{contract_url}/evaluations/{stage}/finalize", headers=headers))

    await pay("FS-PZ-2026-0001", "2026-12-23")
    clock.now = datetime(2027, 3, 1, 2, 0, tzinfo=UTC)
    amendment = await ok(
        client.post(
            f"{contract_url}/amendments",
            json={
                "summary": "增加助餐服务2000人次",
                "reason": "长阳镇独居老人助餐需求增加",
                "supplement_fen": 2_000_000,
            },
            headers=headers,
        ),
        201,
    )
    clock.now = datetime(2027, 3, 2, 2, 0, tzinfo=UTC)
    await ok(client.post(f"{contract_url}/amendments/{amendment['id']}/approve", json={}, headers=provider))
    await ok(
        client.post(
            f"{contract_url}/evaluators",
            json={"evaluator_subject": "evaluator-zhang", "evaluator_name": "第三方评估机构"},
            headers=headers,
        ),
        201,
    )
    await ok(client.post(f"{contract_url}/evaluators/declaration", json={"conflict": False}, headers=evaluator), 201)
    await evaluate("midterm", "2027-06-30", 88, 90)
    await pay("FS-PZ-2027-0102", "2027-07-05")
    await deliver_services(app, js, flow.contract, 10)
    await evaluate("final", "2027-12-20", 90, 92)
    clock.now = datetime(2027, 12, 25, 2, 0, tzinfo=UTC)
    acceptance = {
        "result": "passed",
        "summary": "服务完成，居民满意。",
        "recipient_opinions": [{"name": "王秀英", "opinion": "饭菜可口，电话13812345678", "satisfied": True}],
    }
    await ok(client.post(f"{contract_url}/acceptance", json=acceptance, headers=headers), 201)
    await pay("FS-PZ-2027-0231", "2027-12-28")
