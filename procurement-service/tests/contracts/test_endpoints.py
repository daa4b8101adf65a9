import asyncio
import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from procurement_builders import (
    RATIONALE,
    approver,
    award_body,
    contract_body,
    create_contract,
    known_provider,
    new_fund,
    proposer,
    signed_contract,
)

from service_kit.testing import TestKeys, assert_problem


async def propose(
    app: FastAPI, client: httpx.AsyncClient, keys: TestKeys, body: dict[str, Any], headers: dict[str, str] | None = None
) -> httpx.Response:
    """Propose ``body`` as a direct award from a new fund, its provider verified and its offerings its own."""
    await known_provider(
        app, uuid.UUID(body["provider_id"]), *(uuid.UUID(o["offering_id"]) for o in body["funded_offerings"])
    )
    fund = await new_fund(client, keys)
    return await client.post("/api/v1/contracts", json=award_body(body, fund["id"]), headers=headers or proposer(keys))


def unchecked(body: dict[str, Any]) -> dict[str, Any]:
    """A direct award's body naming a fund that need not exist: for requests refused before it is looked up."""
    return award_body(body, str(uuid.uuid4()))


async def test_an_official_proposes_a_direct_award_and_another_approves_it(
    app: FastAPI, client: httpx.AsyncClient, test_keys: TestKeys
) -> None:
    provider_id, offering_id = uuid.uuid4(), uuid.uuid4()
    fund = await new_fund(client, test_keys, budget_fen=50_000_000)
    contract = await create_contract(
        app, client, test_keys, contract_body(provider_id, offering_id), fund_id=fund["id"], approve=False
    )

    assert (contract["procurement_method"], contract["fund_id"]) == ("direct", fund["id"])
    assert contract["award"] == {
        "status": "proposed",
        "rationale": RATIONALE,
        "proposed_by": "official-wang",
        "decided_by": None,
        "decided_at": None,
        "reason": None,
    }
    # Nothing is committed before the award is approved.
    fund_url = f"/api/v1/funds/{fund['id']}"
    assert (await client.get(fund_url, headers=proposer(test_keys))).json()["committed_fen"] == 0

    approve = f"/api/v1/contracts/{contract['id']}/direct-award/approve"
    own = await client.post(approve, json={}, headers=proposer(test_keys))
    assert_problem(own, 403, "own_proposal")
    approved = await client.post(approve, json={"reason": "符合单一来源条件"}, headers=approver(test_keys))
    assert approved.status_code == 200, approved.text
    award = approved.json()["award"]
    assert (award["status"], award["decided_by"], award["reason"]) == ("approved", "official-li", "符合单一来源条件")
    assert (await client.get(fund_url, headers=proposer(test_keys))).json()["committed_fen"] == 10_000_000
    again = await client.post(approve, json={}, headers=test_keys.headers("official"))
    assert assert_problem(again, 409, "invalid_transition")["current_status"] == "approved"
    assert (await client.get(fund_url, headers=proposer(test_keys))).json()["committed_fen"] == 10_000_000

    contract = approved.json()
    assert contract["status"] == "draft"
    assert contract["title"] == "长阳镇老年餐桌服务项目"
    assert contract["provider_id"] == str(provider_id)
    assert contract["amount_fen"] == 10_000_000
    assert contract["stable_service"] is False
    assert contract["signed_at"] is None
    assert contract["funded_offerings"] == [
        {
            "offering_id": str(offering_id),
            "unit_price_fen": 1500,
            "resident_price_fen": 300,
            "quota": 2000,
            "eligibility_tags": ["80+", "living_alone"],
            "delivered_count": 0,
            "delivered_value_fen": 0,
        }
    ]
    assert contract["delivered_count"] == 0
    assert contract["delivered_value_fen"] == 0

    fetched = await client.get(f"/api/v1/contracts/{contract['id']}", headers=test_keys.headers("official"))
    assert fetched.status_code == 200
    assert fetched.json() == contract


async def test_an_admin_may_propose_a_direct_award(
    app: FastAPI, client: httpx.AsyncClient, test_keys: TestKeys
) -> None:
    response = await propose(app, client, test_keys, contract_body(uuid.uuid4()), test_keys.headers("admin"))
    assert response.status_code == 201, response.text


async def test_a_retried_create_with_the_same_idempotency_key_drafts_one_contract(
    app: FastAPI, client: httpx.AsyncClient, test_keys: TestKeys
) -> None:
    headers = {**test_keys.headers("official", sub="official-1"), "Idempotency-Key": "contract-2027-001"}
    terms = contract_body(uuid.uuid4(), uuid.uuid4())
    await known_provider(app, uuid.UUID(terms["provider_id"]), uuid.UUID(terms["funded_offerings"][0]["offering_id"]))
    body = award_body(terms, (await new_fund(client, test_keys))["id"])
    first = await client.post("/api/v1/contracts", json=body, headers=headers)
    again = await client.post("/api/v1/contracts", json=body, headers=headers)
    assert first.status_code == again.status_code == 201
    assert first.json()["id"] == again.json()["id"]
    listing = await client.get("/api/v1/contracts", headers=test_keys.headers("official"))
    assert listing.json()["total"] == 1


@pytest.mark.parametrize("roles", [("provider_admin",), ("evaluator",), ("operator",), ("resident",)])
async def test_only_officials_draft_contracts(
    client: httpx.AsyncClient, test_keys: TestKeys, roles: tuple[str, ...]
) -> None:
    provider_id = uuid.uuid4()
    response = await client.post(
        "/api/v1/contracts",
        json=unchecked(contract_body(provider_id)),
        headers=test_keys.headers(*roles, provider_id=provider_id),
    )
    assert_problem(response, 403, "forbidden")


async def test_without_a_token_nothing_is_drafted(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/v1/contracts", json=unchecked(contract_body(uuid.uuid4())))
    assert_problem(response, 401, "unauthorized")


@pytest.mark.parametrize(
    ("amount", "why"),
    [
        (1500.5, "a float with fractions of a fen"),
        (10_000_000.0, "a float, even a whole one"),
        ("10000000", "a string"),
        (-100, "negative"),
        (0, "zero"),
        (True, "a boolean"),
        (None, "null"),
        (10**30, "beyond any contract"),
    ],
)
async def test_amount_must_be_a_positive_integer_of_fen(
    client: httpx.AsyncClient, test_keys: TestKeys, amount: Any, why: str
) -> None:
    response = await client.post(
        "/api/v1/contracts",
        json=unchecked(contract_body(uuid.uuid4(), amount_fen=amount)),
        headers=test_keys.headers("official"),
    )
    body = assert_problem(response, 422, "validation_error")
    assert [e["field"] for e in body["errors"]] == ["amount_fen"], why


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"unit_price_fen": 15.5}, "funded_offerings.0.unit_price_fen"),
        ({"unit_price_fen": "1500"}, "funded_offerings.0.unit_price_fen"),
        ({"resident_price_fen": -1}, "funded_offerings.0.resident_price_fen"),
        ({"quota": 0}, "funded_offerings.0.quota"),
        ({"quota": 2.0}, "funded_offerings.0.quota"),
        ({"offering_id": "not-a-uuid"}, "funded_offerings.0.offering_id"),
        ({"eligibility_tags": "80+"}, "funded_offerings.0.eligibility_tags"),
        ({"discount": 10}, "funded_offerings.0.discount"),
    ],
)
async def test_funded_offerings_are_checked_field_by_field(
    client: httpx.AsyncClient, test_keys: TestKeys, change: dict[str, Any], field: str
) -> None:
    body = contract_body(uuid.uuid4())
    body["funded_offerings"][0].update(change)
    response = await client.post("/api/v1/contracts", json=unchecked(body), headers=test_keys.headers("official"))
    problem = assert_problem(response, 422, "validation_error")
    assert problem["errors"][0]["field"] == field


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"status": "active"}, "status"),
        ({"signed_at": "2027-01-01T00:00:00+08:00"}, "signed_at"),
        ({"funded_offerings": []}, "funded_offerings"),
        ({"title": ""}, "title"),
        ({"title": "长" * 201}, "title"),
        ({"provider_id": 42}, "provider_id"),
        ({"start_date": "2027-02-30"}, "start_date"),
        ({"stable_service": "yes"}, "stable_service"),
        # A contract comes through a procurement method: a direct award names its fund and its legal rationale.
        ({"fund_id": None}, "fund_id"),
        ({"rationale": None}, "rationale"),
        ({"rationale": "   "}, "rationale"),
        ({"procurement_method": "open"}, "procurement_method"),
        ({"award_status": "approved"}, "award_status"),
    ],
)
async def test_malformed_contracts_are_refused(
    client: httpx.AsyncClient, test_keys: TestKeys, overrides: dict[str, Any], field: str
) -> None:
    body = {k: v for k, v in {**unchecked(contract_body(uuid.uuid4())), **overrides}.items() if v is not None}
    response = await client.post("/api/v1/contracts", json=body, headers=test_keys.headers("official"))
    problem = assert_problem(response, 422, "validation_error")
    assert [e["field"] for e in problem["errors"]] == [field]


async def test_a_bare_contract_as_before_is_refused_and_leaves_nothing(
    client: httpx.AsyncClient, test_keys: TestKeys
) -> None:
    """What the issue saw drafted, signed and paid: 9 billion yuan with no fund, no method, no review."""
    bare = contract_body(uuid.uuid4(), amount_fen=900_000_000_000)
    response = await client.post("/api/v1/contracts", json=bare, headers=test_keys.headers("official"))
    problem = assert_problem(response, 422, "validation_error")
    assert sorted(e["field"] for e in problem["errors"]) == ["fund_id", "rationale"]
    listing = await client.get("/api/v1/contracts", headers=test_keys.headers("official"))
    assert listing.json()["total"] == 0


async def test_a_body_that_is_not_json_is_refused(client: httpx.AsyncClient, test_keys: TestKeys) -> None:
    response = await client.post(
        "/api/v1/contracts",
        content=b'{"title": "unterminated',
        headers={**test_keys.headers("official"), "content-type": "application/json"},
    )
    assert_problem(response, 422, "validation_error")


async def test_dates_reversed_are_refused(app: FastAPI, client: httpx.AsyncClient, test_keys: TestKeys) -> None:
    response = await propose(app, client, test_keys, contract_body(uuid.uuid4(), start="2027-06-01", end="2027-05-31"))
    assert_problem(response, 422, "dates_reversed")


@pytest.mark.parametrize(
    ("start", "end", "stable", "status"),
    [
        ("2027-01-01", "2027-12-31", False, 201),
        ("2027-03-15", "2028-03-14", False, 201),
        ("2027-01-01", "2027-01-01", False, 201),
        ("2027-01-01", "2028-01-01", False, 422),
        ("2028-02-29", "2029-02-28", False, 201),
        ("2028-02-29", "2029-03-01", False, 422),
        ("2027-01-01", "2029-12-31", True, 201),
        ("2027-01-01", "2030-01-01", True, 422),
        ("2027-01-01", "2029-12-31", False, 422),
    ],
)
async def test_term_is_at_most_one_year_or_three_for_a_stable_service(
    app: FastAPI, client: httpx.AsyncClient, test_keys: TestKeys, start: str, end: str, stable: bool, status: int
) -> None:
    response = await propose(
        app, client, test_keys, contract_body(uuid.uuid4(), start=start, end=end, stable_service=stable)
    )
    assert response.status_code == status, response.text
    if status == 422:
        assert_problem(response, 422, "term_too_long")


async def test_funded_value_may_not_exceed_the_amount(
    app: FastAPI, client: httpx.AsyncClient, test_keys: TestKeys
) -> None:
    provider_id = uuid.uuid4()
    # Two offerings at 1500 fen × 2000 = 3,000,000 fen each: 6,000,000 in all.
    exact = contract_body(provider_id, uuid.uuid4(), uuid.uuid4(), amount_fen=6_000_000)
    response = await propose(app, client, test_keys, exact)
    assert response.status_code == 201, response.text

    over = contract_body(provider_id, uuid.uuid4(), uuid.uuid4(), amount_fen=5_999_999)
    problem = assert_problem(await propose(app, client, test_keys, over), 422, "funded_value_exceeds_amount")
    assert problem["funded_value_fen"] == 6_000_000


async def test_residents_never_pay_more_than_the_unit_price(
    app: FastAPI, client: httpx.AsyncClient, test_keys: TestKeys
) -> None:
    body = contract_body(uuid.uuid4())
    body["funded_offerings"][0]["resident_price_fen"] = 1501
    assert_problem(await propose(app, client, test_keys, body), 422, "resident_price_above_unit_price")


async def test_an_offering_is_funded_once_per_contract(
    app: FastAPI, client: httpx.AsyncClient, test_keys: TestKeys
) -> None:
    offering_id = uuid.uuid4()
    body = contract_body(uuid.uuid4(), offering_id, offering_id)
    assert_problem(await propose(app, client, test_keys, body), 422, "duplicate_offering")


def provider_of(contract: dict[str, Any], **claims: Any) -> dict[str, str]:
    return {"provider_id": str(contract["provider_id"]), **claims}


async def test_both_parties_sign_and_then_the_contract_is_active(
    app: FastAPI, client: httpx.AsyncClient, test_keys: TestKeys
) -> None:
    contract = await create_contract(app, client, test_keys, contract_body(uuid.uuid4()))
    url = f"/api/v1/contracts/{contract['id']}/sign"
    provider = test_keys.headers("provider_admin", **provider_of(contract, sub="admin-yangguang"))
    assert contract["purchaser_signature"] is None
    assert contract["provider_signature"] is None

    purchaser = await client.post(url, headers=test_keys.headers("official", sub="official-wang"))
    assert purchaser.status_code == 200, purchaser.text
    body = purchaser.json()
    assert (body["status"], body["signed_at"], body["provider_signature"]) == ("draft", None, None)
    assert body["purchaser_signature"]["signed_by"] == "official-wang"
    assert body["purchaser_signature"]["signed_at"] is not None

    again = await client.post(url, headers=test_keys.headers("official", sub="official-li"))
    assert assert_problem(again, 409, "already_signed")["party"] == "purchaser"

    signed = await client.post(url, headers=provider)
    assert signed.status_code == 200, signed.text
    body = signed.json()
    assert body["status"] == "active"
    assert body["signed_at"] == body["provider_signature"]["signed_at"]
    assert body["provider_signature"]["signed_by"] == "admin-yangguang"
    assert body["purchaser_signature"]["signed_by"] == "official-wang"

    for party in (test_keys.headers("official"), provider):
        problem = assert_problem(await client.post(url, headers=party), 409, "invalid_transition")
        assert problem["current_status"] == "active"


async def test_the_provider_may_sign_first(app: FastAPI, client: httpx.AsyncClient, test_keys: TestKeys) -> None:
    contract = await create_contract(app, client, test_keys, contract_body(uuid.uuid4()))
    url = f"/api/v1/contracts/{contract['id']}/sign"
    provider = test_keys.headers("provider_admin", **provider_of(contract))

    first = await client.post(url, headers=provider)
    assert first.status_code == 200, first.text
    assert (first.json()["status"], first.json()["purchaser_signature"]) == ("draft", None)
    assert first.json()["provider_signature"] is not None
    assert assert_problem(await client.post(url, headers=provider), 409, "already_signed")["party"] == "provider"

    second = await client.post(url, headers=test_keys.headers("official"))
    assert second.status_code == 200, second.text
    assert second.json()["status"] == "active"
    assert second.json()["signed_at"] == second.json()["purchaser_signature"]["signed_at"]


@pytest.mark.parametrize("role", ["resident", "evaluator", "reviewer", "provider_staff", "operator"])
async def test_only_the_parties_sign(app: FastAPI, client: httpx.AsyncClient, test_keys: TestKeys, role: str) -> None:
    contract = await create_contract(app, client, test_keys, contract_body(uuid.uuid4()))
    response = await client.post(
        f"/api/v1/contracts/{contract['id']}/sign", headers=test_keys.headers(role, **provider_of(contract))
    )
    assert_problem(response, 403)
    fetched = await client.get(f"/api/v1/contracts/{contract['id']}", headers=test_keys.headers("official"))
    assert (fetched.json()["status"], fetched.json()["provider_signature"]) == ("draft", None)


async def test_another_provider_cannot_sign(app: FastAPI, client: httpx.AsyncClient, test_keys: TestKeys) -> None:
    contract = await create_contract(app, client, test_keys, contract_body(uuid.uuid4()))
    url = f"/api/v1/contracts/{contract['id']}/sign"
    other = test_keys.headers("provider_admin", provider_id=str(uuid.uuid4()))
    assert_problem(await client.post(url, headers=other), 404, "contract_not_found")
    unscoped = test_keys.headers("provider_admin")  # an admin token naming no provider
    assert_problem(await client.post(url, headers=unscoped), 404, "contract_not_found")

    await client.post(url, headers=test_keys.headers("official"))
    fetched = await client.get(f"/api/v1/contracts/{contract['id']}", headers=test_keys.headers("official"))
    assert (fetched.json()["status"], fetched.json()["provider_signature"]) == ("draft", None)


async def test_transitions_of_an_unknown_contract_are_404(client: httpx.AsyncClient, test_keys: TestKeys) -> None:
    unknown = uuid.uuid4()
    sign = await client.post(f"/api/v1/contracts/{unknown}/sign", headers=test_keys.headers("official"))
    assert_problem(sign, 404, "contract_not_found")
    terminate = await client.post(
        f"/api/v1/contracts/{unknown}/terminate", json={"reason": "x"}, headers=test_keys.headers("official")
    )
    assert_problem(terminate, 404, "contract_not_found")


async def test_terminating_ends_an_active_contract(
    app: FastAPI, client: httpx.AsyncClient, test_keys: TestKeys
) -> None:
    contract = await signed_contract(app, client, test_keys, contract_body(uuid.uuid4()))
    url = f"/api/v1/contracts/{contract['id']}/terminate"

    missing_reason = await client.post(url, json={}, headers=test_keys.headers("official"))
    assert_problem(missing_reason, 422)
    blank_reason = await client.post(url, json={"reason": "   "}, headers=test_keys.headers("official"))
    assert_problem(blank_reason, 422)

    reason = "服务商连续两次评估不合格"
    terminated = await client.post(url, json={"reason": reason}, headers=test_keys.headers("official"))
    assert terminated.status_code == 200, terminated.text
    assert terminated.json()["status"] == "terminated"
    assert terminated.json()["termination_reason"] == reason
    assert terminated.json()["terminated_at"] is not None

    again = await client.post(url, json={"reason": reason}, headers=test_keys.headers("official"))
    assert_problem(again, 409, "invalid_transition")
    sign = await client.post(f"/api/v1/contracts/{contract['id']}/sign", headers=test_keys.headers("official"))
    assert_problem(sign, 409, "invalid_transition")


async def test_a_draft_cannot_be_terminated(app: FastAPI, client: httpx.AsyncClient, test_keys: TestKeys) -> None:
    contract = await create_contract(app, client, test_keys, contract_body(uuid.uuid4()))
    response = await client.post(
        f"/api/v1/contracts/{contract['id']}/terminate",
        json={"reason": "不再需要"},
        headers=test_keys.headers("official"),
    )
    assert_problem(response, 409, "invalid_transition")


async def test_who_may_read_a_contract(app: FastAPI, client: httpx.AsyncClient, test_keys: TestKeys) -> None:
    provider_id = uuid.uuid4()
    contract = await create_contract(app, client, test_keys, contract_body(provider_id))
    url = f"/api/v1/contracts/{contract['id']}"

    for headers in (
        test_keys.headers("official"),
        test_keys.headers("admin"),
        test_keys.headers("evaluator"),
        test_keys.headers("provider_admin", provider_id=provider_id),
    ):
        response = await client.get(url, headers=headers)
        assert response.status_code == 200, response.text

    other_provider = await client.get(url, headers=test_keys.headers("provider_admin", provider_id=uuid.uuid4()))
    unknown = await client.get(f"/api/v1/contracts/{uuid.uuid4()}", headers=test_keys.headers("official"))
    # Another provider learns nothing: the same answer as for a contract that does not exist.
    assert_problem(other_provider, 404, "contract_not_found")
    assert_problem(unknown, 404, "contract_not_found")
    assert other_provider.json()["detail"] == unknown.json()["detail"]

    assert_problem(await client.get(url, headers=test_keys.headers("resident")), 403)
    assert_problem(await client.get(url, headers=test_keys.headers("operator")), 403)
    assert_problem(await client.get(url), 401)
    assert_problem(await client.get("/api/v1/contracts/not-a-uuid", headers=test_keys.headers("official")), 422)


async def test_officials_list_contracts_by_page_and_status(
    app: FastAPI, client: httpx.AsyncClient, test_keys: TestKeys
) -> None:
    provider_id = uuid.uuid4()
    drafts = [await create_contract(app, client, test_keys, contract_body(provider_id)) for _ in range(3)]
    active = await signed_contract(app, client, test_keys, contract_body(uuid.uuid4()))
    official = test_keys.headers("official")

    everything = await client.get("/api/v1/contracts", headers=official)
    assert everything.status_code == 200
    assert everything.json()["total"] == 4
    assert everything.json()["items"][0]["id"] == active["id"]  # newest first

    first = await client.get("/api/v1/contracts", params={"status": "draft", "limit": 2}, headers=official)
    second = await client.get(
        "/api/v1/contracts", params={"status": "draft", "limit": 2, "offset": 2}, headers=official
    )
    assert first.json()["total"] == second.json()["total"] == 3
    seen = [c["id"] for c in first.json()["items"] + second.json()["items"]]
    assert sorted(seen) == sorted(c["id"] for c in drafts)

    actives = await client.get("/api/v1/contracts", params={"status": "active"}, headers=official)
    assert [c["id"] for c in actives.json()["items"]] == [active["id"]]
    by_provider = await client.get("/api/v1/contracts", params={"provider_id": str(provider_id)}, headers=official)
    assert by_provider.json()["total"] == 3


@pytest.mark.parametrize(
    "params", [{"status": "signed"}, {"limit": 0}, {"limit": 201}, {"offset": -1}, {"provider_id": "x"}]
)
async def test_bad_listing_parameters_are_refused(
    client: httpx.AsyncClient, test_keys: TestKeys, params: dict[str, Any]
) -> None:
    response = await client.get("/api/v1/contracts", params=params, headers=test_keys.headers("official"))
    assert_problem(response, 422, "validation_error")


async def test_providers_do_not_list_contracts(client: httpx.AsyncClient, test_keys: TestKeys) -> None:
    response = await client.get(
        "/api/v1/contracts", headers=test_keys.headers("provider_admin", provider_id=uuid.uuid4())
    )
    assert_problem(response, 403)


async def test_history_records_every_change(app: FastAPI, client: httpx.AsyncClient, test_keys: TestKeys) -> None:
    provider_id = uuid.uuid4()
    contract = await create_contract(app, client, test_keys, contract_body(provider_id))
    contract_id = contract["id"]
    await client.post(f"/api/v1/contracts/{contract_id}/sign", headers=test_keys.headers("official", sub="zhang"))
    await client.post(
        f"/api/v1/contracts/{contract_id}/sign",
        headers=test_keys.headers("provider_admin", sub="chen", provider_id=str(provider_id)),
    )
    await client.post(
        f"/api/v1/contracts/{contract_id}/terminate",
        json={"reason": "项目调整"},
        headers=test_keys.headers("official", sub="li", name="李处长"),
    )
    # A refused transition changes nothing, so it leaves no trace.
    await client.post(f"/api/v1/contracts/{contract_id}/sign", headers=test_keys.headers("official"))

    response = await client.get(f"/api/v1/contracts/{contract_id}/history", headers=test_keys.headers("evaluator"))
    assert response.status_code == 200, response.text
    history = response.json()
    assert history["contract_id"] == contract_id
    created, approved, purchaser_signed, signed, terminated = history["items"]

    assert created["action"] == "created"
    assert created["actor_name"] == "王科长"
    assert created["actor_roles"] == ["official"]
    assert created["before"] is None
    assert created["reason"] == created["after"]["rationale"]
    assert created["after"]["status"] == "draft"
    assert (created["after"]["procurement_method"], created["after"]["award_status"]) == ("direct", "proposed")
    assert created["after"]["fund_id"] is not None
    assert created["after"]["amount_fen"] == 10_000_000
    assert created["after"]["funded_offerings"][0]["quota"] == 2000

    assert (approved["action"], approved["actor_name"]) == ("award_approved", "李处长")
    assert (approved["before"]["award_status"], approved["after"]["award_status"]) == ("proposed", "approved")

    assert purchaser_signed["action"] == "purchaser_signed"
    assert purchaser_signed["actor_subject"] == "zhang"
    assert purchaser_signed["before"]["purchaser_signed_at"] is None
    assert purchaser_signed["after"]["purchaser_signed_at"] is not None
    assert purchaser_signed["after"]["status"] == "draft"

    assert signed["action"] == "signed"
    assert signed["actor_subject"] == "chen"
    assert signed["actor_roles"] == ["provider_admin"]
    assert signed["before"]["status"] == "draft"
    assert signed["before"]["signed_at"] is None
    assert signed["before"]["provider_signed_at"] is None
    assert signed["after"]["provider_signed_at"] is not None
    assert signed["after"]["status"] == "active"
    assert signed["after"]["signed_at"] is not None

    assert terminated["action"] == "terminated"
    assert terminated["actor_subject"] == "li"
    assert terminated["actor_name"] == "李处长"
    assert terminated["reason"] == "项目调整"
    assert terminated["before"]["status"] == "active"
    assert terminated["after"]["status"] == "terminated"
    assert terminated["after"]["termination_reason"] == "项目调整"
    assert created["seq"] < approved["seq"] < purchaser_signed["seq"] < signed["seq"] < terminated["seq"]

    own = await client.get(
        f"/api/v1/contracts/{contract_id}/history", headers=test_keys.headers("provider_admin", provider_id=provider_id)
    )
    assert own.status_code == 200
    other = await client.get(
        f"/api/v1/contracts/{contract_id}/history",
        headers=test_keys.headers("provider_admin", provider_id=uuid.uuid4()),
    )
    assert_problem(other, 404)


async def test_racing_signatures_sign_once(app: FastAPI, client: httpx.AsyncClient, test_keys: TestKeys) -> None:
    contract = await create_contract(app, client, test_keys, contract_body(uuid.uuid4()))
    url = f"/api/v1/contracts/{contract['id']}/sign"
    parties = [test_keys.headers("official"), test_keys.headers("provider_admin", **provider_of(contract))] * 3
    responses = await asyncio.gather(*(client.post(url, headers=headers) for headers in parties))
    # Each party's first signature counts; the other two of each are refused, whether they came before the
    # contract was signed (already_signed) or after (invalid_transition).
    assert sorted(r.status_code for r in responses) == [200, 200] + [409] * 4
    assert {r.json()["code"] for r in responses if r.status_code == 409} <= {"already_signed", "invalid_transition"}
    history = await client.get(f"/api/v1/contracts/{contract['id']}/history", headers=test_keys.headers("official"))
    actions = [entry["action"] for entry in history.json()["items"]]
    assert actions in (
        ["created", "award_approved", "purchaser_signed", "signed"],
        ["created", "award_approved", "provider_signed", "signed"],
    )
