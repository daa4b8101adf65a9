"""A resident's app polls her rating invitations: the answer is kept in memory until they change, and a change
made anywhere (the worker opening one, a rating) reaches her next polls."""

import uuid
from typing import Any

import httpx
from fastapi import FastAPI

from feedback.ratings.answers import INVITATIONS, READ_MOSTLY
from service_kit.testing import eventually

URL = "/api/v1/rating-invitations"


async def booking_ids(client: httpx.AsyncClient, headers: dict[str, str], **params: str) -> set[str]:
    response = await client.get(URL, headers=headers, params=params)
    assert response.status_code == 200, response.text
    return {item["booking_id"] for item in response.json()["items"]}


async def test_a_kept_list_gives_way_to_an_invitation_opened_since(
    app: FastAPI, client: httpx.AsyncClient, complete_booking: Any, resident_headers: Any
) -> None:
    resident_id = uuid.uuid4()
    headers = resident_headers(resident_id)
    first = await complete_booking(resident_id=resident_id)
    assert await booking_ids(client, headers) == {str(first.booking_id)}
    assert str(resident_id) in READ_MOSTLY.kept(app, INVITATIONS).partitions

    # Opened by the consumer, announced by its event: the kept list is dropped and her next poll sees both.
    second = await complete_booking(resident_id=resident_id)
    expected = {str(first.booking_id), str(second.booking_id)}
    await eventually(lambda: _equals(booking_ids(client, headers), expected))


async def test_someone_elses_invitation_leaves_her_kept_list_alone(
    app: FastAPI, client: httpx.AsyncClient, complete_booking: Any, resident_headers: Any
) -> None:
    resident_id, neighbour = uuid.uuid4(), uuid.uuid4()
    await complete_booking(resident_id=resident_id)
    await booking_ids(client, resident_headers(resident_id))
    kept = READ_MOSTLY.kept(app, INVITATIONS)
    mine, heard = kept.partitions[str(resident_id)], kept.generation

    await complete_booking(resident_id=neighbour)
    await eventually(lambda: kept.generation > heard)  # her neighbour's invitation was announced here
    assert kept.partitions[str(resident_id)] is mine


async def test_a_poll_that_finds_nothing_new_is_not_modified(
    client: httpx.AsyncClient, complete_booking: Any, resident_headers: Any
) -> None:
    resident_id = uuid.uuid4()
    await complete_booking(resident_id=resident_id)
    first = await client.get(URL, headers=resident_headers(resident_id))
    assert first.status_code == 200
    assert first.headers["cache-control"] == "private, no-cache"
    again = await client.get(URL, headers={**resident_headers(resident_id), "If-None-Match": first.headers["etag"]})
    assert again.status_code == 304
    assert again.content == b""


async def test_her_rating_leaves_her_pending_list_at_once(
    client: httpx.AsyncClient, complete_booking: Any, resident_headers: Any
) -> None:
    resident_id = uuid.uuid4()
    headers = resident_headers(resident_id)
    booking = await complete_booking(resident_id=resident_id)
    assert await booking_ids(client, headers) == {str(booking.booking_id)}

    rated = await client.post(
        "/api/v1/ratings", headers=headers, json={"booking_id": str(booking.booking_id), "stars": 5}
    )
    assert rated.status_code == 201, rated.text
    assert await booking_ids(client, headers) == set()
    assert await booking_ids(client, headers, status="rated") == {str(booking.booking_id)}


async def test_an_operator_cannot_read_a_kept_list_without_naming_the_resident(
    client: httpx.AsyncClient, complete_booking: Any, resident_headers: Any, operator_headers: dict[str, str]
) -> None:
    resident_id = uuid.uuid4()
    booking = await complete_booking(resident_id=resident_id)
    assert await booking_ids(client, resident_headers(resident_id)) == {str(booking.booking_id)}
    refused = await client.get(URL, headers=operator_headers)
    assert refused.status_code == 422
    assert refused.json()["code"] == "resident_id_required"
    other = await client.get(URL, headers=resident_headers(uuid.uuid4()), params={"resident_id": str(resident_id)})
    assert other.status_code == 404
    named = await booking_ids(client, operator_headers, resident_id=str(resident_id))
    assert named == {str(booking.booking_id)}


async def _equals(answer: Any, expected: set[str]) -> bool:
    return bool(await answer == expected)
