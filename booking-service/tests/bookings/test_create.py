import uuid
from datetime import UTC, timedelta
from typing import Any

from service_kit.events.contracts import ProviderReinstated, ProviderSuspended
from service_kit.timeutil import rfc3339

BOOKINGS = "/api/v1/bookings"


async def test_an_operator_books_for_a_caller_by_phone(world: Any) -> None:
    offering = await world.offering()
    resident = await world.resident()
    slot = world.at(world.tomorrow(), 9)
    response = await world.book(offering, resident, slot)
    assert response.status_code == 201, response.text
    booking = response.json()
    assert booking["status"] == "requested"
    assert booking["channel"] == "phone"
    assert booking["resident_id"] == resident["id"]
    assert booking["provider_id"] == str(offering.provider_id)
    assert booking["slot_start"] == rfc3339(slot)
    assert booking["slot_end"] == rfc3339(slot + timedelta(hours=1))
    assert booking["price_fen"] == 3000
    assert booking["subsidy_fen"] == 0
    assert booking["funded_contract_id"] is None
    # The operator sees the resident's phone in full.
    assert booking["resident"]["phone"] == resident["phone"]

    events = await world.emitted(booking["id"])
    assert [t for t, _ in events] == ["linli.booking.created.v1"]
    created = events[0][1]
    assert created["status"] == "requested"
    assert created["resident_id"] == resident["id"]
    assert created["channel"] == "phone"
    assert created["price_fen"] == 3000
    assert "phone" not in str(created.keys())

    fetched = await world.client.get(f"{BOOKINGS}/{booking['id']}", headers=world.keys.headers("operator"))
    assert fetched.status_code == 200
    assert fetched.json() == booking


async def test_a_slot_start_in_another_offset_is_the_same_slot(world: Any) -> None:
    offering = await world.offering()
    resident = await world.resident()
    slot = world.at(world.tomorrow(), 9)
    in_utc = slot.astimezone(UTC)
    response = await world.book(offering, resident, in_utc, channel="walk_in")
    assert response.status_code == 201, response.text
    assert response.json()["slot_start"] == rfc3339(slot)
    assert response.json()["channel"] == "walk_in"


async def test_a_resident_books_for_themself_through_the_app(world: Any) -> None:
    offering = await world.offering()
    resident = await world.resident()
    body = world.booking_body(offering, hour=10)
    response = await world.client.post(BOOKINGS, json=body, headers=world.resident_headers(resident))
    assert response.status_code == 201, response.text
    assert response.json()["channel"] == "app"
    assert response.json()["resident_id"] == resident["id"]

    other = await world.resident()
    for_other = await world.client.post(
        BOOKINGS, json={**body, "resident_id": other["id"]}, headers=world.resident_headers(resident)
    )
    assert for_other.status_code == 404
    by_phone = await world.client.post(
        BOOKINGS, json={**body, "channel": "phone"}, headers=world.resident_headers(resident)
    )
    assert by_phone.status_code == 422
    assert by_phone.json()["code"] == "channel_not_allowed"


async def test_a_provider_books_only_its_own_offerings(world: Any) -> None:
    offering = await world.offering()
    resident = await world.resident()
    body = world.booking_body(offering, resident, hour=11)
    own = await world.client.post(BOOKINGS, json=body, headers=world.provider_headers(offering, "provider_staff"))
    assert own.status_code == 201, own.text
    assert own.json()["channel"] == "provider_api"
    # A provider sees the resident's phone masked.
    assert own.json()["resident"]["phone"] == resident["phone"][3:6] + "****" + resident["phone"][-4:]

    stranger = world.keys.headers("provider_admin", provider_id=uuid.uuid4())
    response = await world.client.post(BOOKINGS, json=body, headers=stranger)
    assert response.status_code == 404
    assert response.json()["code"] == "offering_not_found"


async def test_roles_that_do_not_book_are_refused(world: Any) -> None:
    offering = await world.offering()
    resident = await world.resident()
    body = world.booking_body(offering, resident, hour=9)
    assert (await world.client.post(BOOKINGS, json=body)).status_code == 401
    for role in ("official", "reviewer", "evaluator"):
        response = await world.client.post(BOOKINGS, json=body, headers=world.keys.headers(role))
        assert response.status_code == 403, role
    # A resident token without a resident id cannot book anyone.
    response = await world.client.post(BOOKINGS, json=body, headers=world.keys.headers("resident"))
    assert response.status_code == 403


async def test_only_real_future_slots_can_be_booked(world: Any) -> None:
    offering = await world.offering()
    resident = await world.resident()
    day = world.tomorrow()
    cases = [
        (world.at(day, 9, 30), "slot_not_in_schedule"),
        (world.at(day, 12), "slot_not_in_schedule"),
        (world.at(day, 7), "slot_not_in_schedule"),
        (world.at(day - timedelta(days=2), 9), "slot_in_past"),
    ]
    for slot, code in cases:
        response = await world.book(offering, resident, slot)
        assert response.status_code == 422, slot
        assert response.json()["code"] == code, slot


async def test_unknown_or_unbookable_things_are_refused(world: Any) -> None:
    offering = await world.offering()
    resident = await world.resident()
    slot = world.at(world.tomorrow(), 9)
    unknown_offering = await world.book(world.offering_event(), resident, slot)
    assert unknown_offering.status_code == 404
    assert unknown_offering.json()["code"] == "offering_not_found"
    unknown_resident = await world.book(offering, resident, slot, resident_id=str(uuid.uuid4()))
    assert unknown_resident.status_code == 404
    assert unknown_resident.json()["code"] == "resident_not_found"
    no_resident = await world.book(offering, resident, slot, resident_id=None)
    assert no_resident.status_code == 422
    assert no_resident.json()["code"] == "resident_required"

    provider = {"provider_id": offering.provider_id, "name": "驿站", "kind": "commercial"}
    await world.apply(ProviderSuspended(**provider, status="suspended"))
    suspended = await world.book(offering, resident, slot)
    assert suspended.status_code == 409
    assert suspended.json()["code"] == "provider_suspended"
    await world.apply(ProviderReinstated(**provider, status="active"))
    assert (await world.book(offering, resident, slot)).status_code == 201


async def test_bad_booking_input_is_a_problem(world: Any) -> None:
    offering = await world.offering()
    resident = await world.resident()
    operator = world.keys.headers("operator")
    good = world.booking_body(offering, resident, hour=9)
    bad_bodies: list[Any] = [
        {**good, "slot_start": "2026-12-01T09:00:00"},  # no offset
        {**good, "slot_start": "tomorrow morning"},
        {**good, "slot_start": 10**30},
        {**good, "offering_id": "42"},
        {**good, "resident_id": 7},
        {**good, "channel": "fax"},
        {**good, "status": "completed"},
        {**good, "price_fen": 0},
        {k: v for k, v in good.items() if k != "offering_id"},
        "a string",
        None,
    ]
    for body in bad_bodies:
        response = await world.client.post(BOOKINGS, json=body, headers=operator)
        assert response.status_code == 422, (body, response.text)
        assert response.headers["content-type"] == "application/problem+json"
    malformed = await world.client.post(
        BOOKINGS, content=b'{"offering_id": ', headers={**operator, "content-type": "application/json"}
    )
    assert malformed.status_code == 422
    assert (await world.units_held(offering, world.at(world.tomorrow(), 9))) == 0


async def test_a_retried_booking_is_made_once(world: Any) -> None:
    offering = await world.offering()
    resident = await world.resident()
    body = world.booking_body(offering, resident, hour=9)
    headers = {**world.keys.headers("operator", sub="operator-3"), "Idempotency-Key": "booking-call-881"}
    first = await world.client.post(BOOKINGS, json=body, headers=headers)
    retry = await world.client.post(BOOKINGS, json=body, headers=headers)
    assert first.status_code == retry.status_code == 201
    assert first.json()["id"] == retry.json()["id"]
    assert await world.units_held(offering, world.at(world.tomorrow(), 9)) == 1
