import uuid
from datetime import timedelta
from typing import Any

from service_kit.events.contracts import OfferingWithdrawn, ProviderSuspended, ScheduleException
from service_kit.timeutil import rfc3339

AVAILABILITY = "/api/v1/availability"


def window(offering: Any, first: Any, last: Any) -> dict[str, str]:
    return {"offering_id": str(offering.offering_id), "from": first.isoformat(), "to": last.isoformat()}


async def test_free_slots_with_remaining_capacity(world: Any) -> None:
    day = world.tomorrow()
    offering = await world.offering(capacity_per_slot=2)
    resident = await world.resident()
    booked = await world.book(offering, resident, world.at(day, 10))
    assert booked.status_code == 201, booked.text

    response = await world.client.get(AVAILABILITY, params=window(offering, day, day + timedelta(days=1)))
    assert response.status_code == 200, response.text
    availability = response.json()
    assert availability["bookable"] is True
    assert availability["from"] == day.isoformat()
    assert availability["timezone"] == "Asia/Shanghai"
    slots = availability["slots"]
    assert [s["start"] for s in slots[:3]] == [rfc3339(world.at(day, h)) for h in (9, 10, 11)]
    assert len(slots) == 6
    assert slots[0]["end"] == rfc3339(world.at(day, 10))
    assert [(s["capacity"], s["remaining"]) for s in slots[:3]] == [(2, 2), (2, 1), (2, 2)]


async def test_closed_days_have_no_slots_and_past_slots_are_not_offered(world: Any) -> None:
    day = world.tomorrow()
    closed = ScheduleException(date=day, kind="closed", reason="重阳节活动")
    offering = await world.offering(exceptions=(closed,))
    response = await world.client.get(AVAILABILITY, params=window(offering, day - timedelta(days=2), day))
    slots = response.json()["slots"]
    # The day before yesterday is past and tomorrow is closed: only today's slots still to come remain.
    today = (day - timedelta(days=1)).isoformat()
    assert all(s["start"].startswith(today) for s in slots)
    assert len(slots) <= 3


async def test_a_withdrawn_offering_has_no_slots(world: Any) -> None:
    offering = await world.offering()
    await world.apply(
        world.offering_event(
            OfferingWithdrawn,
            offering_id=offering.offering_id,
            provider_id=offering.provider_id,
            status="withdrawn",
            version=2,
        )
    )
    day = world.tomorrow()
    availability = (await world.client.get(AVAILABILITY, params=window(offering, day, day))).json()
    assert availability["bookable"] is False
    assert availability["unavailable_reason"] == "offering_withdrawn"
    assert availability["slots"] == []


async def test_a_suspended_provider_has_no_slots(world: Any) -> None:
    offering = await world.offering()
    await world.apply(
        ProviderSuspended(
            provider_id=offering.provider_id, name="驿站", kind="commercial", status="suspended", reason="complaints"
        )
    )
    day = world.tomorrow()
    availability = (await world.client.get(AVAILABILITY, params=window(offering, day, day))).json()
    assert availability["slots"] == []
    assert availability["unavailable_reason"] == "provider_suspended"


async def test_ranges_are_at_most_31_days_and_in_order(world: Any) -> None:
    offering = await world.offering()
    day = world.tomorrow()
    # The offering books 60 days ahead (the default horizon is 30 days).
    rules = await world.client.put(
        f"{AVAILABILITY}/{offering.offering_id}/rules",
        json={"horizon_days": 60},
        headers=world.keys.headers("operator"),
    )
    assert rules.status_code == 200, rules.text
    ok = await world.client.get(AVAILABILITY, params=window(offering, day, day + timedelta(days=30)))
    assert ok.status_code == 200
    assert len(ok.json()["slots"]) == 31 * 3
    too_long = await world.client.get(AVAILABILITY, params=window(offering, day, day + timedelta(days=31)))
    assert too_long.status_code == 422
    assert too_long.json()["code"] == "date_range_too_long"
    backwards = await world.client.get(AVAILABILITY, params=window(offering, day, day - timedelta(days=1)))
    assert backwards.status_code == 422
    assert backwards.json()["code"] == "invalid_date_range"


async def test_bad_queries_are_problems(world: Any) -> None:
    day = world.tomorrow().isoformat()
    unknown = await world.client.get(AVAILABILITY, params={"offering_id": str(uuid.uuid4()), "from": day, "to": day})
    assert unknown.status_code == 404
    assert unknown.json()["code"] == "offering_not_found"
    for params in (
        {"offering_id": "nope", "from": day, "to": day},
        {"offering_id": str(uuid.uuid4()), "from": "2026-13-01", "to": day},
        {"offering_id": str(uuid.uuid4()), "from": day},
        {"offering_id": str(uuid.uuid4()), "from": "9" * 40, "to": day},
    ):
        response = await world.client.get(AVAILABILITY, params=params)
        assert response.status_code == 422, params
        assert response.headers["content-type"] == "application/problem+json"
