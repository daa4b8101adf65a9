"""Ratings over HTTP: who may rate which booking, once; invitations; what the public sees; bad input."""

import asyncio
import json
import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from nats.js import JetStreamContext
from sqlalchemy import select

from feedback.ratings.models import Rating
from service_kit.events.contracts import RatingSubmitted
from service_kit.events.envelope import Envelope
from service_kit.testing import TestKeys, assert_problem


async def rate(client: httpx.AsyncClient, headers: dict[str, str], **body: Any) -> httpx.Response:
    return await client.post(
        "/api/v1/ratings", json={k: str(v) if isinstance(v, uuid.UUID) else v for k, v in body.items()}, headers=headers
    )


# ------------------------------------------------------------------ submitting


async def test_resident_rates_their_completed_booking(
    client: httpx.AsyncClient, complete_booking: Any, resident_headers: Any, js: JetStreamContext
) -> None:
    booking = await complete_booking()
    response = await rate(
        client,
        resident_headers(booking.resident_id),
        booking_id=booking.booking_id,
        stars=4,
        dimensions={"punctuality": 5, "attitude": 4, "professionalism": 4, "value": 3},
        tags=["准时", "耐心", "准时"],
        comment="  阿姨很耐心，饭菜可口。  ",
    )

    assert response.status_code == 201, response.text
    rating = response.json()
    assert rating["booking_id"] == str(booking.booking_id)
    assert rating["resident_id"] == str(booking.resident_id)
    assert rating["provider_id"] == str(booking.provider_id)
    assert rating["offering_id"] == str(booking.offering_id)
    assert rating["stars"] == 4
    assert rating["dimensions"] == {"punctuality": 5, "attitude": 4, "professionalism": 4, "value": 3}
    assert rating["tags"] == ["准时", "耐心"]
    assert rating["comment"] == "阿姨很耐心，饭菜可口。"
    assert rating["on_behalf_of"] is None
    assert rating["submitted_by"] == f"resident-{booking.resident_id}"

    # rating.submitted leaves through the outbox relay onto JetStream.
    reader = await js.pull_subscribe(RatingSubmitted.type, durable="test-reader", stream="LINLI")
    (message,) = await reader.fetch(1, timeout=10)
    envelope = Envelope.from_message(message.headers, message.data)
    event = envelope.parse()
    assert isinstance(event, RatingSubmitted)
    assert envelope.source == "feedback"
    assert event.rating_id == uuid.UUID(rating["id"])
    assert event.booking_id == booking.booking_id
    assert event.provider_id == booking.provider_id
    assert event.offering_id == booking.offering_id
    assert event.stars == 4
    assert event.dimensions == {"punctuality": 5, "attitude": 4, "professionalism": 4, "value": 3}


async def test_operator_rates_for_the_resident(
    client: httpx.AsyncClient, complete_booking: Any, operator_headers: dict[str, str]
) -> None:
    booking = await complete_booking()
    response = await rate(client, operator_headers, booking_id=booking.booking_id, stars=5)

    assert response.status_code == 201, response.text
    rating = response.json()
    assert rating["resident_id"] == str(booking.resident_id)
    assert rating["on_behalf_of"] == str(booking.resident_id)
    assert rating["submitted_by"] == "operator-wang"
    assert rating["dimensions"] == {"punctuality": None, "attitude": None, "professionalism": None, "value": None}
    assert rating["tags"] == []
    assert rating["comment"] is None


async def test_second_rating_of_a_booking_is_refused(
    client: httpx.AsyncClient, complete_booking: Any, resident_headers: Any, operator_headers: dict[str, str]
) -> None:
    booking = await complete_booking()
    first = await rate(client, resident_headers(booking.resident_id), booking_id=booking.booking_id, stars=5)
    assert first.status_code == 201, first.text

    assert_problem(
        await rate(client, resident_headers(booking.resident_id), booking_id=booking.booking_id, stars=1),
        409,
        "already_rated",
    )
    assert_problem(await rate(client, operator_headers, booking_id=booking.booking_id, stars=1), 409, "already_rated")


async def test_two_racing_ratings_of_one_booking_give_one_rating(
    app: FastAPI, client: httpx.AsyncClient, complete_booking: Any, resident_headers: Any, operator_headers: Any
) -> None:
    booking = await complete_booking()
    responses = await asyncio.gather(
        rate(client, resident_headers(booking.resident_id), booking_id=booking.booking_id, stars=5),
        rate(client, operator_headers, booking_id=booking.booking_id, stars=2),
        rate(client, resident_headers(booking.resident_id), booking_id=booking.booking_id, stars=3),
    )

    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201, 409, 409], [r.text for r in responses]
    for response in responses:
        if response.status_code == 409:
            assert_problem(response, 409, "already_rated")
    async with app.state.sessionmaker() as session:
        stored = (await session.execute(select(Rating).where(Rating.booking_id == booking.booking_id))).scalars()
        assert len(list(stored)) == 1


async def test_unknown_booking_is_404(client: httpx.AsyncClient, resident_headers: Any, operator_headers: Any) -> None:
    assert_problem(await rate(client, resident_headers(uuid.uuid4()), booking_id=uuid.uuid4(), stars=5), 404)
    assert_problem(await rate(client, operator_headers, booking_id=uuid.uuid4(), stars=5), 404)


async def test_another_residents_booking_is_404_even_once_rated(
    client: httpx.AsyncClient, complete_booking: Any, resident_headers: Any
) -> None:
    booking = await complete_booking()
    stranger = resident_headers(uuid.uuid4())
    unknown = assert_problem(await rate(client, stranger, booking_id=uuid.uuid4(), stars=5), 404)
    other = assert_problem(await rate(client, stranger, booking_id=booking.booking_id, stars=5), 404)
    # The same answer as for a booking that does not exist: nothing to learn from it.
    assert other["code"] == unknown["code"]
    assert other["detail"] == unknown["detail"]

    assert (
        await rate(client, resident_headers(booking.resident_id), booking_id=booking.booking_id, stars=4)
    ).status_code == 201
    assert_problem(await rate(client, stranger, booking_id=booking.booking_id, stars=5), 404)


async def test_who_may_not_rate(client: httpx.AsyncClient, complete_booking: Any, test_keys: TestKeys) -> None:
    booking = await complete_booking()
    body = {"booking_id": str(booking.booking_id), "stars": 5}
    assert_problem(await client.post("/api/v1/ratings", json=body), 401)
    assert_problem(
        await client.post("/api/v1/ratings", json=body, headers={"Authorization": "Bearer not-a-token"}), 401
    )
    provider = test_keys.headers("provider_admin", provider_id=booking.provider_id)
    assert_problem(await client.post("/api/v1/ratings", json=body, headers=provider), 403)
    assert_problem(await client.post("/api/v1/ratings", json=body, headers=test_keys.headers("official")), 403)
    # A resident role without a resident id in the token is nobody's resident.
    assert_problem(await client.post("/api/v1/ratings", json=body, headers=test_keys.headers("resident")), 404)


async def test_phone_and_id_numbers_are_masked_before_storage(
    app: FastAPI, client: httpx.AsyncClient, complete_booking: Any, resident_headers: Any
) -> None:
    booking = await complete_booking()
    response = await rate(
        client,
        resident_headers(booking.resident_id),
        booking_id=booking.booking_id,
        stars=2,
        comment="师傅迟到了，请回电13812345678或+8613912345678，我的身份证110101199003074514。",
        tags=["回电13700001111"],
    )

    assert response.status_code == 201, response.text
    expected = "师傅迟到了，请回电138****5678或+86139****5678，我的身份证1101**********4514。"
    assert response.json()["comment"] == expected
    assert response.json()["tags"] == ["回电137****1111"]
    async with app.state.sessionmaker() as session:
        stored = (await session.execute(select(Rating).where(Rating.booking_id == booking.booking_id))).scalar_one()
    assert stored.comment == expected
    assert "13812345678" not in json.dumps(stored.tags) + (stored.comment or "")


# ------------------------------------------------------------------ bad input


@pytest.mark.parametrize(
    "change",
    [
        {"stars": 0},
        {"stars": 6},
        {"stars": -1},
        {"stars": "five"},
        {"stars": "5"},
        {"stars": 4.5},
        {"stars": True},
        {"stars": None},
        {"stars": 10**30},
        {"booking_id": "not-a-uuid"},
        {"booking_id": None},
        {"dimensions": {"punctuality": 0}},
        {"dimensions": {"value": 6}},
        {"dimensions": {"smell": 3}},
        {"dimensions": [1, 2]},
        {"tags": [f"tag{i}" for i in range(11)]},
        {"tags": ["x" * 33]},
        {"tags": [""]},
        {"tags": "准时"},
        {"tags": [5]},
        {"comment": "好" * 1001},
        {"comment": 5},
        {"status": "rated"},
        {"resident_id": "7995fbb0-7daf-499e-8f64-908f77e4edba"},
    ],
    ids=repr,
)
async def test_bad_rating_body_is_422(
    client: httpx.AsyncClient, complete_booking: Any, resident_headers: Any, change: dict[str, Any]
) -> None:
    booking = await complete_booking()
    body: dict[str, Any] = {"booking_id": str(booking.booking_id), "stars": 5, **change}
    response = await client.post("/api/v1/ratings", json=body, headers=resident_headers(booking.resident_id))
    assert_problem(response, 422, "validation_error")
    # Nothing was rated: the right body still goes through.
    ok = await rate(client, resident_headers(booking.resident_id), booking_id=booking.booking_id, stars=5)
    assert ok.status_code == 201, ok.text


@pytest.mark.parametrize("content", [b"{", b"[]", b'"stars"', b"", b"\xff\xfe", b'{"stars": 5'])
async def test_malformed_json_is_422(
    client: httpx.AsyncClient, operator_headers: dict[str, str], content: bytes
) -> None:
    response = await client.post(
        "/api/v1/ratings", content=content, headers={**operator_headers, "content-type": "application/json"}
    )
    assert_problem(response, 422)


async def test_comment_of_exactly_1000_characters_is_kept(
    client: httpx.AsyncClient, complete_booking: Any, operator_headers: dict[str, str]
) -> None:
    booking = await complete_booking()
    response = await rate(client, operator_headers, booking_id=booking.booking_id, stars=3, comment="好" * 1000)
    assert response.status_code == 201, response.text
    assert response.json()["comment"] == "好" * 1000


# ------------------------------------------------------------------ invitations


async def test_resident_sees_their_own_pending_invitations(
    client: httpx.AsyncClient, complete_booking: Any, resident_headers: Any
) -> None:
    resident_id = uuid.uuid4()
    mine = [await complete_booking(resident_id=resident_id) for _ in range(3)]
    await complete_booking()  # someone else's

    response = await client.get("/api/v1/rating-invitations", headers=resident_headers(resident_id))
    assert response.status_code == 200, response.text
    page = response.json()
    assert page["total"] == 3
    assert {i["booking_id"] for i in page["items"]} == {str(b.booking_id) for b in mine}
    assert all(i["status"] == "pending" and i["resident_id"] == str(resident_id) for i in page["items"])

    rated = await rate(client, resident_headers(resident_id), booking_id=mine[0].booking_id, stars=5)
    assert rated.status_code == 201
    pending = (await client.get("/api/v1/rating-invitations", headers=resident_headers(resident_id))).json()
    assert pending["total"] == 2
    assert str(mine[0].booking_id) not in {i["booking_id"] for i in pending["items"]}
    done = (
        await client.get(
            "/api/v1/rating-invitations", params={"status": "rated"}, headers=resident_headers(resident_id)
        )
    ).json()
    assert [i["booking_id"] for i in done["items"]] == [str(mine[0].booking_id)]


async def test_invitations_are_paginated(
    client: httpx.AsyncClient, complete_booking: Any, operator_headers: dict[str, str]
) -> None:
    resident_id = uuid.uuid4()
    for _ in range(5):
        await complete_booking(resident_id=resident_id)

    seen: list[str] = []
    for offset in (0, 2, 4):
        response = await client.get(
            "/api/v1/rating-invitations",
            params={"resident_id": str(resident_id), "limit": 2, "offset": offset},
            headers=operator_headers,
        )
        assert response.status_code == 200, response.text
        page = response.json()
        assert (page["total"], page["limit"], page["offset"]) == (5, 2, offset)
        seen += [i["id"] for i in page["items"]]
    assert len(seen) == len(set(seen)) == 5


async def test_invitation_rules(
    client: httpx.AsyncClient, complete_booking: Any, resident_headers: Any, operator_headers: Any, test_keys: TestKeys
) -> None:
    booking = await complete_booking()
    url = "/api/v1/rating-invitations"
    assert_problem(await client.get(url, headers=operator_headers), 422, "resident_id_required")
    # A resident asking for another resident's invitations learns nothing.
    assert_problem(
        await client.get(url, params={"resident_id": str(booking.resident_id)}, headers=resident_headers(uuid.uuid4())),
        404,
    )
    own = await client.get(
        url, params={"resident_id": str(booking.resident_id)}, headers=resident_headers(booking.resident_id)
    )
    assert own.status_code == 200
    assert own.json()["total"] == 1
    assert_problem(await client.get(url), 401)
    assert_problem(await client.get(url, headers=test_keys.headers("provider_admin", provider_id=uuid.uuid4())), 403)
    assert_problem(await client.get(url, headers=test_keys.headers("resident")), 403, "not_a_resident")
    admin = await client.get(url, params={"resident_id": str(booking.resident_id)}, headers=test_keys.headers("admin"))
    assert admin.status_code == 200
    assert admin.json()["total"] == 1


@pytest.mark.parametrize(
    "params",
    [
        {"limit": 0},
        {"limit": 201},
        {"offset": -1},
        {"offset": 10**20},
        {"limit": "ten"},
        {"resident_id": "x"},
        {"status": "gone"},
    ],
    ids=repr,
)
async def test_bad_invitation_query_is_422(
    client: httpx.AsyncClient, operator_headers: dict[str, str], params: dict[str, Any]
) -> None:
    response = await client.get(
        "/api/v1/rating-invitations", params={"resident_id": str(uuid.uuid4()), **params}, headers=operator_headers
    )
    assert_problem(response, 422, "validation_error")


# ------------------------------------------------------------------ reading ratings


async def test_reading_one_rating(
    client: httpx.AsyncClient, complete_booking: Any, resident_headers: Any, operator_headers: Any, test_keys: TestKeys
) -> None:
    booking = await complete_booking()
    created = (await rate(client, resident_headers(booking.resident_id), booking_id=booking.booking_id, stars=4)).json()
    url = f"/api/v1/ratings/{created['id']}"

    for headers in (resident_headers(booking.resident_id), operator_headers, test_keys.headers("official")):
        response = await client.get(url, headers=headers)
        assert response.status_code == 200, response.text
        assert response.json() == created

    assert_problem(await client.get(url, headers=resident_headers(uuid.uuid4())), 404)
    assert_problem(
        await client.get(url, headers=test_keys.headers("provider_admin", provider_id=booking.provider_id)), 404
    )
    assert_problem(await client.get(url), 401)
    assert_problem(await client.get(f"/api/v1/ratings/{uuid.uuid4()}", headers=operator_headers), 404)
    assert_problem(await client.get("/api/v1/ratings/not-a-uuid", headers=operator_headers), 422)


async def test_public_list_of_a_providers_ratings_hides_residents(
    client: httpx.AsyncClient, complete_booking: Any, operator_headers: dict[str, str]
) -> None:
    provider_id = uuid.uuid4()
    ids = []
    for stars in (5, 4, 3):
        booking = await complete_booking(provider_id=provider_id)
        ids.append((await rate(client, operator_headers, booking_id=booking.booking_id, stars=stars)).json()["id"])
    other = await complete_booking()
    await rate(client, operator_headers, booking_id=other.booking_id, stars=1)

    first = await client.get("/api/v1/ratings", params={"provider_id": str(provider_id), "limit": 2})
    assert first.status_code == 200, first.text
    page = first.json()
    assert (page["total"], len(page["items"])) == (3, 2)
    rest = (await client.get("/api/v1/ratings", params={"provider_id": str(provider_id), "offset": 2})).json()
    items = page["items"] + rest["items"]
    assert {i["id"] for i in items} == set(ids)
    for item in items:
        assert item["provider_id"] == str(provider_id)
        assert set(item) == {
            "id",
            "provider_id",
            "offering_id",
            "stars",
            "dimensions",
            "tags",
            "comment",
            "submitted_at",
            "edited_at",
        }

    assert_problem(await client.get("/api/v1/ratings"), 422)
    assert_problem(await client.get("/api/v1/ratings", params={"provider_id": "nope"}), 422)
    empty = await client.get("/api/v1/ratings", params={"provider_id": str(uuid.uuid4())})
    assert empty.json() == {"items": [], "total": 0, "limit": 20, "offset": 0}


async def test_retried_post_with_the_same_idempotency_key_replays_the_first_answer(
    client: httpx.AsyncClient, complete_booking: Any, operator_headers: dict[str, str]
) -> None:
    booking = await complete_booking()
    headers = {**operator_headers, "Idempotency-Key": f"rate-{booking.booking_id}"}
    body = {"booking_id": str(booking.booking_id), "stars": 4}
    first = await client.post("/api/v1/ratings", json=body, headers=headers)
    again = await client.post("/api/v1/ratings", json=body, headers=headers)

    assert first.status_code == again.status_code == 201, again.text
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()


async def test_openapi_documents_the_rating_routes(client: httpx.AsyncClient) -> None:
    response = await client.get("/openapi.json")
    assert response.status_code == 200
    paths = response.json()["paths"]
    assert {"/api/v1/ratings", "/api/v1/ratings/{rating_id}", "/api/v1/rating-invitations"} <= set(paths)
    assert "/api/v1/scores/providers/{provider_id}" in paths
    assert "409" in paths["/api/v1/ratings"]["post"]["responses"]
