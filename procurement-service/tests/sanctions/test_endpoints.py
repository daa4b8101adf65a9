"""优胜劣汰: a failing provider is sanctioned, refused by the next calls, and restored by an official or in time."""

import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
from fastapi import FastAPI
from lifecycle_builders import acceptance_body, awarded_contract, deliver_services, evaluate, events_of
from nats.js import JetStreamContext
from procurement_builders import contract_body, signed_contract
from sourcing_builders import (
    application_body,
    create_fund,
    official,
    provider_admin,
    published_call,
)

from service_kit.events.contracts import ProviderRestored, ProviderSanctioned
from service_kit.testing import Clock, TestKeys, assert_problem

NEXT_DEADLINE = datetime(2027, 3, 1, 2, 0, tzinfo=UTC)


async def sanctions_of(client: httpx.AsyncClient, keys: TestKeys, provider_id: uuid.UUID) -> list[dict[str, Any]]:
    response = await client.get(f"/api/v1/sanctions?provider_id={provider_id}", headers=official(keys))
    assert response.status_code == 200, response.text
    return list(response.json()["items"])


async def test_a_low_final_score_sanctions_the_provider_until_an_official_lifts_it(
    app: FastAPI, client: httpx.AsyncClient, js: JetStreamContext, test_keys: TestKeys, clock: Clock
) -> None:
    _fund, contract, provider_id = await awarded_contract(app, client, js, test_keys, clock)
    await evaluate(client, test_keys, contract["id"], "midterm", purchaser=70, third_party=65)
    final = await evaluate(client, test_keys, contract["id"], "final", purchaser=50, third_party=55)
    # Nothing delivered, nothing rated, nothing paid: those parts add nothing; 20% × 50 + 20% × 55 = 21.
    assert (final["combined_score"], final["result"]) == (21.0, "failed")

    (sanction,) = await sanctions_of(client, test_keys, provider_id)
    assert (sanction["status"], sanction["cause"], sanction["rounds"], sanction["contract_id"]) == (
        "active",
        "final_score_below_threshold",
        2,
        contract["id"],
    )
    (event,) = await events_of(js, ProviderSanctioned.type, 1)
    assert (event["provider_id"], event["sanction_id"], event["measure"]) == (
        str(provider_id),
        sanction["id"],
        "excluded_from_calls",
    )

    # The next call refuses the provider, saying why.
    fund = await create_fund(client, test_keys)
    call = await published_call(client, test_keys, fund["id"], deadline=NEXT_DEADLINE.isoformat())
    applications = f"/api/v1/calls/{call['id']}/applications"
    refused = await client.post(applications, json=application_body(), headers=provider_admin(test_keys, provider_id))
    body = assert_problem(refused, 422, "provider_sanctioned")
    assert (body["rounds_remaining"], body["sanction_id"]) == (2, sanction["id"])
    assert sanction["reason"] in body["detail"]

    lift = f"/api/v1/sanctions/{sanction['id']}/lift"
    assert_problem(await client.post(lift, json={"reason": "x"}, headers=provider_admin(test_keys, provider_id)), 403)
    assert_problem(await client.post(lift, json={}, headers=official(test_keys)), 422)
    clock.advance(hours=1)
    lifted = await client.post(lift, json={"reason": "整改到位，经复核恢复资格"}, headers=official(test_keys))
    assert lifted.status_code == 200, lifted.text
    assert (lifted.json()["status"], lifted.json()["lift_reason"]) == ("lifted", "整改到位，经复核恢复资格")
    assert_problem(await client.post(lift, json={"reason": "again"}, headers=official(test_keys)), 409)
    (restored,) = await events_of(js, ProviderRestored.type, 1)
    assert (restored["provider_id"], restored["sanction_id"]) == (str(provider_id), sanction["id"])

    admitted = await client.post(applications, json=application_body(), headers=provider_admin(test_keys, provider_id))
    assert admitted.status_code == 201, admitted.text
    trail = await client.get(f"/api/v1/audit-trail/{sanction['id']}", headers=official(test_keys))
    assert [(e["action"], e["reason"]) for e in trail.json()["items"]] == [
        ("imposed", sanction["reason"]),
        ("lifted", "整改到位，经复核恢复资格"),
    ]


async def test_a_failed_acceptance_sanctions_and_the_sanction_runs_out_after_its_rounds(
    app: FastAPI, client: httpx.AsyncClient, js: JetStreamContext, test_keys: TestKeys, clock: Clock
) -> None:
    provider_id = uuid.uuid4()
    body = contract_body(provider_id)
    body["funded_offerings"][0]["quota"] = 10
    contract = await signed_contract(app, client, test_keys, body)
    fund = await create_fund(client, test_keys)
    # A call published before the sanction is no round of it.
    before = await published_call(client, test_keys, fund["id"], deadline=NEXT_DEADLINE.isoformat())
    await evaluate(client, test_keys, contract["id"], "midterm", purchaser=85, third_party=85)
    await deliver_services(app, js, contract, 10)
    final = await evaluate(client, test_keys, contract["id"], "final", purchaser=85, third_party=85)
    assert (final["combined_score"], final["result"]) == (64.0, "passed")  # 30 + 0 (nothing rated or paid) + 17 + 17
    clock.advance(hours=1)
    failed = await client.post(
        f"/api/v1/contracts/{contract['id']}/acceptance",
        json=acceptance_body("failed", summary="服务台账造假，验收不合格"),
        headers=official(test_keys),
    )
    assert failed.status_code == 201, failed.text
    (sanction,) = await sanctions_of(client, test_keys, provider_id)
    assert (sanction["cause"], sanction["status"]) == ("acceptance_failed", "active")
    (event,) = await events_of(js, ProviderSanctioned.type, 1)
    assert event["reason"].startswith("验收不合格")

    clock.advance(hours=1)
    rounds = [await published_call(client, test_keys, fund["id"], deadline=NEXT_DEADLINE.isoformat()) for _ in range(2)]
    clock.now = NEXT_DEADLINE
    assert (await client.post(f"/api/v1/calls/{before['id']}/close", headers=official(test_keys))).status_code == 200
    assert (await sanctions_of(client, test_keys, provider_id))[0]["rounds_served"] == 0
    await client.post(f"/api/v1/calls/{rounds[0]['id']}/close", headers=official(test_keys))
    assert (await sanctions_of(client, test_keys, provider_id))[0]["rounds_served"] == 1
    await client.post(f"/api/v1/calls/{rounds[1]['id']}/close", headers=official(test_keys))
    (served,) = await sanctions_of(client, test_keys, provider_id)
    assert (served["status"], served["rounds_served"]) == ("served", 2)
    (restored,) = await events_of(js, ProviderRestored.type, 1)
    assert restored["sanction_id"] == sanction["id"]


async def test_sanctions_are_for_officials(client: httpx.AsyncClient, test_keys: TestKeys) -> None:
    assert_problem(await client.get("/api/v1/sanctions", headers=provider_admin(test_keys, uuid.uuid4())), 403)
    assert_problem(await client.get("/api/v1/sanctions?status=forever", headers=official(test_keys)), 422)
    assert_problem(await client.get(f"/api/v1/sanctions/{uuid.uuid4()}", headers=official(test_keys)), 404)
    unknown = await client.post(
        f"/api/v1/sanctions/{uuid.uuid4()}/lift", json={"reason": "x"}, headers=official(test_keys)
    )
    assert_problem(unknown, 404, "sanction_not_found")
