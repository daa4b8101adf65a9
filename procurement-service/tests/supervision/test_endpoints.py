"""Implementation and supervision: progress reports, supervision records, complaints linked from feedback."""

import uuid
from datetime import UTC, datetime

import httpx
from fastapi import FastAPI
from nats.js import JetStreamContext
from procurement_builders import booking_completed, contract_body, signed_contract
from sourcing_builders import deliver, official, provider_admin

from service_kit.events.contracts import ComplaintOpened, ComplaintResolved
from service_kit.testing import TestKeys, assert_problem

IN_TERM = datetime(2027, 4, 1, 6, 0, tzinfo=UTC)


def complaint(kind: type[ComplaintOpened], complaint_id: uuid.UUID, at: datetime, **fields: object) -> ComplaintOpened:
    status = "submitted" if kind is ComplaintOpened else "resolved"
    return kind(
        complaint_id=complaint_id,
        category="service_quality",
        severity="normal",
        status=status,
        occurred_at=at,
        **fields,
    )


async def test_the_provider_reports_progress_and_officials_record_supervision(
    app: FastAPI, client: httpx.AsyncClient, test_keys: TestKeys
) -> None:
    provider_id = uuid.uuid4()
    contract = await signed_contract(app, client, test_keys, contract_body(provider_id))
    reports = f"/api/v1/contracts/{contract['id']}/progress-reports"
    report = {"period_start": "2027-01-01", "period_end": "2027-03-31", "summary": "第一季度助餐3200人次。"}
    created = await client.post(reports, json=report, headers=provider_admin(test_keys, provider_id))
    assert created.status_code == 201, created.text
    assert_problem(await client.post(reports, json=report, headers=official(test_keys)), 403)
    assert_problem(await client.post(reports, json=report, headers=provider_admin(test_keys, uuid.uuid4())), 404)
    reversed_period = {**report, "period_end": "2026-12-01"}
    assert_problem(
        await client.post(reports, json=reversed_period, headers=provider_admin(test_keys, provider_id)), 422
    )
    assert (await client.get(reports, headers=official(test_keys))).json()["total"] == 1

    supervision = f"/api/v1/contracts/{contract['id']}/supervision"
    visit = {
        "kind": "site_visit",
        "occurred_on": "2027-04-10",
        "location": "长阳镇老年餐桌",
        "findings": "餐食留样记录缺两天。",
        "conclusion": "rectification_required",
    }
    assert_problem(
        await client.post(supervision, json=visit, headers=official(test_keys)), 422, "rectification_due_missing"
    )
    recorded = await client.post(
        supervision, json={**visit, "rectification_due": "2027-04-30"}, headers=official(test_keys)
    )
    assert recorded.status_code == 201, recorded.text
    assert recorded.json()["recorded_by"] == "official-wang"
    assert_problem(await client.post(supervision, json=visit, headers=provider_admin(test_keys, provider_id)), 403)
    assert_problem(await client.post(supervision, json={**visit, "kind": "rumour"}, headers=official(test_keys)), 422)
    listing = await client.get(supervision, headers=provider_admin(test_keys, provider_id))
    assert [r["conclusion"] for r in listing.json()["items"]] == ["rectification_required"]
    trail = await client.get(f"/api/v1/audit-trail/{contract['id']}", headers=official(test_keys))
    assert [e["action"] for e in trail.json()["items"]] == ["progress_reported", "supervised"]


async def test_complaints_are_linked_to_the_contract_they_concern(
    app: FastAPI, client: httpx.AsyncClient, js: JetStreamContext, test_keys: TestKeys
) -> None:
    provider_id, offering_id = uuid.uuid4(), uuid.uuid4()
    contract = await signed_contract(app, client, test_keys, contract_body(provider_id, offering_id))
    delivered = booking_completed(
        offering_id=offering_id, provider_id=provider_id, occurred_at=IN_TERM, funded_contract_id=contract["id"]
    )
    await deliver(app, js, "deliverables", delivered, source="booking")

    by_booking, by_offering, unrelated = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    later = datetime(2027, 4, 3, 6, 0, tzinfo=UTC)
    await deliver(
        app,
        js,
        "supervision",
        complaint(ComplaintOpened, by_booking, IN_TERM, booking_id=delivered.booking_id, provider_id=provider_id),
        complaint(ComplaintOpened, by_offering, IN_TERM, provider_id=provider_id, offering_id=offering_id),
        complaint(ComplaintOpened, unrelated, IN_TERM, provider_id=uuid.uuid4()),
        complaint(ComplaintResolved, by_booking, later, booking_id=delivered.booking_id, provider_id=provider_id),
        # An older event arriving late changes nothing.
        complaint(ComplaintOpened, by_booking, IN_TERM, booking_id=delivered.booking_id, provider_id=provider_id),
        source="feedback",
    )
    linked = await client.get(
        f"/api/v1/contracts/{contract['id']}/complaints", headers=provider_admin(test_keys, provider_id)
    )
    assert linked.status_code == 200, linked.text
    got = {item["complaint_id"]: (item["linked_by"], item["status"]) for item in linked.json()["items"]}
    assert got == {str(by_booking): ("booking", "resolved"), str(by_offering): ("offering", "submitted")}
