"""Delivery evidence that proves a visit: when it may start and end (on the service's clock), what makes a check-in
suspect, and the alert when the provider never came."""

import asyncio
import uuid
from datetime import datetime, time, timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import select

from booking.app import SERVICE_DIR, create_app
from booking.audit.models import ActingFor
from booking.bookings.service import mark_provider_missed
from booking.clock import current_time
from booking.config import Settings
from service_kit.testing import Clock, service_settings
from service_kit.timeutil import SHANGHAI, local_now

BOOKINGS = "/api/v1/bookings"
HOME = {"latitude": 39.7633, "longitude": 116.2128}
NEAR = {"latitude": 39.7640, "longitude": 116.2130}  # about 80 m from the resident's door
TIANANMEN = {"latitude": 39.9087, "longitude": 116.3975}


# The district's rules as configured by default: start 30 minutes before the slot at the earliest, last half of it,
# late beyond 30 minutes, far beyond 500 m.
settings = service_settings(Settings, SERVICE_DIR)


def tomorrow_at(hour: int, minute: int = 0) -> datetime:
    """A local (Beijing) time tomorrow: the visits below are booked for tomorrow 09:00–10:00."""
    return datetime.combine(local_now().date() + timedelta(days=1), time(hour, minute), tzinfo=SHANGHAI)


@pytest.fixture
def clock() -> Clock:
    return Clock(tomorrow_at(7))


@pytest.fixture
def app(settings: Settings, clock: Clock) -> FastAPI:
    return clock.answers(create_app(settings), current_time)


async def confirmed_booking(world: Any, *, mode: str = "door_to_door", **place: float) -> tuple[Any, dict[str, Any]]:
    """A confirmed 60-minute visit tomorrow 09:00–10:00 for a resident living at ``HOME`` (``place``: the
    offering's own position, a centre's)."""
    offering = await world.offering(auto_confirm=True, mode=mode, **place)
    body = {
        "name": "孙桂芝",
        "phone": f"139{uuid.uuid4().int % 10**8:08d}",
        "position": HOME,
        "consent": {"version": "2026-11", "channel": "phone"},
    }
    resident = (await world.client.post("/api/v1/residents", json=body, headers=world.keys.headers("operator"))).json()
    booking = (await world.book(offering, resident, world.at(world.tomorrow(), 9))).json()
    assert booking["status"] == "confirmed", booking
    return offering, booking


async def act(world: Any, booking: dict[str, Any], action: str, headers: dict[str, str], **body: Any) -> Any:
    return await world.client.post(f"{BOOKINGS}/{booking['id']}/{action}", json=body or None, headers=headers)


async def test_a_visit_cannot_start_earlier_than_the_margin_before_its_slot(world: Any, clock: Clock) -> None:
    offering, booking = await confirmed_booking(world)
    system = world.keys.headers("provider_system", provider_id=offering.provider_id, scope="bookings:write")
    clock.now = world.at(world.tomorrow(), 8, 29)
    early = await act(world, booking, "start", world.provider_headers(offering), position=HOME)
    assert early.status_code == 409
    problem = early.json()
    assert problem["code"] == "visit_too_early"
    assert "最早可于" in problem["detail"]
    assert "08:30" in problem["detail"]
    assert datetime.fromisoformat(problem["may_start_at"]) == world.at(world.tomorrow(), 8, 30)
    assert (await act(world, booking, "start", system)).json()["code"] == "visit_too_early"
    assert [t for t, _ in await world.emitted(booking["id"])] == [
        "linli.booking.created.v1",
        "linli.booking.confirmed.v1",
    ]

    clock.now = world.at(world.tomorrow(), 8, 30)
    started = await act(world, booking, "start", world.provider_headers(offering), position=HOME)
    assert started.status_code == 200, started.text
    assert started.json()["suspect_reasons"] == []


async def test_a_visit_cannot_be_completed_faster_than_half_its_duration(world: Any, clock: Clock) -> None:
    offering, booking = await confirmed_booking(world)
    provider = world.provider_headers(offering)
    clock.now = world.at(world.tomorrow(), 9, 2)
    assert (await act(world, booking, "start", provider, position=HOME)).status_code == 200

    clock.now = world.at(world.tomorrow(), 9, 32) - timedelta(seconds=1)
    too_fast = await act(world, booking, "complete", provider, position=HOME)
    assert too_fast.status_code == 409
    assert too_fast.json()["code"] == "visit_too_short"
    assert "09:32" in too_fast.json()["detail"]
    assert datetime.fromisoformat(too_fast.json()["may_complete_at"]) == world.at(world.tomorrow(), 9, 32)

    clock.now = world.at(world.tomorrow(), 9, 32)
    done = await act(world, booking, "complete", provider, position=HOME)
    assert done.status_code == 200, done.text
    assert done.json()["status"] == "completed"
    assert datetime.fromisoformat(done.json()["visit"]["checked_out_at"]) == world.at(world.tomorrow(), 9, 32)


async def test_a_far_late_check_in_by_other_staff_is_accepted_as_suspect(world: Any, clock: Clock) -> None:
    offering, booking = await confirmed_booking(world)
    admin = world.provider_headers(offering)
    assigned = await world.client.post(
        f"{BOOKINGS}/{booking['id']}/assign", json={"staff_id": "staff-liu"}, headers=admin
    )
    assert assigned.status_code == 200
    clock.now = world.at(world.tomorrow(), 9, 31)
    wu = world.keys.headers("provider_staff", provider_id=offering.provider_id, sub="staff-wu")
    started = await act(world, booking, "start", wu, position=TIANANMEN)
    assert started.status_code == 200, started.text
    assert started.json()["suspect_reasons"] == ["far_from_place", "unassigned_staff", "outside_window"]

    clock.now = world.at(world.tomorrow(), 10, 1)
    assert (await act(world, booking, "complete", wu)).status_code == 200
    # The provider sees the flag and the reasons on its booking.
    shown = (await world.client.get(f"{BOOKINGS}/{booking['id']}", headers=admin)).json()
    assert shown["suspect_reasons"] == ["far_from_place", "unassigned_staff", "outside_window"]
    assert shown["visit"]["checked_in_far"] is True
    events = dict(await world.emitted(booking["id"]))
    for kind in ("started", "completed"):
        assert events[f"linli.booking.{kind}.v1"]["suspect_reasons"] == [
            "far_from_place",
            "unassigned_staff",
            "outside_window",
        ]


async def test_a_check_in_on_time_near_the_door_is_not_suspect(world: Any, clock: Clock) -> None:
    offering, booking = await confirmed_booking(world)
    clock.now = world.at(world.tomorrow(), 9, 30)  # exactly the late margin: still on time
    started = await act(world, booking, "start", world.provider_headers(offering), position=NEAR)
    assert started.json()["suspect_reasons"] == []
    clock.now = world.at(world.tomorrow(), 10)
    completed = await act(world, booking, "complete", world.provider_headers(offering))
    assert completed.json()["suspect_reasons"] == []
    events = dict(await world.emitted(booking["id"]))
    assert events["linli.booking.completed.v1"]["suspect_reasons"] == []


async def test_an_at_center_visit_is_not_judged_by_the_residents_address(world: Any, clock: Clock) -> None:
    offering, booking = await confirmed_booking(world, mode="at_center")
    clock.now = world.at(world.tomorrow(), 9)
    started = await act(world, booking, "start", world.provider_headers(offering), position=TIANANMEN)
    assert started.json()["suspect_reasons"] == []
    assert started.json()["visit"]["checked_in_far"] is None


async def test_an_at_center_visit_is_judged_by_the_centres_place(world: Any, clock: Clock) -> None:
    centre = {"latitude": 39.7301, "longitude": 116.1425}  # 良乡, some 7 km from the resident's home
    offering, far = await confirmed_booking(world, mode="at_center", **centre)
    other, near = await confirmed_booking(world, mode="at_center", **centre)
    clock.now = world.at(world.tomorrow(), 9)
    from_home = await act(world, far, "start", world.provider_headers(offering), position=HOME)
    assert from_home.json()["suspect_reasons"] == ["far_from_place"]
    at_centre = await act(world, near, "start", world.provider_headers(other), position=centre)
    assert at_centre.status_code == 200, at_centre.text
    assert at_centre.json()["suspect_reasons"] == []
    assert at_centre.json()["visit"]["checked_in_far"] is False


async def test_a_visit_nobody_checked_in_to_alerts_operators_once(world: Any, clock: Clock) -> None:
    offering, missed = await confirmed_booking(world)
    kept_offering, kept = await confirmed_booking(world)
    slot_end = world.at(world.tomorrow(), 10)
    clock.now = world.at(world.tomorrow(), 9)
    assert (await act(world, kept, "start", world.provider_headers(kept_offering))).status_code == 200

    assert await mark_provider_missed(world.sessionmaker, batch=10, now=slot_end - timedelta(seconds=1)) == 0
    assert await mark_provider_missed(world.sessionmaker, batch=10, now=slot_end) == 1
    assert await mark_provider_missed(world.sessionmaker, batch=10, now=slot_end + timedelta(hours=1)) == 0
    assert [t for t, _ in await world.emitted(missed["id"])].count("linli.booking.provider_missed.v1") == 1
    assert "linli.booking.provider_missed.v1" not in [t for t, _ in await world.emitted(kept["id"])]

    operator = world.keys.headers("operator")
    alerts = (await world.client.get(f"{BOOKINGS}/provider-missed", headers=operator)).json()
    assert [a["id"] for a in alerts["items"]] == [missed["id"]]
    assert datetime.fromisoformat(alerts["items"][0]["provider_missed"]["missed_at"]) == slot_end
    official = await world.client.get(f"{BOOKINGS}/provider-missed", headers=world.keys.headers("official"))
    assert official.status_code == 200
    denied = await world.client.get(f"{BOOKINGS}/provider-missed", headers=world.provider_headers(offering))
    assert denied.status_code == 403

    no_note = await world.client.post(f"{BOOKINGS}/{missed['id']}/provider-missed/close", json={}, headers=operator)
    assert no_note.status_code == 422
    assert no_note.json()["errors"][0]["field"] == "note"
    note = {"note": "已致电老人，改约明天上午"}
    closed = await world.client.post(f"{BOOKINGS}/{missed['id']}/provider-missed/close", json=note, headers=operator)
    assert closed.status_code == 200, closed.text
    assert closed.json()["provider_missed"]["note"] == "已致电老人，改约明天上午"
    assert closed.json()["provider_missed"]["closed_by"].startswith("operator:")
    again = await world.client.post(f"{BOOKINGS}/{missed['id']}/provider-missed/close", json=note, headers=operator)
    assert (again.status_code, again.json()["code"]) == (409, "provider_missed_already_closed")
    not_missed = await world.client.post(f"{BOOKINGS}/{kept['id']}/provider-missed/close", json=note, headers=operator)
    assert (not_missed.status_code, not_missed.json()["code"]) == (409, "no_provider_missed_alert")

    assert (await world.client.get(f"{BOOKINGS}/provider-missed", headers=operator)).json()["total"] == 0
    everything = await world.client.get(f"{BOOKINGS}/provider-missed", params={"state": "all"}, headers=operator)
    assert [a["id"] for a in everything.json()["items"]] == [missed["id"]]
    async with world.sessionmaker() as session:
        audited = await session.scalar(
            select(ActingFor.action).where(
                ActingFor.booking_id == uuid.UUID(missed["id"]), ActingFor.action == "close_provider_missed"
            )
        )
    assert audited == "close_provider_missed"


async def test_two_sweeping_replicas_alert_each_missed_visit_once(world: Any) -> None:
    _, booking = await confirmed_booking(world)
    later = world.at(world.tomorrow(), 11)
    counts = await asyncio.gather(*(mark_provider_missed(world.sessionmaker, batch=10, now=later) for _ in range(2)))
    assert sum(counts) == 1
    assert [t for t, _ in await world.emitted(booking["id"])].count("linli.booking.provider_missed.v1") == 1
