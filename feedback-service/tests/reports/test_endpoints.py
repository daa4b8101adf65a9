"""Officials' reports: complaints by key with SLA attainment, ratings by key, who may read them."""

import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import update

from feedback.complaints.models import Complaint
from service_kit.timeutil import SHANGHAI, utcnow


async def file(client: httpx.AsyncClient, headers: dict[str, str], provider_id: uuid.UUID, category: str) -> str:
    response = await client.post(
        "/api/v1/complaints",
        json={
            "target_kind": "provider",
            "target_id": str(provider_id),
            "category": category,
            "description": "不满意",
        },
        headers=headers,
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def test_complaints_by_provider_and_category_with_sla_attainment(
    app: FastAPI, client: httpx.AsyncClient, resident_headers: Any, official_headers: dict[str, str], known: Any
) -> None:
    resident = resident_headers(uuid.uuid4())
    good, bad = await known.provider(), await known.provider()
    in_time = await file(client, resident, good, "punctuality")
    late = await file(client, resident, bad, "punctuality")
    await file(client, resident, bad, "billing")
    for action in ("acknowledge", "resolve"):
        assert (
            await client.post(f"/api/v1/complaints/{in_time}/{action}", headers=official_headers)
        ).status_code == 200
    # The second was due yesterday and is acknowledged only now.
    async with app.state.sessionmaker() as session, session.begin():
        await session.execute(
            update(Complaint).where(Complaint.id == uuid.UUID(late)).values(ack_due_at=utcnow() - timedelta(days=1))
        )
    assert (await client.post(f"/api/v1/complaints/{late}/acknowledge", headers=official_headers)).status_code == 200

    report = (await client.get("/api/v1/complaints/report", params={"by": "provider"}, headers=official_headers)).json()
    rows = {row["key"]: row for row in report["items"]}
    assert report["total"] == 2
    assert rows[str(good)] == {
        "key": str(good),
        "complaints": 1,
        "open": 0,
        "resolved": 1,
        "escalated": 0,
        "ack_attainment": 1.0,
        "resolve_attainment": 1.0,
    }
    assert (rows[str(bad)]["complaints"], rows[str(bad)]["open"]) == (2, 2)
    assert rows[str(bad)]["ack_attainment"] == 0.0  # one measured (late), the other not yet due
    assert rows[str(bad)]["resolve_attainment"] is None

    by_category = await client.get("/api/v1/complaints/report", params={"by": "category"}, headers=official_headers)
    assert {r["key"]: r["complaints"] for r in by_category.json()["items"]} == {"punctuality": 2, "billing": 1}
    month = utcnow().astimezone(SHANGHAI).strftime("%Y-%m")
    by_month = await client.get("/api/v1/complaints/report", params={"by": "month"}, headers=official_headers)
    assert [(r["key"], r["complaints"]) for r in by_month.json()["items"]] == [(month, 3)]
    later = (utcnow() + timedelta(hours=1)).isoformat()
    empty = await client.get("/api/v1/complaints/report", params={"since": later}, headers=official_headers)
    assert empty.json()["total"] == 0


async def test_complaints_by_street(
    client: httpx.AsyncClient,
    resident_headers: Any,
    operator_headers: dict[str, str],
    official_headers: dict[str, str],
    known: Any,
) -> None:
    await known.communities("gongchen.shidai_jiahe", "gongchen.beiguan", "liangxiang.xiyuan")
    provider_id = await known.provider()

    def body(community_code: str | None) -> dict[str, Any]:
        return {
            "target_kind": "provider",
            "target_id": str(provider_id),
            "category": "punctuality",
            "description": "迟到",
            "community_code": community_code,
        }

    for community_code in ("gongchen.shidai_jiahe", "gongchen.beiguan", "liangxiang.xiyuan", None):
        resident = resident_headers(uuid.uuid4())
        response = await client.post("/api/v1/complaints", json=body(community_code), headers=resident)
        assert response.status_code == 201, response.text
    by_phone = {**body("liangxiang.xiyuan"), "resident_id": str(uuid.uuid4())}
    assert (await client.post("/api/v1/complaints", json=by_phone, headers=operator_headers)).status_code == 201

    report = (await client.get("/api/v1/complaints/report", params={"by": "street"}, headers=official_headers)).json()
    assert report["total"] == 3
    assert {r["key"]: (r["complaints"], r["open"]) for r in report["items"]} == {
        "gongchen": (2, 2),
        "liangxiang": (2, 2),
        None: (1, 1),
    }


async def test_top_needs_by_street_community_and_category(
    client: httpx.AsyncClient, operator_headers: dict[str, str], official_headers: dict[str, str], known: Any
) -> None:
    await known.categories("elderly.meal_table", "children.after_school", "green.recycling")
    await known.communities("gongchen.shidai_jiahe", "gongchen.beiguan", "liangxiang.xiyuan")
    recorded: list[tuple[str | None, str]] = [
        ("gongchen.shidai_jiahe", "elderly.meal_table"),
        ("gongchen.shidai_jiahe", "elderly.meal_table"),
        ("gongchen.beiguan", "elderly.meal_table"),
        ("gongchen.beiguan", "children.after_school"),
        ("liangxiang.xiyuan", "children.after_school"),
        (None, "green.recycling"),  # a need of no community: listed under no street
    ]
    for community_code, category_code in recorded:
        response = await client.post(
            "/api/v1/needs",
            json={"category_code": category_code, "community_code": community_code, "text": "希望有这项服务"},
            headers=operator_headers,
        )
        assert response.status_code == 201, response.text

    async def report(by: str, **params: Any) -> dict[str, Any]:
        response = await client.get("/api/v1/needs/report", params={"by": by, **params}, headers=official_headers)
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json()
        return result

    by_street = await report("street")
    assert by_street["total"] == 3
    assert [(r["key"], r["needs"], r["top_category_code"], r["top_category_needs"]) for r in by_street["items"]] == [
        ("gongchen", 4, "elderly.meal_table", 3),
        ("liangxiang", 1, "children.after_school", 1),
        (None, 1, "green.recycling", 1),
    ]
    assert (await client.get("/api/v1/needs/report", headers=official_headers)).json() == by_street
    by_community = await report("community")
    assert [(r["key"], r["needs"], r["top_category_code"]) for r in by_community["items"]] == [
        ("gongchen.beiguan", 2, "children.after_school"),
        ("gongchen.shidai_jiahe", 2, "elderly.meal_table"),
        ("liangxiang.xiyuan", 1, "children.after_school"),
        (None, 1, "green.recycling"),
    ]
    by_category = await report("category", limit=1, offset=1)
    assert (by_category["total"], by_category["items"]) == (
        3,
        [
            {
                "key": "children.after_school",
                "needs": 2,
                "top_category_code": "children.after_school",
                "top_category_needs": 2,
            }
        ],
    )
    later = (utcnow() + timedelta(hours=1)).isoformat()
    assert (await report("street", since=later))["items"] == []


async def test_ratings_by_provider_and_month(
    client: httpx.AsyncClient, complete_booking: Any, operator_headers: dict[str, str], official_headers: dict[str, str]
) -> None:
    provider_id = uuid.uuid4()
    for stars in (5, 2, 2):
        booking = await complete_booking(provider_id=provider_id)
        response = await client.post(
            "/api/v1/ratings", json={"booking_id": str(booking.booking_id), "stars": stars}, headers=operator_headers
        )
        assert response.status_code == 201

    report = (await client.get("/api/v1/scores/report", headers=official_headers)).json()
    assert report["items"] == [{"key": str(provider_id), "ratings": 3, "average": 3.0, "low_ratings": 2}]
    by_month = (await client.get("/api/v1/scores/report", params={"by": "month"}, headers=official_headers)).json()
    assert by_month["items"][0]["ratings"] == 3


@pytest.mark.parametrize(
    "params",
    [
        {"by": "district"},
        {"since": "2026-11-01T00:00:00"},
        {"since": "2026-11-02T00:00:00+08:00", "until": "2026-11-01T00:00:00+08:00"},
        {"since": "yesterday"},
        {"limit": 0},
    ],
)
async def test_bad_report_requests_are_422(
    client: httpx.AsyncClient, official_headers: dict[str, str], params: dict[str, str]
) -> None:
    for path in ("/api/v1/complaints/report", "/api/v1/needs/report"):
        response = await client.get(path, params=params, headers=official_headers)
        assert response.status_code == 422, response.text
        assert response.headers["content-type"] == "application/problem+json"


async def test_ratings_have_no_street(client: httpx.AsyncClient, official_headers: dict[str, str]) -> None:
    response = await client.get("/api/v1/scores/report", params={"by": "street"}, headers=official_headers)
    assert response.status_code == 422, response.text


async def test_only_officials_read_reports(
    client: httpx.AsyncClient, resident_headers: Any, operator_headers: dict[str, str]
) -> None:
    for path in ("/api/v1/complaints/report", "/api/v1/scores/report", "/api/v1/needs/report"):
        assert (await client.get(path)).status_code == 401
        assert (await client.get(path, headers=resident_headers(uuid.uuid4()))).status_code == 403
        assert (await client.get(path, headers=operator_headers)).status_code == 403
