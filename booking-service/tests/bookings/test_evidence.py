"""Delivery evidence: check-in (start) and check-out (complete) with time, staff member and position."""

import uuid
from typing import Any

BOOKINGS = "/api/v1/bookings"
HOME = {"latitude": 39.7633, "longitude": 116.2128}


async def confirmed_booking(world: Any, position: dict[str, float] | None = HOME) -> tuple[Any, dict[str, Any]]:
    offering = await world.offering(auto_confirm=True, mode="door_to_door")
    phone = f"139{uuid.uuid4().int % 10**8:08d}"
    body: dict[str, Any] = {"name": "孙桂芝", "phone": phone, "consent": {"version": "2026-11", "channel": "phone"}}
    if position is not None:
        body["position"] = position
    resident = (await world.client.post("/api/v1/residents", json=body, headers=world.keys.headers("operator"))).json()
    booking = (await world.book(offering, resident, world.at(world.tomorrow(), 9))).json()
    assert booking["status"] == "confirmed"
    return offering, booking


async def act(world: Any, booking: dict[str, Any], action: str, headers: dict[str, str], **body: Any) -> Any:
    return await world.client.post(f"{BOOKINGS}/{booking['id']}/{action}", json=body or None, headers=headers)


async def test_check_in_and_out_record_time_staff_and_position(world: Any) -> None:
    offering, booking = await confirmed_booking(world)
    staff = world.keys.headers("provider_staff", provider_id=offering.provider_id, sub="staff-liu")
    assert booking["visit"] is None

    near = {"latitude": 39.7640, "longitude": 116.2130}  # about 80 m from the resident's door
    started = await act(world, booking, "start", staff, position=near)
    assert started.status_code == 200, started.text
    visit = started.json()["visit"]
    assert visit["checked_in_by"] == "provider_staff:staff-liu"
    assert visit["checked_in_position"] == near
    assert 50 < visit["checked_in_distance_m"] < 120
    assert visit["checked_in_far"] is False
    assert visit["checked_in_at"].endswith("Z")
    assert visit["checked_out_at"] is None

    completed = await act(world, booking, "complete", staff, position=HOME)
    assert completed.status_code == 200
    visit = completed.json()["visit"]
    assert visit["checked_out_by"] == "provider_staff:staff-liu"
    assert visit["checked_out_position"] == HOME
    assert visit["checked_out_at"] >= visit["checked_in_at"]
    shown = await world.client.get(f"{BOOKINGS}/{booking['id']}", headers=world.keys.headers("official"))
    assert shown.json()["visit"] == visit


async def test_a_far_away_check_in_is_flagged_not_refused(world: Any) -> None:
    offering, booking = await confirmed_booking(world)
    tiananmen = {"latitude": 39.9087, "longitude": 116.3975}
    started = await act(world, booking, "start", world.provider_headers(offering), position=tiananmen)
    assert started.status_code == 200
    assert started.json()["visit"]["checked_in_far"] is True
    assert started.json()["visit"]["checked_in_distance_m"] > 20_000


async def test_without_positions_the_times_are_still_recorded(world: Any) -> None:
    offering, booking = await confirmed_booking(world, position=None)
    started = await act(world, booking, "start", world.provider_headers(offering), position=HOME)
    visit = started.json()["visit"]
    assert (visit["checked_in_distance_m"], visit["checked_in_far"]) == (None, None)
    completed = await act(world, booking, "complete", world.provider_headers(offering))
    assert completed.json()["visit"]["checked_out_position"] is None
    assert completed.json()["visit"]["checked_out_at"] is not None


async def test_no_check_out_before_check_in_and_positions_must_be_real(world: Any) -> None:
    offering, booking = await confirmed_booking(world)
    provider = world.provider_headers(offering)
    early = await act(world, booking, "complete", provider, position=HOME)
    assert early.status_code == 409
    assert early.json()["current_status"] == "confirmed"
    for position in (
        {"latitude": 90.5, "longitude": 116.2},
        {"latitude": 39.7, "longitude": 181},
        {"latitude": 39.7},
        {"latitude": "39.7", "longitude": None},
    ):
        response = await act(world, booking, "start", provider, position=position)
        assert response.status_code == 422, position
    wrong_step = await act(world, booking, "no-show", provider, position=HOME)
    assert (wrong_step.status_code, wrong_step.json()["code"]) == (422, "position_not_expected")
    assert (await act(world, booking, "start", provider)).status_code == 200
    assert (await act(world, booking, "start", provider)).status_code == 409
