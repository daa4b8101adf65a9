"""Every contract comes through a procurement method and draws on a fund: a direct award is proposed by one
official with its legal rationale and approved by another, for a verified, unsanctioned provider's own
published offerings, each funded by one active contract at a time; awards, supplements and payments never take
a fund beyond its budget, however many race for it (run on SQLite and, with LINLI_TEST_POSTGRES_URL, on
PostgreSQL)."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import Callable
from typing import Any

import httpx
from fastapi import FastAPI
from lifecycle_builders import awarded_contract
from nats.js import JetStreamContext
from procurement_builders import (
    approver,
    award_body,
    contract_body,
    create_contract,
    deliver_events,
    known_provider,
    new_fund,
    offering_published,
    proposer,
    signed_contract,
)
from sourcing_builders import provider_admin, sanctioned

from procurement.config import Settings
from service_kit.events.contracts import ProviderSuspended
from service_kit.testing import Clock, TestKeys, assert_problem


async def fund_of(client: httpx.AsyncClient, keys: TestKeys, fund_id: str) -> dict[str, Any]:
    fund = dict((await client.get(f"/api/v1/funds/{fund_id}", headers=proposer(keys))).json())
    assert fund["spent_fen"] + fund["outstanding_fen"] + fund["remaining_fen"] == fund["budget_fen"]
    assert 0 <= fund["spent_fen"] <= fund["committed_fen"] <= fund["budget_fen"]
    return fund


async def contracts_of(client: httpx.AsyncClient, keys: TestKeys) -> list[dict[str, Any]]:
    response = await client.get("/api/v1/contracts", params={"limit": 200}, headers=proposer(keys))
    assert response.status_code == 200, response.text
    return list(response.json()["items"])


def worth(amount_fen: int) -> dict[str, Any]:
    """A contract of ``amount_fen`` whose one funded offering is worth no more (quota × ¥15)."""
    body = contract_body(uuid.uuid4(), amount_fen=amount_fen)
    body["funded_offerings"][0]["quota"] = amount_fen // 1500
    return body


def approve_url(contract: dict[str, Any]) -> str:
    return f"/api/v1/contracts/{contract['id']}/direct-award/approve"


async def test_a_direct_award_names_a_fund_and_a_verified_providers_own_offerings(
    app: FastAPI, client: httpx.AsyncClient, test_keys: TestKeys, clock: Clock
) -> None:
    fund = await new_fund(client, test_keys, budget_fen=20_000_000)
    provider_id, meals, visits = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    await known_provider(app, provider_id, meals, visits)

    async def refused(body: dict[str, Any], status: int, code: str, field: str | None = None) -> dict[str, Any]:
        response = await client.post("/api/v1/contracts", json=body, headers=proposer(test_keys))
        problem = assert_problem(response, status, code)
        if field is not None:
            assert [e["field"] for e in problem["errors"]] == [field]
        return problem

    good = contract_body(provider_id, meals, visits)
    await refused(award_body(good, str(uuid.uuid4())), 404, "fund_not_found")
    # Procurement has not heard of the provider from the registry: it was never verified.
    await refused(award_body(contract_body(uuid.uuid4()), fund["id"]), 422, "provider_not_verified", "provider_id")
    # The second funded offering is another provider's, then no offering anyone published, then withdrawn.
    other_provider, others = uuid.uuid4(), uuid.uuid4()
    await known_provider(app, other_provider, others)
    problem = await refused(
        award_body(contract_body(provider_id, meals, others), fund["id"]),
        422,
        "offering_not_own",
        "funded_offerings.1.offering_id",
    )
    assert problem["offering_id"] == str(others)
    await refused(
        award_body(contract_body(provider_id, meals, uuid.uuid4()), fund["id"]),
        422,
        "offering_not_own",
        "funded_offerings.1.offering_id",
    )
    await deliver_events(app, "offerings", offering_published(visits, provider_id, status="withdrawn", version=2))
    await refused(award_body(good, fund["id"]), 422, "offering_not_published", "funded_offerings.1.offering_id")
    # More than the fund has left.
    problem = await refused(
        award_body(contract_body(provider_id, meals, amount_fen=20_000_001), fund["id"]), 409, "budget_exceeded"
    )
    assert problem["remaining_fen"] == 20_000_000
    # A sanctioned provider is awarded nothing; nor is a suspended one.
    await deliver_events(app, "providers", sanctioned(provider_id, clock.now), source="procurement")
    await refused(award_body(contract_body(provider_id, meals), fund["id"]), 422, "provider_sanctioned", "provider_id")
    suspended, offering = uuid.uuid4(), uuid.uuid4()
    await known_provider(app, suspended, offering)
    await deliver_events(
        app, "providers", ProviderSuspended(provider_id=suspended, name="x", kind="startup", status="suspended")
    )
    await refused(award_body(contract_body(suspended, offering), fund["id"]), 422, "provider_not_verified")

    # Nothing of the refused requests remains.
    assert await contracts_of(client, test_keys) == []
    assert (await fund_of(client, test_keys, fund["id"]))["committed_fen"] == 0


async def test_a_second_official_approves_or_rejects_a_direct_award_before_it_is_signed(
    app: FastAPI, client: httpx.AsyncClient, test_keys: TestKeys
) -> None:
    fund = await new_fund(client, test_keys, budget_fen=30_000_000)
    proposed = await create_contract(
        app, client, test_keys, contract_body(uuid.uuid4()), fund_id=fund["id"], approve=False
    )
    sign = f"/api/v1/contracts/{proposed['id']}/sign"
    provider = test_keys.headers("provider_admin", provider_id=proposed["provider_id"])
    # Not approved: neither party signs it.
    for party in (test_keys.headers("official"), provider):
        problem = assert_problem(await client.post(sign, headers=party), 409, "award_not_approved")
        assert problem["award_status"] == "proposed"
    # Four eyes: the proposer does not approve; a provider or an evaluator is no official at all.
    assert_problem(await client.post(approve_url(proposed), json={}, headers=proposer(test_keys)), 403, "own_proposal")
    assert_problem(await client.post(approve_url(proposed), json={}, headers=provider), 403)
    assert_problem(await client.post(approve_url(proposed), json={}, headers=test_keys.headers("evaluator")), 403)

    reject = f"/api/v1/contracts/{proposed['id']}/direct-award/reject"
    assert_problem(await client.post(reject, json={}, headers=approver(test_keys)), 422)  # a reason is required
    rejected = await client.post(reject, json={"reason": "不符合单一来源条件，应公开征集"}, headers=approver(test_keys))
    assert rejected.status_code == 200, rejected.text
    assert (rejected.json()["award"]["status"], rejected.json()["award"]["reason"]) == (
        "rejected",
        "不符合单一来源条件，应公开征集",
    )
    again = await client.post(approve_url(proposed), json={}, headers=approver(test_keys))
    assert assert_problem(again, 409, "invalid_transition")["current_status"] == "rejected"
    assert_problem(await client.post(sign, headers=test_keys.headers("official")), 409, "award_not_approved")
    assert (await fund_of(client, test_keys, fund["id"]))["committed_fen"] == 0
    history = await client.get(f"/api/v1/contracts/{proposed['id']}/history", headers=proposer(test_keys))
    assert [e["action"] for e in history.json()["items"]] == ["created", "award_rejected"]

    # Two awards that each fit the fund but not together: the second approval is refused, nothing of it stays.
    first = await create_contract(
        app, client, test_keys, contract_body(uuid.uuid4(), amount_fen=20_000_000), fund_id=fund["id"], approve=False
    )
    second = await create_contract(
        app, client, test_keys, contract_body(uuid.uuid4(), amount_fen=20_000_000), fund_id=fund["id"], approve=False
    )
    assert (await client.post(approve_url(first), json={}, headers=approver(test_keys))).status_code == 200
    over = await client.post(approve_url(second), json={}, headers=approver(test_keys))
    assert assert_problem(over, 409, "budget_exceeded")["remaining_fen"] == 10_000_000
    still = await client.get(f"/api/v1/contracts/{second['id']}", headers=proposer(test_keys))
    assert still.json()["award"]["status"] == "proposed"
    assert (await fund_of(client, test_keys, fund["id"]))["committed_fen"] == 20_000_000


async def test_a_provider_sanctioned_or_suspended_meanwhile_is_neither_approved_nor_signed(
    app: FastAPI, client: httpx.AsyncClient, test_keys: TestKeys, clock: Clock
) -> None:
    fund = await new_fund(client, test_keys)
    sanctioned_id, suspended_id = uuid.uuid4(), uuid.uuid4()
    proposed = await create_contract(
        app, client, test_keys, contract_body(sanctioned_id), fund_id=fund["id"], approve=False
    )
    approved = await create_contract(app, client, test_keys, contract_body(suspended_id), fund_id=fund["id"])
    committed = (await fund_of(client, test_keys, fund["id"]))["committed_fen"]

    await deliver_events(app, "providers", sanctioned(sanctioned_id, clock.now), source="procurement")
    refused = await client.post(approve_url(proposed), json={}, headers=approver(test_keys))
    assert_problem(refused, 422, "provider_sanctioned")
    await deliver_events(
        app,
        "providers",
        ProviderSuspended(provider_id=suspended_id, name="x", kind="public_welfare", status="suspended"),
    )
    sign = f"/api/v1/contracts/{approved['id']}/sign"
    assert_problem(await client.post(sign, headers=test_keys.headers("official")), 422, "provider_not_verified")
    assert (await fund_of(client, test_keys, fund["id"]))["committed_fen"] == committed


async def test_an_offering_is_funded_by_one_active_contract_at_a_time(
    app: FastAPI, client: httpx.AsyncClient, test_keys: TestKeys
) -> None:
    provider_id, offering_id = uuid.uuid4(), uuid.uuid4()
    fund = await new_fund(client, test_keys)
    first_half = await signed_contract(
        app,
        client,
        test_keys,
        contract_body(provider_id, offering_id, start="2027-01-01", end="2027-06-30"),
        fund_id=fund["id"],
    )

    # Proposed for a term overlapping it: refused, naming the contract that funds the offering.
    overlapping = contract_body(provider_id, offering_id, start="2027-06-30", end="2027-12-31")
    response = await client.post(
        "/api/v1/contracts", json=award_body(overlapping, fund["id"]), headers=proposer(test_keys)
    )
    problem = assert_problem(response, 409, "offering_already_funded")
    assert (problem["contract_id"], problem["offering_id"]) == (first_half["id"], str(offering_id))

    # The second half may be signed; extending the first into it is refused, as is funding another's offering.
    second_half = await signed_contract(
        app,
        client,
        test_keys,
        contract_body(provider_id, offering_id, start="2027-07-01", end="2027-12-31"),
        fund_id=fund["id"],
    )
    amendments = f"/api/v1/contracts/{first_half['id']}/amendments"
    longer = {"summary": "延长服务期", "reason": "续期", "end_date": "2027-09-30"}
    problem = assert_problem(
        await client.post(amendments, json=longer, headers=proposer(test_keys)), 409, "offering_already_funded"
    )
    assert problem["contract_id"] == second_half["id"]
    others = uuid.uuid4()
    await known_provider(app, uuid.uuid4(), others)
    swap = {
        "summary": "调整资助服务",
        "reason": "调整",
        "funded_offerings": [{**first_half["funded_offerings"][0], "offering_id": str(others)}],
    }
    for key in ("delivered_count", "delivered_value_fen"):
        swap["funded_offerings"][0].pop(key)
    problem = assert_problem(
        await client.post(amendments, json=swap, headers=proposer(test_keys)), 422, "offering_not_own"
    )
    assert [e["field"] for e in problem["errors"]] == ["funded_offerings.0.offering_id"]

    # Once the first is terminated, another may fund the offering for the rest of its term.
    ended = await client.post(
        f"/api/v1/contracts/{first_half['id']}/terminate", json={"reason": "服务商调整"}, headers=proposer(test_keys)
    )
    assert ended.status_code == 200, ended.text
    await signed_contract(
        app,
        client,
        test_keys,
        contract_body(provider_id, offering_id, start="2027-03-01", end="2027-06-30"),
        fund_id=fund["id"],
    )


async def test_two_contracts_for_one_offering_signed_at_once_activate_one(
    app: FastAPI, client: httpx.AsyncClient, test_keys: TestKeys
) -> None:
    provider_id, offering_id = uuid.uuid4(), uuid.uuid4()
    fund = await new_fund(client, test_keys)
    rounds = []
    for _ in range(3):
        drafts = [
            await create_contract(app, client, test_keys, contract_body(provider_id, offering_id), fund_id=fund["id"])
            for _ in range(2)
        ]
        for draft in drafts:
            assert (
                await client.post(f"/api/v1/contracts/{draft['id']}/sign", headers=test_keys.headers("official"))
            ).status_code == 200
        provider = provider_admin(test_keys, provider_id)
        responses = await asyncio.gather(
            *(client.post(f"/api/v1/contracts/{draft['id']}/sign", headers=provider) for draft in drafts)
        )
        rounds.append(sorted(r.status_code for r in responses))
        refused = [r for r in responses if r.status_code == 409]
        assert {r.json()["code"] for r in refused} <= {"offering_already_funded"}
        active = [c for c in await contracts_of(client, test_keys) if c["status"] == "active"]
        assert len(active) == 1
        # End it, so that the next round races afresh.
        ended = await client.post(
            f"/api/v1/contracts/{active[0]['id']}/terminate", json={"reason": "下一轮"}, headers=proposer(test_keys)
        )
        assert ended.status_code == 200
    assert rounds == [[200, 409]] * 3


async def test_awards_supplements_and_payments_racing_for_one_fund_never_exceed_it(
    app: FastAPI,
    client: httpx.AsyncClient,
    test_keys: TestKeys,
    clock: Clock,
    settings: Settings,
    report_figure: Callable[[str], None],
) -> None:
    """Twelve direct awards of ¥10,000 race for a ¥55,000 fund; the five approved are signed at once; then five
    supplements of ¥1,000 and three new awards of ¥2,000 race for the ¥5,000 left while the five first
    installments are paid. The fund's ledger equals the contracts' and payments' sums and never passes its
    budget."""
    database = "PostgreSQL" if settings.database_url.startswith("postgresql") else "SQLite"
    budget, amount = 5_500_000, 1_000_000
    fund = await new_fund(client, test_keys, budget_fen=budget)
    proposals = [
        await create_contract(app, client, test_keys, worth(amount), fund_id=fund["id"], approve=False)
        for _ in range(12)
    ]
    decisions = await asyncio.gather(
        *(client.post(approve_url(p), json={}, headers=test_keys.headers("official")) for p in proposals)
    )
    outcome = Counter(r.status_code for r in decisions)
    assert outcome == {200: 5, 409: 7}, [r.text for r in decisions]
    assert {r.json()["code"] for r in decisions if r.status_code == 409} == {"budget_exceeded"}
    approved = [r.json() for r in decisions if r.status_code == 200]
    assert (await fund_of(client, test_keys, fund["id"]))["committed_fen"] == 5 * amount

    # Both parties of the five sign all at once.
    signatures = await asyncio.gather(
        *(
            client.post(f"/api/v1/contracts/{c['id']}/sign", headers=headers)
            for c in approved
            for headers in (test_keys.headers("official"), provider_admin(test_keys, c["provider_id"]))
        )
    )
    assert [s.status_code for s in signatures] == [200] * 10
    active = [c for c in await contracts_of(client, test_keys) if c["status"] == "active"]
    assert len(active) == 5

    # The ¥5,000 left: five supplements and three new awards race for it while the first installments are paid.
    supplements = []
    for contract in active:
        proposed = await client.post(
            f"/api/v1/contracts/{contract['id']}/amendments",
            json={"summary": "增加服务人次", "reason": "需求增长", "supplement_fen": amount // 10},
            headers=proposer(test_keys),
        )
        assert proposed.status_code == 201, proposed.text
        supplements.append((contract, proposed.json()))
    late = [
        await create_contract(
            app,
            client,
            test_keys,
            worth(2 * amount // 10),
            fund_id=fund["id"],
            approve=False,
        )
        for _ in range(3)
    ]
    requests = [
        *(
            client.post(
                f"/api/v1/contracts/{contract['id']}/amendments/{amendment['id']}/approve",
                json={},
                headers=provider_admin(test_keys, contract["provider_id"]),
            )
            for contract, amendment in supplements
        ),
        *(client.post(approve_url(p), json={}, headers=test_keys.headers("official")) for p in late),
        *(
            client.post(
                f"/api/v1/contracts/{c['id']}/disbursements",
                json={"voucher_number": f"FS-RACE-{n}", "paid_on": "2026-11-27"},
                headers=test_keys.headers("official"),
            )
            for n, c in enumerate(active)
        ),
    ]
    responses = await asyncio.gather(*requests)
    supplement_codes = [r.status_code for r in responses[:5]]
    award_codes = [r.status_code for r in responses[5:8]]
    payment_codes = [r.status_code for r in responses[8:]]
    assert payment_codes == [201] * 5, [r.text for r in responses[8:]]
    assert set(supplement_codes + award_codes) <= {200, 409}
    assert {r.json()["code"] for r in responses[:8] if r.status_code == 409} <= {"budget_exceeded"}
    supplements_in = supplement_codes.count(200)
    awards_in = award_codes.count(200)
    # What was refused left nothing behind; what got in filled the fund as far as it would go.
    assert supplements_in * (amount // 10) + awards_in * (2 * amount // 10) <= budget - 5 * amount

    contracts = await contracts_of(client, test_keys)
    awarded = [c for c in contracts if c["award"]["status"] == "approved"]
    assert len(awarded) == 5 + awards_in
    assert sum(c["supplement_fen"] for c in awarded) == supplements_in * (amount // 10)
    ledger = await fund_of(client, test_keys, fund["id"])
    assert ledger["committed_fen"] == sum(c["amount_fen"] for c in awarded) <= budget
    assert ledger["spent_fen"] == sum(c["disbursed_fen"] for c in contracts) == 5 * amount * 30 // 100
    assert all(c["disbursed_fen"] <= c["amount_fen"] for c in contracts)
    report_figure(
        f"procurement ({database}): 12 direct awards of ¥10,000 racing for a ¥55,000 fund → 5 approved, 7 "
        f"budget_exceeded; 10 signatures at once → 5 active; then {supplements_in}/5 supplements of ¥1,000 and "
        f"{awards_in}/3 awards of ¥2,000 for the ¥5,000 left, 5 installments paid at once → committed "
        f"¥{ledger['committed_fen'] // 100:,} = Σ awarded contracts, spent ¥{ledger['spent_fen'] // 100:,} = Σ "
        f"payments, budget ¥{budget // 100:,}"
    )


async def test_nothing_but_a_proposed_direct_award_is_approved_as_one(
    app: FastAPI, client: httpx.AsyncClient, js: JetStreamContext, test_keys: TestKeys, clock: Clock
) -> None:
    unknown = await client.post(
        f"/api/v1/contracts/{uuid.uuid4()}/direct-award/approve", json={}, headers=approver(test_keys)
    )
    assert_problem(unknown, 404, "contract_not_found")
    contract = await signed_contract(app, client, test_keys, contract_body(uuid.uuid4()))
    again = await client.post(approve_url(contract), json={}, headers=test_keys.headers("official"))
    assert assert_problem(again, 409, "invalid_transition")["current_status"] == "approved"
    # A contract from a call was awarded by the approval of its application (立项), not here.
    _, competitive, _ = await awarded_contract(app, client, js, test_keys, clock)
    assert competitive["procurement_method"] == "open"
    for action in ("approve", "reject"):
        response = await client.post(
            f"/api/v1/contracts/{competitive['id']}/direct-award/{action}",
            json={"reason": "x"},
            headers=test_keys.headers("official"),
        )
        assert_problem(response, 409, "not_a_direct_award")
