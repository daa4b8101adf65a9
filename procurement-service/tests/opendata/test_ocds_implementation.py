"""A contract's implementation in OCDS: payments as transactions, the bilateral amendment, evaluations and the
acceptance as milestones; every release still valid against the OCDS 1.1 schemas."""

from __future__ import annotations

import json
import uuid

import httpx
from fastapi import FastAPI
from nats.js import JetStreamContext
from ocds_validation import PREFIX, assert_valid, releases_page
from procurement_builders import RATIONALE, contract_body, new_fund, signed_contract
from reporting_builders import implemented, lifecycle
from sourcing_builders import official

from service_kit.testing import Clock, TestKeys


async def test_payments_amendments_evaluations_and_acceptance_are_released(
    app: FastAPI, client: httpx.AsyncClient, js: JetStreamContext, test_keys: TestKeys, clock: Clock
) -> None:
    flow = await lifecycle(app, client, js, test_keys, clock)
    await implemented(app, client, js, test_keys, clock, flow)
    ocid = f"{PREFIX}-{flow.call['id']}"

    package = await releases_page(client)
    releases = [r for r in package["releases"] if r["ocid"] == ocid]
    assert [r["tag"] for r in releases][4:] == [
        ["awardUpdate", "contract"],
        ["implementation"],  # paid on signing
        ["contractAmendment"],
        ["implementationUpdate"],  # the services delivered, as verified so far
        ["implementation"],  # mid-term evaluation
        ["implementation"],  # paid after it
        ["implementation"],  # final evaluation
        ["implementation"],  # acceptance
        ["implementation"],  # paid in full
    ]
    published = json.dumps(package, ensure_ascii=False)
    for personal in ("王秀英", "13812345678", "evaluator-zhang", "official-wang", "FS-PZ-2026-0001"):
        assert personal not in published

    record = (await client.get(f"/open-data/ocds/records/{ocid}")).json()
    assert_valid("record-package-schema", record)
    (contract,) = record["records"][0]["compiledRelease"]["contracts"]
    assert contract["value"] == {"amount": 270_000, "currency": "CNY"}  # 25 万 and a 2 万 supplement
    (amendment,) = contract["amendments"]
    # It amends the contract as the release before it (the first payment) left it.
    assert (amendment["amendsReleaseID"], amendment["releaseID"]) == (releases[5]["id"], releases[6]["id"])
    assert amendment["description"] == "增加助餐服务2000人次"
    transactions = contract["implementation"]["transactions"]
    assert sum(t["value"]["amount"] for t in transactions) == 270_000
    assert {t["payee"]["id"] for t in transactions} == {str(flow.providers[0])}
    assert {t["payer"]["name"] for t in transactions} == {"北京市房山区民政局"}
    assert {m["id"]: m["status"] for m in contract["milestones"]} == {
        "installment-1": "met",
        "installment-2": "met",
        "installment-3": "met",
    }
    offering_id = flow.contract["funded_offerings"][0]["offering_id"]
    assert {m["id"]: m["status"] for m in contract["implementation"]["milestones"]} == {
        f"delivery-{offering_id}": "met",  # 10 verified deliveries of the 10 funded
        "evaluation-midterm": "met",
        "evaluation-final": "met",
        "acceptance-1": "met",
    }
    delivery = next(m for m in contract["implementation"]["milestones"] if m["type"] == "delivery")
    assert "已核实交付10次，合同资助10次" in delivery["description"]
    supplier = next(p for p in record["records"][0]["compiledRelease"]["parties"] if p["id"] == str(flow.providers[0]))
    assert supplier["roles"] == ["tenderer", "supplier", "payee"]
    # The releases before the first payment name the supplier as a supplier only: releases never change.
    award_release = releases[3]
    assert [p["roles"] for p in award_release["parties"] if p["id"] == str(flow.providers[0])] == [
        ["tenderer", "supplier"]
    ]


async def test_a_direct_award_names_its_method_its_rationale_and_the_fund_owner_as_payer(
    app: FastAPI, client: httpx.AsyncClient, test_keys: TestKeys, clock: Clock
) -> None:
    """The payer is the owner of the fund the contract draws on, not a constant; a refused payment (a person's
    account, a date before the contract) leaves nothing to publish."""
    owner = {"owner_id": "11110111MB1234567X", "owner_name": "北京市房山区社会建设工作办公室"}
    fund = await new_fund(client, test_keys, budget_fen=50_000_000, **owner)
    provider_id = uuid.uuid4()
    contract = await signed_contract(
        app, client, test_keys, contract_body(provider_id, amount_fen=5_000_000), fund_id=fund["id"]
    )
    pay = f"/api/v1/contracts/{contract['id']}/disbursements"
    for refused in (
        {"voucher_number": "FS-REFUSED-1", "paid_on": "2026-11-27", "payee": "张三"},
        {"voucher_number": "FS-REFUSED-2", "paid_on": "2001-01-01"},
    ):
        assert (await client.post(pay, json=refused, headers=official(test_keys))).status_code == 422
    paid = await client.post(
        pay, json={"voucher_number": "FS-PZ-2026-0901", "paid_on": "2026-11-27"}, headers=official(test_keys)
    )
    assert paid.status_code == 201, paid.text

    package = await releases_page(client)
    published = json.dumps(package, ensure_ascii=False)
    for refused_value in ("张三", "2001-01-01", "FS-REFUSED", "FS-PZ-2026-0901"):
        assert refused_value not in published
    ocid = f"{PREFIX}-{contract['id']}"
    record = (await client.get(f"/open-data/ocds/records/{ocid}")).json()
    assert_valid("record-package-schema", record)
    compiled = record["records"][0]["compiledRelease"]
    assert (compiled["tender"]["procurementMethod"], compiled["tender"]["procurementMethodRationale"]) == (
        "direct",
        RATIONALE,
    )
    (transaction,) = compiled["contracts"][0]["implementation"]["transactions"]
    assert transaction["payer"] == {"id": owner["owner_id"], "name": owner["owner_name"]}
    assert transaction["payee"]["id"] == str(provider_id)
    assert transaction["value"] == {"amount": 15_000, "currency": "CNY"}
    roles = {party["id"]: party["roles"] for party in compiled["parties"]}
    assert roles["fangshan-civil-affairs"] == ["buyer", "procuringEntity"]
    assert roles[owner["owner_id"]] == ["payer"]
    assert roles[str(provider_id)] == ["supplier", "payee"]
