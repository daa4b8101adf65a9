import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from nats.js import JetStreamContext
from procurement_builders import deliver_events, known_provider, offering_published
from sourcing_builders import (
    DEADLINE,
    an_application,
    application_body,
    apply,
    assign,
    call_body,
    create_fund,
    deliver,
    official,
    provider_admin,
    published_call,
    restored,
    review,
    sanctioned,
    verified_provider,
)

from service_kit.events.contracts import ProviderSuspended
from service_kit.testing import Clock, TestKeys, assert_problem


async def test_a_call_is_drafted_published_publicly_read_and_closed(
    client: httpx.AsyncClient, test_keys: TestKeys, clock: Clock
) -> None:
    fund = await create_fund(client, test_keys)
    need = await client.post(
        "/api/v1/need-pool",
        json={"category_code": "elderly.meal_table", "summary": "老年餐桌", "count": 30},
        headers=official(test_keys),
    )
    draft = await client.post(
        "/api/v1/calls", json=call_body(fund["id"], need_ids=[need.json()["id"]]), headers=official(test_keys)
    )
    assert draft.status_code == 201, draft.text
    call = draft.json()
    assert (call["status"], call["need_ids"], call["budget_cap_fen"]) == ("draft", [need.json()["id"]], 30_000_000)
    assert sum(c["weight"] for c in call["criteria"]) == 100

    # A draft is the officials' alone.
    assert_problem(await client.get(f"/api/v1/calls/{call['id']}"), 404, "call_not_found")
    assert (await client.get("/api/v1/calls")).json()["total"] == 0

    published = await client.post(f"/api/v1/calls/{call['id']}/publish", headers=official(test_keys))
    assert published.json()["status"] == "published"
    public = await client.get(f"/api/v1/calls/{call['id']}")  # no login
    assert public.status_code == 200
    assert public.json()["title"] == "2027年长阳镇居家养老服务项目征集"
    assert (await client.get("/api/v1/calls")).json()["total"] == 1

    assert_problem(await client.post(f"/api/v1/calls/{call['id']}/publish", headers=official(test_keys)), 409)
    early = await client.post(f"/api/v1/calls/{call['id']}/close", headers=official(test_keys))
    assert_problem(early, 409, "deadline_not_reached")
    clock.now = DEADLINE
    closed = await client.post(f"/api/v1/calls/{call['id']}/close", headers=official(test_keys))
    assert closed.json()["status"] == "closed"

    trail = await client.get(f"/api/v1/audit-trail/{call['id']}", headers=official(test_keys))
    assert [e["action"] for e in trail.json()["items"]] == ["created", "publish", "close"]


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        (
            {"criteria": [{"code": "a", "name": "A", "weight": 60}, {"code": "b", "name": "B", "weight": 30}]},
            "weights_not_100",
        ),
        (
            {"criteria": [{"code": "a", "name": "A", "weight": 50}, {"code": "a", "name": "B", "weight": 50}]},
            "duplicate_criterion",
        ),
        ({"budget_cap_fen": 200_000_000}, "cap_above_fund_budget"),
        ({"need_ids": [str(uuid.uuid4())]}, "need_not_found"),
        ({"budget_cap_fen": 1.5}, None),
        ({"deadline": "2026-12-10T10:00:00"}, None),  # no offset
        ({"directions": ["fishing"]}, None),
        ({"eligible_kinds": ["government"]}, None),
        ({"status": "published"}, None),
    ],
)
async def test_bad_calls_are_refused(
    client: httpx.AsyncClient, test_keys: TestKeys, overrides: dict[str, Any], code: str | None
) -> None:
    fund = await create_fund(client, test_keys)
    response = await client.post("/api/v1/calls", json=call_body(fund["id"], **overrides), headers=official(test_keys))
    assert_problem(response, 422, code)


async def test_a_call_of_an_unknown_fund_is_not_found(client: httpx.AsyncClient, test_keys: TestKeys) -> None:
    response = await client.post("/api/v1/calls", json=call_body(str(uuid.uuid4())), headers=official(test_keys))
    assert_problem(response, 404, "fund_not_found")


async def test_a_call_past_its_deadline_cannot_be_published(
    client: httpx.AsyncClient, test_keys: TestKeys, clock: Clock
) -> None:
    fund = await create_fund(client, test_keys)
    draft = await client.post("/api/v1/calls", json=call_body(fund["id"]), headers=official(test_keys))
    clock.now = DEADLINE
    assert_problem(
        await client.post(f"/api/v1/calls/{draft.json()['id']}/publish", headers=official(test_keys)),
        422,
        "deadline_passed",
    )


async def test_only_officials_draft_calls(client: httpx.AsyncClient, test_keys: TestKeys) -> None:
    fund = await create_fund(client, test_keys)
    for roles in (("provider_admin",), ("reviewer",), ("resident",)):
        response = await client.post("/api/v1/calls", json=call_body(fund["id"]), headers=test_keys.headers(*roles))
        assert_problem(response, 403)
    assert_problem(await client.post("/api/v1/calls", json=call_body(fund["id"])), 401)


async def test_an_eligible_provider_applies_and_withdraws_before_the_deadline(
    app: FastAPI, client: httpx.AsyncClient, js: JetStreamContext, test_keys: TestKeys, clock: Clock
) -> None:
    provider_id, _, call, application = await an_application(app, client, js, test_keys)
    assert (application["status"], application["provider_id"]) == ("submitted", str(provider_id))
    assert application["budget_request_fen"] == 20_000_000
    assert application["deliverables"][0]["service_type"] == "elderly.meal_table"

    again = await client.post(
        f"/api/v1/calls/{call['id']}/applications",
        json=application_body(),
        headers=provider_admin(test_keys, provider_id),
    )
    assert_problem(again, 409, "already_applied")

    # Another provider sees neither the application nor, in the list, anything.
    other = provider_admin(test_keys, uuid.uuid4())
    assert_problem(await client.get(f"/api/v1/calls/{call['id']}/applications/{application['id']}", headers=other), 404)
    assert (await client.get(f"/api/v1/calls/{call['id']}/applications", headers=other)).json()["total"] == 0
    assert_problem(
        await client.post(f"/api/v1/calls/{call['id']}/applications/{application['id']}/withdraw", headers=other), 404
    )
    own = await client.get(f"/api/v1/calls/{call['id']}/applications", headers=provider_admin(test_keys, provider_id))
    assert own.json()["total"] == 1

    clock.advance(days=1)
    withdrawn = await client.post(
        f"/api/v1/calls/{call['id']}/applications/{application['id']}/withdraw",
        headers=provider_admin(test_keys, provider_id),
    )
    assert withdrawn.status_code == 200, withdrawn.text
    assert withdrawn.json()["status"] == "withdrawn"
    twice = await client.post(
        f"/api/v1/calls/{call['id']}/applications/{application['id']}/withdraw",
        headers=provider_admin(test_keys, provider_id),
    )
    assert_problem(twice, 409)
    # Having withdrawn, the provider may apply afresh.
    await apply(client, test_keys, call["id"], provider_id)

    trail = await client.get(f"/api/v1/audit-trail/{application['id']}", headers=official(test_keys))
    assert [e["action"] for e in trail.json()["items"]] == ["submitted", "withdrawn"]


async def test_late_applications_and_late_withdrawals_are_refused(
    app: FastAPI, client: httpx.AsyncClient, js: JetStreamContext, test_keys: TestKeys, clock: Clock
) -> None:
    early, late = await verified_provider(app, js), await verified_provider(app, js)
    fund = await create_fund(client, test_keys)
    call = await published_call(client, test_keys, fund["id"])
    application = await apply(client, test_keys, call["id"], early)
    clock.now = DEADLINE
    response = await client.post(
        f"/api/v1/calls/{call['id']}/applications", json=application_body(), headers=provider_admin(test_keys, late)
    )
    assert_problem(response, 409, "deadline_passed")
    withdraw = await client.post(
        f"/api/v1/calls/{call['id']}/applications/{application['id']}/withdraw",
        headers=provider_admin(test_keys, early),
    )
    assert_problem(withdraw, 409, "deadline_passed")


async def test_ineligible_providers_are_told_why(
    app: FastAPI, client: httpx.AsyncClient, js: JetStreamContext, test_keys: TestKeys, clock: Clock
) -> None:
    fund = await create_fund(client, test_keys)
    call = await published_call(client, test_keys, fund["id"])  # public welfare and startups only

    async def refused(provider_id: uuid.UUID, code: str) -> None:
        response = await client.post(
            f"/api/v1/calls/{call['id']}/applications",
            json=application_body(),
            headers=provider_admin(test_keys, provider_id),
        )
        assert_problem(response, 422, code)

    await refused(uuid.uuid4(), "provider_not_verified")
    commercial = await verified_provider(app, js, kind="commercial")
    await refused(commercial, "provider_kind_not_eligible")

    suspended = await verified_provider(app, js)
    await deliver(
        app, js, "providers", ProviderSuspended(provider_id=suspended, name="x", kind="startup", status="suspended")
    )
    await refused(suspended, "provider_not_verified")

    punished = await verified_provider(app, js)
    await deliver(app, js, "providers", sanctioned(punished, clock.now), source="procurement")
    await refused(punished, "provider_sanctioned")
    await deliver(app, js, "providers", restored(punished, clock.now), source="procurement")
    await apply(client, test_keys, call["id"], punished)

    expired = await verified_provider(app, js)
    await deliver(app, js, "providers", sanctioned(expired, clock.now, until="2026-11-26"), source="procurement")
    await apply(client, test_keys, call["id"], expired)  # the sanction ended yesterday


async def test_a_sanction_older_than_the_projection_is_ignored(
    app: FastAPI, client: httpx.AsyncClient, js: JetStreamContext, test_keys: TestKeys, clock: Clock
) -> None:
    provider_id = await verified_provider(app, js)
    await deliver(app, js, "providers", restored(provider_id, clock.now), source="procurement")
    # The sanction it lifted arrives late (redelivered): it does not bring the sanction back.
    older = sanctioned(provider_id, clock.now.replace(year=2025))
    await deliver(app, js, "providers", older, source="procurement")
    fund = await create_fund(client, test_keys)
    call = await published_call(client, test_keys, fund["id"])
    await apply(client, test_keys, call["id"], provider_id)


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"budget_request_fen": 30_000_001}, "budget_above_cap"),
        (
            {
                "deliverables": [
                    {"quantity": 1, "target_group": "80+", "period_start": "2027-01-01", "period_end": "2027-02-01"}
                ]
            },
            "deliverable_subject",
        ),
        (
            {
                "deliverables": [
                    {
                        "service_type": "elderly.meal_table",
                        "quantity": 1,
                        "target_group": "80+",
                        "period_start": "2027-02-01",
                        "period_end": "2027-01-01",
                    }
                ]
            },
            "period_reversed",
        ),
        ({"budget_request_fen": 10**16}, None),
        ({"kpis": []}, None),
        ({"provider_id": str(uuid.uuid4())}, None),
        ({"status": "approved"}, None),
    ],
)
async def test_bad_applications_are_refused(
    app: FastAPI,
    client: httpx.AsyncClient,
    js: JetStreamContext,
    test_keys: TestKeys,
    clock: Clock,
    overrides: dict[str, Any],
    code: str | None,
) -> None:
    provider_id = await verified_provider(app, js)
    fund = await create_fund(client, test_keys)
    call = await published_call(client, test_keys, fund["id"])
    response = await client.post(
        f"/api/v1/calls/{call['id']}/applications",
        json=application_body(**overrides),
        headers=provider_admin(test_keys, provider_id),
    )
    assert_problem(response, 422, code)


async def test_applying_needs_a_provider_admin(client: httpx.AsyncClient, test_keys: TestKeys, clock: Clock) -> None:
    fund = await create_fund(client, test_keys)
    call = await published_call(client, test_keys, fund["id"])
    url = f"/api/v1/calls/{call['id']}/applications"
    assert_problem(await client.post(url, json=application_body(), headers=test_keys.headers("resident")), 403)
    assert_problem(
        await client.post(url, json=application_body(), headers=test_keys.headers("admin")), 403, "not_a_provider"
    )
    unknown = f"/api/v1/calls/{uuid.uuid4()}/applications"
    assert_problem(
        await client.post(unknown, json=application_body(), headers=provider_admin(test_keys, uuid.uuid4())), 404
    )


async def test_a_provider_promises_only_its_own_published_offerings(
    app: FastAPI, client: httpx.AsyncClient, js: JetStreamContext, test_keys: TestKeys, clock: Clock
) -> None:
    provider_id, other_provider = await verified_provider(app, js), await verified_provider(app, js)
    own, withdrawn, others = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    await known_provider(app, provider_id, own, withdrawn)
    await deliver_events(app, "offerings", offering_published(withdrawn, provider_id, status="withdrawn", version=2))
    await known_provider(app, other_provider, others)
    # An older snapshot arriving late changes nothing: the offering stays withdrawn.
    await deliver_events(app, "offerings", offering_published(withdrawn, provider_id, version=1))
    fund = await create_fund(client, test_keys)
    call = await published_call(client, test_keys, fund["id"])
    url = f"/api/v1/calls/{call['id']}/applications"
    headers = provider_admin(test_keys, provider_id)

    for offering_id, code in (
        (others, "offering_not_own"),  # another provider's offering
        (uuid.uuid4(), "offering_not_own"),  # no offering procurement knows
        (withdrawn, "offering_not_published"),
    ):
        refused = await client.post(url, json=application_body(offering_id=offering_id), headers=headers)
        problem = assert_problem(refused, 422, code)
        # The application's second deliverable names the offering.
        assert [e["field"] for e in problem["errors"]] == ["deliverables.1.offering_id"]
        assert problem["offering_id"] == str(offering_id)
    listed = await client.get(url, headers=official(test_keys))
    assert listed.json()["total"] == 0

    application = await apply(client, test_keys, call["id"], provider_id, offering_id=own)
    assert application["deliverables"][1]["offering_id"] == str(own)


async def test_a_provider_sanctioned_after_applying_is_not_approved(
    app: FastAPI, client: httpx.AsyncClient, js: JetStreamContext, test_keys: TestKeys, clock: Clock
) -> None:
    provider_id, fund, call, application = await an_application(app, client, js, test_keys)
    clock.now = DEADLINE
    base = f"/api/v1/calls/{call['id']}"
    assert (await client.post(f"{base}/close", headers=official(test_keys))).status_code == 200
    await assign(client, test_keys, call["id"], "expert-li")
    await review(client, test_keys, call["id"], application["id"], "expert-li", (90, 90, 90))
    assert (await client.post(f"{base}/close-review", headers=official(test_keys))).status_code == 200
    await deliver(app, js, "providers", sanctioned(provider_id, clock.now), source="procurement")

    refused = await client.post(
        f"{base}/applications/{application['id']}/approve", json={}, headers=official(test_keys)
    )
    problem = assert_problem(refused, 422, "provider_sanctioned")
    assert [e["field"] for e in problem["errors"]] == ["provider_id"]
    seen = (await client.get(f"/api/v1/funds/{fund['id']}", headers=official(test_keys))).json()
    assert seen["committed_fen"] == 0
