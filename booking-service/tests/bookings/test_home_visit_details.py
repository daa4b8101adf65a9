"""The staff member assigned to a door-to-door visit (and only them, from a while before it until its end) sees the
resident's address, access notes and a number to call; every look is in the resident's log. The provider's admin
and its system plan from the community and street."""

import uuid
from datetime import datetime, time, timedelta
from typing import Any

import pytest
from fastapi import FastAPI

from service_kit.testing import Clock
from service_kit.timeutil import SHANGHAI, local_now

BOOKINGS = "/api/v1/bookings"
STAFF = "staff-liu"


def tomorrow_at(hour: int) -> datetime:
    return datetime.combine(local_now().date() + timedelta(days=1), time(hour), tzinfo=SHANGHAI)


@pytest.fixture
def app(app_on_clock: FastAPI) -> FastAPI:
    return app_on_clock


async def home_visit(world: Any, gazetteer: None, **assignment: Any) -> tuple[Any, dict[str, Any], dict[str, Any]]:
    """A confirmed bathing visit tomorrow 09:00–10:00 at 孙桂芝's home, assigned to ``STAFF`` by the provider."""
    offering = await world.offering(name_zh="上门助浴", mode="door_to_door", auto_confirm=True)
    body = {
        "name": "孙桂芝",
        "phone": "13912345678",
        "community_code": "gongchen.shidai_jiahe",
        "address": "拱辰街道时代嘉和小区3号楼2单元501",
        "access_notes": "单元门密码 2580#，家里有狗，请先打电话",
        "consent": {"version": "2026-11", "channel": "phone"},
    }
    created = await world.client.post("/api/v1/residents", json=body, headers=world.keys.headers("operator"))
    assert created.status_code == 201, created.text
    resident = created.json()
    booking = (await world.book(offering, resident, world.at(world.tomorrow(), 9))).json()
    assert booking["status"] == "confirmed", booking
    assigned = await world.client.post(
        f"{BOOKINGS}/{booking['id']}/assign",
        json={"staff_id": STAFF, "staff_name": "刘师傅", **assignment},
        headers=world.provider_headers(offering),
    )
    assert assigned.status_code == 200, assigned.text
    return offering, resident, assigned.json()


def staff(world: Any, offering: Any, sub: str = STAFF) -> dict[str, str]:
    return world.keys.headers("provider_staff", provider_id=offering.provider_id, sub=sub, name="刘师傅")


async def details(world: Any, booking: dict[str, Any], headers: dict[str, str]) -> Any:
    return await world.client.get(f"{BOOKINGS}/{booking['id']}/visit-details", headers=headers)


async def test_the_assigned_staff_member_sees_the_address_during_the_window_and_the_look_is_logged(
    world: Any, gazetteer: None, clock: Clock
) -> None:
    offering, resident, booking = await home_visit(world, gazetteer)

    clock.now = tomorrow_at(7) - timedelta(seconds=1)
    early = await details(world, booking, staff(world, offering))
    assert (early.status_code, early.json()["code"]) == (403, "visit_details_not_yet")
    assert "最早于12月" in early.json()["detail"]
    assert "07:00起可查看" in early.json()["detail"]

    clock.now = tomorrow_at(7)
    shown = await details(world, booking, staff(world, offering))
    assert shown.status_code == 200, shown.text
    visit = shown.json()
    assert (visit["resident_name"], visit["address"], visit["access_notes"]) == (
        "孙桂芝",
        "拱辰街道时代嘉和小区3号楼2单元501",
        "单元门密码 2580#，家里有狗，请先打电话",
    )
    assert (visit["callable_number"], visit["number_kind"]) == ("+8613912345678", "resident_phone")
    assert visit["visit_area"] == {
        "community_code": "gongchen.shidai_jiahe",
        "community_name": "时代家和社区",
        "street_code": "gongchen",
    }

    clock.now = tomorrow_at(10)
    assert (await details(world, booking, staff(world, offering))).status_code == 200
    clock.now = tomorrow_at(10) + timedelta(seconds=1)
    late = await details(world, booking, staff(world, offering))
    assert (late.status_code, late.json()["code"]) == (403, "visit_details_closed")

    # Both looks are in her log: she reads it with her own token, and so does an operator.
    for headers in (world.resident_headers(resident), world.keys.headers("operator")):
        log = await world.client.get(f"/api/v1/residents/{resident['id']}/acting-for", headers=headers)
        assert log.status_code == 200, log.text
        looks = [e for e in log.json()["items"] if e["action"] == "visit_details"]
        assert [(e["operator_subject"], e["operator_name"], e["booking_id"]) for e in looks] == [
            (STAFF, "刘师傅", booking["id"])
        ] * 2


async def test_a_relay_number_is_given_in_place_of_the_residents_phone(
    world: Any, gazetteer: None, clock: Clock
) -> None:
    offering, _, booking = await home_visit(world, gazetteer, relay_number="010-6935 1234")
    clock.now = tomorrow_at(8)
    visit = (await details(world, booking, staff(world, offering))).json()
    assert (visit["callable_number"], visit["number_kind"]) == ("+861069351234", "relay")


async def test_a_relay_that_is_no_number_is_refused_on_its_field(world: Any, gazetteer: None) -> None:
    offering = await world.offering(mode="door_to_door")
    booking = (await world.book(offering, await world.resident(), world.at(world.tomorrow(), 9))).json()
    bad = await world.client.post(
        f"{BOOKINGS}/{booking['id']}/assign",
        json={"staff_id": STAFF, "relay_number": "call me"},
        headers=world.provider_headers(offering),
    )
    assert bad.status_code == 422
    assert [e["field"] for e in bad.json()["errors"]] == ["relay_number"]
    assert (await world.client.get(f"{BOOKINGS}/{booking['id']}", headers=world.keys.headers("operator"))).json()[
        "assigned_staff"
    ] is None


async def test_nobody_else_sees_the_address_and_planners_see_community_and_street(
    world: Any, gazetteer: None, clock: Clock
) -> None:
    offering, resident, booking = await home_visit(world, gazetteer)
    clock.now = tomorrow_at(9)
    other_provider = uuid.uuid4()
    refusals = {
        "other staff": (staff(world, offering, sub="staff-wang"), 403, "not_assigned_staff"),
        "admin": (world.provider_headers(offering), 403, "visit_details_for_assigned_staff"),
        "system": (
            world.keys.headers("provider_system", provider_id=offering.provider_id, scope="bookings:write"),
            403,
            "visit_details_for_assigned_staff",
        ),
        "operator": (world.keys.headers("operator"), 403, "visit_details_for_assigned_staff"),
        "resident": (world.resident_headers(resident), 403, "visit_details_for_assigned_staff"),
        "another provider's staff": (
            world.keys.headers("provider_staff", provider_id=other_provider, sub=STAFF),
            404,
            "booking_not_found",
        ),
    }
    for who, (headers, status, code) in refusals.items():
        refused = await details(world, booking, headers)
        assert (refused.status_code, refused.json()["code"]) == (status, code), who
        assert "时代嘉和小区3号楼" not in refused.text, who
        assert "2580" not in refused.text, who

    # The provider's admin and system plan the round: the community and the street, no address, a masked phone.
    for headers in (
        world.provider_headers(offering),
        world.keys.headers("provider_system", provider_id=offering.provider_id, scope="bookings:read"),
    ):
        listed = await world.client.get(BOOKINGS, headers=headers)
        row = next(b for b in listed.json()["items"] if b["id"] == booking["id"])
        assert row["visit_area"] == {
            "community_code": "gongchen.shidai_jiahe",
            "community_name": "时代家和社区",
            "street_code": "gongchen",
        }
        assert row["service"]["place"]["label"] == "上门"
        assert "时代嘉和小区3号楼" not in listed.text
        assert "2580" not in listed.text
        assert row["resident"]["phone"] == "139****5678"

    log = await world.client.get(
        f"/api/v1/residents/{resident['id']}/acting-for", headers=world.keys.headers("operator")
    )
    assert [e for e in log.json()["items"] if e["action"] == "visit_details"] == []


async def test_a_visit_at_a_center_or_one_not_confirmed_reveals_nothing(
    world: Any, gazetteer: None, clock: Clock
) -> None:
    center = await world.offering(mode="at_center", auto_confirm=True)
    resident = await world.resident()
    booking = (await world.book(center, resident, world.at(world.tomorrow(), 9))).json()
    operator = world.keys.headers("operator")
    await world.client.post(f"{BOOKINGS}/{booking['id']}/assign", json={"staff_id": STAFF}, headers=operator)
    clock.now = tomorrow_at(9)
    refused = await details(world, booking, staff(world, center))
    assert (refused.status_code, refused.json()["code"]) == (409, "not_a_home_visit")

    clock.now = tomorrow_at(7)  # bookings are judged by the clock too: the next visit is booked before its slot
    offering, _, visit = await home_visit(world, gazetteer)
    cancelled = await world.client.post(f"{BOOKINGS}/{visit['id']}/cancel", json={"reason": "住院"}, headers=operator)
    assert cancelled.status_code == 200
    gone = await details(world, visit, staff(world, offering))
    assert (gone.status_code, gone.json()["current_status"]) == (409, "cancelled")
