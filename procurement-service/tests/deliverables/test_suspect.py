"""Suspect deliveries: a completed booking whose evidence booking-service found doubtful counts nowhere until an
official accepts it; a visit the provider missed becomes a supervision record of the funding contract."""

import asyncio
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
from fastapi import FastAPI
from nats.js import JetStreamContext
from procurement_builders import booking_completed, contract_body, publish, signed_contract
from sourcing_builders import deliver, official, provider_admin

from service_kit.events.contracts import BookingCompleted, BookingProviderMissed
from service_kit.events.envelope import Envelope
from service_kit.testing import TestKeys, assert_problem

COMPLETED_AT = datetime(2027, 5, 20, 3, 30, tzinfo=UTC)  # 11:30 in Beijing
REASONS = ("far_from_place", "unassigned_staff")


def suspect_completion(contract: dict[str, Any], provider_id: uuid.UUID, offering_id: uuid.UUID) -> BookingCompleted:
    event = booking_completed(
        offering_id=offering_id, provider_id=provider_id, occurred_at=COMPLETED_AT, funded_contract_id=contract["id"]
    )
    return event.model_copy(update={"suspect_reasons": REASONS})


async def contract_seen(client: httpx.AsyncClient, keys: TestKeys, contract_id: str) -> dict[str, Any]:
    response = await client.get(f"/api/v1/contracts/{contract_id}", headers=official(keys))
    assert response.status_code == 200, response.text
    return dict(response.json())


async def test_a_suspect_delivery_counts_only_once_an_official_accepts_it(
    app: FastAPI, client: httpx.AsyncClient, js: JetStreamContext, test_keys: TestKeys
) -> None:
    provider_id, offering_id = uuid.uuid4(), uuid.uuid4()
    contract = await signed_contract(app, client, test_keys, contract_body(provider_id, offering_id))
    event = suspect_completion(contract, provider_id, offering_id)
    envelope = Envelope.wrap(event, source="booking")
    # Redelivered: the same event id stored twice, and booking announcing it again under a new id.
    await publish(js, envelope)
    await publish(js, envelope, dedupe=False)
    await deliver(app, js, "deliverables", event, source="booking")

    deliverables = f"/api/v1/contracts/{contract['id']}/deliverables"
    # The provider sees its suspect deliverable, why, and that it waits for review.
    page = (await client.get(deliverables, headers=provider_admin(test_keys, provider_id))).json()
    assert page["total"] == 1
    (item,) = page["items"]
    assert (item["suspect_reasons"], item["review"]) == (list(REASONS), "pending")
    seen = await contract_seen(client, test_keys, contract["id"])
    assert (seen["delivered_count"], seen["delivered_value_fen"]) == (0, 0)

    accept = f"{deliverables}/{item['id']}/accept"
    body = assert_problem(await client.post(accept, json={}, headers=official(test_keys)), 422)
    assert body["errors"][0]["field"] == "reason"
    assert_problem(await client.post(accept, json={"reason": "  "}, headers=official(test_keys)), 422)
    assert_problem(
        await client.post(accept, json={"reason": "核实"}, headers=provider_admin(test_keys, provider_id)), 403
    )
    reason = {"reason": "已电话回访老人，服务属实"}
    accepted = await client.post(accept, json=reason, headers=official(test_keys))
    assert accepted.status_code == 200, accepted.text
    assert (accepted.json()["review"], accepted.json()["review_reason"]) == ("accepted", "已电话回访老人，服务属实")
    assert accepted.json()["reviewed_by"] == "official-wang"
    seen = await contract_seen(client, test_keys, contract["id"])
    assert (seen["delivered_count"], seen["delivered_value_fen"]) == (1, 1500)

    again = await client.post(f"{deliverables}/{item['id']}/reject", json=reason, headers=official(test_keys))
    assert_problem(again, 409, "deliverable_already_reviewed")
    trail = (await client.get(f"/api/v1/audit-trail/{contract['id']}", headers=official(test_keys))).json()
    reviews = [e for e in trail["items"] if e["action"] == "deliverable_accepted"]
    assert len(reviews) == 1
    assert reviews[0]["actor_subject"] == "official-wang"


async def test_a_rejected_suspect_delivery_never_counts_and_a_clean_one_needs_no_review(
    app: FastAPI, client: httpx.AsyncClient, js: JetStreamContext, test_keys: TestKeys
) -> None:
    provider_id, offering_id = uuid.uuid4(), uuid.uuid4()
    contract = await signed_contract(app, client, test_keys, contract_body(provider_id, offering_id))
    suspect = suspect_completion(contract, provider_id, offering_id)
    clean = booking_completed(
        offering_id=offering_id, provider_id=provider_id, occurred_at=COMPLETED_AT, funded_contract_id=contract["id"]
    )
    await deliver(app, js, "deliverables", suspect, clean, source="booking")
    deliverables = f"/api/v1/contracts/{contract['id']}/deliverables"
    items = {i["booking_id"]: i for i in (await client.get(deliverables, headers=official(test_keys))).json()["items"]}
    assert items[str(clean.booking_id)]["review"] is None
    assert (await contract_seen(client, test_keys, contract["id"]))["delivered_count"] == 1

    clean_id, suspect_id = items[str(clean.booking_id)]["id"], items[str(suspect.booking_id)]["id"]
    reason = {"reason": "签到地点距老人住址二十公里"}
    nothing = await client.post(f"{deliverables}/{clean_id}/reject", json=reason, headers=official(test_keys))
    assert_problem(nothing, 409, "deliverable_not_suspect")
    missing = await client.post(f"{deliverables}/{uuid.uuid4()}/reject", json=reason, headers=official(test_keys))
    assert_problem(missing, 404, "deliverable_not_found")

    # Two officials decide at once: one decision wins, the other is told it was already reviewed.
    decisions = await asyncio.gather(
        client.post(f"{deliverables}/{suspect_id}/reject", json=reason, headers=official(test_keys)),
        client.post(f"{deliverables}/{suspect_id}/accept", json=reason, headers=official(test_keys)),
    )
    assert sorted(r.status_code for r in decisions) == [200, 409]
    winner = next(r for r in decisions if r.status_code == 200).json()["review"]
    expected = 2 if winner == "accepted" else 1
    assert (await contract_seen(client, test_keys, contract["id"]))["delivered_count"] == expected


async def test_a_missed_visit_becomes_a_supervision_record_of_its_contract_once(
    app: FastAPI, client: httpx.AsyncClient, js: JetStreamContext, test_keys: TestKeys
) -> None:
    provider_id, offering_id = uuid.uuid4(), uuid.uuid4()
    contract = await signed_contract(app, client, test_keys, contract_body(provider_id, offering_id))
    completed = booking_completed(
        offering_id=offering_id, provider_id=provider_id, occurred_at=COMPLETED_AT, funded_contract_id=contract["id"]
    )
    missed = BookingProviderMissed(
        **{**completed.model_dump(exclude={"status"}), "status": "confirmed", "actor": "system:provider_missed"}
    )
    unfunded = BookingProviderMissed(**{**missed.model_dump(), "booking_id": uuid.uuid4(), "funded_contract_id": None})
    await deliver(app, js, "supervision", missed, missed, unfunded, source="booking")

    records = await client.get(f"/api/v1/contracts/{contract['id']}/supervision", headers=official(test_keys))
    assert records.status_code == 200, records.text
    assert records.json()["total"] == 1
    (record,) = records.json()["items"]
    assert (record["kind"], record["conclusion"]) == ("provider_missed", "unsatisfactory")
    assert record["booking_id"] == str(missed.booking_id)
    assert record["occurred_on"] == "2027-05-20"
    assert "服务未到" in record["findings"]
    assert "11:00–12:00" in record["findings"]
