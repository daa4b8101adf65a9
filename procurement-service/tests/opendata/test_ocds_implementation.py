"""A contract's implementation in OCDS: payments as transactions, the bilateral amendment, evaluations and the
acceptance as milestones; every release still valid against the OCDS 1.1 schemas."""

from __future__ import annotations

import json

import httpx
from conftest import Clock
from fastapi import FastAPI
from nats.js import JetStreamContext
from ocds_validation import PREFIX, assert_valid, releases_page
from reporting_builders import implemented, lifecycle

from service_kit.testing import TestKeys


async def test_payments_amendments_evaluations_and_acceptance_are_released(
    app: FastAPI, client: httpx.AsyncClient, js: JetStreamContext, test_keys: TestKeys, clock: Clock
) -> None:
    flow = await lifecycle(app, client, js, test_keys, clock)
    await implemented(client, test_keys, clock, flow)
    ocid = f"{PREFIX}-{flow.call['id']}"

    package = await releases_page(client)
    releases = [r for r in package["releases"] if r["ocid"] == ocid]
    assert [r["tag"] for r in releases][4:] == [
        ["awardUpdate", "contract"],
        ["implementation"],  # paid on signing
        ["contractAmendment"],
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
    assert {m["id"]: m["status"] for m in contract["implementation"]["milestones"]} == {
        "evaluation-midterm": "met",
        "evaluation-final": "met",
        "acceptance-1": "met",
    }
    supplier = next(p for p in record["records"][0]["compiledRelease"]["parties"] if p["id"] == str(flow.providers[0]))
    assert supplier["roles"] == ["supplier", "payee"]
    # The releases before the first payment name the supplier as a supplier only: releases never change.
    award_release = releases[3]
    assert [p["roles"] for p in award_release["parties"] if p["id"] == str(flow.providers[0])] == [["supplier"]]
