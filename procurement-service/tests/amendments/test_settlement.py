"""A bilateral settlement (结算) lowers a contract's amount: the unpaid installments follow it, the fund gets the
difference back, and the amount never falls below what is already paid, however many settlements are approved at
once."""

import asyncio
import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from lifecycle_builders import acceptance_body, awarded_contract, deliver_services, evaluate, events_of, voucher
from nats.js import JetStreamContext
from ocds_validation import PREFIX, assert_valid, releases_page
from procurement_builders import contract_body, signed_contract
from sourcing_builders import official, provider_admin

from service_kit.events.contracts import ContractAmended
from service_kit.testing import Clock, TestKeys, assert_problem

SIGNED_ON = "2026-11-27"  # the day the ``clock`` fixture signs a direct award


async def contract_of(client: httpx.AsyncClient, keys: TestKeys, contract_id: str) -> dict[str, Any]:
    response = await client.get(f"/api/v1/contracts/{contract_id}", headers=official(keys))
    assert response.status_code == 200, response.text
    return dict(response.json())


async def fund_of(client: httpx.AsyncClient, keys: TestKeys, fund_id: str) -> dict[str, Any]:
    response = await client.get(f"/api/v1/funds/{fund_id}", headers=official(keys))
    assert response.status_code == 200, response.text
    fund = dict(response.json())
    assert fund["spent_fen"] + fund["outstanding_fen"] + fund["remaining_fen"] == fund["budget_fen"]
    return fund


def settlement(reduction_fen: int, **overrides: Any) -> dict[str, Any]:
    return {
        "summary": "按实际完成服务结算",
        "reason": "服务未按约完成，双方协商结算",
        "reduction_fen": reduction_fen,
        **overrides,
    }


def plan(contract: dict[str, Any]) -> list[tuple[int, str, int, bool]]:
    return [(i["seq"], i["condition"], i["amount_fen"], i["paid"]) for i in contract["installments"]]


async def test_a_settlement_lowers_quotas_and_amount_and_the_last_installment_pays_only_the_remainder(
    app: FastAPI, client: httpx.AsyncClient, js: JetStreamContext, test_keys: TestKeys, clock: Clock
) -> None:
    fund, contract, provider_id = await awarded_contract(
        app, client, js, test_keys, clock, quota=10, promised=10, amount_fen=200_000
    )
    cid = contract["id"]
    mine = provider_admin(test_keys, provider_id)
    amendments = f"/api/v1/contracts/{cid}/amendments"
    pay = f"/api/v1/contracts/{cid}/disbursements"
    # Early in the term, a supplement of a tenth, paid with the last installment.
    proposed = await client.post(
        amendments,
        json={"summary": "增加探访", "reason": "需求增长", "supplement_fen": 20_000},
        headers=official(test_keys),
    )
    assert (await client.post(f"{amendments}/{proposed.json()['id']}/approve", json={}, headers=mine)).is_success
    assert (await client.post(pay, json=voucher(1), headers=official(test_keys))).status_code == 201
    await evaluate(client, test_keys, cid, "midterm", purchaser=90, third_party=85)
    assert (await client.post(pay, json=voucher(2), headers=official(test_keys))).status_code == 201
    before = await contract_of(client, test_keys, cid)
    assert plan(before) == [
        (1, "on_signing", 60_000, True),
        (2, "after_midterm_evaluation", 80_000, True),
        (3, "after_acceptance", 80_000, False),
    ]
    assert (before["amount_fen"], before["disbursed_fen"]) == (220_000, 140_000)

    # Few services delivered: the final evaluation is below the threshold, the acceptance is refused.
    await deliver_services(app, js, contract, 7)
    final = await evaluate(client, test_keys, cid, "final", purchaser=90, third_party=85)
    assert final["kpi"]["attainment_percent"] == 70
    accept = f"/api/v1/contracts/{cid}/acceptance"
    refused = await client.post(accept, json=acceptance_body(), headers=official(test_keys))
    assert assert_problem(refused, 409, "attainment_below_threshold")["ways_forward"] == [
        "settlement_amendment",
        "sanction",
    ]

    # The provider proposes a settlement: quota down to the 7 delivered, the amount down by 65,000 fen. Taking off
    # more than the 80,000 fen not yet paid is refused, naming what is paid and what was asked.
    funded = {k: contract["funded_offerings"][0][k] for k in ("offering_id", "unit_price_fen", "resident_price_fen")}
    quota_of_seven = [{**funded, "quota": 7, "eligibility_tags": ["80+"]}]
    too_much = await client.post(amendments, json=settlement(80_001, funded_offerings=quota_of_seven), headers=mine)
    body = assert_problem(too_much, 409, "reduction_below_paid")
    assert (body["paid_fen"], body["amount_fen"], body["reduction_fen"], body["max_reduction_fen"]) == (
        140_000,
        220_000,
        80_001,
        80_000,
    )
    proposed = await client.post(amendments, json=settlement(65_000, funded_offerings=quota_of_seven), headers=mine)
    assert proposed.status_code == 201, proposed.text
    assert (proposed.json()["reduction_fen"], proposed.json()["supplement_fen"]) == (65_000, 0)
    aid = proposed.json()["id"]
    # The provider does not approve its own proposal; nothing has changed yet.
    assert_problem(await client.post(f"{amendments}/{aid}/approve", json={}, headers=mine), 403, "own_proposal")
    assert (await contract_of(client, test_keys, cid))["amount_fen"] == 220_000

    approved = await client.post(
        f"{amendments}/{aid}/approve", json={"reason": "同意结算"}, headers=official(test_keys)
    )
    assert approved.status_code == 200, approved.text
    assert (approved.json()["status"], approved.json()["resulting_version"]) == ("approved", 3)
    settled = await contract_of(client, test_keys, cid)
    assert (settled["amount_fen"], settled["original_amount_fen"]) == (155_000, 200_000)
    assert (settled["supplement_fen"], settled["reduction_fen"], settled["version"]) == (20_000, 65_000, 3)
    assert settled["funded_offerings"][0]["quota"] == 7
    # What is still unpaid follows: the last installment is now the amount less what is paid.
    assert plan(settled) == [
        (1, "on_signing", 60_000, True),
        (2, "after_midterm_evaluation", 80_000, True),
        (3, "after_acceptance", 15_000, False),
    ]
    assert sum(i["amount_fen"] for i in settled["installments"]) == settled["amount_fen"]
    # The fund gets the reduction back: committed = signed + supplements - reductions.
    ledger = await fund_of(client, test_keys, fund["id"])
    assert ledger["committed_fen"] == 200_000 + 20_000 - 65_000
    assert ledger["spent_fen"] == 140_000

    # Announced and recorded like every amendment.
    events = await events_of(js, ContractAmended.type, 2)
    assert (events[1]["contract_id"], events[1]["amount_fen"], events[1]["funded_offerings"][0]["quota"]) == (
        cid,
        155_000,
        7,
    )
    history = (await client.get(f"/api/v1/contracts/{cid}/history", headers=official(test_keys))).json()["items"]
    assert history[-1]["action"] == "amended"
    assert (history[-1]["before"]["amount_fen"], history[-1]["after"]["amount_fen"]) == (220_000, 155_000)
    assert history[-1]["after"]["reduction_fen"] == 65_000
    trail = (await client.get(f"/api/v1/audit-trail/{cid}", headers=official(test_keys))).json()["items"]
    (entry,) = [e for e in trail if e["action"] == "amendment_approved" and e["details"]["amendment_id"] == aid]
    assert (entry["details"]["reduction_fen"], entry["details"]["amount_fen"]) == (65_000, 155_000)
    fund_trail = (await client.get(f"/api/v1/audit-trail/{fund['id']}", headers=official(test_keys))).json()["items"]
    (released,) = [e for e in fund_trail if e["action"] == "released"]
    assert (released["details"]["amount_fen"], released["details"]["amendment_id"]) == (65_000, aid)
    versions = (await client.get(f"/api/v1/contracts/{cid}/versions", headers=official(test_keys))).json()["items"]
    assert [(v["version"], v["terms"]["amount_fen"]) for v in versions] == [(1, 200_000), (2, 220_000), (3, 155_000)]

    # The 7 delivered of 7 now funded pass the acceptance; the settlement pays the remainder only.
    passed = await client.post(accept, json=acceptance_body(), headers=official(test_keys))
    assert passed.status_code == 201, passed.text
    old_remainder = await client.post(pay, json=voucher(3, amount_fen=80_000), headers=official(test_keys))
    body = assert_problem(old_remainder, 422, "amount_not_due")
    assert (body["due_fen"], body["remaining_fen"], body["errors"][0]["field"]) == (15_000, 15_000, "amount_fen")
    last = await client.post(pay, json=voucher(3, amount_fen=15_000), headers=official(test_keys))
    assert (last.status_code, last.json()["amount_fen"]) == (201, 15_000)
    assert_problem(await client.post(pay, json=voucher(4), headers=official(test_keys)), 409, "plan_fully_paid")
    paid = await contract_of(client, test_keys, cid)
    assert paid["disbursed_fen"] == paid["amount_fen"] == 155_000
    ledger = await fund_of(client, test_keys, fund["id"])
    assert ledger["committed_fen"] == ledger["spent_fen"] == 155_000
    assert ledger["outstanding_fen"] == 0

    # OCDS: the contract's value is the new amount, and the amendment says why.
    package = await releases_page(client)
    ocid = next(r["ocid"] for r in package["releases"] for c in r.get("contracts", []) if c["id"] == cid)
    assert ocid.startswith(f"{PREFIX}-")
    record = (await client.get(f"/open-data/ocds/records/{ocid}")).json()
    assert_valid("record-package-schema", record)
    (compiled,) = record["records"][0]["compiledRelease"]["contracts"]
    assert compiled["value"]["amount"] == 1550
    assert [a["rationale"] for a in compiled["amendments"]][-1] == "服务未按约完成，双方协商结算"


async def test_a_settlement_is_one_change_of_the_amount_and_leaves_the_offerings_funded(
    app: FastAPI, client: httpx.AsyncClient, test_keys: TestKeys
) -> None:
    provider_id = uuid.uuid4()
    contract = await signed_contract(app, client, test_keys, contract_body(provider_id, amount_fen=10_000_000))
    amendments = f"/api/v1/contracts/{contract['id']}/amendments"
    # A supplement and a reduction in one amendment: refused, naming the field.
    both = await client.post(amendments, json=settlement(1_000, supplement_fen=1_000), headers=official(test_keys))
    assert assert_problem(both, 422, "reduction_with_supplement")["errors"][0]["field"] == "reduction_fen"
    # Down to nothing (or below): a termination, not a settlement.
    for fen in (10_000_000, 10_000_001):
        nothing = await client.post(amendments, json=settlement(fen), headers=official(test_keys))
        assert assert_problem(nothing, 422, "reduction_above_amount")["amount_fen"] == 10_000_000
    # The 2,000 funded services of 15 元 (3 万元) must still fit the lowered amount.
    unfunded = await client.post(amendments, json=settlement(7_000_001), headers=official(test_keys))
    assert assert_problem(unfunded, 422, "funded_value_exceeds_amount")["funded_value_fen"] == 3_000_000
    for bad in (settlement(-1), settlement(1.5), settlement("100")):
        assert_problem(await client.post(amendments, json=bad, headers=official(test_keys)), 422)
    # Nothing paid yet: the reduction comes off the last installment first; one lowered to nothing leaves the plan.
    fits = await client.post(amendments, json=settlement(7_000_000), headers=official(test_keys))
    assert fits.status_code == 201, fits.text
    approved = await client.post(
        f"{amendments}/{fits.json()['id']}/approve", json={}, headers=provider_admin(test_keys, provider_id)
    )
    assert approved.status_code == 200, approved.text
    settled = await contract_of(client, test_keys, contract["id"])
    assert settled["amount_fen"] == 3_000_000
    assert plan(settled) == [(1, "on_signing", 3_000_000, False)]
    fund = await fund_of(client, test_keys, settled["fund_id"])
    assert fund["committed_fen"] == 3_000_000
    # Only the approved settlement took anything off; the original amount is still the one signed.
    assert (settled["original_amount_fen"], settled["reduction_fen"]) == (10_000_000, 7_000_000)
    # OCDS: the installments that left the plan are no longer paid; the first is restated at the new amount.
    record = (await client.get(f"/open-data/ocds/records/{PREFIX}-{contract['id']}")).json()
    assert_valid("record-package-schema", record)
    (compiled,) = record["records"][0]["compiledRelease"]["contracts"]
    assert compiled["value"]["amount"] == 30_000
    milestones = {m["id"]: m for m in compiled["milestones"]}
    assert (milestones["installment-1"]["status"], milestones["installment-2"]["status"]) == ("scheduled", "notMet")
    assert "金额30000" in milestones["installment-1"]["description"]
    assert milestones["installment-3"]["status"] == "notMet"


@pytest.mark.parametrize(
    ("reductions", "approved", "amount_fen", "installments"),
    [
        # Each fits alone (10 万 - 4 万 ≥ the 3 万 paid); together they would leave 2 万, less than is paid.
        ((4_000_000, 4_000_000), 1, 6_000_000, [3_000_000, 3_000_000]),
        # Both fit together: 10 万 - 3 万 - 3 万 = 4 万.
        ((3_000_000, 3_000_000), 2, 4_000_000, [3_000_000, 1_000_000]),
    ],
    ids=["together-below-paid", "both-fit"],
)
async def test_settlements_approved_at_once_never_go_below_what_is_paid_nor_release_more_than_they_took(
    app: FastAPI,
    client: httpx.AsyncClient,
    test_keys: TestKeys,
    clock: Clock,
    reductions: tuple[int, int],
    approved: int,
    amount_fen: int,
    installments: list[int],
) -> None:
    provider_id = uuid.uuid4()
    body = contract_body(provider_id, amount_fen=10_000_000)
    body["funded_offerings"][0]["quota"] = 200  # 3,000 元 of funded services: every reduction here fits them
    contract = await signed_contract(app, client, test_keys, body)
    cid = contract["id"]
    paid = await client.post(
        f"/api/v1/contracts/{cid}/disbursements", json=voucher(1, SIGNED_ON), headers=official(test_keys)
    )
    assert (paid.status_code, paid.json()["amount_fen"]) == (201, 3_000_000)
    amendments = f"/api/v1/contracts/{cid}/amendments"
    proposed = []
    for fen in reductions:
        response = await client.post(amendments, json=settlement(fen), headers=official(test_keys))
        assert response.status_code == 201, response.text
        proposed.append(response.json()["id"])

    mine = provider_admin(test_keys, provider_id)
    responses = await asyncio.gather(
        *(client.post(f"{amendments}/{aid}/approve", json={}, headers=mine) for aid in proposed)
    )
    statuses = sorted(r.status_code for r in responses)
    assert statuses == sorted([200] * approved + [409] * (2 - approved)), [r.text for r in responses]
    for refused in (r for r in responses if r.status_code == 409):
        problem = assert_problem(refused, 409, "reduction_below_paid")
        assert (problem["paid_fen"], problem["amount_fen"]) == (3_000_000, 6_000_000)

    after = await contract_of(client, test_keys, cid)
    assert (after["amount_fen"], after["disbursed_fen"]) == (amount_fen, 3_000_000)
    assert after["amount_fen"] >= after["disbursed_fen"]
    assert after["reduction_fen"] == 10_000_000 - amount_fen
    assert after["version"] == 1 + approved
    assert [i["amount_fen"] for i in after["installments"]] == installments
    assert sum(installments) == amount_fen
    fund = await fund_of(client, test_keys, after["fund_id"])
    # The fund got back exactly what was taken off, once per approved settlement.
    assert (fund["committed_fen"], fund["spent_fen"]) == (amount_fen, 3_000_000)
    trail = (await client.get(f"/api/v1/audit-trail/{after['fund_id']}", headers=official(test_keys))).json()["items"]
    released = [e["details"]["amount_fen"] for e in trail if e["action"] == "released"]
    assert sum(released) == 10_000_000 - amount_fen
    assert len(released) == approved
    statuses_now = sorted(a["status"] for a in (await client.get(amendments, headers=mine)).json()["items"])
    assert statuses_now == sorted(["approved"] * approved + ["proposed"] * (2 - approved))


async def test_a_settlement_and_a_payment_at_once_never_pay_beyond_the_new_amount(
    app: FastAPI, client: httpx.AsyncClient, test_keys: TestKeys, clock: Clock
) -> None:
    provider_id = uuid.uuid4()
    body = contract_body(provider_id, amount_fen=10_000_000)
    body["funded_offerings"][0]["quota"] = 200
    contract = await signed_contract(app, client, test_keys, body)
    cid = contract["id"]
    pay = f"/api/v1/contracts/{cid}/disbursements"
    assert (await client.post(pay, json=voucher(1, SIGNED_ON), headers=official(test_keys))).status_code == 201
    await evaluate(client, test_keys, cid, "midterm", purchaser=90, third_party=90)
    amendments = f"/api/v1/contracts/{cid}/amendments"
    proposed = await client.post(amendments, json=settlement(3_500_000), headers=official(test_keys))
    assert proposed.status_code == 201, proposed.text

    # The second installment (4 万) and a settlement taking 3.5 万 off the 7 万 unpaid: whichever comes first, the
    # other no longer fits (paid first: the settlement would go below what is paid; settled first: the second
    # installment is the plan's last, lowered to 3.5 万, and waits for the acceptance).
    payment, approval = await asyncio.gather(
        client.post(pay, json=voucher(2, SIGNED_ON), headers=official(test_keys)),
        client.post(
            f"{amendments}/{proposed.json()['id']}/approve", json={}, headers=provider_admin(test_keys, provider_id)
        ),
    )
    assert sorted([payment.is_success, approval.is_success]) == [False, True], (payment.text, approval.text)
    after = await contract_of(client, test_keys, cid)
    if payment.is_success:
        assert_problem(approval, 409, "reduction_below_paid")
        assert (after["amount_fen"], after["disbursed_fen"]) == (10_000_000, 7_000_000)
    else:
        assert payment.json()["code"] in ("acceptance_not_passed", "disbursement_conflict"), payment.text
        assert (after["amount_fen"], after["disbursed_fen"]) == (6_500_000, 3_000_000)
        assert plan(after) == [
            (1, "on_signing", 3_000_000, True),
            (2, "after_midterm_evaluation", 3_500_000, False),
        ]
    assert sum(i["amount_fen"] for i in after["installments"]) == after["amount_fen"] >= after["disbursed_fen"]
    fund = await fund_of(client, test_keys, after["fund_id"])
    assert (fund["committed_fen"], fund["spent_fen"]) == (after["amount_fen"], after["disbursed_fen"])


def test_a_settlement_does_not_shrink_the_supplement_limit() -> None:
    """Supplements are measured against the signed amount, before and after a settlement: the proposal's check
    and the approving UPDATE's agree."""
    from procurement.amendments.service import check_supplement
    from procurement.contracts.models import Contract
    from service_kit.errors import ValidationFailed

    # Signed at 100,000 fen, lowered by 40,000 fen in a settlement, no supplement yet: 10,000 fen may be added.
    settled = Contract(amount_fen=60_000, supplement_fen=0, reduction_fen=40_000)
    check_supplement(settled, 10_000)
    with pytest.raises(ValidationFailed) as refused:
        check_supplement(settled, 10_001)
    assert refused.value.code == "supplement_above_limit"
    assert refused.value.extra["original_amount_fen"] == 100_000
