"""Disbursements by installment, each once its condition is met, never beyond the contract, from its fund."""

import asyncio
import json
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
from fastapi import FastAPI
from lifecycle_builders import acceptance_body, awarded_contract, deliver_services, evaluate, events_of, voucher
from nats.js import JetStreamContext
from procurement_builders import PROVIDER_NAME, contract_body, create_contract, new_fund, signed_contract
from sourcing_builders import deliver, official, provider_admin
from sqlalchemy import update

from procurement.config import Settings
from procurement.contracts.models import Contract
from service_kit.db import create_engine
from service_kit.events.contracts import ContractFundingKept, NoticePublished
from service_kit.testing import Clock, TestKeys, assert_problem

# The day the ``clock`` fixture signs a contract (27 November 2026, in Beijing).
SIGNED_ON = "2026-11-27"


async def fund_of(client: httpx.AsyncClient, keys: TestKeys, fund_id: str) -> dict[str, Any]:
    fund = dict((await client.get(f"/api/v1/funds/{fund_id}", headers=official(keys))).json())
    # However the money moves, the fund adds up.
    assert fund["spent_fen"] + fund["outstanding_fen"] + fund["remaining_fen"] == fund["budget_fen"]
    assert fund["spent_fen"] + fund["outstanding_fen"] == fund["committed_fen"]
    return fund


async def test_a_contract_is_paid_installment_by_installment_and_never_beyond_its_amount(
    app: FastAPI, client: httpx.AsyncClient, js: JetStreamContext, test_keys: TestKeys, clock: Clock
) -> None:
    fund, contract, provider_id = await awarded_contract(app, client, js, test_keys, clock, amount_fen=20_000_000)
    cid = contract["id"]
    pay = f"/api/v1/contracts/{cid}/disbursements"
    assert [(i["condition"], i["amount_fen"]) for i in contract["installments"]] == [
        ("on_signing", 6_000_000),
        ("after_midterm_evaluation", 8_000_000),
        ("after_acceptance", 6_000_000),
    ]
    # A 10% supplement, approved by both parties, is committed from the fund and paid with the last installment.
    amendments = f"/api/v1/contracts/{cid}/amendments"
    proposed = await client.post(
        amendments,
        json={"summary": "增加探访", "reason": "需求增长", "supplement_fen": 2_000_000},
        headers=official(test_keys),
    )
    approved = await client.post(
        f"{amendments}/{proposed.json()['id']}/approve", json={}, headers=provider_admin(test_keys, provider_id)
    )
    assert approved.status_code == 200, approved.text
    assert (await fund_of(client, test_keys, fund["id"]))["committed_fen"] == 22_000_000

    first = await client.post(pay, json=voucher(1), headers=official(test_keys))
    assert first.status_code == 201, first.text
    assert (first.json()["installment_seq"], first.json()["amount_fen"], first.json()["fund_id"]) == (
        1,
        6_000_000,
        fund["id"],
    )
    seen = await fund_of(client, test_keys, fund["id"])
    assert (seen["spent_fen"], seen["outstanding_fen"], seen["remaining_fen"]) == (6_000_000, 16_000_000, 78_000_000)
    duplicate = await client.post(
        pay, json={**voucher(2), "voucher_number": first.json()["voucher_number"]}, headers=official(test_keys)
    )
    assert_problem(duplicate, 409)

    # The second installment waits for the mid-term evaluation.
    early = await client.post(pay, json=voucher(2), headers=official(test_keys))
    body = assert_problem(early, 409, "installment_condition_not_met")
    assert (body["installment_seq"], body["condition"]) == (2, "after_midterm_evaluation")
    await evaluate(client, test_keys, cid, "midterm", purchaser=85, third_party=80)
    assert (await client.post(pay, json=voucher(2), headers=official(test_keys))).status_code == 201

    # The last waits for an acceptance that has passed; acceptance follows the final evaluation.
    assert_problem(
        await client.post(pay, json=voucher(3), headers=official(test_keys)), 409, "installment_condition_not_met"
    )
    accept = f"/api/v1/contracts/{cid}/acceptance"
    assert_problem(
        await client.post(accept, json=acceptance_body(), headers=official(test_keys)), 409, "final_evaluation_missing"
    )
    await deliver_services(app, js, contract, 10)  # every promised service delivered
    await evaluate(client, test_keys, cid, "final", purchaser=88, third_party=86)
    assert_problem(await client.post(accept, json=acceptance_body("conditional"), headers=official(test_keys)), 422)
    assert_problem(
        await client.post(accept, json=acceptance_body(recipient_opinions=[]), headers=official(test_keys)), 422
    )
    assert_problem(
        await client.post(accept, json=acceptance_body(), headers=provider_admin(test_keys, provider_id)), 403
    )
    conditional = await client.post(
        accept,
        json=acceptance_body("conditional", conditions="补齐服务台账", rectification_due="2028-01-15"),
        headers=official(test_keys),
    )
    assert conditional.status_code == 201, conditional.text
    assert_problem(
        await client.post(pay, json=voucher(3), headers=official(test_keys)), 409, "installment_condition_not_met"
    )
    passed = await client.post(accept, json=acceptance_body(), headers=official(test_keys))
    assert (passed.status_code, passed.json()["attempt"], passed.json()["result"]) == (201, 2, "passed")
    assert_problem(
        await client.post(accept, json=acceptance_body(), headers=official(test_keys)), 409, "already_accepted"
    )

    third = await client.post(pay, json=voucher(3), headers=official(test_keys))
    assert (third.status_code, third.json()["amount_fen"]) == (201, 8_000_000)
    fourth = await client.post(pay, json=voucher(4), headers=official(test_keys))
    assert_problem(fourth, 409, "plan_fully_paid")

    paid = (await client.get(f"/api/v1/contracts/{cid}", headers=official(test_keys))).json()
    assert paid["disbursed_fen"] == paid["amount_fen"] == 22_000_000
    assert all(i["paid"] for i in paid["installments"])
    listing = (await client.get(pay, headers=provider_admin(test_keys, provider_id))).json()
    assert [(d["installment_seq"], d["amount_fen"]) for d in listing["items"]] == [
        (1, 6_000_000),
        (2, 8_000_000),
        (3, 8_000_000),
    ]
    assert sum(d["amount_fen"] for d in listing["items"]) <= paid["amount_fen"]
    seen = await fund_of(client, test_keys, fund["id"])
    assert (seen["spent_fen"], seen["outstanding_fen"]) == (22_000_000, 0)
    # With every installment paid, a supplement has nothing to be paid with.
    late = await client.post(
        amendments, json={"summary": "再增加", "reason": "x", "supplement_fen": 1}, headers=official(test_keys)
    )
    assert_problem(late, 422, "supplement_above_limit")

    # The acceptance result is public, residents' names and phone numbers masked.
    public = await client.get(accept)
    assert public.status_code == 200, public.text
    results = public.json()["items"]
    assert [(r["attempt"], r["result"]) for r in results] == [(1, "conditional"), (2, "passed")]
    assert results[1]["recipient_opinions"][0]["name"] == "张**"
    assert "13812345678" not in json.dumps(results)
    assert results[1]["satisfied_count"] == 1
    notices = await events_of(js, NoticePublished.type, 3)
    assert [(n["kind"], n["url_path"]) for n in notices[1:]] == [
        ("acceptance_result", f"/api/v1/contracts/{cid}/acceptance")
    ] * 2
    assert_problem(await client.get(f"/api/v1/contracts/{uuid.uuid4()}/acceptance"), 404, "acceptance_not_found")


async def test_racing_payments_pay_an_installment_once(
    app: FastAPI, client: httpx.AsyncClient, test_keys: TestKeys, clock: Clock
) -> None:
    contract = await signed_contract(app, client, test_keys, contract_body(uuid.uuid4(), amount_fen=10_000_000))
    pay = f"/api/v1/contracts/{contract['id']}/disbursements"
    first, second = await asyncio.gather(
        client.post(pay, json=voucher(1, SIGNED_ON), headers=official(test_keys)),
        client.post(pay, json=voucher(1, SIGNED_ON), headers=official(test_keys)),
    )
    assert sorted([first.status_code, second.status_code]) == [201, 409], [first.text, second.text]
    after = (await client.get(f"/api/v1/contracts/{contract['id']}", headers=official(test_keys))).json()
    assert after["disbursed_fen"] == 3_000_000
    assert (await client.get(pay, headers=official(test_keys))).json()["total"] == 1


async def test_payments_need_an_active_contract_and_an_official(
    app: FastAPI, client: httpx.AsyncClient, test_keys: TestKeys
) -> None:
    provider_id = uuid.uuid4()
    draft = await create_contract(app, client, test_keys, contract_body(provider_id))
    pay = f"/api/v1/contracts/{draft['id']}/disbursements"
    assert_problem(await client.post(pay, json=voucher(1), headers=official(test_keys)), 409, "contract_not_active")
    assert_problem(await client.post(pay, json=voucher(1), headers=provider_admin(test_keys, provider_id)), 403)
    for bad in (
        voucher(1, paid_on="yesterday"),
        voucher(1, voucher_number=""),
        voucher(1, amount_fen=0),
        voucher(1, amount_fen="1"),
        voucher(1, installment_seq=1),
        {},
    ):
        assert_problem(await client.post(pay, json=bad, headers=official(test_keys)), 422)
    assert_problem(
        await client.post(
            f"/api/v1/contracts/{uuid.uuid4()}/disbursements", json=voucher(1), headers=official(test_keys)
        ),
        404,
    )


async def test_a_terminated_contract_gives_back_what_it_was_not_paid(
    app: FastAPI, client: httpx.AsyncClient, js: JetStreamContext, test_keys: TestKeys, clock: Clock
) -> None:
    fund, contract, _ = await awarded_contract(app, client, js, test_keys, clock, amount_fen=20_000_000)
    assert (
        await client.post(
            f"/api/v1/contracts/{contract['id']}/disbursements", json=voucher(1), headers=official(test_keys)
        )
    ).status_code == 201
    ended = await client.post(
        f"/api/v1/contracts/{contract['id']}/terminations",
        json={"reason": "服务严重不达标", "for_cause": True},
        headers=official(test_keys),
    )
    assert ended.status_code == 201, ended.text
    # Until booking-service says which residents' bookings keep the contract's subsidy, the unpaid rest stays held.
    seen = await fund_of(client, test_keys, fund["id"])
    assert (seen["committed_fen"], seen["spent_fen"]) == (20_000_000, 6_000_000)
    await deliver(
        app,
        js,
        "kept-bookings",
        ContractFundingKept(contract_id=contract["id"], cause="terminated", occurred_at=clock.now),
        source="booking",
    )
    seen = await fund_of(client, test_keys, fund["id"])
    assert (seen["committed_fen"], seen["spent_fen"], seen["remaining_fen"]) == (6_000_000, 6_000_000, 94_000_000)
    more = await client.post(
        f"/api/v1/contracts/{contract['id']}/disbursements", json=voucher(2), headers=official(test_keys)
    )
    assert_problem(more, 409, "nothing_kept_to_pay")


async def test_a_payment_is_what_it_claims(
    app: FastAPI, client: httpx.AsyncClient, js: JetStreamContext, test_keys: TestKeys, clock: Clock
) -> None:
    """Payer the fund's owner, payee the provider's own account, a day neither in the future nor outside the
    contract's period nor before the installment fell due, a voucher recorded once; and nothing of a refused
    payment is recorded anywhere."""
    owner = {"owner_id": "11110111MB1234567X", "owner_name": "房山区社会建设工作办公室"}
    fund = await new_fund(client, test_keys, budget_fen=50_000_000, **owner)
    provider_id = uuid.uuid4()
    body = contract_body(provider_id, amount_fen=10_000_000)
    body["funded_offerings"][0]["quota"] = 10
    contract = await signed_contract(app, client, test_keys, body, fund_id=fund["id"])
    cid = contract["id"]
    pay = f"/api/v1/contracts/{cid}/disbursements"

    refused = [
        (voucher(1, SIGNED_ON, payer="北京市房山区民政局"), "payer", "payer_not_fund_owner"),
        (voucher(1, SIGNED_ON, payee="张三"), "payee", "payee_not_provider"),
        (voucher(1, SIGNED_ON, payee="张三 6222 0200 1234 5678"), "payee", "payee_not_provider"),
        (voucher(1, "2001-01-01"), "paid_on", "paid_on_outside_contract_period"),
        (voucher(1, "2026-11-26"), "paid_on", "paid_on_outside_contract_period"),  # the day before signing
        (voucher(1, "2031-01-01"), "paid_on", "paid_on_in_future"),
        (voucher(1, "2026-11-28"), "paid_on", "paid_on_in_future"),
    ]
    for body, field, code in refused:
        problem = assert_problem(await client.post(pay, json=body, headers=official(test_keys)), 422, code)
        assert [e["field"] for e in problem["errors"]] == [field], body
    problem = assert_problem(
        await client.post(pay, json=voucher(1, "2001-01-01"), headers=official(test_keys)),
        422,
        "paid_on_outside_contract_period",
    )
    assert (problem["earliest_paid_on"], problem["latest_paid_on"]) == (SIGNED_ON, SIGNED_ON)
    assert (await client.get(pay, headers=official(test_keys))).json()["total"] == 0
    assert (await fund_of(client, test_keys, fund["id"]))["spent_fen"] == 0

    # Given as they are (whitespace aside) or left out, payer and payee are the fund's owner and the provider.
    first = await client.post(
        pay,
        json=voucher(1, SIGNED_ON, payer=" 房山区社会建设工作办公室 ", payee=PROVIDER_NAME),
        headers=official(test_keys),
    )
    assert first.status_code == 201, first.text
    paid = first.json()
    assert (paid["payer"], paid["payer_id"], paid["fund_id"]) == (owner["owner_name"], owner["owner_id"], fund["id"])
    assert (paid["payee"], paid["payee_id"]) == (PROVIDER_NAME, str(provider_id))
    again = await client.post(
        pay, json=voucher(2, SIGNED_ON, voucher_number=paid["voucher_number"]), headers=official(test_keys)
    )
    assert_problem(again, 409, "duplicate_voucher")

    # The mid-term installment is paid from the day the evaluation was finalized, within the term.
    clock.now = datetime(2027, 6, 30, 2, 0, tzinfo=UTC)
    await evaluate(client, test_keys, cid, "midterm", purchaser=85, third_party=85)
    clock.now = datetime(2027, 7, 3, 2, 0, tzinfo=UTC)
    early = await client.post(pay, json=voucher(2, "2027-06-29"), headers=official(test_keys))
    problem = assert_problem(early, 422, "paid_on_outside_contract_period")
    assert (problem["earliest_paid_on"], problem["latest_paid_on"]) == ("2027-06-30", "2027-07-03")
    assert (await client.post(pay, json=voucher(2, "2027-07-01"), headers=official(test_keys))).status_code == 201

    # The settlement after acceptance (验收) follows the term: paid after its end, never before the acceptance.
    clock.now = datetime(2027, 12, 20, 2, 0, tzinfo=UTC)
    await deliver_services(app, js, contract, 10)
    await evaluate(client, test_keys, cid, "final", purchaser=88, third_party=86)
    clock.now = datetime(2028, 1, 8, 2, 0, tzinfo=UTC)
    accepted = await client.post(
        f"/api/v1/contracts/{cid}/acceptance", json=acceptance_body(), headers=official(test_keys)
    )
    assert accepted.status_code == 201, accepted.text
    clock.now = datetime(2028, 1, 15, 2, 0, tzinfo=UTC)
    before_acceptance = await client.post(pay, json=voucher(3, "2028-01-07"), headers=official(test_keys))
    assert_problem(before_acceptance, 422, "paid_on_outside_contract_period")
    settled = await client.post(pay, json=voucher(3, "2028-01-15"), headers=official(test_keys))
    assert settled.status_code == 201, settled.text

    listing = (await client.get(pay, headers=provider_admin(test_keys, provider_id))).json()
    assert [(d["installment_seq"], d["paid_on"]) for d in listing["items"]] == [
        (1, SIGNED_ON),
        (2, "2027-07-01"),
        (3, "2028-01-15"),
    ]
    assert {(d["payer_id"], d["payee_id"]) for d in listing["items"]} == {(owner["owner_id"], str(provider_id))}
    seen = await fund_of(client, test_keys, fund["id"])
    assert (seen["committed_fen"], seen["spent_fen"]) == (10_000_000, 10_000_000)


async def test_a_contract_without_a_fund_is_not_paid(
    app: FastAPI, client: httpx.AsyncClient, test_keys: TestKeys, clock: Clock, settings: Settings
) -> None:
    """A contract drafted bare before procurement methods were recorded (migration 0007 leaves it without a
    fund) is not paid again."""
    contract = await signed_contract(app, client, test_keys, contract_body(uuid.uuid4()))
    engine = create_engine(settings.database_url)
    try:
        async with engine.begin() as conn:
            await conn.execute(
                update(Contract.__table__)
                .where(Contract.__table__.c.id == uuid.UUID(contract["id"]))
                .values(fund_id=None, procurement_method="direct", award_status="unapproved", rationale=None)
            )
    finally:
        await engine.dispose()
    pay = f"/api/v1/contracts/{contract['id']}/disbursements"
    assert_problem(
        await client.post(pay, json=voucher(1, SIGNED_ON), headers=official(test_keys)), 409, "contract_without_fund"
    )
