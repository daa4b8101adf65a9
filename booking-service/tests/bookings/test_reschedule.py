"""Rescheduling moves a booking to another slot atomically; one resident holds one active booking per slot."""

import asyncio
import uuid
from datetime import datetime
from typing import Any

from service_kit.timeutil import rfc3339

BOOKINGS = "/api/v1/bookings"


async def reschedule(world: Any, booking: dict[str, Any], slot: Any, headers: dict[str, str] | None = None) -> Any:
    return await world.client.post(
        f"{BOOKINGS}/{booking['id']}/reschedule",
        json={"slot_start": slot.isoformat()},
        headers=headers or world.keys.headers("operator"),
    )


async def test_a_booking_moves_to_another_slot_and_the_old_place_is_freed(world: Any) -> None:
    offering = await world.offering(capacity_per_slot=1)
    resident = await world.resident()
    nine, ten = world.at(world.tomorrow(), 9), world.at(world.tomorrow(), 10)
    booking = (await world.book(offering, resident, nine)).json()

    response = await reschedule(world, booking, ten, world.resident_headers(resident))
    assert response.status_code == 200, response.text
    moved = response.json()
    assert (moved["id"], moved["status"]) == (booking["id"], "requested")
    assert moved["slot_start"] == rfc3339(ten)
    assert moved["slot_end"] == rfc3339(world.at(world.tomorrow(), 11))
    assert (await world.units_held(offering, nine), await world.units_held(offering, ten)) == (0, 1)
    event_type, data = (await world.emitted(booking["id"]))[-1]
    assert event_type == "linli.booking.rescheduled.v1"
    assert datetime.fromisoformat(data["previous_slot_start"]) == nine
    assert datetime.fromisoformat(data["slot_start"]) == ten
    # The freed place is bookable again.
    assert (await world.book(offering, await world.resident(), nine)).status_code == 201


async def test_a_full_slot_leaves_the_booking_unchanged(world: Any) -> None:
    offering = await world.offering(capacity_per_slot=1)
    nine, ten = world.at(world.tomorrow(), 9), world.at(world.tomorrow(), 10)
    booking = (await world.book(offering, await world.resident(), nine)).json()
    await world.book(offering, await world.resident(), ten)

    full = await reschedule(world, booking, ten)
    assert full.status_code == 409
    assert full.json()["code"] == "slot_full"
    unchanged = await world.client.get(f"{BOOKINGS}/{booking['id']}", headers=world.keys.headers("operator"))
    assert unchanged.json()["slot_start"] == rfc3339(nine)
    assert (await world.units_held(offering, nine), await world.units_held(offering, ten)) == (1, 1)
    assert [t for t, _ in await world.emitted(booking["id"])] == ["linli.booking.created.v1"]


async def test_two_reschedules_racing_onto_the_last_place_move_one_booking(world: Any) -> None:
    offering = await world.offering(capacity_per_slot=2)
    nine, eleven = world.at(world.tomorrow(), 9), world.at(world.tomorrow(), 11)
    await world.book(offering, await world.resident(), eleven)  # one of the two places at 11:00 is taken
    movers = [(await world.book(offering, await world.resident(), nine)).json() for _ in range(2)]

    responses = await asyncio.gather(*(reschedule(world, b, eleven) for b in movers))

    assert sorted(r.status_code for r in responses) == [200, 409]
    assert [r.json()["code"] for r in responses if r.status_code == 409] == ["slot_full"]
    assert (await world.units_held(offering, nine), await world.units_held(offering, eleven)) == (1, 2)
    slots = {
        b["id"]: (await world.client.get(f"{BOOKINGS}/{b['id']}", headers=world.keys.headers("operator"))).json()[
            "slot_start"
        ]
        for b in movers
    }
    assert sorted(slots.values()) == sorted([rfc3339(nine), rfc3339(eleven)])


async def test_many_racing_reschedules_never_overbook(world: Any) -> None:
    offering = await world.offering(capacity_per_slot=3)
    nine, ten = world.at(world.tomorrow(), 9), world.at(world.tomorrow(), 10)
    movers = []
    for hour in (9, 11):
        for _ in range(3):
            movers.append((await world.book(offering, await world.resident(), world.at(world.tomorrow(), hour))).json())

    responses = await asyncio.gather(*(reschedule(world, b, ten) for b in movers))

    assert sorted(r.status_code for r in responses) == [200] * 3 + [409] * 3
    assert await world.units_held(offering, ten) == 3
    assert (
        await world.units_held(offering, nine) + await world.units_held(offering, world.at(world.tomorrow(), 11)) == 3
    )


async def test_only_requested_or_confirmed_bookings_move_and_only_their_people_move_them(world: Any) -> None:
    offering = await world.offering()
    resident = await world.resident()
    nine, ten = world.at(world.tomorrow(), 9), world.at(world.tomorrow(), 10)
    booking = (await world.book(offering, resident, nine)).json()

    same = await reschedule(world, booking, nine)
    assert (same.status_code, same.json()["code"]) == (422, "same_slot")
    off_schedule = await reschedule(world, booking, world.at(world.tomorrow(), 15))
    assert (off_schedule.status_code, off_schedule.json()["code"]) == (422, "slot_not_in_schedule")
    for headers in (
        world.keys.headers("resident", resident_id=uuid.uuid4()),
        world.keys.headers("provider_admin", provider_id=uuid.uuid4()),
    ):
        assert (await reschedule(world, booking, ten, headers)).status_code == 404
    assert (await reschedule(world, booking, ten, world.keys.headers("official"))).status_code == 403
    for bad in (
        {},
        {"slot_start": "tomorrow"},
        {"slot_start": "2026-12-01T09:00:00"},
        {"slot_start": nine.isoformat(), "x": 1},
    ):
        response = await world.client.post(
            f"{BOOKINGS}/{booking['id']}/reschedule", json=bad, headers=world.keys.headers("operator")
        )
        assert response.status_code == 422, bad

    provider = world.provider_headers(offering)
    assert (await reschedule(world, booking, ten, provider)).status_code == 200
    await world.client.post(f"{BOOKINGS}/{booking['id']}/confirm", headers=provider)
    await world.client.post(f"{BOOKINGS}/{booking['id']}/start", headers=provider)
    started = await reschedule(world, booking, nine)
    assert started.status_code == 409
    assert started.json()["current_status"] == "in_service"


async def test_one_resident_holds_one_active_booking_per_slot(world: Any) -> None:
    offering = await world.offering(capacity_per_slot=5)
    resident = await world.resident()
    nine, ten = world.at(world.tomorrow(), 9), world.at(world.tomorrow(), 10)
    first = await world.book(offering, resident, nine)
    assert first.status_code == 201
    twice = await world.book(offering, resident, nine)
    assert (twice.status_code, twice.json()["code"]) == (409, "already_booked")
    assert await world.units_held(offering, nine) == 1

    other = (await world.book(offering, resident, ten)).json()
    onto_own = await reschedule(world, other, nine)
    assert (onto_own.status_code, onto_own.json()["code"]) == (409, "already_booked")
    assert await world.units_held(offering, nine) == 1

    # Racing duplicates from a double-tapping resident make one booking.
    eleven = world.at(world.tomorrow(), 11)
    responses = await asyncio.gather(*(world.book(offering, resident, eleven) for _ in range(8)))
    assert sorted(r.status_code for r in responses) == [201] + [409] * 7
    assert await world.units_held(offering, eleven) == 1

    # Once cancelled, the resident may book that slot again.
    await world.client.post(
        f"{BOOKINGS}/{first.json()['id']}/cancel", json={"reason": "换时间"}, headers=world.keys.headers("operator")
    )
    assert (await world.book(offering, resident, nine)).status_code == 201
