import uuid
from typing import Any

BOOKINGS = "/api/v1/bookings"


async def post(world: Any, booking: dict[str, Any], action: str, headers: dict[str, str], **body: Any) -> Any:
    return await world.client.post(f"{BOOKINGS}/{booking['id']}/{action}", json=body or None, headers=headers)


async def test_a_booking_goes_from_request_to_completion_and_each_step_emits_its_event(world: Any) -> None:
    offering, _, booking = await world.booked()
    staff = world.provider_headers(offering, "provider_staff")
    for action, status in (("confirm", "confirmed"), ("start", "in_service"), ("complete", "completed")):
        response = await post(world, booking, action, staff)
        assert response.status_code == 200, response.text
        assert response.json()["status"] == status
    events = await world.emitted(booking["id"])
    assert [(t, d["status"]) for t, d in events] == [
        ("linli.booking.created.v1", "requested"),
        ("linli.booking.confirmed.v1", "confirmed"),
        ("linli.booking.started.v1", "in_service"),
        ("linli.booking.completed.v1", "completed"),
    ]
    completed = events[-1][1]
    assert completed["offering_id"] == str(offering.offering_id)
    assert completed["provider_id"] == str(offering.provider_id)
    assert completed["actor"].startswith("provider_staff:")
    # A completed booking keeps its unit: the slot was used.
    assert await world.units_held(offering, world.at(world.tomorrow(), 9)) == 1


async def test_auto_confirmed_offerings_confirm_at_once(world: Any) -> None:
    _, _, booking = await world.booked(auto_confirm=True)
    assert booking["status"] == "confirmed"
    events = await world.emitted(booking["id"])
    assert [(t, d["status"]) for t, d in events] == [
        ("linli.booking.created.v1", "requested"),
        ("linli.booking.confirmed.v1", "confirmed"),
    ]


async def test_transitions_not_in_the_table_are_refused_with_the_current_status(world: Any) -> None:
    _, _, booking = await world.booked()
    operator = world.keys.headers("operator")
    for action in ("start", "complete", "no-show"):
        response = await post(world, booking, action, operator)
        assert response.status_code == 409, action
        assert response.json()["code"] == "invalid_transition"
        assert response.json()["current_status"] == "requested"
    assert (await post(world, booking, "confirm", operator)).status_code == 200
    again = await post(world, booking, "confirm", operator)
    assert again.status_code == 409
    assert again.json()["current_status"] == "confirmed"
    assert (await post(world, booking, "reject", operator, reason="no staff")).status_code == 409
    assert (await post(world, booking, "no-show", operator)).status_code == 200
    for action in ("confirm", "start", "complete"):
        response = await post(world, booking, action, operator)
        assert response.json()["current_status"] == "no_show"
    cancel = await post(world, booking, "cancel", operator, reason="late")
    assert cancel.status_code == 409
    assert [t for t, _ in await world.emitted(booking["id"])] == [
        "linli.booking.created.v1",
        "linli.booking.confirmed.v1",
        "linli.booking.no_show.v1",
    ]


async def test_cancelling_gives_the_unit_back_and_records_who_and_why(world: Any) -> None:
    offering, resident, booking = await world.booked(capacity_per_slot=1)
    slot = world.at(world.tomorrow(), 9)
    assert await world.units_held(offering, slot) == 1
    other = await world.resident()
    full = await world.book(offering, other, slot)
    assert full.status_code == 409
    assert full.json()["code"] == "slot_full"

    no_reason = await post(world, booking, "cancel", world.resident_headers(resident))
    assert no_reason.status_code == 422
    assert no_reason.json()["code"] == "reason_required"
    response = await post(world, booking, "cancel", world.resident_headers(resident), reason="家里有事")
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "cancelled"
    assert response.json()["status_reason"] == "家里有事"
    assert await world.units_held(offering, slot) == 0
    cancelled = (await world.emitted(booking["id"]))[-1]
    assert cancelled[0] == "linli.booking.cancelled.v1"
    assert cancelled[1]["reason"] == "家里有事"
    assert cancelled[1]["actor"].startswith("resident:")

    assert (await world.book(offering, other, slot)).status_code == 201


async def test_rejecting_gives_the_unit_back(world: Any) -> None:
    offering, _, booking = await world.booked()
    response = await post(world, booking, "reject", world.provider_headers(offering), reason="厨师请假")
    assert response.status_code == 200
    assert response.json()["status"] == "rejected"
    assert await world.units_held(offering, world.at(world.tomorrow(), 9)) == 0


async def test_who_may_do_what(world: Any) -> None:
    offering, resident, booking = await world.booked()
    other_provider = world.keys.headers("provider_admin", provider_id=uuid.uuid4())
    other_resident = world.keys.headers("resident", resident_id=uuid.uuid4())
    for headers in (other_provider, other_resident):
        assert (await post(world, booking, "confirm", headers)).status_code == 404
        assert (await post(world, booking, "cancel", headers, reason="x")).status_code == 404
        assert (await world.client.get(f"{BOOKINGS}/{booking['id']}", headers=headers)).status_code == 404
    # The booking's own resident may cancel but not confirm; an official may look but not act.
    assert (await post(world, booking, "confirm", world.resident_headers(resident))).status_code == 403
    official = world.keys.headers("official")
    assert (await world.client.get(f"{BOOKINGS}/{booking['id']}", headers=official)).status_code == 200
    assert (await post(world, booking, "confirm", official)).status_code == 403
    assert (await post(world, booking, "confirm", {})).status_code == 401
    assert (
        await world.client.get(f"{BOOKINGS}/{booking['id']}", headers=world.resident_headers(resident))
    ).status_code == 200
    assert (await post(world, booking, "confirm", world.provider_headers(offering))).status_code == 200
    unknown = await world.client.post(f"{BOOKINGS}/{uuid.uuid4()}/confirm", headers=world.keys.headers("operator"))
    assert unknown.status_code == 404
    assert unknown.json()["code"] == "booking_not_found"


async def test_bad_transition_input_is_a_problem(world: Any) -> None:
    _, _, booking = await world.booked()
    operator = world.keys.headers("operator")
    for body in ({"reason": ""}, {"reason": "x" * 501}, {"reason": 5}, {"why": "x"}, [1]):
        response = await world.client.post(f"{BOOKINGS}/{booking['id']}/cancel", json=body, headers=operator)
        assert response.status_code == 422, body
        assert response.headers["content-type"] == "application/problem+json"
    assert (await world.client.post(f"{BOOKINGS}/not-an-id/confirm", headers=operator)).status_code == 422
    assert (await world.client.post(f"{BOOKINGS}/{booking['id']}/teleport", headers=operator)).status_code in (404, 405)


async def test_listing_shows_each_caller_only_their_own(world: Any) -> None:
    offering, resident, booking = await world.booked()
    elsewhere = await world.offering()
    neighbour = await world.resident()
    theirs = (await world.book(elsewhere, neighbour, world.at(world.tomorrow(), 10))).json()

    def ids(response: Any) -> list[str]:
        assert response.status_code == 200, response.text
        return [b["id"] for b in response.json()["items"]]

    operator = world.keys.headers("operator")
    assert ids(await world.client.get(BOOKINGS, params={"resident_id": resident["id"]}, headers=operator)) == [
        booking["id"]
    ]
    assert set(ids(await world.client.get(BOOKINGS, headers=operator))) == {booking["id"], theirs["id"]}
    assert ids(await world.client.get(BOOKINGS, headers=world.resident_headers(resident))) == [booking["id"]]
    assert ids(await world.client.get(BOOKINGS, headers=world.provider_headers(offering))) == [booking["id"]]
    snooping = await world.client.get(
        BOOKINGS, params={"resident_id": neighbour["id"]}, headers=world.resident_headers(resident)
    )
    assert snooping.status_code == 404
    by_status = await world.client.get(BOOKINGS, params={"status": "confirmed"}, headers=operator)
    assert ids(by_status) == []
    page = await world.client.get(BOOKINGS, params={"limit": 1}, headers=operator)
    assert page.json()["total"] == 2
    assert len(page.json()["items"]) == 1
    for params in ({"limit": 0}, {"limit": 10**20}, {"offset": -1}, {"status": "lost"}, {"resident_id": "me"}):
        assert (await world.client.get(BOOKINGS, params=params, headers=operator)).status_code == 422, params
    assert (await world.client.get(BOOKINGS, headers=world.keys.headers("reviewer"))).status_code == 403
