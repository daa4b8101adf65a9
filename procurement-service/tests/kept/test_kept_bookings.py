"""A terminated contract still pays for the residents' bookings that kept its subsidy: their value stays committed
until each is delivered (and paid by a settlement) or lapses (and goes back to the fund). Every yuan of it is
accounted for, whatever order booking's events arrive in and however often."""

import asyncio
import uuid
from datetime import UTC, timedelta
from typing import Any

import httpx
from fastapi import FastAPI
from lifecycle_builders import AFTER_NOTICE, awarded_contract, voucher
from nats.js import JetStreamContext
from ocds_validation import releases_page
from procurement_builders import booking_completed
from sourcing_builders import deliver, official, provider_admin

from service_kit.events.contracts import BookingCancelled, ContractFundingKept, KeptBooking
from service_kit.testing import Clock, TestKeys, assert_problem

UNIT = 1500  # the contract's unit price for the funded offering (awarded_contract)
ENDED_AT = AFTER_NOTICE + timedelta(days=2)


async def fund_of(client: httpx.AsyncClient, keys: TestKeys, fund_id: str) -> dict[str, Any]:
    fund = dict((await client.get(f"/api/v1/funds/{fund_id}", headers=official(keys))).json())
    assert fund["spent_fen"] + fund["outstanding_fen"] + fund["remaining_fen"] == fund["budget_fen"]
    assert fund["spent_fen"] + fund["outstanding_fen"] == fund["committed_fen"]
    return fund


async def contract_of(client: httpx.AsyncClient, keys: TestKeys, contract_id: str) -> dict[str, Any]:
    return dict((await client.get(f"/api/v1/contracts/{contract_id}", headers=official(keys))).json())


async def terminated(
    app: FastAPI, client: httpx.AsyncClient, js: JetStreamContext, keys: TestKeys, clock: Clock
) -> tuple[dict[str, Any], dict[str, Any]]:
    """A contract of 20,000 yuan, its first installment (6,000 yuan) paid, terminated for cause."""
    fund, contract, _ = await awarded_contract(app, client, js, keys, clock, amount_fen=20_000_000)
    paid = await client.post(
        f"/api/v1/contracts/{contract['id']}/disbursements", json=voucher(1), headers=official(keys)
    )
    assert paid.status_code == 201, paid.text
    clock.now = ENDED_AT
    ended = await client.post(
        f"/api/v1/contracts/{contract['id']}/terminations",
        json={"reason": "服务严重不达标", "for_cause": True},
        headers=official(keys),
    )
    assert ended.status_code == 201, ended.text
    return fund, await contract_of(client, keys, contract["id"])


def kept_report(contract: dict[str, Any], *booking_ids: uuid.UUID) -> ContractFundingKept:
    offering_id = uuid.UUID(contract["funded_offerings"][0]["offering_id"])
    return ContractFundingKept(
        contract_id=contract["id"],
        cause="terminated",
        bookings=tuple(KeptBooking(booking_id=b, offering_id=offering_id, subsidy_fen=1200) for b in booking_ids),
        occurred_at=ENDED_AT + timedelta(seconds=5),
    )


def completed(contract: dict[str, Any], booking_id: uuid.UUID, *, days: int = 1, **extra: Any) -> Any:
    event = booking_completed(
        offering_id=uuid.UUID(contract["funded_offerings"][0]["offering_id"]),
        provider_id=uuid.UUID(contract["provider_id"]),
        occurred_at=ENDED_AT + timedelta(days=days),
        funded_contract_id=contract["id"],
        booking_id=booking_id,
    )
    return event.model_copy(update=extra)


def cancelled(contract: dict[str, Any], booking_id: uuid.UUID) -> BookingCancelled:
    done = completed(contract, booking_id)
    return BookingCancelled(**{**done.model_dump(), "status": "cancelled", "actor": "resident"})


async def settle(
    client: httpx.AsyncClient, keys: TestKeys, clock: Clock, contract_id: str, **overrides: Any
) -> httpx.Response:
    clock.now = ENDED_AT + timedelta(days=5)
    body = voucher(9, paid_on=clock.now.astimezone(UTC).date().isoformat(), **overrides)
    return await client.post(f"/api/v1/contracts/{contract_id}/disbursements", json=body, headers=official(keys))


async def test_kept_bookings_stay_committed_until_delivered_and_paid_or_lapsed(
    app: FastAPI, client: httpx.AsyncClient, js: JetStreamContext, test_keys: TestKeys, clock: Clock
) -> None:
    fund, contract = await terminated(app, client, js, test_keys, clock)
    cid = contract["id"]
    # Terminated: the unpaid 14,000 yuan stay held until booking-service says what the residents keep.
    assert (contract["status"], contract["kept_fen"], contract["kept_reported"]) == ("terminated", 14_000_000, False)
    assert (await fund_of(client, test_keys, fund["id"]))["committed_fen"] == 20_000_000

    # Three residents keep their upcoming bookings at the price they were told: three units stay committed.
    lunch, bath, visit = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    await deliver(app, js, "kept-bookings", kept_report(contract, lunch, bath, visit), source="booking")
    seen = await contract_of(client, test_keys, cid)
    assert (seen["kept_fen"], seen["kept_reported"]) == (3 * UNIT, True)
    fund_now = await fund_of(client, test_keys, fund["id"])
    assert (fund_now["committed_fen"], fund_now["spent_fen"]) == (6_000_000 + 3 * UNIT, 6_000_000)

    # One resident cancels: that unit goes back to the fund. Nothing is delivered yet, so nothing is paid.
    await deliver(app, js, "kept-bookings", cancelled(contract, visit), source="booking")
    assert (await contract_of(client, test_keys, cid))["kept_fen"] == 2 * UNIT
    assert_problem(await settle(client, test_keys, clock, cid), 409, "nothing_kept_to_pay")

    # Two are delivered after the termination: deliverables of the contract, at its unit price.
    await deliver(app, js, "deliverables", completed(contract, lunch), completed(contract, bath), source="booking")
    listed = await client.get(f"/api/v1/contracts/{cid}/deliverables", headers=official(test_keys))
    assert sorted(d["booking_id"] for d in listed.json()["items"]) == sorted([str(lunch), str(bath)])
    kept = (await client.get(f"/api/v1/contracts/{cid}/kept-bookings", headers=official(test_keys))).json()
    assert {k["booking_id"]: k["state"] for k in kept["items"]} == {
        str(lunch): "delivered",
        str(bath): "delivered",
        str(visit): "lapsed",
    }

    # The official pays them with one settlement: to the provider, from the fund, for exactly what was delivered.
    wrong = await settle(client, test_keys, clock, cid, amount_fen=3 * UNIT)
    assert_problem(wrong, 422, "amount_not_due")
    assert "2 delivered kept bookings not yet paid come to 3000 fen" in wrong.json()["detail"]
    paid = await settle(client, test_keys, clock, cid)
    assert paid.status_code == 201, paid.text
    assert (paid.json()["amount_fen"], paid.json()["condition"], paid.json()["installment_seq"]) == (
        2 * UNIT,
        "kept_bookings_delivered",
        4,  # after the plan's three installments
    )
    seen = await contract_of(client, test_keys, cid)
    assert (seen["kept_fen"], seen["disbursed_fen"]) == (0, 6_000_000 + 2 * UNIT)
    fund_now = await fund_of(client, test_keys, fund["id"])
    assert (fund_now["committed_fen"], fund_now["spent_fen"]) == (6_000_000 + 2 * UNIT, 6_000_000 + 2 * UNIT)
    # The provider sees the settlement, and nothing is paid twice.
    by_provider = provider_admin(test_keys, uuid.UUID(contract["provider_id"]))
    payments = (await client.get(f"/api/v1/contracts/{cid}/disbursements", headers=by_provider)).json()["items"]
    assert [(p["condition"], p["amount_fen"]) for p in payments] == [
        ("on_signing", 6_000_000),
        ("kept_bookings_delivered", 2 * UNIT),
    ]
    assert_problem(await settle(client, test_keys, clock, cid), 409, "nothing_kept_to_pay")
    # The public sees the settlement as what it is (valid OCDS): a payment, not a fourth installment of the plan.
    package = await releases_page(client, limit=50)
    settled = [
        milestone
        for release in package["releases"]
        for published in release.get("contracts", [])
        if published["id"] == cid
        for milestone in published.get("milestones", [])
        if milestone["id"].startswith("kept-settlement")
    ]
    assert [(m["id"], m["type"], m["status"]) for m in settled] == [("kept-settlement-4", "payment", "met")]


async def test_events_in_any_order_and_repeated_change_the_money_once(
    app: FastAPI, client: httpx.AsyncClient, js: JetStreamContext, test_keys: TestKeys, clock: Clock
) -> None:
    fund, contract = await terminated(app, client, js, test_keys, clock)
    cid = contract["id"]
    early_done, early_gone, later = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    # A delivery and a cancellation reach procurement before booking's report, which still lists neither
    # (booking made its report later) or lists one of them again (a redelivered copy).
    await deliver(app, js, "deliverables", completed(contract, early_done), source="booking")
    await deliver(app, js, "kept-bookings", cancelled(contract, early_gone), source="booking")
    report = kept_report(contract, later, early_gone)
    await deliver(app, js, "kept-bookings", report, source="booking")
    await deliver(
        app, js, "kept-bookings", report.model_copy(update={"occurred_at": report.occurred_at}), source="booking"
    )
    # Owed: the delivered one and the open one; the cancelled one is not held.
    assert (await contract_of(client, test_keys, cid))["kept_fen"] == 2 * UNIT
    assert (await fund_of(client, test_keys, fund["id"]))["committed_fen"] == 6_000_000 + 2 * UNIT
    # The open one is completed twice (a redelivery): counted once.
    await deliver(app, js, "deliverables", completed(contract, later), completed(contract, later), source="booking")
    paid = await settle(client, test_keys, clock, cid)
    assert paid.status_code == 201, paid.text
    assert paid.json()["amount_fen"] == 2 * UNIT
    assert (await fund_of(client, test_keys, fund["id"]))["outstanding_fen"] == 0


async def test_a_suspect_kept_delivery_is_paid_only_once_accepted_and_given_back_once_rejected(
    app: FastAPI, client: httpx.AsyncClient, js: JetStreamContext, test_keys: TestKeys, clock: Clock
) -> None:
    fund, contract = await terminated(app, client, js, test_keys, clock)
    cid = contract["id"]
    doubtful = uuid.uuid4()
    await deliver(app, js, "kept-bookings", kept_report(contract, doubtful), source="booking")
    await deliver(
        app,
        js,
        "deliverables",
        completed(contract, doubtful, suspect_reasons=("completed_too_fast",)),
        source="booking",
    )
    # Pending review: still held, not payable.
    assert (await contract_of(client, test_keys, cid))["kept_fen"] == UNIT
    assert_problem(await settle(client, test_keys, clock, cid), 409, "nothing_kept_to_pay")
    listed = (await client.get(f"/api/v1/contracts/{cid}/deliverables", headers=official(test_keys))).json()
    (deliverable,) = listed["items"]
    rejected = await client.post(
        f"/api/v1/contracts/{cid}/deliverables/{deliverable['id']}/reject",
        json={"reason": "服务时长仅3分钟，回访居民称未提供服务。"},
        headers=official(test_keys),
    )
    assert rejected.status_code == 200, rejected.text
    # Rejected: nothing is owed, and the unit goes back to the fund.
    assert (await contract_of(client, test_keys, cid))["kept_fen"] == 0
    fund_now = await fund_of(client, test_keys, fund["id"])
    assert (fund_now["committed_fen"], fund_now["outstanding_fen"]) == (6_000_000, 0)


async def test_a_delivery_before_the_termination_is_the_contract_s_as_before(
    app: FastAPI, client: httpx.AsyncClient, js: JetStreamContext, test_keys: TestKeys, clock: Clock
) -> None:
    """booking completed the visit while the contract was active; procurement learns of it after the termination:
    a deliverable of the contract like any other, not a kept booking to pay again."""
    _, contract = await terminated(app, client, js, test_keys, clock)
    booking_id = uuid.uuid4()
    before_end = completed(contract, booking_id, days=-1)
    await deliver(app, js, "deliverables", before_end, source="booking")
    await deliver(app, js, "kept-bookings", kept_report(contract), source="booking")
    listed = (await client.get(f"/api/v1/contracts/{contract['id']}/deliverables", headers=official(test_keys))).json()
    assert [d["booking_id"] for d in listed["items"]] == [str(booking_id)]
    kept = (await client.get(f"/api/v1/contracts/{contract['id']}/kept-bookings", headers=official(test_keys))).json()
    assert kept["total"] == 0
    assert (await contract_of(client, test_keys, contract["id"]))["kept_fen"] == 0


async def test_two_officials_settling_at_once_pay_once(
    app: FastAPI, client: httpx.AsyncClient, js: JetStreamContext, test_keys: TestKeys, clock: Clock
) -> None:
    fund, contract = await terminated(app, client, js, test_keys, clock)
    cid = contract["id"]
    delivered = [uuid.uuid4() for _ in range(3)]
    await deliver(app, js, "kept-bookings", kept_report(contract, *delivered), source="booking")
    await deliver(app, js, "deliverables", *(completed(contract, b) for b in delivered), source="booking")
    clock.now = ENDED_AT + timedelta(days=5)
    day = clock.now.astimezone(UTC).date().isoformat()
    answers = await asyncio.gather(
        *(
            client.post(
                f"/api/v1/contracts/{cid}/disbursements", json=voucher(n, paid_on=day), headers=official(test_keys)
            )
            for n in range(4)
        )
    )
    assert sorted(a.status_code for a in answers) == [201, 409, 409, 409], [a.text for a in answers]
    for refused in (a for a in answers if a.status_code == 409):
        assert refused.json()["code"] in {"nothing_kept_to_pay", "disbursement_conflict"}
    fund_now = await fund_of(client, test_keys, fund["id"])
    assert (fund_now["spent_fen"], fund_now["outstanding_fen"]) == (6_000_000 + 3 * UNIT, 0)
    seen = await contract_of(client, test_keys, cid)
    assert (seen["kept_fen"], seen["disbursed_fen"]) == (0, 6_000_000 + 3 * UNIT)
