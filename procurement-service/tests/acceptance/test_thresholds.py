"""Thresholds gate money: acceptance (验收) and the last installment need the KPI attainment at the configured
threshold; below it the official is told the way forward (a bilateral settlement or the sanction process), and
the last installment is never paid without a passed acceptance."""

import uuid
from typing import Any

import httpx
from fastapi import FastAPI
from lifecycle_builders import (
    acceptance_body,
    awarded_contract,
    deliver_services,
    evaluate,
    voucher,
)
from nats.js import JetStreamContext
from procurement_builders import contract_body, signed_contract
from sourcing_builders import official, provider_admin

from service_kit.testing import Clock, TestKeys, assert_problem

SIGNED_ON = "2026-11-27"  # the day the ``clock`` fixture signs a direct award


async def test_one_of_sixty_five_delivered_is_refused_acceptance_and_its_last_installment(
    app: FastAPI, client: httpx.AsyncClient, js: JetStreamContext, test_keys: TestKeys, clock: Clock
) -> None:
    _fund, contract, provider_id = await awarded_contract(
        app, client, js, test_keys, clock, quota=65, promised=65, amount_fen=200_000
    )
    cid = contract["id"]
    offering_id = contract["funded_offerings"][0]["offering_id"]
    # The winning application's promises are the contract's targets: 65 services of the offering, measured; its
    # KPIs, stated.
    assert contract["targets"] == [
        {"name": "服务人次", "target": "65人次", "offering_id": offering_id, "quantity": 65},
        {"name": "服务满意度", "target": "≥ 90%", "offering_id": None, "quantity": None},
        {"name": "助餐人次", "target": "12000", "offering_id": None, "quantity": None},
    ]
    pay = f"/api/v1/contracts/{cid}/disbursements"
    assert (await client.post(pay, json=voucher(1), headers=official(test_keys))).status_code == 201
    await evaluate(client, test_keys, cid, "midterm", purchaser=90, third_party=85)
    assert (await client.post(pay, json=voucher(2), headers=official(test_keys))).status_code == 201
    await deliver_services(app, js, contract, 1)
    final = await evaluate(client, test_keys, cid, "final", purchaser=90, third_party=85)
    assert final["kpi"]["attainment_percent"] == 1.54
    assert final["result"] == "failed"
    assert final["combined_score"] < 60  # it used to be 87.14

    accept = f"/api/v1/contracts/{cid}/acceptance"
    for result, extra in (("passed", {}), ("conditional", {"conditions": "补齐服务"})):
        refused = await client.post(accept, json=acceptance_body(result, **extra), headers=official(test_keys))
        problem = assert_problem(refused, 409, "attainment_below_threshold")
        assert (problem["attainment_percent"], problem["threshold_percent"]) == (1.54, 80)
        assert (problem["delivered"], problem["promised"]) == (1, 65)
        assert problem["ways_forward"] == ["settlement_amendment", "sanction"]
        assert problem["amendments_path"] == f"/api/v1/contracts/{cid}/amendments"
        assert "bilateral settlement" in problem["detail"]
        assert "sanction" in problem["detail"]
    assert_problem(
        await client.post(pay, json=voucher(3), headers=official(test_keys)), 409, "installment_condition_not_met"
    )
    assert (await client.get(accept)).status_code == 404  # nothing was recorded

    # The way forward chosen here: a bilateral settlement lowering the funded quota to what was delivered.
    amendments = f"/api/v1/contracts/{cid}/amendments"
    funded = {k: contract["funded_offerings"][0][k] for k in ("offering_id", "unit_price_fen", "resident_price_fen")}
    proposed = await client.post(
        amendments,
        json={
            "summary": "结算：服务人次按实际完成1人次结算",
            "reason": "服务未按约完成，双方协商结算",
            "funded_offerings": [{**funded, "quota": 1, "eligibility_tags": ["80+"]}],
        },
        headers=official(test_keys),
    )
    assert proposed.status_code == 201, proposed.text
    approved = await client.post(
        f"{amendments}/{proposed.json()['id']}/approve", json={}, headers=provider_admin(test_keys, provider_id)
    )
    assert approved.status_code == 200, approved.text
    passed = await client.post(accept, json=acceptance_body(), headers=official(test_keys))
    assert passed.status_code == 201, passed.text
    assert (await client.post(pay, json=voucher(3), headers=official(test_keys))).status_code == 201


async def test_the_sanction_process_stays_open_below_the_threshold(
    app: FastAPI, client: httpx.AsyncClient, js: JetStreamContext, test_keys: TestKeys, clock: Clock
) -> None:
    _fund, contract, provider_id = await awarded_contract(app, client, js, test_keys, clock, quota=9)
    await evaluate(client, test_keys, contract["id"], "midterm", purchaser=95, third_party=95)
    await deliver_services(app, js, contract, 7)  # 77.78%, below 80%
    final = await evaluate(client, test_keys, contract["id"], "final", purchaser=95, third_party=95)
    # 30% × 77.78 + 20% × 95 × 2 = 61.33: above the sanction threshold, yet the attainment does not pass.
    assert (final["combined_score"], final["result"]) == (61.33, "failed")
    refused = await client.post(
        f"/api/v1/contracts/{contract['id']}/acceptance", json=acceptance_body(), headers=official(test_keys)
    )
    assert_problem(refused, 409, "attainment_below_threshold")
    failed = await client.post(
        f"/api/v1/contracts/{contract['id']}/acceptance",
        json=acceptance_body("failed", summary="服务人次未达合同约定"),
        headers=official(test_keys),
    )
    assert (failed.status_code, failed.json()["result"]) == (201, "failed")
    sanctions = (await client.get(f"/api/v1/sanctions?provider_id={provider_id}", headers=official(test_keys))).json()
    assert [s["cause"] for s in sanctions["items"]] == ["acceptance_failed"]


async def test_the_last_installment_waits_for_a_passed_acceptance_whatever_the_plan_says(
    app: FastAPI, client: httpx.AsyncClient, js: JetStreamContext, test_keys: TestKeys, clock: Clock
) -> None:
    body: dict[str, Any] = contract_body(uuid.uuid4(), amount_fen=100_000)
    body["funded_offerings"][0]["quota"] = 10
    body["installments"] = [
        {"condition": "on_signing", "amount_fen": 50_000},
        {"condition": "after_midterm_evaluation", "amount_fen": 50_000},
    ]
    contract = await signed_contract(app, client, test_keys, body)
    pay = f"/api/v1/contracts/{contract['id']}/disbursements"
    assert (await client.post(pay, json=voucher(1, SIGNED_ON), headers=official(test_keys))).status_code == 201
    await evaluate(client, test_keys, contract["id"], "midterm", purchaser=90, third_party=90)
    refused = await client.post(pay, json=voucher(2, SIGNED_ON), headers=official(test_keys))
    problem = assert_problem(refused, 409, "acceptance_not_passed")
    assert problem["installment_seq"] == 2
    await deliver_services(app, js, contract, 10)
    await evaluate(client, test_keys, contract["id"], "final", purchaser=90, third_party=90)
    accepted = await client.post(
        f"/api/v1/contracts/{contract['id']}/acceptance", json=acceptance_body(), headers=official(test_keys)
    )
    assert accepted.status_code == 201, accepted.text
    paid = await client.post(pay, json=voucher(2, SIGNED_ON), headers=official(test_keys))
    assert paid.status_code == 201, paid.text
    after = (await client.get(f"/api/v1/contracts/{contract['id']}", headers=official(test_keys))).json()
    assert after["disbursed_fen"] == 100_000
