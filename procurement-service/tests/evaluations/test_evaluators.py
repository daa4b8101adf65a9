"""Only the evaluators an official assigned to a contract score it as the third party, after declaring that they
have no conflict of interest — the rule expert reviewers follow for applications."""

import asyncio
import uuid
from typing import Any

import httpx
from fastapi import FastAPI
from lifecycle_builders import evaluator
from procurement_builders import contract_body, signed_contract
from sourcing_builders import official, provider_admin

from service_kit.testing import TestKeys, assert_problem


async def midterm_of_a_signed_contract(
    app: FastAPI, client: httpx.AsyncClient, keys: TestKeys, provider_id: uuid.UUID
) -> tuple[dict[str, Any], str, str]:
    """An official opens the mid-term evaluation of a new contract with ``provider_id``: the contract, and the URLs
    of its evaluators and its mid-term scores."""
    contract = await signed_contract(app, client, keys, contract_body(provider_id))
    opened = await client.post(
        f"/api/v1/contracts/{contract['id']}/evaluations", json={"stage": "midterm"}, headers=official(keys)
    )
    assert opened.status_code == 201, opened.text
    return (
        contract,
        f"/api/v1/contracts/{contract['id']}/evaluators",
        f"/api/v1/contracts/{contract['id']}/evaluations/midterm/scores",
    )


async def test_an_unassigned_or_conflicted_evaluator_cannot_score(
    app: FastAPI, client: httpx.AsyncClient, test_keys: TestKeys
) -> None:
    provider_id = uuid.uuid4()
    _, evaluators, scores = await midterm_of_a_signed_contract(app, client, test_keys, provider_id)

    # Any evaluator account used to score any contract; an unassigned one is refused now.
    stranger = test_keys.headers("evaluator", sub="evaluator-other", name="别家评估")
    refused = assert_problem(await client.post(scores, json={"score": 95}, headers=stranger), 403)
    assert refused["code"] == "evaluator_not_assigned"
    assert "not assigned" in refused["detail"]
    assert_problem(
        await client.post(f"{evaluators}/declaration", json={"conflict": False}, headers=stranger),
        403,
        "evaluator_not_assigned",
    )

    # An official assigns; the provider's admin and the evaluator cannot assign.
    body = {"evaluator_subject": "evaluator-zhongcheng", "evaluator_name": "中诚评估"}
    for headers in (provider_admin(test_keys, provider_id), evaluator(test_keys)):
        assert_problem(await client.post(evaluators, json=body, headers=headers), 403)
    for bad in ({}, {**body, "evaluator_subject": ""}, {**body, "x": 1}, {**body, "linked_provider_ids": ["x"]}):
        assert_problem(await client.post(evaluators, json=bad, headers=official(test_keys)), 422)
    assigned = await client.post(evaluators, json=body, headers=official(test_keys))
    assert assigned.status_code == 201, assigned.text
    assert (assigned.json()["evaluator_subject"], assigned.json()["conflict"]) == ("evaluator-zhongcheng", None)
    assert_problem(await client.post(evaluators, json=body, headers=official(test_keys)), 409, "already_assigned")

    # Assigned but not declared yet: 409, declare first.
    undeclared = await client.post(scores, json={"score": 95}, headers=evaluator(test_keys))
    assert_problem(undeclared, 409, "declaration_required")
    declared = await client.post(
        f"{evaluators}/declaration", json={"conflict": False, "note": "无关联"}, headers=evaluator(test_keys)
    )
    assert (declared.status_code, declared.json()["conflict"]) == (201, False)
    again = await client.post(f"{evaluators}/declaration", json={"conflict": True}, headers=evaluator(test_keys))
    assert_problem(again, 409, "already_declared")
    scored = await client.post(scores, json={"score": 95}, headers=evaluator(test_keys))
    assert (scored.status_code, scored.json()["third_party_score"]) == (200, 95)

    listing = await client.get(evaluators, headers=official(test_keys))
    assert [(e["evaluator_subject"], e["conflict"]) for e in listing.json()["items"]] == [
        ("evaluator-zhongcheng", False)
    ]


async def test_a_linked_or_self_declared_evaluator_is_kept_from_scoring(
    app: FastAPI, client: httpx.AsyncClient, test_keys: TestKeys
) -> None:
    provider_id = uuid.uuid4()
    contract, evaluators, scores = await midterm_of_a_signed_contract(app, client, test_keys, provider_id)
    linked = test_keys.headers("evaluator", sub="evaluator-linked")
    honest = test_keys.headers("evaluator", sub="evaluator-honest")
    await client.post(
        evaluators,
        json={
            "evaluator_subject": "evaluator-linked",
            "evaluator_name": "关联评估",
            "linked_provider_ids": [str(provider_id)],
        },
        headers=official(test_keys),
    )
    await client.post(
        evaluators,
        json={"evaluator_subject": "evaluator-honest", "evaluator_name": "如实申报"},
        headers=official(test_keys),
    )
    # Recorded as linked: cannot declare that there is no conflict, nor score after declaring one.
    lie = await client.post(f"{evaluators}/declaration", json={"conflict": False}, headers=linked)
    assert_problem(lie, 409, "conflict_of_interest")
    assert (await client.post(f"{evaluators}/declaration", json={"conflict": True}, headers=linked)).status_code == 201
    assert_problem(await client.post(scores, json={"score": 99}, headers=linked), 409, "conflict_of_interest")
    # Declaring a conflict oneself keeps one from scoring too.
    await client.post(f"{evaluators}/declaration", json={"conflict": True, "note": "曾任其顾问"}, headers=honest)
    assert_problem(await client.post(scores, json={"score": 99}, headers=honest), 409, "conflict_of_interest")
    midterm = await client.get(f"/api/v1/contracts/{contract['id']}/evaluations/midterm", headers=official(test_keys))
    assert midterm.json()["third_party_score"] is None


async def test_racing_assignments_and_declarations_count_once(
    app: FastAPI, client: httpx.AsyncClient, test_keys: TestKeys
) -> None:
    contract = await signed_contract(app, client, test_keys, contract_body(uuid.uuid4()))
    evaluators = f"/api/v1/contracts/{contract['id']}/evaluators"
    body = {"evaluator_subject": "evaluator-zhongcheng", "evaluator_name": "中诚评估"}
    first, second = await asyncio.gather(
        client.post(evaluators, json=body, headers=official(test_keys)),
        client.post(evaluators, json=body, headers=official(test_keys)),
    )
    assert sorted([first.status_code, second.status_code]) == [201, 409], [first.text, second.text]
    declarations = await asyncio.gather(
        client.post(f"{evaluators}/declaration", json={"conflict": False}, headers=evaluator(test_keys)),
        client.post(f"{evaluators}/declaration", json={"conflict": True}, headers=evaluator(test_keys)),
    )
    assert sorted(d.status_code for d in declarations) == [201, 409], [d.text for d in declarations]
    winner = next(d for d in declarations if d.status_code == 201).json()
    (stored,) = (await client.get(evaluators, headers=official(test_keys))).json()["items"]
    assert stored["conflict"] == winner["conflict"]
