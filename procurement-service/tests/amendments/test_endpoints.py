"""Contracts change only bilaterally: amendments and terminations take effect when the other party approves."""

import asyncio
import uuid
from typing import Any

import httpx
from fastapi import FastAPI
from lifecycle_builders import events_of
from nats.js import JetStreamContext
from procurement_builders import contract_body, signed_contract
from sourcing_builders import official, provider_admin

from service_kit.events.contracts import ContractAmended, ContractTerminated
from service_kit.testing import TestKeys, assert_problem

AMOUNT = 10_000_000  # 10 万元


async def active_contract(app: FastAPI, client: httpx.AsyncClient, keys: TestKeys) -> tuple[dict[str, Any], uuid.UUID]:
    provider_id = uuid.uuid4()
    return await signed_contract(app, client, keys, contract_body(provider_id, amount_fen=AMOUNT)), provider_id


def supplement(fen: int, **overrides: Any) -> dict[str, Any]:
    return {"summary": "增加助餐服务人次", "reason": "需求增长", "supplement_fen": fen, **overrides}


async def contract_of(client: httpx.AsyncClient, keys: TestKeys, contract_id: str) -> dict[str, Any]:
    response = await client.get(f"/api/v1/contracts/{contract_id}", headers=official(keys))
    return dict(response.json())


async def test_an_amendment_takes_effect_only_when_the_provider_approves(
    app: FastAPI, client: httpx.AsyncClient, js: JetStreamContext, test_keys: TestKeys
) -> None:
    contract, provider_id = await active_contract(app, client, test_keys)
    base = f"/api/v1/contracts/{contract['id']}/amendments"
    proposed = await client.post(base, json=supplement(1_000_000, end_date="2027-12-31"), headers=official(test_keys))
    assert proposed.status_code == 201, proposed.text
    amendment = proposed.json()
    assert (amendment["status"], amendment["proposed_by_party"]) == ("proposed", "purchaser")

    # Proposed by one side, nothing has changed yet.
    unchanged = await contract_of(client, test_keys, contract["id"])
    assert (unchanged["amount_fen"], unchanged["version"], unchanged["supplement_fen"]) == (AMOUNT, 1, 0)

    # The proposer cannot approve its own, nor can another official of the same side.
    own = await client.post(f"{base}/{amendment['id']}/approve", json={}, headers=official(test_keys))
    assert_problem(own, 403, "own_proposal")
    colleague = test_keys.headers("official", sub="official-li")
    assert_problem(await client.post(f"{base}/{amendment['id']}/approve", json={}, headers=colleague), 403)
    # Neither an evaluator nor another provider is a party.
    evaluator = test_keys.headers("evaluator")
    assert_problem(await client.post(f"{base}/{amendment['id']}/approve", json={}, headers=evaluator), 403)
    stranger = provider_admin(test_keys, uuid.uuid4())
    assert_problem(await client.post(f"{base}/{amendment['id']}/approve", json={}, headers=stranger), 404)

    approved = await client.post(
        f"{base}/{amendment['id']}/approve", json={"reason": "同意"}, headers=provider_admin(test_keys, provider_id)
    )
    assert approved.status_code == 200, approved.text
    assert (approved.json()["status"], approved.json()["resulting_version"]) == ("approved", 2)
    assert approved.json()["decided_by_party"] == "provider"
    again = await client.post(
        f"{base}/{amendment['id']}/approve", json={}, headers=provider_admin(test_keys, provider_id)
    )
    assert_problem(again, 409, "invalid_transition")

    amended = await contract_of(client, test_keys, contract["id"])
    assert (amended["amount_fen"], amended["original_amount_fen"], amended["supplement_fen"]) == (
        AMOUNT + 1_000_000,
        AMOUNT,
        1_000_000,
    )
    assert amended["version"] == 2
    # The supplement is paid with the last installment.
    assert [i["amount_fen"] for i in amended["installments"]] == [3_000_000, 4_000_000, 4_000_000]

    versions = await client.get(f"/api/v1/contracts/{contract['id']}/versions", headers=official(test_keys))
    assert [(v["version"], v["amendment_id"], v["terms"]["amount_fen"]) for v in versions.json()["items"]] == [
        (1, None, AMOUNT),
        (2, amendment["id"], AMOUNT + 1_000_000),
    ]
    (event,) = await events_of(js, ContractAmended.type, 1)
    assert (event["contract_id"], event["amount_fen"]) == (contract["id"], AMOUNT + 1_000_000)

    history = await client.get(f"/api/v1/contracts/{contract['id']}/history", headers=official(test_keys))
    assert [e["action"] for e in history.json()["items"]] == [
        "created",
        "award_approved",
        "purchaser_signed",
        "signed",
        "amended",
    ]
    trail = await client.get(f"/api/v1/audit-trail/{contract['id']}", headers=official(test_keys))
    assert [e["action"] for e in trail.json()["items"]] == ["amendment_proposed", "amendment_approved"]
    assert trail.json()["items"][0]["reason"] == "需求增长"


async def test_a_provider_proposes_and_the_purchaser_approves_or_rejects(
    app: FastAPI, client: httpx.AsyncClient, test_keys: TestKeys
) -> None:
    contract, provider_id = await active_contract(app, client, test_keys)
    base = f"/api/v1/contracts/{contract['id']}/amendments"
    mine = provider_admin(test_keys, provider_id)
    first = (await client.post(base, json=supplement(500_000), headers=mine)).json()
    assert first["proposed_by_party"] == "provider"
    assert_problem(await client.post(f"{base}/{first['id']}/approve", json={}, headers=mine), 403, "own_proposal")
    assert_problem(await client.post(f"{base}/{first['id']}/reject", json={"reason": "x"}, headers=mine), 403)
    rejected = await client.post(
        f"{base}/{first['id']}/reject", json={"reason": "预算不足"}, headers=official(test_keys)
    )
    assert (rejected.status_code, rejected.json()["status"]) == (200, "rejected")
    assert_problem(await client.post(f"{base}/{first['id']}/approve", json={}, headers=official(test_keys)), 409)

    second = (await client.post(base, json=supplement(500_000), headers=mine)).json()
    assert_problem(await client.post(f"{base}/{second['id']}/withdraw", json={}, headers=official(test_keys)), 403)
    withdrawn = await client.post(f"{base}/{second['id']}/withdraw", json={}, headers=mine)
    assert (withdrawn.status_code, withdrawn.json()["status"]) == (200, "withdrawn")
    assert (await contract_of(client, test_keys, contract["id"]))["amount_fen"] == AMOUNT

    listing = await client.get(base, headers=mine)
    assert [a["status"] for a in listing.json()["items"]] == ["rejected", "withdrawn"]


async def test_a_supplement_of_more_than_a_tenth_is_refused(
    app: FastAPI, client: httpx.AsyncClient, test_keys: TestKeys
) -> None:
    contract, provider_id = await active_contract(app, client, test_keys)
    base = f"/api/v1/contracts/{contract['id']}/amendments"
    too_much = await client.post(base, json=supplement(1_200_000), headers=official(test_keys))  # 12%
    body = assert_problem(too_much, 422, "supplement_above_limit")
    assert (body["limit_fen"], body["original_amount_fen"]) == (1_000_000, AMOUNT)
    assert_problem(await client.post(base, json=supplement(1_000_001), headers=official(test_keys)), 422)

    tenth = await client.post(base, json=supplement(1_000_000), headers=official(test_keys))  # exactly 10%
    assert tenth.status_code == 201, tenth.text
    approved = await client.post(
        f"{base}/{tenth.json()['id']}/approve", json={}, headers=provider_admin(test_keys, provider_id)
    )
    assert approved.status_code == 200, approved.text
    # The tenth is used up: even one more fen is refused.
    assert_problem(
        await client.post(base, json=supplement(1), headers=official(test_keys)), 422, "supplement_above_limit"
    )

    for bad in (
        {"summary": "x", "reason": "y"},  # changes nothing
        supplement(-1),
        supplement(1.5),
        supplement("100"),
        supplement(1, extra=True),
        supplement(0, end_date="2029-01-01"),  # beyond a one-year term
    ):
        assert_problem(await client.post(base, json=bad, headers=official(test_keys)), 422)


async def test_two_supplements_approved_at_once_never_exceed_a_tenth(
    app: FastAPI, client: httpx.AsyncClient, test_keys: TestKeys
) -> None:
    contract, provider_id = await active_contract(app, client, test_keys)
    base = f"/api/v1/contracts/{contract['id']}/amendments"
    # Each 6% fits alone; together 12% do not.
    first = (await client.post(base, json=supplement(600_000), headers=official(test_keys))).json()
    second = (await client.post(base, json=supplement(600_000), headers=official(test_keys))).json()
    mine = provider_admin(test_keys, provider_id)
    responses = await asyncio.gather(
        client.post(f"{base}/{first['id']}/approve", json={}, headers=mine),
        client.post(f"{base}/{second['id']}/approve", json={}, headers=mine),
    )
    assert sorted(r.status_code for r in responses) == [200, 422], [r.text for r in responses]
    loser = next(r for r in responses if r.status_code == 422)
    assert_problem(loser, 422, "supplement_above_limit")
    after = await contract_of(client, test_keys, contract["id"])
    assert (after["supplement_fen"], after["amount_fen"], after["version"]) == (600_000, AMOUNT + 600_000, 2)
    statuses = sorted(a["status"] for a in (await client.get(base, headers=mine)).json()["items"])
    assert statuses == ["approved", "proposed"]


async def test_termination_is_bilateral_or_for_cause(
    app: FastAPI, client: httpx.AsyncClient, js: JetStreamContext, test_keys: TestKeys
) -> None:
    contract, provider_id = await active_contract(app, client, test_keys)
    base = f"/api/v1/contracts/{contract['id']}/terminations"
    mine = provider_admin(test_keys, provider_id)
    # Only the purchaser terminates for cause; the provider proposes.
    assert_problem(
        await client.post(base, json={"reason": "经营困难", "for_cause": True}, headers=mine),
        403,
        "for_cause_by_purchaser",
    )
    proposed = await client.post(base, json={"reason": "机构经营困难，协商终止"}, headers=mine)
    assert proposed.status_code == 201, proposed.text
    termination = proposed.json()
    assert_problem(
        await client.post(base, json={"reason": "再次"}, headers=official(test_keys)), 409, "termination_pending"
    )
    assert (await contract_of(client, test_keys, contract["id"]))["status"] == "active"
    assert_problem(await client.post(f"{base}/{termination['id']}/approve", json={}, headers=mine), 403)

    approved = await client.post(f"{base}/{termination['id']}/approve", json={}, headers=official(test_keys))
    assert approved.status_code == 200, approved.text
    ended = await contract_of(client, test_keys, contract["id"])
    assert (ended["status"], ended["termination_reason"]) == ("terminated", "机构经营困难，协商终止")
    (event,) = await events_of(js, ContractTerminated.type, 1)
    assert event["reason"] == "机构经营困难，协商终止"
    # Nothing changes a terminated contract.
    amend = await client.post(
        f"/api/v1/contracts/{contract['id']}/amendments", json=supplement(1), headers=official(test_keys)
    )
    assert_problem(amend, 409, "contract_not_active")


async def test_the_purchaser_terminates_for_cause_with_a_reason(
    app: FastAPI, client: httpx.AsyncClient, test_keys: TestKeys
) -> None:
    contract, _ = await active_contract(app, client, test_keys)
    base = f"/api/v1/contracts/{contract['id']}/terminations"
    ended = await client.post(base, json={"reason": "虚报服务人次", "for_cause": True}, headers=official(test_keys))
    assert ended.status_code == 201, ended.text
    assert (ended.json()["status"], ended.json()["for_cause"]) == ("approved", True)
    assert (await contract_of(client, test_keys, contract["id"]))["status"] == "terminated"
    trail = await client.get(f"/api/v1/audit-trail/{contract['id']}", headers=official(test_keys))
    (entry,) = trail.json()["items"]
    assert (entry["action"], entry["reason"], entry["actor_subject"]) == (
        "terminated_for_cause",
        "虚报服务人次",
        "official-wang",
    )
    again = await client.post(base, json={"reason": "again", "for_cause": True}, headers=official(test_keys))
    assert_problem(again, 409)


async def test_unknown_amendments_and_contracts_are_not_found(
    app: FastAPI, client: httpx.AsyncClient, test_keys: TestKeys
) -> None:
    contract, _ = await active_contract(app, client, test_keys)
    unknown = uuid.uuid4()
    url = f"/api/v1/contracts/{contract['id']}/amendments/{unknown}/approve"
    assert_problem(await client.post(url, json={}, headers=official(test_keys)), 404, "amendment_not_found")
    other = f"/api/v1/contracts/{unknown}/amendments"
    assert_problem(await client.post(other, json=supplement(1), headers=official(test_keys)), 404, "contract_not_found")
    terminations = f"/api/v1/contracts/{contract['id']}/terminations/{unknown}"
    assert_problem(await client.get(terminations, headers=official(test_keys)), 404)


async def test_an_amendment_may_change_the_funded_offerings_and_the_term(
    app: FastAPI, client: httpx.AsyncClient, js: JetStreamContext, test_keys: TestKeys
) -> None:
    contract, provider_id = await active_contract(app, client, test_keys)
    offering = contract["funded_offerings"][0]
    new_terms = {
        "summary": "助餐配额增至3000人次，服务期不变",
        "reason": "80岁以上老人增加",
        "supplement_fen": 900_000,
        "end_date": "2027-11-30",
        "funded_offerings": [
            {
                "offering_id": offering["offering_id"],
                "unit_price_fen": 1500,
                "resident_price_fen": 200,
                "quota": 7000,
                "eligibility_tags": ["80+"],
            }
        ],
    }
    base = f"/api/v1/contracts/{contract['id']}/amendments"
    too_dear = {**new_terms, "supplement_fen": 0}  # 7000 × 15 元 exceeds the 10 万元 without the supplement
    assert_problem(
        await client.post(base, json=too_dear, headers=provider_admin(test_keys, provider_id)),
        422,
        "funded_value_exceeds_amount",
    )
    proposed = await client.post(base, json=new_terms, headers=provider_admin(test_keys, provider_id))
    assert proposed.status_code == 201, proposed.text
    approved = await client.post(f"{base}/{proposed.json()['id']}/approve", json={}, headers=official(test_keys))
    assert approved.status_code == 200, approved.text
    amended = await contract_of(client, test_keys, contract["id"])
    assert (amended["end_date"], amended["amount_fen"]) == ("2027-11-30", AMOUNT + 900_000)
    assert [(o["quota"], o["resident_price_fen"], o["eligibility_tags"]) for o in amended["funded_offerings"]] == [
        (7000, 200, ["80+"])
    ]
    (event,) = await events_of(js, ContractAmended.type, 1)
    assert (event["end_date"], event["funded_offerings"][0]["quota"]) == ("2027-11-30", 7000)
