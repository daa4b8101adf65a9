"""Provider staff assignment, and the check-in by someone other than the assigned staff member (flagged)."""

import uuid
from typing import Any

BOOKINGS = "/api/v1/bookings"


async def assign(world: Any, booking: dict[str, Any], headers: dict[str, str], body: Any) -> Any:
    return await world.client.post(f"{BOOKINGS}/{booking['id']}/assign", json=body, headers=headers)


async def test_the_provider_admin_assigns_staff_and_it_is_shown(world: Any) -> None:
    offering, resident, booking = await world.booked()
    assert booking["assigned_staff"] is None
    response = await assign(world, booking, world.provider_headers(offering), {"staff_id": "staff-liu"})
    assert response.status_code == 200, response.text
    assigned = response.json()["assigned_staff"]
    assert assigned["staff_id"] == "staff-liu"
    assert assigned["staff_name"] is None
    assert assigned["assigned_by"].startswith("provider_admin:")
    assert assigned["assigned_at"].endswith("Z")
    # An operator may reassign (here after confirmation); everyone who sees the booking sees who comes.
    operator = world.keys.headers("operator")
    assert (await world.client.post(f"{BOOKINGS}/{booking['id']}/confirm", headers=operator)).status_code == 200
    again = await assign(world, booking, operator, {"staff_id": "staff-zhao", "staff_name": "赵师傅"})
    assert again.status_code == 200
    for headers in (world.resident_headers(resident), world.keys.headers("official")):
        shown = await world.client.get(f"{BOOKINGS}/{booking['id']}", headers=headers)
        assert shown.json()["assigned_staff"]["staff_id"] == "staff-zhao"
        assert shown.json()["assigned_staff"]["staff_name"] == "赵师傅"
    trail = await world.client.get(f"/api/v1/residents/{resident['id']}/acting-for", headers=operator)
    assert "assign_staff" in [record["action"] for record in trail.json()["items"]]


async def test_only_the_providers_admin_or_an_operator_assigns(world: Any) -> None:
    offering, resident, booking = await world.booked()
    body = {"staff_id": "staff-liu"}
    other_provider = world.keys.headers("provider_admin", provider_id=uuid.uuid4())
    assert (await assign(world, booking, other_provider, body)).status_code == 404
    for headers in (
        world.provider_headers(offering, "provider_staff"),
        world.resident_headers(resident),
        world.keys.headers("official"),
    ):
        assert (await assign(world, booking, headers, body)).status_code == 403
    other_resident = world.resident_headers(await world.resident())
    assert (await assign(world, booking, other_resident, body)).status_code == 404
    unknown = {"id": str(uuid.uuid4())}
    assert (await assign(world, unknown, world.keys.headers("operator"), body)).status_code == 404
    shown = await world.client.get(f"{BOOKINGS}/{booking['id']}", headers=world.keys.headers("operator"))
    assert shown.json()["assigned_staff"] is None


async def test_assignment_only_while_requested_or_confirmed_and_bodies_are_checked(world: Any) -> None:
    offering, _, booking = await world.booked(auto_confirm=True)
    admin = world.provider_headers(offering)
    for body in (
        {},
        {"staff_id": ""},
        {"staff_id": "x" * 161},
        {"staff_id": 42},
        {"staff_id": "staff-liu", "staff_name": "n" * 51},
        {"staff_id": "staff-liu", "shift": "morning"},
        [],
    ):
        response = await assign(world, booking, admin, body)
        assert response.status_code == 422, body
    malformed = await world.client.post(
        f"{BOOKINGS}/{booking['id']}/assign",
        content=b'{"staff_id": ',
        headers={**admin, "content-type": "application/json"},
    )
    assert malformed.status_code == 422
    started = await world.client.post(f"{BOOKINGS}/{booking['id']}/start", headers=admin)
    assert started.status_code == 200
    late = await assign(world, booking, admin, {"staff_id": "staff-liu"})
    assert late.status_code == 409
    assert late.json()["current_status"] == "in_service"


async def test_a_check_in_by_other_staff_than_assigned_is_flagged_not_refused(world: Any) -> None:
    offering, _, booking = await world.booked(auto_confirm=True)
    same_provider = {"provider_id": offering.provider_id, "auto_confirm": True}
    _, _, second = await world.booked(**same_provider)
    _, _, unassigned = await world.booked(**same_provider)
    admin = world.provider_headers(offering)
    for b in (booking, second):
        assert (await assign(world, b, admin, {"staff_id": "staff-liu", "staff_name": "刘芳"})).status_code == 200

    def staff(sub: str) -> dict[str, str]:
        return world.keys.headers("provider_staff", provider_id=offering.provider_id, sub=sub)

    other = await world.client.post(f"{BOOKINGS}/{booking['id']}/start", headers=staff("staff-wu"))
    assert other.status_code == 200
    assert other.json()["visit"]["checked_in_by"] == "provider_staff:staff-wu"
    assert other.json()["visit"]["staff_mismatch"] is True
    same = await world.client.post(f"{BOOKINGS}/{second['id']}/start", headers=staff("staff-liu"))
    assert same.json()["visit"]["staff_mismatch"] is False
    nobody = await world.client.post(f"{BOOKINGS}/{unassigned['id']}/start", headers=staff("staff-wu"))
    assert nobody.json()["visit"]["staff_mismatch"] is None
    shown = await world.client.get(f"{BOOKINGS}/{booking['id']}", headers=world.keys.headers("operator"))
    assert shown.json()["visit"]["staff_mismatch"] is True
