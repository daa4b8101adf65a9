import uuid
from typing import Any

import httpx

from feedback.scores.service import PRIOR_MEAN, PRIOR_WEIGHT


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


async def test_bad_provider_id_is_422(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/scores/providers/not-a-uuid")
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
