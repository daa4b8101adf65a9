"""Officials' dashboard and the import of historical projects: real figures over the lifecycle's tables."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
from fastapi import FastAPI
from nats.js import JetStreamContext
from procurement_builders import booking_completed, contract_body, new_fund, signed_contract
from reporting_builders import implemented, lifecycle
from sourcing_builders import deliver, official, provider_admin, sanctioned

from service_kit.testing import Clock, TestKeys, assert_problem

URL = "/api/v1/funds/historical-projects"
XIAOKANG = str(uuid.uuid4())


def project(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "reference": "FS-2024-001",
        "year": 2024,
        "title": "拱辰街道老年餐桌助餐服务",
        "direction": "elderly_care",
        "street_code": "gongchen",
        "provider": {"organization_id": XIAOKANG, "name": "北京小康之家社区服务有限公司", "kind": "commercial"},
        "amount_fen": 12_000_000,
        "result": "excellent",
        "score": 92,
    }
    body.update(overrides)
    return body


SUNSHINE = {"organization_id": str(uuid.uuid4()), "name": "房山区阳光社会工作服务中心", "kind": "public_welfare"}
HISTORY = [
    project(),
    project(
        reference="FS-2024-002",
        title="长阳镇儿童安全课堂",
        direction="children",
        street_code="changyang",
        amount_fen=8_000_000,
        result="good",
        score=84,
        provider=SUNSHINE,
    ),
    project(
        reference="FS-2025-001",
        year=2025,
        title="西潞街道旧物回收",
        direction="green_living",
        street_code="xilu",
        amount_fen=5_000_050,
        result="qualified",
        score=None,
    ),
]


async def import_history(client: httpx.AsyncClient, keys: TestKeys, projects: list[dict[str, Any]]) -> dict[str, Any]:
    response = await client.post(URL, json={"projects": projects}, headers=official(keys))
    assert response.status_code == 200, response.text
    return dict(response.json())


async def test_historical_projects_are_imported_once_audited_and_corrected(
    client: httpx.AsyncClient, test_keys: TestKeys, clock: Clock
) -> None:
    assert await import_history(client, test_keys, HISTORY) == {"recorded": 3, "corrected": 0, "unchanged": 0}
    assert await import_history(client, test_keys, HISTORY) == {"recorded": 0, "corrected": 0, "unchanged": 3}
    corrected = [project(amount_fen=11_500_000), *HISTORY[1:]]
    assert await import_history(client, test_keys, corrected) == {"recorded": 0, "corrected": 1, "unchanged": 2}

    listed = (await client.get(URL, headers=official(test_keys))).json()
    assert listed["total"] == 3
    assert [(p["year"], p["reference"], p["amount_fen"]) for p in listed["items"]] == [
        (2025, "FS-2025-001", 5_000_050),
        (2024, "FS-2024-001", 11_500_000),
        (2024, "FS-2024-002", 8_000_000),
    ]
    only_2025 = (await client.get(URL, params={"year": 2025}, headers=official(test_keys))).json()
    assert [p["reference"] for p in only_2025["items"]] == ["FS-2025-001"]
    # Each import of a project is in the audit trail: who, when, the facts.
    first = listed["items"][1]
    trail = (await client.get(f"/api/v1/audit-trail/{first['id']}", headers=official(test_keys))).json()
    assert [(e["action"], e["actor_subject"], e["details"]["amount_fen"]) for e in trail["items"]] == [
        ("recorded", "official-wang", 12_000_000),
        ("corrected", "official-wang", 11_500_000),
    ]


async def test_two_imports_racing_count_each_project_once(
    client: httpx.AsyncClient, test_keys: TestKeys, clock: Clock
) -> None:
    outcomes = await asyncio.gather(*(import_history(client, test_keys, HISTORY) for _ in range(3)))
    assert sum(o["recorded"] for o in outcomes) == 3  # each project is inserted once; the others find it
    assert sum(o["unchanged"] for o in outcomes) == 6
    assert (await client.get(URL, headers=official(test_keys))).json()["total"] == 3
    board = (await client.get("/api/v1/funds/dashboard", headers=official(test_keys))).json()
    assert (board["totals"]["historical_projects"], board["totals"]["historical_amount_fen"]) == (3, 25_000_050)


async def test_bad_imports_are_refused(client: httpx.AsyncClient, test_keys: TestKeys, clock: Clock) -> None:
    for bad, code in (
        ({"projects": [project(year=2027)]}, "project_in_future"),
        ({"projects": [project(), project(amount_fen=1)]}, "duplicate_project"),
        ({"projects": []}, None),
        ({"projects": [project(amount_fen=100.5)]}, None),
        ({"projects": [project(amount_fen="100")]}, None),
        ({"projects": [project(amount_fen=0)]}, None),
        ({"projects": [project(result="perfect")]}, None),
        ({"projects": [project(direction="space")]}, None),
        ({"projects": [project(street_code="长阳镇")]}, None),
        ({"projects": [project(provider={"organization_id": "x", "name": "n", "kind": "commercial"})]}, None),
        ({"projects": [project(owner="me")]}, None),
        ({"projects": [project(score=101)]}, None),
        ({"rows": []}, None),
    ):
        assert_problem(await client.post(URL, json=bad, headers=official(test_keys)), 422, code)
    assert_problem(
        await client.post(URL, json={"projects": [project()]}, headers=provider_admin(test_keys, XIAOKANG)), 403
    )
    assert_problem(await client.post(URL, json={"projects": [project()]}), 401)
    assert_problem(await client.get("/api/v1/funds/dashboard", headers=test_keys.headers("evaluator")), 403)
    assert_problem(
        await client.get("/api/v1/funds/dashboard", params={"year": "last"}, headers=official(test_keys)), 422
    )
    assert (await client.get(URL, headers=official(test_keys))).json()["total"] == 0


async def test_the_dashboard_shows_signed_contracts_and_historical_projects(
    app: FastAPI, client: httpx.AsyncClient, js: JetStreamContext, test_keys: TestKeys, clock: Clock
) -> None:
    empty = (await client.get("/api/v1/funds/dashboard", headers=official(test_keys))).json()
    assert empty["totals"]["projects"] == 0
    assert empty["delivery"]["delivered_share"] is None

    flow = await lifecycle(app, client, js, test_keys, clock)
    await import_history(client, test_keys, HISTORY)
    offering_id = uuid.UUID(flow.contract["funded_offerings"][0]["offering_id"])
    served = [
        booking_completed(
            offering_id=offering_id,
            provider_id=flow.providers[0],
            occurred_at=datetime(2027, 1, day, 4, 0, tzinfo=UTC),
            funded_contract_id=flow.contract["id"],
        )
        for day in (4, 5, 6)
    ]
    await deliver(app, js, "deliverables", *served, source="booking")
    await deliver(app, js, "providers", sanctioned(flow.providers[1], clock.now))

    board = (await client.get("/api/v1/funds/dashboard", headers=official(test_keys))).json()
    assert board["totals"] == {
        "projects": 4,
        "amount_fen": 25_000_050 + 25_000_000,
        "historical_projects": 3,
        "historical_amount_fen": 25_000_050,
        "current_projects": 1,
        "current_amount_fen": 25_000_000,
    }

    def buckets(name: str) -> dict[str, tuple[int, int, int]]:
        return {b["key"]: (b["projects"], b["amount_fen"], b["historical_projects"]) for b in board[name]}

    assert buckets("by_year") == {"2024": (2, 20_000_000, 2), "2025": (1, 5_000_050, 1), "2027": (1, 25_000_000, 0)}
    assert [b["key"] for b in board["by_year"]] == ["2024", "2025", "2027"]
    assert buckets("by_direction") == {
        "elderly_care": (2, 37_000_000, 1),
        "children": (1, 8_000_000, 1),
        "green_living": (1, 5_000_050, 1),
    }
    # The contract's street is the one its call's need names.
    assert buckets("by_street") == {
        "changyang": (2, 33_000_000, 1),
        "gongchen": (1, 12_000_000, 1),
        "xilu": (1, 5_000_050, 1),
    }
    assert buckets("by_provider_kind") == {"public_welfare": (2, 33_000_000, 1), "commercial": (2, 17_000_050, 2)}
    assert buckets("historical_results") == {
        "excellent": (1, 12_000_000, 1),
        "good": (1, 8_000_000, 1),
        "qualified": (1, 5_000_050, 1),
    }
    assert board["funds"] == [
        {
            "year": 2026,
            "funds": 1,
            "budget_fen": 100_000_000,
            "committed_fen": 25_000_000,
            "spent_fen": 0,
            "contracted_fen": 25_000_000,
        }
    ]
    # The contract plans 10 meals at 15 yuan; three were served.
    assert board["delivery"] == {
        "contracts": 1,
        "contracted_fen": 25_000_000,
        "planned_services": 10,
        "planned_value_fen": 15_000,
        "delivered_services": 3,
        "delivered_value_fen": 4500,
        "delivered_share": 0.3,
        "disbursed_fen": 0,
    }
    # The expert scored 90, 85 and 80 on criteria weighted 40, 35 and 25.
    assert board["scores"] == {
        "review_average": 85.75,
        "reviewed_projects": 1,
        "evaluation_average": None,
        "evaluated_projects": 0,
        "historical_average": 88.0,
        "historical_scored": 2,
    }
    # The registry's sanction (from its event); procurement's own sanctions follow failed acceptances.
    assert board["sanctions"] == {"providers_sanctioned": 1, "active_sanctions": 0, "by_cause": {}}
    assert board["acceptance_results"] == []

    only_2024 = (await client.get("/api/v1/funds/dashboard", params={"year": 2024}, headers=official(test_keys))).json()
    assert (only_2024["year"], only_2024["totals"]["projects"], only_2024["totals"]["amount_fen"]) == (
        2024,
        2,
        20_000_000,
    )
    assert only_2024["funds"] == []
    assert only_2024["delivery"]["contracts"] == 0
    assert (await client.get("/api/v1/funds/dashboard", headers=test_keys.headers("admin"))).status_code == 200


async def test_the_dashboard_follows_payments_evaluations_and_acceptance(
    app: FastAPI, client: httpx.AsyncClient, js: JetStreamContext, test_keys: TestKeys, clock: Clock
) -> None:
    flow = await lifecycle(app, client, js, test_keys, clock)
    await implemented(app, client, js, test_keys, clock, flow)
    final = (
        await client.get(f"/api/v1/contracts/{flow.contract['id']}/evaluations/final", headers=official(test_keys))
    ).json()

    board = (await client.get("/api/v1/funds/dashboard", headers=official(test_keys))).json()
    # 25 万 and the 2 万 supplement both parties approved: committed, contracted and paid in full.
    assert board["totals"]["current_amount_fen"] == 27_000_000
    (fund,) = board["funds"]
    assert (fund["committed_fen"], fund["contracted_fen"], fund["spent_fen"]) == (27_000_000, 27_000_000, 27_000_000)
    assert (board["delivery"]["contracted_fen"], board["delivery"]["disbursed_fen"]) == (27_000_000, 27_000_000)
    assert (board["scores"]["evaluation_average"], board["scores"]["evaluated_projects"]) == (
        final["combined_score"],
        1,
    )
    assert [(b["key"], b["projects"], b["amount_fen"]) for b in board["acceptance_results"]] == [
        ("passed", 1, 27_000_000)
    ]


async def test_a_direct_award_counts_in_its_funds_year(
    app: FastAPI, client: httpx.AsyncClient, test_keys: TestKeys
) -> None:
    """A direct award names its fund: the dashboard shows it committed and contracted there, not adrift."""
    fund = await new_fund(client, test_keys, budget_fen=50_000_000)
    await signed_contract(
        app, client, test_keys, contract_body(uuid.uuid4(), amount_fen=10_000_000), fund_id=fund["id"]
    )
    board = (await client.get("/api/v1/funds/dashboard", headers=official(test_keys))).json()
    assert board["funds"] == [
        {
            "year": 2027,
            "funds": 1,
            "budget_fen": 50_000_000,
            "committed_fen": 10_000_000,
            "spent_fen": 0,
            "contracted_fen": 10_000_000,
        }
    ]
    assert board["delivery"]["contracted_fen"] == 10_000_000
