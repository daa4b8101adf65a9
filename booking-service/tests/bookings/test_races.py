"""However many requests race, a slot never holds more than its capacity, a quota never more than its size,
and a booking changes state once."""

import asyncio
from typing import Any

from service_kit.events.contracts import FundedOffering
from service_kit.timeutil import rfc3339

BOOKINGS = "/api/v1/bookings"


async def test_twenty_racing_bookings_for_two_places_make_two_bookings(world: Any) -> None:
    offering = await world.offering(capacity_per_slot=2)
    residents = [await world.resident() for _ in range(20)]
    slot = world.at(world.tomorrow(), 10)

    responses = await asyncio.gather(*(world.book(offering, r, slot) for r in residents))

    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201] * 2 + [409] * 18, [r.text for r in responses if r.status_code not in (201, 409)]
    assert {r.json()["code"] for r in responses if r.status_code == 409} == {"slot_full"}
    assert await world.units_held(offering, slot) == 2
    listed = await world.client.get(BOOKINGS, headers=world.keys.headers("operator"))
    assert listed.json()["total"] == 2
    availability = await world.client.get(
        "/api/v1/availability",
        params={
            "offering_id": str(offering.offering_id),
            "from": world.tomorrow().isoformat(),
            "to": world.tomorrow().isoformat(),
        },
    )
    remaining = {s["start"]: s["remaining"] for s in availability.json()["slots"]}
    assert remaining[rfc3339(slot)] == 0


async def test_racing_eligible_bookings_never_exceed_the_quota(world: Any) -> None:
    offering = await world.offering(capacity_per_slot=20, price_fen=3000)
    funded = (FundedOffering(offering_id=offering.offering_id, unit_price_fen=3000, quota=3),)
    await world.apply(world.contract_event(offering_id=offering.offering_id, funded=funded), source="procurement")
    residents = [await world.resident() for _ in range(12)]
    slot = world.at(world.tomorrow(), 9)

    responses = await asyncio.gather(*(world.book(offering, r, slot) for r in residents))

    assert [r.status_code for r in responses] == [201] * 12
    assert sorted(r.json()["price_fen"] for r in responses) == [0] * 3 + [3000] * 9


async def test_racing_cancellations_cancel_once_and_give_back_one_unit(world: Any) -> None:
    offering = await world.offering(capacity_per_slot=3)
    slot = world.at(world.tomorrow(), 11)
    first = (await world.book(offering, await world.resident(), slot)).json()
    await world.book(offering, await world.resident(), slot)
    assert await world.units_held(offering, slot) == 2

    responses = await asyncio.gather(
        *(
            world.client.post(
                f"{BOOKINGS}/{first['id']}/cancel", json={"reason": f"try {i}"}, headers=world.keys.headers("operator")
            )
            for i in range(10)
        )
    )

    assert sorted(r.status_code for r in responses) == [200] + [409] * 9
    assert {r.json()["current_status"] for r in responses if r.status_code == 409} == {"cancelled"}
    assert await world.units_held(offering, slot) == 1
    assert [t for t, _ in await world.emitted(first["id"])].count("linli.booking.cancelled.v1") == 1


async def test_two_hundred_racing_bookings_for_three_places_and_a_quota_of_five(world: Any) -> None:
    slot = world.at(world.tomorrow(), 10)
    offering = await world.offering(capacity_per_slot=3)
    residents = [await world.resident(tags=["age_80_plus"]) for _ in range(200)]

    responses = await asyncio.gather(*(world.book(offering, r, slot) for r in residents))

    created = sum(r.status_code == 201 for r in responses)
    refused = [r for r in responses if r.status_code == 409]
    print(f"\n200 racing bookings, capacity 3: {created} created, {len(refused)} refused (409)")
    assert (created, len(refused)) == (3, 197)
    assert {r.json()["code"] for r in refused} == {"slot_full"}
    assert await world.units_held(offering, slot) == 3

    funded_offering = await world.offering(capacity_per_slot=200, price_fen=3000)
    funded = (FundedOffering(offering_id=funded_offering.offering_id, unit_price_fen=3000, quota=5),)
    await world.apply(
        world.contract_event(offering_id=funded_offering.offering_id, funded=funded), source="procurement"
    )
    responses = await asyncio.gather(*(world.book(funded_offering, r, slot) for r in residents))

    assert [r.status_code for r in responses] == [201] * 200
    free = sum(r.json()["funded_contract_id"] is not None for r in responses)
    print(f"200 racing eligible bookings, quota 5: {free} funded, {200 - free} at the normal price")
    assert free == 5
