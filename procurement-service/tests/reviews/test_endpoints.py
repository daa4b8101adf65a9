import uuid
from typing import Any

import httpx
from fastapi import FastAPI
from nats.js import JetStreamContext
from sourcing_builders import (
    DEADLINE,
    an_application,
    apply,
    assign,
    create_fund,
    official,
    published_call,
    review,
    reviewer,
    verified_provider,
)

from service_kit.testing import Clock, TestKeys, assert_problem


async def closed_call_with_two_applications(
    app: FastAPI, client: httpx.AsyncClient, js: JetStreamContext, keys: TestKeys, clock: Clock
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    first, second = await verified_provider(app, js), await verified_provider(app, js, kind="startup")
    fund = await create_fund(client, keys)
    call = await published_call(client, keys, fund["id"])
    a = await apply(client, keys, call["id"], first)
    b = await apply(client, keys, call["id"], second, budget_request_fen=15_000_000)
    clock.now = DEADLINE
    closed = await client.post(f"/api/v1/calls/{call['id']}/close", headers=official(keys))
    assert closed.status_code == 200, closed.text
    return call, a, b


async def test_reviewers_declare_score_and_the_review_ranks(
    app: FastAPI, client: httpx.AsyncClient, js: JetStreamContext, test_keys: TestKeys, clock: Clock
) -> None:
    call, a, b = await closed_call_with_two_applications(app, client, js, test_keys, clock)
    cid = call["id"]
    linked_provider = uuid.UUID(b["provider_id"])
    await assign(client, test_keys, cid, "expert-li")
    await assign(client, test_keys, cid, "expert-zhao")
    await assign(client, test_keys, cid, "expert-chen", linked=(linked_provider,))
    assert_problem(
        await client.post(
            f"/api/v1/calls/{cid}/reviewers",
            json={"reviewer_subject": "expert-li", "reviewer_name": "李"},
            headers=official(test_keys),
        ),
        409,
        "already_assigned",
    )

    # Each reviewer sees only their own assignments.
    mine = await client.get("/api/v1/review-assignments", headers=reviewer(test_keys, "expert-li"))
    assert [x["call_id"] for x in mine.json()["items"]] == [cid]
    nobody = await client.get("/api/v1/review-assignments", headers=reviewer(test_keys, "expert-wu"))
    assert nobody.json()["total"] == 0
    # An unassigned reviewer reads no application.
    assert_problem(
        await client.get(f"/api/v1/calls/{cid}/applications/{a['id']}", headers=reviewer(test_keys, "expert-wu")), 404
    )
    assert (await client.get(f"/api/v1/calls/{cid}/applications", headers=reviewer(test_keys, "expert-wu"))).json()[
        "total"
    ] == 0
    listed = await client.get(f"/api/v1/calls/{cid}/applications", headers=reviewer(test_keys, "expert-li"))
    assert listed.json()["total"] == 2

    base_b = f"/api/v1/calls/{cid}/applications/{b['id']}"
    # Scoring comes after the declaration.
    assert_problem(
        await client.put(
            f"{base_b}/my-scores",
            json={"scores": {"feasibility": 80, "capacity": 80, "budget": 80}},
            headers=reviewer(test_keys, "expert-li"),
        ),
        409,
        "declaration_required",
    )
    # The reviewer recorded as linked to B's provider cannot declare no conflict, nor score.
    linked = await client.post(
        f"{base_b}/declaration", json={"conflict": False}, headers=reviewer(test_keys, "expert-chen")
    )
    assert_problem(linked, 409, "conflict_of_interest")
    declared = await client.post(
        f"{base_b}/declaration",
        json={"conflict": True, "note": "曾任该机构理事"},
        headers=reviewer(test_keys, "expert-chen"),
    )
    assert declared.status_code == 201, declared.text
    refused = await client.put(
        f"{base_b}/my-scores",
        json={"scores": {"feasibility": 100, "capacity": 100, "budget": 100}},
        headers=reviewer(test_keys, "expert-chen"),
    )
    assert_problem(refused, 409, "conflict_of_interest")
    again = await client.post(
        f"{base_b}/declaration", json={"conflict": True}, headers=reviewer(test_keys, "expert-chen")
    )
    assert_problem(again, 409, "already_declared")

    # Bad sheets.
    await client.post(f"{base_b}/declaration", json={"conflict": False}, headers=reviewer(test_keys, "expert-zhao"))
    for scores in ({"feasibility": 80, "capacity": 80}, {"feasibility": 80, "capacity": 80, "budget": 101}):
        response = await client.put(
            f"{base_b}/my-scores", json={"scores": scores}, headers=reviewer(test_keys, "expert-zhao")
        )
        assert_problem(response, 422)
    await client.put(
        f"{base_b}/my-scores",
        json={"scores": {"feasibility": 60, "capacity": 60, "budget": 60}},
        headers=reviewer(test_keys, "expert-zhao"),
    )

    await review(client, test_keys, cid, a["id"], "expert-li", (90, 80, 70))  # 81.50
    await review(client, test_keys, cid, a["id"], "expert-zhao", (70, 70, 70))  # 70.00
    await review(client, test_keys, cid, a["id"], "expert-chen", (80, 90, 100))  # 88.50
    sheet = await client.put(
        f"{base_b}/my-scores",
        json={"scores": {"feasibility": 100, "capacity": 90, "budget": 80}},
        headers=reviewer(test_keys, "expert-li"),
    )
    assert_problem(sheet, 409, "declaration_required")
    await client.post(f"{base_b}/declaration", json={"conflict": False}, headers=reviewer(test_keys, "expert-li"))
    sheet = await client.put(
        f"{base_b}/my-scores",
        json={"scores": {"feasibility": 100, "capacity": 90, "budget": 80}, "comment": "方案扎实"},
        headers=reviewer(test_keys, "expert-li"),
    )
    assert sheet.json()["weighted_total"] == 91.5
    # A reviewer reads their own sheet, never a colleague's, and officials none before the review closes.
    assert (await client.get(f"{base_b}/my-scores", headers=reviewer(test_keys, "expert-li"))).json()["scores"] == {
        "feasibility": 100,
        "capacity": 90,
        "budget": 80,
    }
    assert_problem(await client.get(f"{base_b}/my-scores", headers=reviewer(test_keys, "expert-chen")), 404)
    assert_problem(await client.get(f"{base_b}/scores", headers=reviewer(test_keys, "expert-li")), 403)
    assert_problem(await client.get(f"{base_b}/scores", headers=official(test_keys)), 409, "review_not_closed")
    assert (await client.get(f"{base_b}", headers=reviewer(test_keys, "expert-zhao"))).json()["score"] is None
    progress = await client.get(f"/api/v1/calls/{cid}/reviewers", headers=official(test_keys))
    by_reviewer = {r["reviewer_subject"]: r for r in progress.json()["items"]}
    assert (by_reviewer["expert-chen"]["declarations"], by_reviewer["expert-chen"]["score_sheets"]) == (2, 1)
    assert "scores" not in by_reviewer["expert-chen"]

    closed = await client.post(f"/api/v1/calls/{cid}/close-review", headers=official(test_keys))
    assert closed.json()["status"] == "reviewed"
    ranking = await client.get(f"/api/v1/calls/{cid}/applications", headers=official(test_keys))
    ranked = [(x["id"], x["score"], x["reviewer_count"], x["rank"]) for x in ranking.json()["items"]]
    # A: (81.5 + 70 + 88.5) / 3 = 80.00; B: (91.5 + 60) / 2 = 75.75 — expert-chen did not score B.
    assert ranked == [(a["id"], 80.0, 3, 1), (b["id"], 75.75, 2, 2)]
    sheets = await client.get(f"{base_b}/scores", headers=official(test_keys))
    assert [(s["reviewer_subject"], s["weighted_total"]) for s in sheets.json()] == [
        ("expert-li", 91.5),
        ("expert-zhao", 60.0),
    ]
    after = await client.put(
        f"{base_b}/my-scores",
        json={"scores": {"feasibility": 100, "capacity": 100, "budget": 100}},
        headers=reviewer(test_keys, "expert-zhao"),
    )
    assert_problem(after, 409, "review_not_open")
    assert_problem(await client.post(f"/api/v1/calls/{cid}/close-review", headers=official(test_keys)), 409)

    trail = await client.get(f"/api/v1/audit-trail/{b['id']}", headers=official(test_keys))
    actions = [e["action"] for e in trail.json()["items"]]
    assert actions[0] == "submitted"
    assert actions[-1] == "ranked"
    assert "conflict_declared" in actions
    assert "rescored" not in actions


async def test_with_five_reviewers_the_outliers_are_trimmed(
    app: FastAPI, client: httpx.AsyncClient, js: JetStreamContext, test_keys: TestKeys, clock: Clock
) -> None:
    call, a, _ = await closed_call_with_two_applications(app, client, js, test_keys, clock)
    for n, score in enumerate((10, 80, 85, 90, 100)):
        await assign(client, test_keys, call["id"], f"expert-{n}")
        await review(client, test_keys, call["id"], a["id"], f"expert-{n}", (score, score, score))
    await client.post(f"/api/v1/calls/{call['id']}/close-review", headers=official(test_keys))
    seen = await client.get(f"/api/v1/calls/{call['id']}/applications/{a['id']}", headers=official(test_keys))
    assert (seen.json()["score"], seen.json()["reviewer_count"], seen.json()["rank"]) == (85.0, 5, 1)


async def test_review_waits_for_the_call_to_close(
    app: FastAPI, client: httpx.AsyncClient, js: JetStreamContext, test_keys: TestKeys, clock: Clock
) -> None:
    _, _, call, application = await an_application(app, client, js, test_keys)
    await assign(client, test_keys, call["id"], "expert-li")
    early = await client.post(
        f"/api/v1/calls/{call['id']}/applications/{application['id']}/declaration",
        json={"conflict": False},
        headers=reviewer(test_keys, "expert-li"),
    )
    assert_problem(early, 409, "review_not_open")
    assert_problem(await client.post(f"/api/v1/calls/{call['id']}/close-review", headers=official(test_keys)), 409)
