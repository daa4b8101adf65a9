"""Booking rules per offering, with district-wide defaults: lead time, horizon, cancellation window."""

import uuid
from datetime import timedelta
from typing import Any

BOOKINGS = "/api/v1/bookings"


def rules_url(offering: Any) -> str:
    return f"/api/v1/availability/{offering.offering_id}/rules"


async def set_rules(world: Any, offering: Any, **rules: Any) -> dict[str, Any]:
    response = await world.client.put(rules_url(offering), json=rules, headers=world.provider_headers(offering))
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


async def test_offerings_follow_the_defaults_until_they_set_their_own(world: Any) -> None:
    offering = await world.offering()
    defaults = (await world.client.get(rules_url(offering))).json()
    assert defaults == {
        "offering_id": str(offering.offering_id),
        "min_lead_minutes": 60,
        "horizon_days": 30,
        "cancellation_window_minutes": 120,
        "confirm_within_minutes": 1440,
        "own_rules": [],
    }
    own = await set_rules(world, offering, min_lead_minutes=180, horizon_days=7)
    assert (own["min_lead_minutes"], own["horizon_days"], own["cancellation_window_minutes"]) == (180, 7, 120)
    assert own["own_rules"] == ["min_lead_minutes", "horizon_days"]
    back = await set_rules(world, offering, horizon_days=None)
    assert (back["min_lead_minutes"], back["horizon_days"]) == (60, 30)


async def test_only_the_offerings_provider_or_an_operator_sets_rules(world: Any) -> None:
    offering = await world.offering()
    url = rules_url(offering)
    other_provider = world.keys.headers("provider_admin", provider_id=uuid.uuid4())
    assert (await world.client.put(url, json={}, headers=other_provider)).status_code == 404
    assert (await world.client.put(url, json={}, headers=world.keys.headers("resident"))).status_code == 403
    staff = world.keys.headers("provider_staff", provider_id=offering.provider_id)
    assert (await world.client.put(url, json={}, headers=staff)).status_code == 403
    assert (await world.client.put(url, json={})).status_code == 401
    operator = world.keys.headers("operator")
    assert (await world.client.put(url, json={"horizon_days": 10}, headers=operator)).status_code == 200
    unknown = f"/api/v1/availability/{uuid.uuid4()}/rules"
    assert (await world.client.put(unknown, json={}, headers=operator)).status_code == 404
    assert (await world.client.get(unknown)).status_code == 404
    for bad in (
        {"horizon_days": 0},
        {"horizon_days": 10**20},
        {"min_lead_minutes": -1},
        {"confirm_within_minutes": 1},
        {"cancellation_window_minutes": "soon"},
        {"refund": True},
        [1],
    ):
        response = await world.client.put(url, json=bad, headers=operator)
        assert response.status_code == 422, bad
        assert response.headers["content-type"] == "application/problem+json"


async def test_slots_too_soon_or_beyond_the_horizon_are_not_offered_nor_bookable(world: Any) -> None:
    offering = await world.offering()
    resident = await world.resident()
    day = world.tomorrow()
    await set_rules(world, offering, min_lead_minutes=3 * 24 * 60)
    too_soon = await world.book(offering, resident, world.at(day, 9))
    assert too_soon.status_code == 422
    assert too_soon.json()["code"] == "slot_too_soon"
    availability = await world.client.get(
        "/api/v1/availability",
        params={"offering_id": str(offering.offering_id), "from": day.isoformat(), "to": day.isoformat()},
    )
    assert availability.json()["slots"] == []

    await set_rules(world, offering, horizon_days=2)
    beyond = await world.book(offering, resident, world.at(day + timedelta(days=3), 9))
    assert beyond.status_code == 422
    assert beyond.json()["code"] == "slot_beyond_horizon"
    assert (await world.book(offering, resident, world.at(day, 9))).status_code == 201


async def test_a_resident_cancels_only_outside_the_cancellation_window(world: Any) -> None:
    offering = await world.offering()
    await set_rules(world, offering, cancellation_window_minutes=3 * 24 * 60)
    resident = await world.resident()
    booking = (await world.book(offering, resident, world.at(world.tomorrow(), 9))).json()
    url = f"{BOOKINGS}/{booking['id']}/cancel"

    late = await world.client.post(url, json={"reason": "不去了"}, headers=world.resident_headers(resident))
    assert late.status_code == 409
    assert late.json()["code"] == "outside_cancellation_window"
    # The call center (or the provider) still may.
    by_operator = await world.client.post(url, json={"reason": "老人来电取消"}, headers=world.keys.headers("operator"))
    assert by_operator.status_code == 200
    assert by_operator.json()["status"] == "cancelled"

    second = (await world.book(offering, resident, world.at(world.tomorrow(), 10))).json()
    by_provider = await world.client.post(
        f"{BOOKINGS}/{second['id']}/cancel", json={"reason": "停电"}, headers=world.provider_headers(offering)
    )
    assert by_provider.status_code == 200
