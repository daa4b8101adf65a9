"""Delivery evidence photos: the provider attaches a photo of the visit; its location is kept as evidence and
shown to officials only; links expire on the service's clock."""

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from fastapi import FastAPI

from service_kit.testing import gps_of
from service_kit.testing import photo as located_photo

BOOKINGS = "/api/v1/bookings"
HOME = {"latitude": 39.7633, "longitude": 116.2128}


def local(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 12, 9, 2, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


async def confirmed_booking(world: Any) -> tuple[Any, dict[str, Any]]:
    offering = await world.offering(auto_confirm=True, mode="door_to_door")
    phone = f"139{uuid.uuid4().int % 10**8:08d}"
    body = {"name": "孙桂芝", "phone": phone, "consent": {"version": "2026-11", "channel": "phone"}, "position": HOME}
    resident = (await world.client.post("/api/v1/residents", json=body, headers=world.keys.headers("operator"))).json()
    booking = (await world.book(offering, resident, world.at(world.tomorrow(), 9))).json()
    assert booking["status"] == "confirmed"
    return offering, booking


async def test_evidence_keeps_its_location_for_officials_only(app: FastAPI, world: Any) -> None:
    clock = Clock()
    app.state.documents.clock = clock
    offering, booking = await confirmed_booking(world)
    staff = world.keys.headers("provider_staff", provider_id=offering.provider_id, sub="staff-liu")
    url = f"{BOOKINGS}/{booking['id']}/evidence-photos"
    photo = located_photo()

    attached = await world.client.post(url, files={"file": ("visit.jpg", photo, "image/jpeg")}, headers=staff)
    assert attached.status_code == 201, attached.text
    assert "located_url" not in attached.json()
    plain = await world.client.get(local(attached.json()["url"]))
    assert plain.status_code == 200
    assert gps_of(plain.content) == {}

    # Another provider's staff cannot attach to this visit; a lying file is refused.
    other = world.keys.headers("provider_staff", provider_id=uuid.uuid4(), sub="staff-other")
    assert (await world.client.post(url, files={"file": ("v.jpg", photo)}, headers=other)).status_code == 404
    lying = await world.client.post(url, files={"file": ("v.jpg", b"%PDF-1.4\n%%EOF\n", "image/jpeg")}, headers=staff)
    assert lying.status_code == 415
    assert lying.headers["content-type"] == "application/problem+json"

    (for_official,) = (await world.client.get(url, headers=world.keys.headers("official"))).json()
    located = await world.client.get(local(for_official["located_url"]))
    assert located.status_code == 200
    assert gps_of(located.content) == gps_of(photo)
    assert located.content == photo  # the evidence exactly as taken

    # The link stops working when the service's clock passes its expiry.
    clock.now += timedelta(seconds=301)
    expired = await world.client.get(local(for_official["located_url"]))
    assert expired.status_code == 403
    assert expired.json()["code"] == "link_expired"
