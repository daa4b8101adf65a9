"""From a reviewed call to a signed contract: approval within the fund, public notice, objections, signing."""

import asyncio
import json
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
from fastapi import FastAPI
from nats.js import JetStreamContext
from procurement_builders import known_provider
from sourcing_builders import (
    DEADLINE,
    NOTICE_AT,
    apply,
    approve_url,
    create_fund,
    official,
    provider_admin,
    published_call,
    reviewed_call,
    verified_provider,
)

from service_kit.events.contracts import ContractSigned, NoticePublished
from service_kit.testing import Clock, TestKeys, assert_problem


async def fund_of(client: httpx.AsyncClient, keys: TestKeys, fund_id: str) -> dict[str, Any]:
    return dict((await client.get(f"/api/v1/funds/{fund_id}", headers=official(keys))).json())


async def test_approval_never_commits_more_than_the_fund_holds(
    app: FastAPI, client: httpx.AsyncClient, js: JetStreamContext, test_keys: TestKeys, clock: Clock
) -> None:
    fund, call, a, b = await reviewed_call(app, client, js, test_keys, clock)  # 25 + 20 万 asked of 40 万
    # Two officials approve at once: one wins, the other is refused with what remains.
    first, second = await asyncio.gather(
        client.post(approve_url(call, a), json={}, headers=official(test_keys)),
        client.post(approve_url(call, b), json={}, headers=official(test_keys)),
    )
    assert sorted([first.status_code, second.status_code]) == [200, 409]
    loser = first if first.status_code == 409 else second
    assert_problem(loser, 409, "budget_exceeded")
    winner = (first if first.status_code == 200 else second).json()
    assert winner["status"] == "approved"
    seen = await fund_of(client, test_keys, fund["id"])
    assert seen["committed_fen"] == winner["approved_amount_fen"]
    assert seen["remaining_fen"] == 40_000_000 - winner["approved_amount_fen"]

    # The other, approved for less, fits.
    other = b if winner["id"] == a["id"] else a
    reduced = await client.post(approve_url(call, other), json={"amount_fen": 15_000_000}, headers=official(test_keys))
    assert reduced.status_code == 200, reduced.text
    seen = await fund_of(client, test_keys, fund["id"])
    assert seen["committed_fen"] == winner["approved_amount_fen"] + 15_000_000
    apps = await client.get(f"/api/v1/calls/{call['id']}/applications?limit=50", headers=official(test_keys))
    approved = [x["approved_amount_fen"] for x in apps.json()["items"] if x["status"] == "approved"]
    assert sum(approved) == seen["committed_fen"]  # committed = the approved applications' amounts

    assert_problem(await client.post(approve_url(call, a), json={}, headers=official(test_keys)), 409)
    trail = await client.get(f"/api/v1/audit-trail/{fund['id']}", headers=official(test_keys))
    assert [e["action"] for e in trail.json()["items"]] == ["created", "committed", "committed"]


async def test_approval_checks(
    app: FastAPI, client: httpx.AsyncClient, js: JetStreamContext, test_keys: TestKeys, clock: Clock
) -> None:
    provider_id = await verified_provider(app, js)
    fund = await create_fund(client, test_keys)
    call = await published_call(client, test_keys, fund["id"])
    a = await apply(client, test_keys, call["id"], provider_id)
    assert_problem(
        await client.post(approve_url(call, a), json={}, headers=official(test_keys)), 409, "review_not_closed"
    )
    clock.now = DEADLINE
    await client.post(f"/api/v1/calls/{call['id']}/close", headers=official(test_keys))
    await client.post(f"/api/v1/calls/{call['id']}/close-review", headers=official(test_keys))
    too_much = await client.post(approve_url(call, a), json={"amount_fen": 20_000_001}, headers=official(test_keys))
    assert_problem(too_much, 422, "amount_above_request")
    assert_problem(await client.post(approve_url(call, a), json={}, headers=official(test_keys)), 409, "not_reviewed")
    assert_problem(
        await client.post(approve_url(call, a), json={}, headers=provider_admin(test_keys, provider_id)), 403
    )
    assert_problem(
        await client.post(
            f"/api/v1/calls/{call['id']}/applications/{uuid.uuid4()}/approve", json={}, headers=official(test_keys)
        ),
        404,
    )
    notice = await client.post(f"/api/v1/calls/{call['id']}/notice", json={}, headers=official(test_keys))
    assert_problem(notice, 409, "nothing_approved")


async def test_the_notice_runs_objections_are_answered_and_then_the_contract_is_signed(
    app: FastAPI, client: httpx.AsyncClient, js: JetStreamContext, test_keys: TestKeys, clock: Clock
) -> None:
    fund, call, a, b = await reviewed_call(app, client, js, test_keys, clock, budget_fen=100_000_000)
    approved = await client.post(approve_url(call, a), json={}, headers=official(test_keys))
    assert approved.status_code == 200, approved.text

    # No contract before the notice is published.
    offering_id = uuid.uuid4()
    await known_provider(app, uuid.UUID(a["provider_id"]), offering_id)  # the provider's own offering
    terms = {
        "start_date": "2027-01-01",
        "end_date": "2027-12-31",
        "funded_offerings": [
            {
                "offering_id": str(offering_id),
                "unit_price_fen": 1500,
                "resident_price_fen": 300,
                "quota": 10000,
                "eligibility_tags": ["80+"],
            }
        ],
    }
    contract_url = f"/api/v1/calls/{call['id']}/applications/{a['id']}/contract"
    assert_problem(await client.post(contract_url, json=terms, headers=official(test_keys)), 409, "notice_missing")
    not_approved = f"/api/v1/calls/{call['id']}/applications/{b['id']}/contract"
    assert_problem(await client.post(not_approved, json=terms, headers=official(test_keys)), 409)

    sub = await js.pull_subscribe(NoticePublished.type, durable="test-notices")
    clock.now = NOTICE_AT
    published = await client.post(f"/api/v1/calls/{call['id']}/notice", json={}, headers=official(test_keys))
    assert published.status_code == 201, published.text
    notice = published.json()
    assert (notice["period_working_days"], notice["objection_deadline"]) == (5, "2026-12-21")
    assert [(p["application_id"], p["amount_fen"], p["score"]) for p in notice["projects"]] == [
        (a["id"], 25_000_000, 90.0)
    ]
    assert notice["projects"][0]["provider_name"] == "房山区阳光社工事务所"
    assert_problem(
        await client.post(f"/api/v1/calls/{call['id']}/notice", json={}, headers=official(test_keys)),
        409,
        "notice_exists",
    )
    (message,) = await sub.fetch(1, timeout=10)
    event = json.loads(message.data)
    assert event["notice_id"] == notice["id"]
    assert event["url_path"] == f"/api/v1/notices/{notice['id']}"
    assert event["objection_deadline"] == "2026-12-21"
    await message.ack()

    # The public reads the notice without logging in; anyone may object while it runs.
    assert (await client.get(f"/api/v1/notices/{notice['id']}")).status_code == 200
    assert (await client.get("/api/v1/notices")).json()["total"] == 1
    objection = await client.post(
        f"/api/v1/notices/{notice['id']}/objections",
        json={
            "filer_name": "张三丰",
            "filer_phone": "13812345678",
            "application_id": a["id"],
            "content": "该机构去年服务有投诉，请核实。联系我13812345678，身份证110101199003074512。",
        },
    )
    assert objection.status_code == 201, objection.text
    public = objection.json()
    assert public["filer"] == "张**"
    assert "13812345678" not in json.dumps(public)
    assert "110101199003074512" not in json.dumps(public)
    assert "138****5678" in public["content"]
    assert "110101************" in public["content"]
    unlisted = await client.post(
        f"/api/v1/notices/{notice['id']}/objections",
        json={"filer_name": "李四", "application_id": b["id"], "content": "异议"},
    )
    assert_problem(unlisted, 422, "project_not_in_notice")

    contract = await client.post(contract_url, json=terms, headers=official(test_keys))
    assert contract.status_code == 201, contract.text
    drafted = contract.json()
    assert (drafted["status"], drafted["amount_fen"], drafted["application_id"]) == ("draft", 25_000_000, a["id"])
    assert drafted["title"] == a["title"]
    # Competitive: its award is the approval (立项), its fund the call's, which committed the amount then.
    assert (drafted["procurement_method"], drafted["fund_id"]) == ("open", fund["id"])
    assert (drafted["award"]["status"], drafted["award"]["decided_by"]) == ("approved", "official-wang")
    assert drafted["award"]["rationale"] is None
    assert_problem(await client.post(contract_url, json=terms, headers=official(test_keys)), 409, "contract_exists")
    sign_url = f"/api/v1/contracts/{drafted['id']}/sign"

    # The last day of the notice, 21 December 15:00 in Beijing: still running.
    clock.now = datetime(2026, 12, 21, 7, 0, tzinfo=UTC)
    assert_problem(await client.post(sign_url, headers=official(test_keys)), 409, "notice_period_running")
    provider = provider_admin(test_keys, a["provider_id"])  # the notice binds both parties' signatures
    assert_problem(await client.post(sign_url, headers=provider), 409, "notice_period_running")
    # 22 December: the notice has ended, but an objection is unanswered.
    clock.now = datetime(2026, 12, 22, 1, 0, tzinfo=UTC)
    assert_problem(await client.post(sign_url, headers=official(test_keys)), 409, "objection_open")
    assert_problem(await client.post(sign_url, headers=provider), 409, "objection_open")
    late = await client.post(
        f"/api/v1/notices/{notice['id']}/objections", json={"filer_name": "王五", "content": "迟到的异议"}
    )
    assert_problem(late, 409, "notice_period_over")

    answer_url = f"/api/v1/notices/{notice['id']}/objections/{public['id']}/answer"
    body = {"answer": "经核实，相关投诉已于2026年6月办结，不影响立项。"}
    assert_problem(await client.post(answer_url, json=body, headers=test_keys.headers("provider_admin")), 403)
    answered = await client.post(answer_url, json=body, headers=official(test_keys))
    assert answered.status_code == 200, answered.text
    assert (answered.json()["status"], answered.json()["filer_phone"]) == ("answered", "13812345678")
    assert_problem(await client.post(answer_url, json=body, headers=official(test_keys)), 409)
    shown = (await client.get(f"/api/v1/notices/{notice['id']}")).json()
    assert [(o["status"], o["answer"], o["filer"]) for o in shown["objections"]] == [
        ("answered", body["answer"], "张**")
    ]

    contracts = await js.pull_subscribe(ContractSigned.type, durable="test-contracts")
    purchaser = await client.post(sign_url, headers=official(test_keys))
    assert (purchaser.status_code, purchaser.json()["status"]) == (200, "draft"), purchaser.text
    signed = await client.post(sign_url, headers=provider)
    assert signed.status_code == 200, signed.text
    assert signed.json()["status"] == "active"
    (message,) = await contracts.fetch(1, timeout=10)
    assert json.loads(message.data)["contract_id"] == drafted["id"]
    await message.ack()

    history = await client.get(f"/api/v1/contracts/{drafted['id']}/history", headers=official(test_keys))
    assert [e["action"] for e in history.json()["items"]] == ["created", "purchaser_signed", "signed"]
    trail = await client.get(f"/api/v1/audit-trail/{notice['id']}", headers=official(test_keys))
    assert [e["action"] for e in trail.json()["items"]] == [
        "published",
        "objection_filed",
        "objection_answered",
    ]


async def test_the_notice_period_can_be_set_and_skips_holidays(
    app: FastAPI, client: httpx.AsyncClient, js: JetStreamContext, test_keys: TestKeys, clock: Clock
) -> None:
    _, call, a, _ = await reviewed_call(app, client, js, test_keys, clock, budget_fen=100_000_000)
    await client.post(approve_url(call, a), json={}, headers=official(test_keys))
    # Tuesday 29 December 2026: 30, 31 December, then New Year's Day (Friday) is off; 4 and 5 January count.
    clock.now = datetime(2026, 12, 29, 2, 0, tzinfo=UTC)
    for bad in ({"period_working_days": 0}, {"period_working_days": 3.5}, {"period_working_days": 31}, {"x": 1}):
        response = await client.post(f"/api/v1/calls/{call['id']}/notice", json=bad, headers=official(test_keys))
        assert_problem(response, 422)
    published = await client.post(
        f"/api/v1/calls/{call['id']}/notice", json={"period_working_days": 4}, headers=official(test_keys)
    )
    assert (published.json()["period_working_days"], published.json()["objection_deadline"]) == (4, "2027-01-05")


async def test_unknown_notices_and_objections_are_not_found(client: httpx.AsyncClient, test_keys: TestKeys) -> None:
    assert_problem(await client.get(f"/api/v1/notices/{uuid.uuid4()}"), 404, "notice_not_found")
    objection = await client.post(
        f"/api/v1/notices/{uuid.uuid4()}/objections", json={"filer_name": "李四", "content": "异议"}
    )
    assert_problem(objection, 404, "notice_not_found")
