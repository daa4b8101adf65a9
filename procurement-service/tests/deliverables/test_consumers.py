"""The deliverables consumer, fed real BookingCompleted events over NATS JetStream as booking-service publishes them."""

import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
from fastapi import FastAPI
from nats.js import JetStreamContext
from procurement_builders import booking_completed, contract_body, create_contract, publish, signed_contract

from service_kit.events.consumer import ConsumerRunner
from service_kit.events.envelope import Envelope
from service_kit.testing import TestKeys, eventually

COMPLETED_AT = datetime(2027, 5, 20, 3, 30, tzinfo=UTC)  # 11:30 in Beijing


def deliverables_runner(app: FastAPI) -> ConsumerRunner:
    (runner,) = [r for r in app.state.runtime.runners if r.durable == "procurement-deliverables"]
    return runner


async def handled(app: FastAPI, count: int) -> None:
    """Wait until the consumer has taken ``count`` events (applied or recognised as already applied)."""
    runner = deliverables_runner(app)
    await eventually(lambda: _true(runner.applied + runner.duplicates >= count))


async def _true(value: bool) -> bool:
    return value


async def get_contract(client: httpx.AsyncClient, keys: TestKeys, contract_id: str) -> dict[str, Any]:
    response = await client.get(f"/api/v1/contracts/{contract_id}", headers=keys.headers("official"))
    assert response.status_code == 200, response.text
    return dict(response.json())


async def deliverables_of(client: httpx.AsyncClient, keys: TestKeys, contract_id: str) -> dict[str, Any]:
    response = await client.get(f"/api/v1/contracts/{contract_id}/deliverables", headers=keys.headers("official"))
    assert response.status_code == 200, response.text
    return dict(response.json())


async def test_a_completed_funded_booking_becomes_a_deliverable(
    app: FastAPI, client: httpx.AsyncClient, js: JetStreamContext, test_keys: TestKeys
) -> None:
    provider_id, meals, visits = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    contract = await signed_contract(app, client, test_keys, contract_body(provider_id, meals, visits))
    event = booking_completed(
        offering_id=meals, provider_id=provider_id, occurred_at=COMPLETED_AT, funded_contract_id=contract["id"]
    )
    await publish(js, Envelope.wrap(event, source="booking"))

    async def delivered() -> dict[str, Any] | None:
        seen = await get_contract(client, test_keys, contract["id"])
        return seen if seen["delivered_count"] == 1 else None

    seen = await eventually(delivered)
    assert seen["delivered_value_fen"] == 1500
    by_offering = {f["offering_id"]: f for f in seen["funded_offerings"]}
    assert (by_offering[str(meals)]["delivered_count"], by_offering[str(meals)]["delivered_value_fen"]) == (1, 1500)
    assert (by_offering[str(visits)]["delivered_count"], by_offering[str(visits)]["delivered_value_fen"]) == (0, 0)

    page = await deliverables_of(client, test_keys, contract["id"])
    assert page["total"] == 1
    (deliverable,) = page["items"]
    assert deliverable["booking_id"] == str(event.booking_id)
    assert deliverable["offering_id"] == str(meals)
    assert deliverable["contract_id"] == contract["id"]
    assert deliverable["unit_price_fen"] == 1500
    assert datetime.fromisoformat(deliverable["delivered_at"]) == COMPLETED_AT


async def test_the_same_event_delivered_again_counts_once(
    app: FastAPI, client: httpx.AsyncClient, js: JetStreamContext, test_keys: TestKeys
) -> None:
    provider_id, offering_id = uuid.uuid4(), uuid.uuid4()
    contract = await signed_contract(app, client, test_keys, contract_body(provider_id, offering_id))
    event = booking_completed(
        offering_id=offering_id, provider_id=provider_id, occurred_at=COMPLETED_AT, funded_contract_id=contract["id"]
    )
    envelope = Envelope.wrap(event, source="booking")
    await publish(js, envelope)
    # The same event id again, stored by JetStream as a second message (as after its duplicate window):
    # the inbox recognises it.
    await publish(js, envelope, dedupe=False)
    # booking-service announcing the same completion under a new event id: the booking counts once.
    await publish(js, Envelope.wrap(event, source="booking"))
    await handled(app, 3)

    runner = deliverables_runner(app)
    assert runner.duplicates == 1
    assert runner.applied == 2
    assert (await get_contract(client, test_keys, contract["id"]))["delivered_count"] == 1
    assert (await deliverables_of(client, test_keys, contract["id"]))["total"] == 1


async def test_a_booking_the_contract_did_not_fund_is_not_its_deliverable(
    app: FastAPI, client: httpx.AsyncClient, js: JetStreamContext, test_keys: TestKeys
) -> None:
    """A resident who paid the full ¥15 (no subsidy, no funded_contract_id) was served by the provider, not
    for the district: counting it on the contract funding the offering would pay the service twice."""
    provider_id, offering_id = uuid.uuid4(), uuid.uuid4()
    contract = await signed_contract(app, client, test_keys, contract_body(provider_id, offering_id))
    unfunded = booking_completed(offering_id=offering_id, provider_id=provider_id, occurred_at=COMPLETED_AT)
    assert (unfunded.funded_contract_id, unfunded.subsidy_fen) == (None, 0)
    funded = booking_completed(
        offering_id=offering_id, provider_id=provider_id, occurred_at=COMPLETED_AT, funded_contract_id=contract["id"]
    )
    await publish(js, Envelope.wrap(unfunded, source="booking"))
    await publish(js, Envelope.wrap(funded, source="booking"))
    await handled(app, 2)

    page = await deliverables_of(client, test_keys, contract["id"])
    assert [d["booking_id"] for d in page["items"]] == [str(funded.booking_id)]
    seen = await get_contract(client, test_keys, contract["id"])
    assert (seen["delivered_count"], seen["delivered_value_fen"]) == (1, 1500)


async def test_a_funded_booking_counts_on_its_contract_whenever_it_completes(
    app: FastAPI, client: httpx.AsyncClient, js: JetStreamContext, test_keys: TestKeys
) -> None:
    """The contract that funded a booking pays for it, even completed past midnight at the end of its term
    (31 December 2027 at 16:30 UTC is already 1 January 2028 in Beijing)."""
    provider_id, offering_id = uuid.uuid4(), uuid.uuid4()
    contract = await signed_contract(
        app, client, test_keys, contract_body(provider_id, offering_id, start="2027-01-01", end="2027-12-31")
    )
    late = booking_completed(
        offering_id=offering_id,
        provider_id=provider_id,
        occurred_at=datetime(2027, 12, 31, 16, 30, tzinfo=UTC),
        funded_contract_id=contract["id"],
    )
    await publish(js, Envelope.wrap(late, source="booking"))
    await handled(app, 1)

    page = await deliverables_of(client, test_keys, contract["id"])
    assert [d["booking_id"] for d in page["items"]] == [str(late.booking_id)]


async def test_bookings_no_active_contract_of_theirs_funded_are_not_counted(
    app: FastAPI, client: httpx.AsyncClient, js: JetStreamContext, test_keys: TestKeys
) -> None:
    provider_id, shared, draft_only, terminated_only = uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    # One offering, funded by one contract at a time: this year's and next year's.
    first = await signed_contract(app, client, test_keys, contract_body(provider_id, shared))
    second = await signed_contract(
        app, client, test_keys, contract_body(provider_id, shared, start="2028-01-01", end="2028-12-31")
    )
    draft = await create_contract(app, client, test_keys, contract_body(provider_id, draft_only))
    ended = await signed_contract(app, client, test_keys, contract_body(provider_id, terminated_only))
    response = await client.post(
        f"/api/v1/contracts/{ended['id']}/terminate", json={"reason": "合同解除"}, headers=test_keys.headers("official")
    )
    assert response.status_code == 200

    events = [
        # The booking was not funded: the resident paid in full; no contract pays for it.
        booking_completed(offering_id=shared, provider_id=provider_id, occurred_at=COMPLETED_AT),
        # A named contract that was never signed.
        booking_completed(
            offering_id=draft_only, provider_id=provider_id, occurred_at=COMPLETED_AT, funded_contract_id=draft["id"]
        ),
        # A named contract that does not fund the booked offering.
        booking_completed(
            offering_id=uuid.uuid4(), provider_id=provider_id, occurred_at=COMPLETED_AT, funded_contract_id=first["id"]
        ),
        # A contract that is not ours at all.
        booking_completed(
            offering_id=shared, provider_id=provider_id, occurred_at=COMPLETED_AT, funded_contract_id=uuid.uuid4()
        ),
        # Another provider delivering an offering id that our provider's contract funds.
        booking_completed(
            offering_id=shared, provider_id=uuid.uuid4(), occurred_at=COMPLETED_AT, funded_contract_id=first["id"]
        ),
    ]
    for event in events:
        await publish(js, Envelope.wrap(event, source="booking"))
    # Then one that does count, naming its contract: after it, every earlier event was handled.
    counted = booking_completed(
        offering_id=shared, provider_id=provider_id, occurred_at=COMPLETED_AT, funded_contract_id=second["id"]
    )
    # A booking that kept the subsidy of the contract terminated before its visit (booking-service honours the
    # price it quoted): the ended contract still owes the delivery (procurement.kept).
    kept = booking_completed(
        offering_id=terminated_only, provider_id=provider_id, occurred_at=COMPLETED_AT, funded_contract_id=ended["id"]
    )
    await publish(js, Envelope.wrap(counted, source="booking"))
    await publish(js, Envelope.wrap(kept, source="booking"))
    await handled(app, len(events) + 2)

    expectations = ((first, []), (second, [str(counted.booking_id)]), (draft, []), (ended, [str(kept.booking_id)]))
    for contract, expected in expectations:
        page = await deliverables_of(client, test_keys, contract["id"])
        assert [d["booking_id"] for d in page["items"]] == expected
    assert deliverables_runner(app).dead_lettered == 0
