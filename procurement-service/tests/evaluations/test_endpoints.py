"""Evaluations decide: quantity against the targets, the quality this contract's recipients report, fund use, the
purchaser and an assigned third-party evaluator, each part scored or explicitly missing, never re-weighted."""

import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
from fastapi import FastAPI
from lifecycle_builders import assign_evaluator, deliver_services, evaluate, evaluator
from nats.js import JetStreamContext
from procurement_builders import contract_body, signed_contract
from sourcing_builders import deliver, official, provider_admin

from service_kit.events.contracts import RatingSubmitted, ScoreUpdated
from service_kit.testing import TestKeys, assert_problem


async def contract_with_quota(
    app: FastAPI, client: httpx.AsyncClient, keys: TestKeys, quota: int = 4, **overrides: Any
) -> tuple[dict[str, Any], uuid.UUID, uuid.UUID]:
    provider_id, offering_id = uuid.uuid4(), uuid.uuid4()
    body = contract_body(provider_id, offering_id, **overrides)
    body["funded_offerings"][0]["quota"] = quota
    return await signed_contract(app, client, keys, body), provider_id, offering_id


def rating(booking_id: uuid.UUID, provider_id: uuid.UUID, offering_id: uuid.UUID, stars: int) -> RatingSubmitted:
    return RatingSubmitted(
        rating_id=uuid.uuid4(),
        booking_id=booking_id,
        provider_id=provider_id,
        offering_id=offering_id,
        stars=stars,
        submitted_at=datetime(2027, 3, 5, 2, 0, tzinfo=UTC),
    )


async def test_each_part_is_scored_from_this_contracts_own_data(
    app: FastAPI, client: httpx.AsyncClient, js: JetStreamContext, test_keys: TestKeys
) -> None:
    contract, provider_id, offering_id = await contract_with_quota(app, client, test_keys, quota=4)
    assert [(t["offering_id"], t["quantity"]) for t in contract["targets"]] == [(str(offering_id), 4)]
    # Three of four promised services delivered (a redelivered booking still counts once).
    bookings = await deliver_services(app, js, contract, 3)
    # Two of this contract's residents rate 5 and 3 stars; a rating of another booking of the same provider
    # (not funded by this contract) and the provider's overall score do not count; a redelivery changes nothing.
    ratings = [rating(bookings[0], provider_id, offering_id, 5), rating(bookings[1], provider_id, offering_id, 3)]
    elsewhere = rating(uuid.uuid4(), provider_id, offering_id, 1)
    await deliver(app, js, "evaluation-ratings", *ratings, elsewhere, ratings[0], source="feedback")
    overall = ScoreUpdated(
        subject_kind="provider", subject_id=provider_id, provider_id=provider_id, score=1.0, rating_count=50
    )
    await deliver(app, js, "evaluations", overall, source="feedback")
    # A callback reaches a resident who is satisfied.
    callbacks = f"/api/v1/contracts/{contract['id']}/callbacks"
    operator = test_keys.headers("operator", sub="operator-zhao")
    drawn = (await client.post(callbacks, headers=operator)).json()
    recorded = await client.post(
        f"{callbacks}/{drawn['id']}/result", json={"reached": True, "satisfied": True}, headers=operator
    )
    assert recorded.status_code == 200, recorded.text

    midterm = await evaluate(client, test_keys, contract["id"], "midterm", purchaser=80, third_party=70)
    parts = midterm["parts"]
    assert (parts["quantity"]["state"], parts["quantity"]["score"], parts["quantity"]["weight"]) == ("scored", 75, 30)
    assert parts["quantity"]["basis"]["attainment_percent"] == 75.0
    # Quality: the ratings' mean (4 stars = 80) and the callbacks (1 of 1 reached satisfied = 100), averaged.
    assert (parts["quality"]["state"], parts["quality"]["score"]) == ("scored", 90)
    assert (parts["quality"]["basis"]["rating_count"], parts["quality"]["basis"]["callbacks_reached"]) == (2, 1)
    assert (midterm["recipients_score"], midterm["recipients_rating_count"]) == (90, 2)
    # Nothing paid yet: fund use has no data; it is missing, shown, and adds nothing.
    assert (parts["fund_use"]["state"], parts["fund_use"]["score"], parts["fund_use"]["weight"]) == (
        "missing",
        None,
        10,
    )
    assert midterm["missing_parts"] == ["fund_use"]
    # 30% × 75 + 20% × 90 + 10% × nothing + 20% × 80 + 20% × 70 = 70.5
    assert midterm["combined_score"] == 70.5
    assert midterm["weights"] == {"purchaser": 20, "recipients": 20, "third_party": 20}
    assert (midterm["kpi"]["promised"], midterm["kpi"]["delivered"], midterm["kpi"]["attainment_percent"]) == (
        4,
        3,
        75.0,
    )
    # 75% attainment is below the 80% acceptance needs: the evaluation does not pass.
    assert (midterm["result"], midterm["attainment_threshold"]) == ("failed", 80)

    listing = await client.get(
        f"/api/v1/contracts/{contract['id']}/evaluations", headers=provider_admin(test_keys, provider_id)
    )
    assert [e["stage"] for e in listing.json()["items"]] == ["midterm"]
    trail = await client.get(f"/api/v1/audit-trail/{contract['id']}", headers=official(test_keys))
    assert [e["action"] for e in trail.json()["items"]] == [
        "callback_drawn",
        "callback_recorded",
        "evaluator_assigned",
        "no_conflict_declared",
        "evaluation_opened",
        "evaluation_scored",
        "evaluation_scored",
        "evaluation_finalized",
    ]


async def test_missing_parts_keep_their_weight_and_missing_quantity_is_never_passed(
    app: FastAPI, client: httpx.AsyncClient, test_keys: TestKeys
) -> None:
    """The old rule spread the recipients' 30% over the other two when nobody had rated: 87.14 for a contract
    that delivered nothing. Now a part without data is missing, and a contract whose quantity cannot be measured
    (its direct award stated no measured target) is incomplete, however well the two evaluators score it."""
    provider_id = uuid.uuid4()
    body = contract_body(provider_id)
    body["targets"] = [{"name": "服务满意度", "target": "≥ 90%"}]
    contract = await signed_contract(app, client, test_keys, body)
    assert contract["targets"] == [{"name": "服务满意度", "target": "≥ 90%", "offering_id": None, "quantity": None}]
    midterm = await evaluate(client, test_keys, contract["id"], "midterm", purchaser=90, third_party=88)
    assert midterm["missing_parts"] == ["quantity", "quality", "fund_use"]
    assert midterm["recipients_score"] is None
    assert midterm["combined_score"] == 35.6  # 20% × 90 + 20% × 88, nothing more
    assert midterm["result"] == "incomplete"
    opened = await client.get(f"/api/v1/contracts/{contract['id']}/evaluations/midterm", headers=official(test_keys))
    assert opened.json()["parts"]["quantity"] == {
        "state": "missing",
        "score": None,
        "weight": 30,
        "basis": {"promised": None, "delivered": None, "attainment_percent": None},
    }


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
    # While open, the parts are shown as they stand.
    assert scored.json()["parts"]["third_party"]["state"] == "missing"
    again = await client.post(f"{base}/midterm/scores", json={"score": 90}, headers=official(test_keys))
    assert_problem(again, 409, "already_scored")
    missing = await client.post(f"{base}/midterm/finalize", headers=official(test_keys))
    assert_problem(missing, 409, "scores_missing")
    await assign_evaluator(client, test_keys, contract["id"])
    await client.post(f"{base}/midterm/scores", json={"score": 75}, headers=evaluator(test_keys))
    assert (await client.post(f"{base}/midterm/finalize", headers=official(test_keys))).status_code == 200
    assert_problem(await client.post(f"{base}/midterm/finalize", headers=official(test_keys)), 409)
    late = await client.post(f"{base}/midterm/scores", json={"score": 75}, headers=evaluator(test_keys))
    assert_problem(late, 409, "evaluation_finalized")
