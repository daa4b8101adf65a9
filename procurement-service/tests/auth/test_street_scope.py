"""A street-scoped official everywhere in procurement: for each endpoint an official uses, the official of
Changyang against records of Changyang, of Yancun and of the district. Their own street's records answer; the
others' are left out of lists and answer 404 like an unknown id; the district's funds are read, not written; acts
that bind the whole district (a fund, a sanction imposed or lifted, the pool's ranking) are refused with 403
``district_only``."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from fastapi import FastAPI
from lifecycle_builders import NOTICE_AT, acceptance_body, assign_evaluator, evaluate, evaluator
from nats.js import JetStreamContext
from procurement_builders import (
    approver,
    award_body,
    contract_body,
    known_provider,
    new_fund,
    sign_by_both,
    signed_contract,
)
from sourcing_builders import (
    DEADLINE,
    apply,
    assign,
    call_body,
    official,
    review,
    verified_provider,
)

from service_kit.testing import Clock, TestKeys, assert_problem

A, B = "changyang", "yancun"


def street_official(keys: TestKeys, street: str) -> dict[str, str]:
    return keys.headers("official", sub=f"official-{street}", name=f"{street}街道 官员", street_code=street)


async def ok(response: Any, status: int = 200) -> Any:
    answered: httpx.Response = await response
    assert answered.status_code == status, answered.text
    return answered.json()


async def street_contract(
    app: FastAPI, client: httpx.AsyncClient, keys: TestKeys, fund_id: str, street: str
) -> dict[str, Any]:
    """A direct award the street's official proposes (their street's), another official approves, both sign."""
    body = contract_body(uuid.uuid4(), title=f"{street}老年餐桌服务项目")
    await known_provider(app, uuid.UUID(body["provider_id"]), uuid.UUID(body["funded_offerings"][0]["offering_id"]))
    headers = street_official(keys, street)
    proposed = await ok(client.post("/api/v1/contracts", json=award_body(body, fund_id), headers=headers), 201)
    assert proposed["street_code"] == street
    url = f"/api/v1/contracts/{proposed['id']}/direct-award/approve"
    approved = await ok(client.post(url, json={}, headers=approver(keys)))
    return await sign_by_both(client, keys, approved, headers)


async def sanction_of(client: httpx.AsyncClient, keys: TestKeys, contract_id: str) -> dict[str, Any]:
    (sanction,) = [
        s
        for s in (await ok(client.get("/api/v1/sanctions?limit=100", headers=official(keys))))["items"]
        if s["contract_id"] == contract_id
    ]
    return sanction


async def test_contracts_and_everything_under_them_sanctions_the_trail_funds_and_dashboard(
    app: FastAPI, client: httpx.AsyncClient, test_keys: TestKeys, clock: Clock
) -> None:
    changyang = street_official(test_keys, A)
    fund = await new_fund(client, test_keys)
    own = await street_contract(app, client, test_keys, fund["id"], A)
    other = await street_contract(app, client, test_keys, fund["id"], B)
    district = await signed_contract(app, client, test_keys, contract_body(uuid.uuid4()), fund_id=fund["id"])
    assert district["street_code"] is None

    # The mid-term evaluations pass; a low final score sanctions each provider. On their own street's contract,
    # the street official opens and scores the final evaluation, but finalizing it would sanction the provider
    # across the district: refused, the evaluation stays open, and a district-wide official finalizes it.
    for contract in (own, other, district):
        await evaluate(client, test_keys, contract["id"], "midterm", purchaser=80, third_party=80)
    for contract in (other, district):
        await evaluate(client, test_keys, contract["id"], "final", purchaser=50, third_party=55)
    final = f"/api/v1/contracts/{own['id']}/evaluations"
    await assign_evaluator(client, test_keys, own["id"])
    await ok(client.post(final, json={"stage": "final"}, headers=changyang), 201)
    await ok(client.post(f"{final}/final/scores", json={"score": 50}, headers=changyang))
    await ok(client.post(f"{final}/final/scores", json={"score": 55}, headers=evaluator(test_keys)))
    refused = assert_problem(await client.post(f"{final}/final/finalize", headers=changyang), 403, "district_only")
    assert A in refused["detail"]
    assert (await ok(client.get(f"{final}/final", headers=changyang)))["status"] == "open"
    assert (await client.get("/api/v1/sanctions", headers=official(test_keys))).json()["total"] == 2
    finalized = await ok(client.post(f"{final}/final/finalize", headers=official(test_keys)))
    assert finalized["result"] == "failed"
    sanctions = {
        key: await sanction_of(client, test_keys, c["id"])
        for key, c in (("own", own), ("other", other), ("district", district))
    }

    # A failed acceptance sanctions too: the street official may not record it; a passed one is not theirs
    # to record either here (the attainment is not met), but that is refused for what it is, not for the street.
    acceptance = f"/api/v1/contracts/{own['id']}/acceptance"
    assert_problem(
        await client.post(acceptance, json=acceptance_body("failed"), headers=changyang), 403, "district_only"
    )
    assert (await client.get(acceptance)).status_code == 404  # nothing was recorded
    # Lifting a sanction, even one their own street's contract caused, binds the district.
    lift = f"/api/v1/sanctions/{sanctions['own']['id']}/lift"
    assert_problem(await client.post(lift, json={"reason": "整改到位"}, headers=changyang), 403, "district_only")
    # Opening a fund too; nothing is created.
    opened = {"name": "街道自立资金", "year": 2027, "budget_fen": 1, "owner_id": "x", "owner_name": "x"}
    assert_problem(await client.post("/api/v1/funds", json=opened, headers=changyang), 403, "district_only")
    assert (await client.get("/api/v1/funds", headers=official(test_keys))).json()["total"] == 1

    # Every record under a contract: their street's answers, the others' are unknown.
    under_contract = (
        "",
        "/history",
        "/evaluations",
        "/evaluations/final",
        "/evaluators",
        "/deliverables",
        "/supervision",
        "/progress-reports",
        "/complaints",
        "/disbursements",
        "/amendments",
        "/terminations",
        "/callbacks",
    )
    for suffix in under_contract:
        assert (await client.get(f"/api/v1/contracts/{own['id']}{suffix}", headers=changyang)).status_code == 200
        for contract in (other, district):
            url = f"/api/v1/contracts/{contract['id']}{suffix}"
            assert_problem(await client.get(url, headers=changyang), 404, "contract_not_found")
    acts: list[tuple[str, dict[str, Any]]] = [
        (
            "/supervision",
            {"kind": "site_visit", "occurred_on": "2026-11-27", "findings": "抽查", "conclusion": "satisfactory"},
        ),
        ("/evaluators", {"evaluator_subject": "evaluator-x", "evaluator_name": "某评估"}),
        ("/callbacks", {}),
        ("/disbursements", {"voucher_number": "FS-STREET-1", "paid_on": "2026-11-27"}),
        ("/acceptance", acceptance_body("passed")),
    ]
    for suffix, body in acts:
        for contract in (other, district):
            url = f"/api/v1/contracts/{contract['id']}{suffix}"
            assert_problem(await client.post(url, json=body, headers=changyang), 404, "contract_not_found")

    # Sanctions follow the contract that caused them.
    listed = await ok(client.get("/api/v1/sanctions", headers=changyang))
    assert [s["id"] for s in listed["items"]] == [sanctions["own"]["id"]]
    assert (await ok(client.get("/api/v1/sanctions", headers=official(test_keys))))["total"] == 3
    assert (await ok(client.get(f"/api/v1/sanctions/{sanctions['own']['id']}", headers=changyang)))["status"] == (
        "active"
    )
    for key in ("other", "district"):
        url = f"/api/v1/sanctions/{sanctions[key]['id']}"
        assert_problem(await client.get(url, headers=changyang), 404, "sanction_not_found")

    # The audit trail is its record's: their street's contract and sanction, the district's fund; nothing else.
    trail = "/api/v1/audit-trail/"
    for subject in (own["id"], sanctions["own"]["id"], fund["id"]):
        assert (await ok(client.get(trail + subject, headers=changyang)))["total"] >= 1
    for subject in (other["id"], district["id"], sanctions["other"]["id"], sanctions["district"]["id"]):
        assert_problem(await client.get(trail + subject, headers=changyang), 404, "audit_trail_not_found")
        assert (await ok(client.get(trail + subject, headers=official(test_keys))))["total"] >= 1
    assert_problem(await client.get(trail + str(uuid.uuid4()), headers=official(test_keys)), 404)

    # Funds are the district's: read whole.
    assert (await ok(client.get("/api/v1/funds", headers=changyang)))["total"] == 1
    seen = await ok(client.get(f"/api/v1/funds/{fund['id']}", headers=changyang))
    assert seen["committed_fen"] == 3 * own["amount_fen"]

    # The dashboard counts their street only; the district's, all three.
    mine = await ok(client.get("/api/v1/funds/dashboard", headers=changyang))
    assert mine["street_code"] == A
    assert (mine["totals"]["current_projects"], mine["totals"]["current_amount_fen"]) == (1, own["amount_fen"])
    assert [b["key"] for b in mine["by_street"]] == [A]
    assert (mine["sanctions"]["active_sanctions"], mine["sanctions"]["providers_sanctioned"]) == (1, 1)
    assert [(f["budget_fen"], f["contracted_fen"]) for f in mine["funds"]] == [(fund["budget_fen"], own["amount_fen"])]
    whole = await ok(client.get("/api/v1/funds/dashboard", headers=official(test_keys)))
    assert whole["street_code"] is None
    assert whole["totals"]["current_projects"] == 3
    assert {b["key"] for b in whole["by_street"]} == {A, B, "unspecified"}
    assert whole["sanctions"]["active_sanctions"] == 3

    # A district-wide official still lifts the sanction.
    lifted = await ok(client.post(lift, json={"reason": "整改到位"}, headers=official(test_keys)))
    assert lifted["status"] == "lifted"


async def test_needs_calls_reviews_notices_and_historical_projects(
    app: FastAPI, client: httpx.AsyncClient, js: JetStreamContext, test_keys: TestKeys, clock: Clock
) -> None:
    changyang, yancun = street_official(test_keys, A), street_official(test_keys, B)
    fund = await new_fund(client, test_keys)

    # Needs: one of each street and one of the district.
    needs = {}
    for key, headers, street in (
        ("own", changyang, None),
        ("other", yancun, None),
        ("district", official(test_keys), None),
    ):
        body = {"category_code": "elderly.meal_table", "summary": f"{key}缺少老年餐桌", "street_code": street}
        needs[key] = await ok(client.post("/api/v1/need-pool", json=body, headers=headers), 201)
    assert [n["id"] for n in (await ok(client.get("/api/v1/need-pool", headers=changyang)))["items"]] == [
        needs["own"]["id"]
    ]
    # The ranking is one order over the whole pool: the district's to set.
    ranking = {"need_ids": [needs["own"]["id"]]}
    assert_problem(await client.put("/api/v1/need-pool/ranking", json=ranking, headers=changyang), 403, "district_only")
    await ok(client.put("/api/v1/need-pool/ranking", json=ranking, headers=official(test_keys)))

    # Calls: a draft of each; the district's is reviewed and announced, with an objection to answer.
    calls = {
        key: await ok(client.post("/api/v1/calls", json=call_body(fund["id"]), headers=headers), 201)
        for key, headers in (("own", changyang), ("other", yancun), ("district", official(test_keys)))
    }
    district_call = calls["district"]["id"]
    await ok(client.post(f"/api/v1/calls/{district_call}/publish", headers=official(test_keys)))
    provider_id = await verified_provider(app, js)
    application = await apply(client, test_keys, district_call, provider_id)
    clock.now = DEADLINE
    await ok(client.post(f"/api/v1/calls/{district_call}/close", headers=official(test_keys)))
    await assign(client, test_keys, district_call, "expert-li")
    await review(client, test_keys, district_call, application["id"], "expert-li", (90, 90, 90))
    await ok(client.post(f"/api/v1/calls/{district_call}/close-review", headers=official(test_keys)))
    approve = f"/api/v1/calls/{district_call}/applications/{application['id']}/approve"
    assert_problem(await client.post(approve, json={}, headers=changyang), 404, "call_not_found")
    await ok(client.post(approve, json={}, headers=official(test_keys)))
    clock.now = NOTICE_AT
    notice_url = f"/api/v1/calls/{district_call}/notice"
    assert_problem(await client.post(notice_url, json={}, headers=changyang), 404, "call_not_found")
    notice = await ok(client.post(notice_url, json={}, headers=official(test_keys)), 201)
    objection = await ok(
        client.post(
            f"/api/v1/notices/{notice['id']}/objections",
            json={"filer_name": "张三", "content": "评审打分不公。"},
        ),
        201,
    )
    answer = f"/api/v1/notices/{notice['id']}/objections/{objection['id']}/answer"
    assert_problem(
        await client.post(answer, json={"answer": "经复核评分无误。"}, headers=changyang), 404, "objection_not_found"
    )
    await ok(client.post(answer, json={"answer": "经复核评分无误。"}, headers=official(test_keys)))
    # The public notice itself is everybody's.
    assert (await ok(client.get(f"/api/v1/notices/{notice['id']}")))["id"] == notice["id"]

    reads = {
        "need": (lambda n: f"/api/v1/need-pool/{n}", needs, "need_not_found"),
        "call": (lambda c: f"/api/v1/calls/{c}", calls, "call_not_found"),
        "applications": (lambda c: f"/api/v1/calls/{c}/applications", calls, "call_not_found"),
        "reviewers": (lambda c: f"/api/v1/calls/{c}/reviewers", calls, "call_not_found"),
        "trail": (lambda s: f"/api/v1/audit-trail/{s}", {**needs, **calls}, "audit_trail_not_found"),
    }
    for name, (url, records, code) in reads.items():
        for key in ("own", "other", "district"):
            subjects = [records[key]["id"]] if name != "trail" else [needs[key]["id"], calls[key]["id"]]
            for subject in subjects:
                response = await client.get(url(subject), headers=changyang)
                if key == "own":
                    assert response.status_code == 200, (name, response.text)
                else:
                    assert_problem(response, 404, code)
    for subject in (application["id"], notice["id"]):  # the district call's application and notice
        url = f"/api/v1/audit-trail/{subject}"
        assert_problem(await client.get(url, headers=changyang), 404, "audit_trail_not_found")
        assert (await ok(client.get(url, headers=official(test_keys))))["total"] >= 1
    assert [c["id"] for c in (await ok(client.get("/api/v1/calls", headers=changyang)))["items"]] == [
        calls["own"]["id"]
    ]
    past = f"/api/v1/calls/{district_call}/applications/{application['id']}/past-performance"
    assert_problem(await client.get(past, headers=changyang), 404, "application_not_found")
    one = f"/api/v1/calls/{district_call}/applications/{application['id']}"
    assert_problem(await client.get(one, headers=changyang), 404, "application_not_found")
    assert (await ok(client.get(past, headers=official(test_keys))))["provider_id"] == str(provider_id)

    # Historical projects name their street: the official imports and reads their street's only.
    url = "/api/v1/funds/historical-projects"

    def project(street: str, reference: str) -> dict[str, Any]:
        return {
            "reference": reference,
            "year": 2024,
            "title": f"{street}老年餐桌助餐服务",
            "direction": "elderly_care",
            "street_code": street,
            "provider": {"organization_id": str(provider_id), "name": "房山区阳光社工事务所", "kind": "public_welfare"},
            "amount_fen": 1_000_000,
            "result": "good",
            "score": 88,
        }

    refused = assert_problem(
        await client.post(url, json={"projects": [project(A, "FS-1"), project(B, "FS-2")]}, headers=changyang),
        403,
        "street_forbidden",
    )
    assert refused["field"] == "projects.1.street_code"
    await ok(client.post(url, json={"projects": [project(B, "FS-2")]}, headers=official(test_keys)))
    # The same project (same reference and provider) recorded for Yancun is not Changyang's to correct.
    corrected = assert_problem(
        await client.post(
            url, json={"projects": [project(A, "FS-1"), {**project(B, "FS-2"), "street_code": A}]}, headers=changyang
        ),
        403,
        "street_forbidden",
    )
    assert corrected["field"] == "projects.1.street_code"
    assert (await ok(client.post(url, json={"projects": [project(A, "FS-1")]}, headers=changyang)))["recorded"] == 1
    assert [p["street_code"] for p in (await ok(client.get(url, headers=changyang)))["items"]] == [A]
    assert {p["street_code"] for p in (await ok(client.get(url, headers=official(test_keys))))["items"]} == {A, B}
    assert (await ok(client.get("/api/v1/funds/dashboard", headers=changyang)))["totals"]["historical_projects"] == 1
