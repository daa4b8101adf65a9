"""A contract carries its targets (绩效目标): the winning application's promises, or what the official states when
proposing a direct award (each funded offering's quota when they state none)."""

import uuid

import httpx
from fastapi import FastAPI
from procurement_builders import award_body, contract_body, create_contract, known_provider, new_fund, proposer

from service_kit.testing import TestKeys, assert_problem


async def test_a_direct_award_states_its_targets(app: FastAPI, client: httpx.AsyncClient, test_keys: TestKeys) -> None:
    provider_id, meals, visits = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    body = contract_body(provider_id, meals, visits)
    body["targets"] = [
        {"name": "助餐人次", "target": "1500人次", "offering_id": str(meals), "quantity": 1500},
        {"name": "服务满意度", "target": "≥ 90%"},
    ]
    contract = await create_contract(app, client, test_keys, body)
    assert contract["targets"] == [
        {"name": "助餐人次", "target": "1500人次", "offering_id": str(meals), "quantity": 1500},
        {"name": "服务满意度", "target": "≥ 90%", "offering_id": None, "quantity": None},
    ]
    # Stating none, each funded offering's quota is its target.
    plain = await create_contract(app, client, test_keys, contract_body(uuid.uuid4()))
    (target,) = plain["targets"]
    assert (target["quantity"], target["offering_id"]) == (2000, plain["funded_offerings"][0]["offering_id"])
    shown = await client.get(f"/api/v1/contracts/{contract['id']}", headers=test_keys.headers("official"))
    assert shown.json()["targets"] == contract["targets"]


async def test_bad_targets_are_refused_naming_the_field(
    app: FastAPI, client: httpx.AsyncClient, test_keys: TestKeys
) -> None:
    provider_id, meals = uuid.uuid4(), uuid.uuid4()
    await known_provider(app, provider_id, meals)
    fund = await new_fund(client, test_keys)
    measured = {"name": "助餐人次", "target": "100人次", "offering_id": str(meals), "quantity": 100}
    cases = [
        ([{**measured, "quantity": None}], "targets.0.quantity", "target_incomplete"),
        ([{**measured, "offering_id": None}], "targets.0.offering_id", "target_incomplete"),
        ([{**measured, "offering_id": str(uuid.uuid4())}], "targets.0.offering_id", "target_offering_not_funded"),
        ([measured, measured], "targets.1.offering_id", "duplicate_target"),
    ]
    for targets, field, code in cases:
        body = award_body({**contract_body(provider_id, meals), "targets": targets}, fund["id"])
        problem = assert_problem(await client.post("/api/v1/contracts", json=body, headers=proposer(test_keys)), 422)
        assert (problem["code"], [e["field"] for e in problem["errors"]]) == (code, [field])
    for bad in ([], [{"name": "x"}], [{**measured, "quantity": 0}], [{**measured, "extra": 1}]):
        body = award_body({**contract_body(provider_id, meals), "targets": bad}, fund["id"])
        assert_problem(await client.post("/api/v1/contracts", json=body, headers=proposer(test_keys)), 422)
    listing = await client.get("/api/v1/contracts", headers=test_keys.headers("official"))
    assert listing.json()["total"] == 0  # nothing created
