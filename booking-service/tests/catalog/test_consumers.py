"""The catalog projections, fed by real events over NATS JetStream as the registry and procurement publish them."""

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from booking.catalog import repository
from service_kit.events.contracts import (
    ContractAmended,
    ContractTerminated,
    FundedOffering,
    OfferingUpdated,
    OfferingWithdrawn,
    ProviderReinstated,
    ProviderSuspended,
    ProviderVerified,
    ScheduleException,
)
from service_kit.testing import eventually


async def slots(world: Any, offering_id: uuid.UUID) -> dict[str, Any] | None:
    day = world.tomorrow().isoformat()
    response = await world.client.get(
        "/api/v1/availability", params={"offering_id": str(offering_id), "from": day, "to": day}
    )
    return response.json() if response.status_code == 200 else None


async def offering_row(world: Any, offering_id: uuid.UUID) -> Any:
    async with world.sessionmaker() as session:
        return await repository.get_offering(session, offering_id)


async def program_row(world: Any, contract_id: uuid.UUID, offering_id: uuid.UUID) -> Any:
    async with world.sessionmaker() as session:
        return await repository.get_funded_program(session, contract_id, offering_id)


async def settled(world: Any) -> None:
    """Publish a marker offering and wait for it: everything published before has been handled (one consumer
    handles the stream in order)."""
    marker = world.offering_event()
    await world.publish(marker)
    await eventually(lambda: offering_row(world, marker.offering_id))


async def test_a_published_offering_becomes_bookable(world: Any) -> None:
    offering = world.offering_event(capacity_per_slot=4)
    await world.publish(offering)
    availability = await eventually(lambda: slots(world, offering.offering_id))
    assert [s["capacity"] for s in availability["slots"]] == [4, 4, 4]
    row = await offering_row(world, offering.offering_id)
    assert (row.name_zh, row.price_fen, row.version, row.status) == ("老年餐桌", 3000, 1, "published")
    assert row.weekly_rules[0] == {"weekday": 0, "start": "09:00", "end": "12:00"}


async def test_an_older_snapshot_never_overwrites_a_newer_one(world: Any) -> None:
    first = world.offering_event(capacity_per_slot=1)
    same = {"offering_id": first.offering_id, "provider_id": first.provider_id}
    await world.publish(world.offering_event(OfferingUpdated, **same, capacity_per_slot=5, version=3))
    await world.publish(world.offering_event(OfferingUpdated, **same, capacity_per_slot=2, version=2))
    await world.publish(first)
    await settled(world)
    row = await offering_row(world, first.offering_id)
    assert (row.version, row.capacity_per_slot) == (3, 5)

    await world.publish(world.offering_event(OfferingUpdated, **same, capacity_per_slot=6, price_fen=2000, version=4))

    async def updated() -> bool:
        return (await offering_row(world, first.offering_id)).version == 4

    await eventually(updated)
    assert (await offering_row(world, first.offering_id)).price_fen == 2000


async def test_a_withdrawn_offering_takes_no_more_bookings(world: Any) -> None:
    offering = world.offering_event()
    await world.publish(offering)
    await eventually(lambda: slots(world, offering.offering_id))
    withdrawn = world.offering_event(
        OfferingWithdrawn,
        offering_id=offering.offering_id,
        provider_id=offering.provider_id,
        version=2,
        status="withdrawn",
    )
    await world.publish(withdrawn)

    async def gone() -> bool:
        availability = await slots(world, offering.offering_id)
        return availability is not None and availability["slots"] == []

    await eventually(gone)
    response = await world.book(offering, await world.resident(), world.at(world.tomorrow(), 9))
    assert response.status_code == 409
    assert response.json()["code"] == "offering_withdrawn"


async def test_provider_suspension_and_reinstatement(world: Any) -> None:
    offering = world.offering_event()
    provider = {"provider_id": offering.provider_id, "name": "长阳驿站", "kind": "public_welfare"}
    verified_at = datetime.now(UTC)
    await world.publish(ProviderVerified(**provider, status="verified"), time=verified_at)
    await world.publish(offering)
    await eventually(lambda: slots(world, offering.offering_id))

    await world.publish(
        ProviderSuspended(**provider, status="suspended", reason="食品安全检查"),
        time=verified_at + timedelta(minutes=1),
    )

    async def reason() -> str | None:
        availability = await slots(world, offering.offering_id)
        return availability["unavailable_reason"] if availability else None

    assert await eventually(reason) == "provider_suspended"
    # A verification that happened before the suspension but arrives late changes nothing.
    await world.publish(ProviderVerified(**provider, status="verified"), time=verified_at + timedelta(seconds=30))
    await settled(world)
    assert await reason() == "provider_suspended"

    await world.publish(ProviderReinstated(**provider, status="active"), time=verified_at + timedelta(minutes=2))

    async def bookable() -> bool:
        availability = await slots(world, offering.offering_id)
        return bool(availability and availability["bookable"])

    await eventually(bookable)


async def test_contracts_fund_amend_and_stop_funding(world: Any) -> None:
    offering = world.offering_event(price_fen=3000, capacity_per_slot=10)
    await world.publish(offering)
    signed = world.contract_event(offering_id=offering.offering_id)
    await world.publish(signed, source="procurement")
    program = await eventually(lambda: program_row(world, signed.contract_id, offering.offering_id))
    assert (program.unit_price_fen, program.resident_price_fen, program.quota, program.used) == (3000, 500, 10, 0)
    assert program.eligibility_tags == ["age_80_plus"]
    assert program.active is True

    elder = await world.resident(tags=["age_80_plus"])
    disabled = await world.resident(tags=["disabled"])
    slot = world.at(world.tomorrow(), 9)
    assert (await world.book(offering, elder, slot)).json()["price_fen"] == 500
    assert (await world.book(offering, disabled, slot)).json()["price_fen"] == 3000

    amended_funding = (
        FundedOffering(
            offering_id=offering.offering_id,
            unit_price_fen=3200,
            resident_price_fen=0,
            quota=20,
            eligibility_tags=("age_80_plus", "disabled"),
        ),
    )
    same = {"contract_id": signed.contract_id, "provider_id": signed.provider_id, "offering_id": offering.offering_id}
    amended = world.contract_event(
        ContractAmended, **same, funded=amended_funding, occurred_at=signed.occurred_at + timedelta(hours=1)
    )
    stale = world.contract_event(ContractAmended, **same, occurred_at=signed.occurred_at + timedelta(minutes=1))
    await world.publish(amended, source="procurement")
    await world.publish(stale, source="procurement")
    await settled(world)
    program = await program_row(world, signed.contract_id, offering.offering_id)
    assert (program.unit_price_fen, program.resident_price_fen, program.quota) == (3200, 0, 20)
    assert program.used == 1, "an amendment keeps the quota already drawn"
    booking = (await world.book(offering, disabled, world.at(world.tomorrow(), 10))).json()
    assert (booking["price_fen"], booking["subsidy_fen"]) == (0, 3200)

    terminated = world.contract_event(
        ContractTerminated, **same, status="terminated", occurred_at=signed.occurred_at + timedelta(hours=2)
    )
    await world.publish(terminated, source="procurement")

    async def stopped() -> bool:
        return not (await program_row(world, signed.contract_id, offering.offering_id)).active

    await eventually(stopped)
    assert (await world.book(offering, elder, world.at(world.tomorrow(), 11))).json()["price_fen"] == 3000


async def test_a_termination_that_arrives_before_the_signing_is_not_undone_by_it(world: Any) -> None:
    """Procurement signed and then terminated a contract; booking hears the termination first. The signing,
    older, arriving after, must not switch the subsidy on: the resident pays the offering's own price."""
    offering = world.offering_event(price_fen=3000, capacity_per_slot=10)
    await world.publish(offering)
    signed = world.contract_event(offering_id=offering.offering_id)
    same = {"contract_id": signed.contract_id, "provider_id": signed.provider_id, "offering_id": offering.offering_id}
    terminated = world.contract_event(
        ContractTerminated, **same, status="terminated", occurred_at=signed.occurred_at + timedelta(hours=1)
    )
    await world.publish(terminated, source="procurement")
    await world.publish(signed, source="procurement")
    await world.publish(signed, source="procurement")  # and redelivered
    await settled(world)

    assert await program_row(world, signed.contract_id, offering.offering_id) is None
    elder = await world.resident(tags=["age_80_plus"])
    booking = (await world.book(offering, elder, world.at(world.tomorrow(), 9))).json()
    assert (booking["price_fen"], booking["subsidy_fen"]) == (3000, 0)


async def test_an_amendment_that_drops_an_offering_stops_funding_it(world: Any) -> None:
    kept, dropped = world.offering_event(), world.offering_event()
    await world.publish(kept)
    await world.publish(dropped)
    both = tuple(FundedOffering(offering_id=o.offering_id, unit_price_fen=3000, quota=5) for o in (kept, dropped))
    signed = world.contract_event(offering_id=kept.offering_id, funded=both)
    await world.publish(signed, source="procurement")
    await eventually(lambda: program_row(world, signed.contract_id, dropped.offering_id))
    amended = world.contract_event(
        ContractAmended,
        contract_id=signed.contract_id,
        provider_id=signed.provider_id,
        offering_id=kept.offering_id,
        funded=both[:1],
        occurred_at=signed.occurred_at + timedelta(minutes=5),
    )
    await world.publish(amended, source="procurement")

    async def dropped_inactive() -> bool:
        return not (await program_row(world, signed.contract_id, dropped.offering_id)).active

    await eventually(dropped_inactive)
    assert (await program_row(world, signed.contract_id, kept.offering_id)).active is True


async def test_a_snapshot_availability_cannot_use_is_dead_lettered(world: Any) -> None:
    bad_zone = world.offering_event(timezone="Mars/Olympus_Mons")
    bad_hours = world.offering_event(
        exceptions=(ScheduleException(date=world.tomorrow(), kind="open", start="9am", end="noon"),)
    )
    await world.publish(bad_zone)
    await world.publish(bad_hours)
    await settled(world)
    assert await offering_row(world, bad_zone.offering_id) is None
    assert await offering_row(world, bad_hours.offering_id) is None
    letters = await world.client.get("/api/v1/ops/booking/dead-letters", headers=world.keys.headers("admin"))
    assert letters.status_code == 200, letters.text
    assert letters.json()["total"] == 2
