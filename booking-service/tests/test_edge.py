"""Reached on its own port, booking keeps the gateway's edge: answers holding personal data are never stored by a
cache (``Cache-Control: no-store``, service_kit.edge), and bodies are limited as at the gateway."""

from typing import Any

import pytest

pytestmark = pytest.mark.usefixtures("gazetteer")


async def test_a_residents_own_record_and_booking_are_never_cached(world: Any) -> None:
    offering = await world.offering()
    resident = await world.resident()
    booked = await world.book(offering, resident, world.at(world.tomorrow(), 9))
    assert booked.status_code == 201, booked.text
    as_resident = world.resident_headers(resident)
    own = await world.client.get(f"/api/v1/residents/{resident['id']}", headers=as_resident)
    booking = await world.client.get(f"/api/v1/bookings/{booked.json()['id']}", headers=as_resident)
    assert own.status_code == booking.status_code == 200
    assert own.json()["phone"] == resident["phone"]
    assert booking.json()["resident_id"] == resident["id"]
    for answer in (booked, own, booking):
        assert answer.headers["cache-control"] == "no-store"
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert answer.headers["x-request-id"]


async def test_a_body_above_the_gateways_limit_is_refused_here_too(world: Any) -> None:
    response = await world.client.post(
        "/api/v1/bookings",
        content=b"x" * (1024 * 1024 + 1),
        headers={**world.keys.headers("operator"), "content-type": "application/json"},
    )
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "payload_too_large"
    assert response.json()["detail"] == "The request body exceeds the limit of 1048576 bytes."
