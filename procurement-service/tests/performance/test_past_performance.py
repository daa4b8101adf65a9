"""Past performance reaches the next call: a reviewer scoring an application sees what the applicant delivered
before (verified deliveries, acceptance, evaluation, supervision, complaints, satisfaction, historical projects),
a call may weigh it as a criterion, and the public sees a provider's standing: what it delivered and passed, not
only its sanctions."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import httpx
from fastapi import FastAPI
from nats.js import JetStreamContext
from procurement_builders import booking_completed
from reporting_builders import implemented, lifecycle, ok
from sourcing_builders import (
    CRITERIA,
    apply,
    assign,
    deliver,
    official,
    provider_admin,
    published_call,
    reviewer,
)

from service_kit.events.contracts import ComplaintOpened, ScoreUpdated
from service_kit.testing import Clock, TestKeys, assert_problem

DELIVERED_AT = datetime(2027, 5, 20, 3, 30, tzinfo=UTC)
NEXT_DEADLINE = datetime(2028, 2, 1, 2, 0, tzinfo=UTC)
WITH_PAST_PERFORMANCE = [
    {"code": "feasibility", "name": "项目可行性", "weight": 40},
    {"code": "capacity", "name": "机构能力", "weight": 30},
    {"code": "past_performance", "name": "以往履约表现", "weight": 30},
]


async def test_reviewers_see_the_applicants_past_and_the_public_its_standing(
    app: FastAPI, client: httpx.AsyncClient, js: JetStreamContext, test_keys: TestKeys, clock: Clock
) -> None:
    flow = await lifecycle(app, client, js, test_keys, clock)
    await implemented(app, client, js, test_keys, clock, flow)
    provider_id, other_id = flow.providers
    offering_id = uuid.UUID(flow.contract["funded_offerings"][0]["offering_id"])
    contract_id = flow.contract["id"]
    contract_url = f"/api/v1/contracts/{contract_id}"
    before = (await ok(client.get(contract_url, headers=official(test_keys))))["delivered_count"]
    # Two visits delivered under the contract, and a third whose evidence is doubtful: it does not count.
    visits = [
        booking_completed(
            offering_id=offering_id, provider_id=provider_id, occurred_at=DELIVERED_AT, funded_contract_id=contract_id
        )
        for _ in range(3)
    ]
    visits[2] = visits[2].model_copy(update={"suspect_reasons": ("far_from_place",)})
    await deliver(app, js, "deliverables", *visits, source="booking")
    # A resident complained about the first visit (still open); residents rate the provider 4.6 stars.
    complaint = ComplaintOpened(
        complaint_id=uuid.uuid4(),
        category="service_quality",
        severity="medium",
        status="submitted",
        provider_id=provider_id,
        booking_id=visits[0].booking_id,
        offering_id=offering_id,
        occurred_at=DELIVERED_AT,
    )
    await deliver(app, js, "supervision", complaint, source="feedback")
    score = ScoreUpdated(
        subject_kind="provider",
        subject_id=provider_id,
        provider_id=provider_id,
        score=4.6,
        rating_count=37,
        occurred_at=DELIVERED_AT,
    )
    await deliver(app, js, "evaluations", score, source="feedback")
    # Before Linli, the district recorded one of its projects as excellent.
    history = {
        "projects": [
            {
                "reference": "FS-2024-017",
                "year": 2024,
                "title": "2024年长阳镇助餐服务项目",
                "direction": "elderly_care",
                "street_code": "changyang",
                "provider": {
                    "organization_id": str(provider_id),
                    "name": "房山区阳光社工事务所",
                    "kind": "public_welfare",
                },
                "amount_fen": 18_000_000,
                "result": "excellent",
                "score": 95,
            }
        ]
    }
    await ok(client.post("/api/v1/funds/historical-projects", json=history, headers=official(test_keys)))

    # The next call weighs past performance like any other criterion; the provider applies again.
    clock.now = datetime(2028, 1, 5, 2, 0, tzinfo=UTC)
    call = await published_call(
        client, test_keys, flow.fund["id"], criteria=WITH_PAST_PERFORMANCE, deadline=NEXT_DEADLINE.isoformat()
    )
    assert [c["code"] for c in call["criteria"]] == ["feasibility", "capacity", "past_performance"]
    application = await apply(client, test_keys, call["id"], provider_id, budget_request_fen=10_000_000)
    clock.now = NEXT_DEADLINE
    await ok(client.post(f"/api/v1/calls/{call['id']}/close", headers=official(test_keys)))
    await assign(client, test_keys, call["id"], "expert-zhao")

    url = f"/api/v1/calls/{call['id']}/applications/{application['id']}/past-performance"
    seen = await ok(client.get(url, headers=reviewer(test_keys, "expert-zhao")))
    assert (seen["provider_id"], seen["provider_name"]) == (str(provider_id), "房山区阳光社工事务所")
    (past,) = seen["contracts"]
    assert (past["contract_id"], past["title"], past["status"]) == (contract_id, flow.contract["title"], "active")
    quota = sum(o["quota"] for o in flow.contract["funded_offerings"])
    assert (past["verified_deliveries"], past["quota"]) == (before + 2, quota)
    assert (past["acceptance"]["result"], past["acceptance"]["attempt"]) == ("passed", 1)
    final = await ok(client.get(f"{contract_url}/evaluations/final", headers=official(test_keys)))
    assert past["evaluation_score"] == final["combined_score"] is not None
    assert (past["complaints"], past["open_complaints"]) == (1, 1)
    assert seen["satisfaction"] == {"score": 4.6, "rating_count": 37}
    assert seen["totals"] == {
        "contracts": 1,
        "accepted": 1,
        "failed": 0,
        "verified_deliveries": before + 2,
        "complaints": 1,
        "open_complaints": 1,
        "historical_projects": 1,
        "historical_excellent_or_good": 1,
    }
    (project,) = seen["historical_projects"]
    assert (project["reference"], project["result"], project["score"]) == ("FS-2024-017", "excellent", 95)
    assert seen["sanctions"] == []
    # Officials and auditors see it too; a reviewer not on the call does not, and a provider may not ask.
    assert (await ok(client.get(url, headers=official(test_keys))))["totals"]["contracts"] == 1
    auditor = test_keys.headers("auditor", sub="auditor-zhou", name="审计师")
    assert (await ok(client.get(url, headers=auditor)))["totals"]["contracts"] == 1
    assert_problem(await client.get(url, headers=reviewer(test_keys, "expert-qian")), 404, "application_not_found")
    assert_problem(await client.get(url, headers=provider_admin(test_keys, provider_id)), 403)

    # The public standing (no login) recognises the contract delivered and accepted.
    standing = await ok(client.get(f"/open-data/providers/{provider_id}/standing"))
    (accepted,) = standing["accepted_contracts"]
    assert (accepted["contract_id"], accepted["acceptance_result"], accepted["verified_deliveries"]) == (
        contract_id,
        "passed",
        before + 2,
    )
    assert standing["historical_projects"][0]["title"] == "2024年长阳镇助餐服务项目"
    assert (standing["sanctions"], standing["sanctioned_now"]) == ([], False)
    assert standing["satisfaction"]["rating_count"] == 37
    # The rejected applicant is known but delivered nothing yet; a provider procurement never heard of is 404.
    other = await ok(client.get(f"/open-data/providers/{other_id}/standing"))
    assert (other["provider_name"], other["accepted_contracts"]) == ("绿邻环保创业工作室", [])
    assert_problem(await client.get(f"/open-data/providers/{uuid.uuid4()}/standing"), 404, "provider_not_found")
    assert_problem(await client.get("/open-data/providers/not-an-id/standing"), 422)


async def test_the_criteria_may_weigh_past_performance_like_any_other(
    client: httpx.AsyncClient, test_keys: TestKeys, clock: Clock
) -> None:
    fund = await ok(
        client.post(
            "/api/v1/funds",
            json={
                "name": "2026年社区服务专项资金",
                "year": 2026,
                "budget_fen": 100_000_000,
                "owner_id": "fangshan-civil-affairs",
                "owner_name": "北京市房山区民政局",
            },
            headers=official(test_keys),
        ),
        201,
    )
    heavy = [*CRITERIA[:2], {"code": "past_performance", "name": "以往履约表现", "weight": 30}]
    body = assert_problem(
        await client.post(
            "/api/v1/calls",
            json={
                "title": "t",
                "description": "d",
                "directions": ["elderly_care"],
                "budget_cap_fen": 1_000_000,
                "fund_id": fund["id"],
                "criteria": heavy,
                "deadline": "2027-01-10T10:00:00+08:00",
            },
            headers=official(test_keys),
        ),
        422,
        "weights_not_100",
    )
    assert "105" in body["detail"]
