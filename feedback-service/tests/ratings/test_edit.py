"""Changing a rating within 7 days: who may, what changes, and what the score does."""

import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import update

from feedback.ratings.models import Rating
from service_kit.timeutil import utcnow

PROBLEM = "application/problem+json"


async def rated(client: httpx.AsyncClient, complete_booking: Any, resident_headers: Any, **body: Any) -> Any:
    booking = await complete_booking()
    response = await client.post(
        "/api/v1/ratings",
        json={"booking_id": str(booking.booking_id), "stars": 2, "comment": "一般", **body},
        headers=resident_headers(booking.resident_id),
    )
    assert response.status_code == 201, response.text
    return booking, response.json()


async def test_the_resident_changes_their_rating_and_the_score_follows(
    client: httpx.AsyncClient, complete_booking: Any, resident_headers: Any
) -> None:
    booking, rating = await rated(client, complete_booking, resident_headers, tags=["慢"])
    response = await client.patch(
        f"/api/v1/ratings/{rating['id']}",
        json={"stars": 5, "dimensions": {"attitude": 5}, "comment": "后来补送了，电话13812345678"},
        headers=resident_headers(booking.resident_id),
    )

    assert response.status_code == 200, response.text
    edited = response.json()
    assert edited["stars"] == 5
    assert edited["dimensions"]["attitude"] == 5
    assert edited["comment"] == "后来补送了，电话138****5678"
    assert edited["tags"] == ["慢"]  # not sent, not changed
    assert edited["edited_at"] is not None
    score = (await client.get(f"/api/v1/scores/providers/{booking.provider_id}")).json()
    assert (score["count"], score["average"]) == (1, 5.0)

    removed = await client.patch(
        f"/api/v1/ratings/{rating['id']}",
        json={"comment": None, "tags": []},
        headers=resident_headers(booking.resident_id),
    )
    assert (removed.json()["comment"], removed.json()["tags"]) == (None, [])


async def test_an_operator_changes_it_for_the_resident(
    client: httpx.AsyncClient, complete_booking: Any, resident_headers: Any, operator_headers: dict[str, str]
) -> None:
    _, rating = await rated(client, complete_booking, resident_headers)
    response = await client.patch(f"/api/v1/ratings/{rating['id']}", json={"stars": 4}, headers=operator_headers)
    assert response.status_code == 200, response.text
    assert response.json()["stars"] == 4


async def test_after_seven_days_the_rating_stands(
    app: FastAPI, client: httpx.AsyncClient, complete_booking: Any, resident_headers: Any
) -> None:
    booking, rating = await rated(client, complete_booking, resident_headers)
    async with app.state.sessionmaker() as session, session.begin():
        await session.execute(
            update(Rating).where(Rating.id == uuid.UUID(rating["id"])).values(created_at=utcnow() - timedelta(days=8))
        )
    response = await client.patch(
        f"/api/v1/ratings/{rating['id']}", json={"stars": 5}, headers=resident_headers(booking.resident_id)
    )
    assert response.status_code == 409, response.text
    assert response.json()["code"] == "edit_window_closed"


async def test_nobody_else_changes_a_rating(
    client: httpx.AsyncClient, complete_booking: Any, resident_headers: Any, test_keys: Any
) -> None:
    _, rating = await rated(client, complete_booking, resident_headers)
    path = f"/api/v1/ratings/{rating['id']}"
    stranger = await client.patch(path, json={"stars": 5}, headers=resident_headers(uuid.uuid4()))
    assert (stranger.status_code, stranger.headers["content-type"]) == (404, PROBLEM)
    official = await client.patch(path, json={"stars": 5}, headers=test_keys.headers("official"))
    assert official.status_code == 403
    unknown = await client.patch(
        f"/api/v1/ratings/{uuid.uuid4()}", json={"stars": 5}, headers=resident_headers(uuid.uuid4())
    )
    assert unknown.status_code == 404
    assert (await client.patch(path, json={"stars": 5})).status_code == 401


@pytest.mark.parametrize(
    "body",
    [{}, {"stars": None}, {"stars": 6}, {"stars": "5"}, {"booking_id": str(uuid.uuid4())}, {"tags": ["x"] * 11}],
)
async def test_bad_edits_are_422(
    client: httpx.AsyncClient, complete_booking: Any, resident_headers: Any, body: dict[str, Any]
) -> None:
    booking, rating = await rated(client, complete_booking, resident_headers)
    response = await client.patch(
        f"/api/v1/ratings/{rating['id']}", json=body, headers=resident_headers(booking.resident_id)
    )
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == PROBLEM
