"""Who sees what: an auditor reads every procurement record and changes none; a street-scoped official sees and
acts only on their street's needs, calls and contracts (another street's answer 404), a district-wide official
on all of them."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
from fastapi import FastAPI
from procurement_builders import approver, award_body, contract_body, known_provider, new_fund, signed_contract
from sourcing_builders import call_body, official

from service_kit.testing import Clock, TestKeys, assert_problem


def auditor(keys: TestKeys) -> dict[str, str]:
    return keys.headers("auditor", sub="auditor-zhou", name="区审计局 周审计师")


def street_official(keys: TestKeys, street: str, sub: str | None = None) -> dict[str, str]:
    return keys.headers("official", sub=sub or f"official-{street}", name=f"{street}街道 官员", street_code=street)


async def test_an_auditor_reads_every_record_and_changes_none(
    app: FastAPI, client: httpx.AsyncClient, test_keys: TestKeys, clock: Clock
) -> None:
    provider_id = uuid.uuid4()
    fund = await new_fund(client, test_keys)
    contract = await signed_contract(app, client, test_keys, contract_body(provider_id), fund_id=fund["id"])
    contract_url = f"/api/v1/contracts/{contract['id']}"
    paid = await client.post(
        f"{contract_url}/disbursements",
        json={"voucher_number": "FS-PZ-1", "paid_on": "2026-11-27"},
        headers=official(test_keys),
    )
    assert paid.status_code == 201, paid.text
    draft = await client.post("/api/v1/calls", json=call_body(fund["id"]), headers=official(test_keys))
    assert draft.status_code == 201, draft.text
    need = await client.post(
        "/api/v1/need-pool",
        json={"category_code": "elderly.meal_table", "summary": "缺少老年餐桌", "street_code": "changyang"},
        headers=official(test_keys),
    )
    assert need.status_code == 201, need.text

    reads = {
        "/api/v1/contracts": lambda body: body["total"] == 1,
        contract_url: lambda body: body["id"] == contract["id"],
        f"{contract_url}/disbursements": lambda body: body["items"][0]["voucher_number"] == "FS-PZ-1",
        f"{contract_url}/history": lambda body: len(body["items"]) >= 1,
        f"{contract_url}/evaluations": lambda body: body["total"] == 0,
        f"{contract_url}/amendments": lambda body: body["total"] == 0,
        f"{contract_url}/deliverables": lambda body: body["total"] == 0,
        f"{contract_url}/supervision": lambda body: body["total"] == 0,
        f"/api/v1/audit-trail/{fund['id']}": lambda body: body["total"] >= 1,
        f"/api/v1/audit-trail/{draft.json()['id']}": lambda body: body["items"][0]["action"] == "created",
        "/api/v1/funds": lambda body: body["total"] == 1,
        f"/api/v1/funds/{fund['id']}": lambda body: body["id"] == fund["id"],
        "/api/v1/sanctions": lambda body: body["total"] == 0,
        "/api/v1/need-pool": lambda body: body["total"] == 1,
        f"/api/v1/calls/{draft.json()['id']}": lambda body: body["status"] == "draft",  # drafts too
        f"/api/v1/calls/{draft.json()['id']}/applications": lambda body: body["total"] == 0,
    }
    for url, check in reads.items():
        response = await client.get(url, headers=auditor(test_keys))
        assert response.status_code == 200, (url, response.text)
        assert check(response.json()), (url, response.json())

    writes: list[tuple[str, dict[str, Any]]] = [
        ("/api/v1/funds", {"name": "审计不立资金", "year": 2027, "budget_fen": 1, "owner_id": "x", "owner_name": "x"}),
        ("/api/v1/calls", call_body(fund["id"])),
        (f"/api/v1/calls/{draft.json()['id']}/publish", {}),
        ("/api/v1/need-pool", {"category_code": "elderly.meal_table", "summary": "审计"}),
        ("/api/v1/contracts", award_body(contract_body(provider_id), fund["id"])),
        (f"{contract_url}/disbursements", {"voucher_number": "FS-PZ-2", "paid_on": "2026-11-28"}),
        (f"{contract_url}/terminate", {"reason": "审计"}),
        (f"{contract_url}/amendments", {"summary": "审计", "reason": "审计", "supplement_fen": 1}),
        (f"{contract_url}/evaluations", {"stage": "midterm"}),
        (f"{contract_url}/supervision", {"kind": "site_visit", "occurred_on": "2026-11-27", "findings": "审计"}),
    ]
    for url, body in writes:
        assert_problem(await client.post(url, json=body, headers=auditor(test_keys)), 403)
    # Nothing was created or changed.
    assert (await client.get("/api/v1/funds", headers=auditor(test_keys))).json()["total"] == 1
    assert (await client.get("/api/v1/contracts", headers=auditor(test_keys))).json()["total"] == 1
    assert (await client.get(f"{contract_url}/disbursements", headers=auditor(test_keys))).json()["total"] == 1
    assert (await client.get(contract_url, headers=auditor(test_keys))).json()["status"] == "active"


async def test_a_street_scoped_official_sees_and_acts_only_on_their_street(
    app: FastAPI, client: httpx.AsyncClient, test_keys: TestKeys
) -> None:
    changyang, yancun = street_official(test_keys, "changyang"), street_official(test_keys, "yancun")
    fund = await new_fund(client, test_keys)
    # A call of Changyang (the street-scoped official's own, without naming it) and one of the district.
    own = await client.post("/api/v1/calls", json=call_body(fund["id"]), headers=changyang)
    assert own.status_code == 201, own.text
    assert own.json()["street_code"] == "changyang"
    district = await client.post("/api/v1/calls", json=call_body(fund["id"]), headers=official(test_keys))
    assert district.json()["street_code"] is None
    # Naming another street is refused on the field, and nothing is created.
    refused = assert_problem(
        await client.post("/api/v1/calls", json=call_body(fund["id"], street_code="yancun"), headers=changyang),
        403,
        "street_forbidden",
    )
    assert refused["field"] == "street_code"
    assert (await client.get("/api/v1/calls", headers=official(test_keys))).json()["total"] == 2

    listed = (await client.get("/api/v1/calls", headers=changyang)).json()
    assert [c["id"] for c in listed["items"]] == [own.json()["id"]]
    assert (await client.get("/api/v1/calls", headers=yancun)).json()["total"] == 0
    assert (await client.get("/api/v1/calls", headers=official(test_keys))).json()["total"] == 2
    for url in (f"/api/v1/calls/{own.json()['id']}", f"/api/v1/calls/{own.json()['id']}/publish"):
        method = client.post if url.endswith("publish") else client.get
        assert_problem(await method(url, headers=yancun), 404, "call_not_found")
    assert_problem(await client.get(f"/api/v1/calls/{district.json()['id']}", headers=changyang), 404, "call_not_found")
    published = await client.post(f"/api/v1/calls/{own.json()['id']}/publish", headers=changyang)
    assert published.status_code == 200, published.text

    # Needs: each street official records and reads their own street's.
    need = await client.post(
        "/api/v1/need-pool", json={"category_code": "elderly.meal_table", "summary": "缺少老年餐桌"}, headers=changyang
    )
    assert need.json()["street_code"] == "changyang"
    assert (await client.get("/api/v1/need-pool", headers=yancun)).json()["total"] == 0
    assert (await client.get("/api/v1/need-pool", headers=changyang)).json()["total"] == 1
    assert_problem(await client.get(f"/api/v1/need-pool/{need.json()['id']}", headers=yancun), 404, "need_not_found")

    # A direct award proposed by the Changyang official is Changyang's contract.
    body = contract_body(uuid.uuid4())
    await known_provider(app, uuid.UUID(body["provider_id"]), uuid.UUID(body["funded_offerings"][0]["offering_id"]))
    proposed = await client.post("/api/v1/contracts", json=award_body(body, fund["id"]), headers=changyang)
    assert proposed.status_code == 201, proposed.text
    assert proposed.json()["street_code"] == "changyang"
    contract_url = f"/api/v1/contracts/{proposed.json()['id']}"
    assert_problem(
        await client.post(f"{contract_url}/direct-award/approve", json={}, headers=yancun), 404, "contract_not_found"
    )
    approved = await client.post(f"{contract_url}/direct-award/approve", json={}, headers=approver(test_keys))
    assert approved.status_code == 200, approved.text
    assert_problem(await client.get(contract_url, headers=yancun), 404, "contract_not_found")
    assert (await client.get(contract_url, headers=changyang)).status_code == 200
    district_contract = await signed_contract(app, client, test_keys, contract_body(uuid.uuid4()), fund_id=fund["id"])
    assert district_contract["street_code"] is None
    assert [c["id"] for c in (await client.get("/api/v1/contracts", headers=changyang)).json()["items"]] == [
        proposed.json()["id"]
    ]
    assert (await client.get("/api/v1/contracts", headers=yancun)).json()["total"] == 0
    assert (await client.get("/api/v1/contracts", headers=official(test_keys))).json()["total"] == 2
    assert_problem(await client.get(f"/api/v1/contracts/{district_contract['id']}", headers=changyang), 404)


async def test_two_street_officials_racing_on_one_call_only_its_own_moves_it(
    client: httpx.AsyncClient, test_keys: TestKeys
) -> None:
    fund = await new_fund(client, test_keys)
    headers = street_official(test_keys, "changyang")
    call = (await client.post("/api/v1/calls", json=call_body(fund["id"]), headers=headers)).json()
    url = f"/api/v1/calls/{call['id']}/publish"
    own, other, again = await asyncio.gather(
        client.post(url, headers=headers),
        client.post(url, headers=street_official(test_keys, "yancun")),
        client.post(url, headers=street_official(test_keys, "changyang", sub="official-changyang-2")),
    )
    assert other.status_code == 404
    assert sorted([own.status_code, again.status_code]) == [200, 409]
