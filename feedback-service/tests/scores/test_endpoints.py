import uuid
from typing import Any

import httpx
from fastapi import FastAPI

from feedback.app import create_app
from feedback.config import Settings
from feedback.scores.service import PRIOR_MEAN, PRIOR_WEIGHT
from service_kit.events.contracts import BookingNoShow, ScoreUpdated
from service_kit.events.envelope import Envelope
from service_kit.testing import eventually, running_app


async def test_provider_score_from_its_ratings(
    client: httpx.AsyncClient, complete_booking: Any, operator_headers: dict[str, str]
) -> None:
    provider_id = uuid.uuid4()
    for stars in (5, 5, 4, 2):
        booking = await complete_booking(provider_id=provider_id)
        response = await client.post(
            "/api/v1/ratings", json={"booking_id": str(booking.booking_id), "stars": stars}, headers=operator_headers
        )
        assert response.status_code == 201, response.text
    other = await complete_booking()
    await client.post(
        "/api/v1/ratings", json={"booking_id": str(other.booking_id), "stars": 1}, headers=operator_headers
    )

    response = await client.get(f"/api/v1/scores/providers/{provider_id}")

    assert response.status_code == 200, response.text
    score = response.json()
    assert score["provider_id"] == str(provider_id)
    assert score["count"] == 4
    assert score["average"] == 4.0
    assert score["bayesian"] == round((PRIOR_WEIGHT * PRIOR_MEAN + 16) / (PRIOR_WEIGHT + 4), 3)
    assert score["distribution"] == {"1": 0, "2": 1, "3": 0, "4": 1, "5": 2}
    assert (score["prior_mean"], score["prior_weight"]) == (4.0, 5)


async def test_provider_without_ratings_scores_the_prior(client: httpx.AsyncClient) -> None:
    response = await client.get(f"/api/v1/scores/providers/{uuid.uuid4()}")
    assert response.status_code == 200, response.text
    score = response.json()
    assert (score["count"], score["average"], score["bayesian"]) == (0, None, PRIOR_MEAN)
    assert score["distribution"] == {"1": 0, "2": 0, "3": 0, "4": 0, "5": 0}
    assert (score["complaint_rate"], score["no_show_rate"], score["completed_bookings"]) == (None, None, 0)


async def test_rates_from_bookings_and_complaints_per_provider_and_offering(
    app: FastAPI,
    client: httpx.AsyncClient,
    complete_booking: Any,
    booking_completed: Any,
    publish: Any,
    resident_headers: Any,
    operator_headers: dict[str, str],
) -> None:
    provider_id, offering_id = uuid.uuid4(), uuid.uuid4()
    bookings = [await complete_booking(provider_id=provider_id, offering_id=offering_id) for _ in range(3)]
    await complete_booking(provider_id=provider_id)  # another offering of the same provider
    no_show = BookingNoShow(**{**booking_completed(provider_id=provider_id, offering_id=offering_id).model_dump()})
    await publish(Envelope.wrap(no_show, source="booking"))
    await client.post(
        "/api/v1/ratings", json={"booking_id": str(bookings[0].booking_id), "stars": 3}, headers=operator_headers
    )

    async def offering_score() -> dict[str, Any] | None:
        body: dict[str, Any] = (await client.get(f"/api/v1/scores/offerings/{offering_id}")).json()
        return body if body["completed_bookings"] == 3 and body["no_shows"] == 1 else None

    await eventually(offering_score)
    complaint = await client.post(
        "/api/v1/complaints",
        json={
            "target_kind": "booking",
            "target_id": str(bookings[1].booking_id),
            "category": "service_quality",
            "description": "服务敷衍",
        },
        headers=resident_headers(bookings[1].resident_id),
    )
    assert complaint.status_code == 201, complaint.text

    offering = (await client.get(f"/api/v1/scores/offerings/{offering_id}")).json()
    assert (offering["offering_id"], offering["provider_id"]) == (str(offering_id), str(provider_id))
    assert (offering["count"], offering["average"], offering["complaints"]) == (1, 3.0, 1)
    assert offering["complaint_rate"] == round(1 / 3, 4)
    assert offering["no_show_rate"] == 0.25
    provider = (await client.get(f"/api/v1/scores/providers/{provider_id}")).json()
    assert (provider["completed_bookings"], provider["no_shows"], provider["complaints"]) == (4, 1, 1)
    assert provider["complaint_rate"] == 0.25
    assert provider["no_show_rate"] == 0.2


async def test_the_publisher_job_sends_score_updated(
    service_env: dict[str, Any],
    database_factory: Any,
    service_dir: Any,
    publish: Any,
    booking_completed: Any,
    read_events: Any,
    resident_headers: Any,
) -> None:
    settings = Settings(**service_env, database_url=database_factory.new(service_dir), score_debounce_seconds=0.2)
    async with running_app(create_app(settings)) as client:
        booking = booking_completed()
        await publish(Envelope.wrap(booking, source="booking"))

        async def invited() -> bool:
            invitations = await client.get("/api/v1/rating-invitations", headers=resident_headers(booking.resident_id))
            return bool(invitations.json()["items"])

        await eventually(invited)
        rated = await client.post(
            "/api/v1/ratings",
            json={"booking_id": str(booking.booking_id), "stars": 5},
            headers=resident_headers(booking.resident_id),
        )
        assert rated.status_code == 201, rated.text

        async def rated_score() -> list[Any]:
            events = await read_events(ScoreUpdated, 10, timeout=1)
            return [e for e in events if e.subject_kind == "provider" and e.rating_count == 1]

        (event,) = (await eventually(rated_score))[:1]
        assert event.subject_id == booking.provider_id
        assert event.score == round((PRIOR_WEIGHT * PRIOR_MEAN + 5) / (PRIOR_WEIGHT + 1), 3)


async def test_bad_ids_are_422(client: httpx.AsyncClient) -> None:
    for path in ("/api/v1/scores/providers/not-a-uuid", "/api/v1/scores/offerings/1"):
        response = await client.get(path)
        assert response.status_code == 422
        assert response.headers["content-type"] == "application/problem+json"
