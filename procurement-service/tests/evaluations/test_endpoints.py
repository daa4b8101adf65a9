"""Evaluations: the purchaser, the residents served (their ratings) and a third-party evaluator, weighted."""

import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from lifecycle_builders import evaluate, evaluator
from nats.js import JetStreamContext
from procurement_builders import booking_completed, contract_body, signed_contract
from sourcing_builders import assert_problem, deliver, official, provider_admin

from service_kit.events.contracts import ScoreUpdated
from service_kit.testing import TestKeys


async def contract_with_quota(
    app: FastAPI, client: httpx.AsyncClient, keys: TestKeys, quota: int = 4
) -> tuple[dict[str, Any], uuid.UUID, uuid.UUID]:
    provider_id, offering_id = uuid.uuid4(), uuid.uuid4()
    body = contract_body(provider_id, offering_id)
    body["funded_offerings"][0]["quota"] = quota
    return await signed_contract(app, client, keys, body), provider_id, offering_id


def provider_score(provider_id: uuid.UUID, score: float, count: int) -> ScoreUpdated:
    return ScoreUpdated(
        subject_kind="provider", subject_id=provider_id, provider_id=provider_id, score=score, rating_count=count
    )


async def test_three_parties_are_weighted_and_kpi_attainment_is_shown_beside(
    app: FastAPI, client: httpx.AsyncClient, js: JetStreamContext, test_keys: TestKeys
) -> None:
    contract, provider_id, offering_id = await contract_with_quota(app, client, test_keys, quota=4)
    # Three of four promised services delivered (one booking counted twice by a redelivery: still three).
    completed = [
        booking_completed(
            offering_id=offering_id,
            provider_id=provider_id,
            occurred_at=datetime(2027, 3, day, 6, 0, tzinfo=UTC),
            funded_contract_id=contract["id"],
        )
        for day in (1, 2, 3)
    ]
    await deliver(app, js, "deliverables", *completed, completed[0], source="booking")
    # The residents rate the provider 4.5 stars; an older score (fewer ratings) arriving late is ignored.
    await deliver(
        app,
        js,
        "evaluations",
        provider_score(provider_id, 4.5, 12),
        provider_score(provider_id, 2.0, 3),
        source="feedback",
    )

    midterm = await evaluate(client, test_keys, contract["id"], "midterm", purchaser=80, third_party=70)
    assert midterm["status"] == "finalized"
    assert (midterm["purchaser_score"], midterm["third_party_score"], midterm["recipients_score"]) == (80, 70, 90)
    assert midterm["recipients_rating_count"] == 12
    assert midterm["weights"] == {"purchaser": 40, "recipients": 30, "third_party": 30}
    assert midterm["combined_score"] == 80.0  # 0.4 × 80 + 0.3 × 90 + 0.3 × 70
    assert midterm["kpi"]["promised"] == 4
    assert midterm["kpi"]["delivered"] == 3
    assert midterm["kpi"]["attainment_percent"] == 75.0

    listing = await client.get(
        f"/api/v1/contracts/{contract['id']}/evaluations", headers=provider_admin(test_keys, provider_id)
    )
    assert [e["stage"] for e in listing.json()["items"]] == ["midterm"]
    trail = await client.get(f"/api/v1/audit-trail/{contract['id']}", headers=official(test_keys))
    assert [e["action"] for e in trail.json()["items"]] == [
        "evaluation_opened",
        "evaluation_scored",
        "evaluation_scored",
        "evaluation_finalized",
    ]


async def test_without_ratings_the_other_weights_fill_the_recipients_share(
    app: FastAPI, client: httpx.AsyncClient, test_keys: TestKeys
) -> None:
    contract, _, _ = await contract_with_quota(app, client, test_keys)
    midterm = await evaluate(client, test_keys, contract["id"], "midterm", purchaser=80, third_party=70)
    assert midterm["recipients_score"] is None
    assert midterm["weights"] == {"purchaser": 57.14, "recipients": 0, "third_party": 42.86}
    assert midterm["combined_score"] == pytest.approx(75.71)  # (40 × 80 + 30 × 70) / 70


async def test_evaluation_steps_are_guarded(app: FastAPI, client: httpx.AsyncClient, test_keys: TestKeys) -> None:
    contract, provider_id, _ = await contract_with_quota(app, client, test_keys)
    base = f"/api/v1/contracts/{contract['id']}/evaluations"
    final_first = await client.post(base, json={"stage": "final"}, headers=official(test_keys))
    assert_problem(final_first, 409, "midterm_not_finalized")
    assert_problem(await client.post(f"{base}/midterm/scores", json={"score": 80}, headers=official(test_keys)), 404)
    assert (await client.post(base, json={"stage": "midterm"}, headers=official(test_keys))).status_code == 201
    assert_problem(await client.post(base, json={"stage": "midterm"}, headers=official(test_keys)), 409)

    mine = provider_admin(test_keys, provider_id)
    assert_problem(await client.post(f"{base}/midterm/scores", json={"score": 100}, headers=mine), 403)
    for bad in ({"score": 101}, {"score": -1}, {"score": "high"}, {}, {"score": 80, "x": 1}):
        assert_problem(await client.post(f"{base}/midterm/scores", json=bad, headers=official(test_keys)), 422)
    assert_problem(await client.post(f"{base}/yearly/scores", json={"score": 1}, headers=official(test_keys)), 422)

    scored = await client.post(f"{base}/midterm/scores", json={"score": 85.5}, headers=official(test_keys))
    assert scored.json()["purchaser_score"] == 85.5
    again = await client.post(f"{base}/midterm/scores", json={"score": 90}, headers=official(test_keys))
    assert_problem(again, 409, "already_scored")
    missing = await client.post(f"{base}/midterm/finalize", headers=official(test_keys))
    assert_problem(missing, 409, "scores_missing")
    await client.post(f"{base}/midterm/scores", json={"score": 75}, headers=evaluator(test_keys))
    assert (await client.post(f"{base}/midterm/finalize", headers=official(test_keys))).status_code == 200
    assert_problem(await client.post(f"{base}/midterm/finalize", headers=official(test_keys)), 409)
    late = await client.post(f"{base}/midterm/scores", json={"score": 75}, headers=evaluator(test_keys))
    assert_problem(late, 409, "evaluation_finalized")
