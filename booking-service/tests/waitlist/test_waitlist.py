"""Waitlists of full slots: the line and its positions, a freed place held for the first in line with a message,
accepted into a booking or passed on when unanswered, operators managing the line, and a race of cancellations
and joins that never offers one place to two people."""

import asyncio
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select

from booking.bookings.models import ACTIVE_STATUSES, Booking
from booking.config import Settings
from booking.waitlist import service as waitlist_service
from booking.waitlist.models import WaitlistEntry
from service_kit.testing import eventually
from service_kit.timeutil import utcnow

WAITLIST = "/api/v1/bookings/waitlist"
BOOKINGS = "/api/v1/bookings"


async def full_slot(world: Any, capacity: int = 1) -> tuple[Any, Any, list[dict[str, Any]]]:
    """An offering whose 09:00 slot tomorrow is fully booked; the slot and its bookings."""
    offering = await world.offering(capacity_per_slot=capacity)
    slot = world.at(world.tomorrow(), 9)
    bookings = []
    for _ in range(capacity):
        response = await world.book(offering, await world.resident(), slot)
        assert response.status_code == 201, response.text
        bookings.append(response.json())
    return offering, slot, bookings


async def join(world: Any, offering: Any, slot: Any, resident: dict[str, Any]) -> Any:
    body = {"offering_id": str(offering.offering_id), "slot_start": slot.isoformat()}
    return await world.client.post(WAITLIST, json=body, headers=world.resident_headers(resident))


async def test_only_a_full_slot_has_a_line_and_each_sees_their_position(world: Any) -> None:
    offering = await world.offering(capacity_per_slot=1)
    slot = world.at(world.tomorrow(), 9)
    first, second = await world.resident(), await world.resident()
    free = await join(world, offering, slot, first)
    assert free.status_code == 409, free.text
    assert free.json()["code"] == "slot_not_full"
    assert free.json()["places_left"] == 1

    holder = await world.resident()
    assert (await world.book(offering, holder, slot)).status_code == 201
    own_place = await join(world, offering, slot, holder)
    assert own_place.status_code == 409
    assert own_place.json()["code"] == "already_booked"
    one, two = await join(world, offering, slot, first), await join(world, offering, slot, second)
    assert one.status_code == two.status_code == 201, one.text
    assert (one.json()["position"], two.json()["position"]) == (1, 2)
    assert one.json()["status"] == "waiting"
    twice = await join(world, offering, slot, first)
    assert twice.status_code == 409
    assert twice.json()["code"] == "already_waiting"

    line = await world.client.get(
        WAITLIST,
        params={"offering_id": str(offering.offering_id), "slot_start": slot.isoformat()},
        headers=world.keys.headers("operator"),
    )
    assert [(e["resident_id"], e["position"]) for e in line.json()] == [(first["id"], 1), (second["id"], 2)]
    not_for_residents = await world.client.get(
        WAITLIST,
        params={"offering_id": str(offering.offering_id), "slot_start": slot.isoformat()},
        headers=world.resident_headers(first),
    )
    assert not_for_residents.status_code == 403


async def test_a_line_for_no_real_slot_is_refused_with_the_field(world: Any) -> None:
    offering, slot, _ = await full_slot(world)
    resident = await world.resident()
    body = {"offering_id": str(offering.offering_id), "slot_start": slot.isoformat()}
    for changed, status, code in [
        ({"slot_start": slot.replace(tzinfo=None).isoformat()}, 422, None),
        ({"slot_start": (slot + timedelta(minutes=20)).isoformat()}, 422, "slot_not_in_schedule"),
        ({"slot_start": (slot - timedelta(days=2)).isoformat()}, 422, "slot_in_past"),
        ({"offering_id": "6a1f0c1e-0000-4000-8000-000000000000"}, 404, "offering_not_found"),
        ({"resident_id": "6a1f0c1e-0000-4000-8000-000000000001"}, 404, "resident_not_found"),
        ({"extra": 1}, 422, None),
    ]:
        response = await world.client.post(WAITLIST, json=body | changed, headers=world.resident_headers(resident))
        assert response.status_code == status, (changed, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
        if code is not None:
            assert response.json()["code"] == code
    unknown = await world.client.get(
        f"{WAITLIST}/6a1f0c1e-0000-4000-8000-000000000002", headers=world.resident_headers(resident)
    )
    assert unknown.status_code == 404
    assert unknown.json()["code"] == "waitlist_entry_not_found"


async def test_a_freed_place_is_offered_to_the_first_in_line_who_accepts_it(world: Any) -> None:
    offering, slot, (booking,) = await full_slot(world)
    first, second = await world.resident(), await world.resident()
    one = (await join(world, offering, slot, first)).json()
    two = (await join(world, offering, slot, second)).json()
    cancelled = await world.cancel(booking, "住院了")
    assert cancelled.status_code == 200

    await eventually(lambda: world.offered(one["id"], first))
    shown = await world.waitlist_entry(one["id"], first)
    assert shown["offer_expires_at"] is not None
    assert shown["position"] is None
    assert (await world.waitlist_entry(two["id"], second))["position"] == 1
    # The place is held: nobody else can book it meanwhile.
    walk_in = await world.book(offering, await world.resident(), slot)
    assert walk_in.status_code == 409
    assert walk_in.json()["code"] == "slot_full"
    inbox = await world.client.get("/api/v1/notifications", headers=world.resident_headers(first))
    assert inbox.json()["items"][0]["title"] == "候补有空位了"
    assert "有空位了，为您保留到" in inbox.json()["items"][0]["body"]

    accepted = await world.client.post(f"{WAITLIST}/{one['id']}/accept", headers=world.resident_headers(first))
    assert accepted.status_code == 201, accepted.text
    assert accepted.json()["resident_id"] == first["id"]
    assert accepted.json()["channel"] == "app"
    assert (await world.waitlist_entry(one["id"], first))["booking_id"] == accepted.json()["id"]
    assert await world.units_held(offering, slot) == 1
    again = await world.client.post(f"{WAITLIST}/{one['id']}/accept", headers=world.resident_headers(first))
    assert again.status_code == 409
    assert again.json()["code"] == "offer_already_accepted"


async def test_an_unanswered_offer_passes_to_the_next(world: Any, settings: Settings) -> None:
    offering, slot, (booking,) = await full_slot(world)
    first, second = await world.resident(), await world.resident()
    one = (await join(world, offering, slot, first)).json()
    two = (await join(world, offering, slot, second)).json()
    await world.cancel(booking, "改天")

    await eventually(lambda: world.offered(one["id"], first))
    terms = waitlist_service.OfferTerms.of(settings)
    expires = (await world.waitlist_entry(one["id"], first))["offer_expires_at"]
    before = await waitlist_service.pass_on_overdue_offers(
        world.sessionmaker, terms=terms, batch=10, now=utcnow() + terms.hold - timedelta(minutes=5)
    )
    assert before == 0
    assert expires
    await world.let_offer_lapse(settings, (one["id"], first), (two["id"], second))
    assert await world.units_held(offering, slot) == 1


async def test_more_capacity_offers_places_and_operators_take_people_out_of_line(
    world: Any, settings: Settings
) -> None:
    offering, slot, _ = await full_slot(world)
    first, second = await world.resident(), await world.resident()
    one = (await join(world, offering, slot, first)).json()
    two = (await join(world, offering, slot, second)).json()
    removed = await world.client.post(f"{WAITLIST}/{one['id']}/leave", headers=world.keys.headers("operator"))
    assert removed.status_code == 200
    assert removed.json()["status"] == "left"
    assert (await world.waitlist_entry(two["id"], second))["position"] == 1
    again = await world.client.post(f"{WAITLIST}/{one['id']}/leave", headers=world.keys.headers("operator"))
    assert again.status_code == 409

    await world.offering(
        offering_id=offering.offering_id, provider_id=offering.provider_id, capacity_per_slot=2, version=2
    )
    terms = waitlist_service.OfferTerms.of(settings)
    await waitlist_service.pass_on_overdue_offers(world.sessionmaker, terms=terms, batch=10, now=utcnow())
    assert (await world.waitlist_entry(two["id"], second))["status"] == "offered"
    assert await world.units_held(offering, slot) == 2


async def test_racing_cancellations_and_joins_never_offer_one_place_twice(world: Any, settings: Settings) -> None:
    capacity = 25
    offering, slot, bookings = await full_slot(world, capacity)
    waiting = [await world.resident() for _ in range(capacity)]

    results = await asyncio.gather(
        *(world.cancel(b, "不去了") for b in bookings), *(join(world, offering, slot, r) for r in waiting)
    )
    assert [r.status_code for r in results[:capacity]] == [200] * capacity
    joins = results[capacity:]
    assert {r.status_code for r in joins} <= {201, 409}
    joined = sum(r.status_code == 201 for r in joins)
    assert all(r.json()["code"] == "slot_not_full" for r in joins if r.status_code == 409)

    async def counts() -> tuple[int, int, int]:
        async with world.sessionmaker() as session:
            offered = await session.scalar(
                select(func.count()).where(
                    WaitlistEntry.offering_id == offering.offering_id, WaitlistEntry.status == "offered"
                )
            )
            active = await session.scalar(
                select(func.count()).where(
                    Booking.offering_id == offering.offering_id, Booking.status.in_(ACTIVE_STATUSES)
                )
            )
        return int(offered or 0), int(active or 0), await world.units_held(offering, slot)

    async def everyone_offered() -> bool:
        offered, _, _ = await counts()
        return offered == joined

    await eventually(everyone_offered)
    # A sweep on top of the consumers offers nothing more.
    terms = waitlist_service.OfferTerms.of(settings)
    await waitlist_service.pass_on_overdue_offers(world.sessionmaker, terms=terms, batch=100, now=utcnow())
    offered, active, held = await counts()
    assert offered == joined
    assert active == 0
    # Every held unit is one offer: a place is never both offered and free, nor offered to two people.
    assert held == offered <= capacity
