"""Operators search bookings by resident phone, provider, status and date; filters never widen what one sees."""

from datetime import UTC, datetime, timedelta
from typing import Any

BOOKINGS = "/api/v1/bookings"


async def scene(world: Any) -> dict[str, Any]:
    """Two providers; 王 (…1111) books both, 李 (…2222) books one, on two different days."""
    meals = await world.offering()
    baths = await world.offering()
    wang = await world.resident(phone="13900001111")
    li = await world.resident(phone="13955552222")
    day1, day2 = world.tomorrow(), world.tomorrow() + timedelta(days=1)
    made = {}
    for name, offering, resident, slot in (
        ("wang_meal", meals, wang, world.at(day1, 9)),
        ("wang_bath", baths, wang, world.at(day2, 10)),
        ("li_meal", meals, li, world.at(day2, 9)),
    ):
        response = await world.book(offering, resident, slot)
        assert response.status_code == 201, response.text
        made[name] = response.json()["id"]
    confirmed = await world.client.post(f"{BOOKINGS}/{made['li_meal']}/confirm", headers=world.keys.headers("operator"))
    assert confirmed.status_code == 200
    return {"meals": meals, "baths": baths, "wang": wang, "li": li, "day1": day1, "day2": day2, **made}


async def ids(world: Any, headers: dict[str, str], **params: Any) -> set[str]:
    response = await world.client.get(BOOKINGS, params=params, headers=headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["total"] == len(body["items"])
    return {item["id"] for item in body["items"]}


async def test_an_operator_finds_bookings_by_phone_provider_status_and_date(world: Any) -> None:
    s = await scene(world)
    operator = world.keys.headers("operator")
    assert await ids(world, operator) == {s["wang_meal"], s["wang_bath"], s["li_meal"]}
    assert await ids(world, operator, phone="139 0000 1111") == {s["wang_meal"], s["wang_bath"]}
    assert await ids(world, operator, phone="+86-139-5555-2222") == {s["li_meal"]}
    assert await ids(world, operator, phone="1111") == {s["wang_meal"], s["wang_bath"]}
    assert await ids(world, operator, phone="52222") == {s["li_meal"]}
    assert await ids(world, operator, phone="9999") == set()
    assert await ids(world, operator, phone="13912349999") == set()
    assert await ids(world, operator, provider_id=str(s["meals"].provider_id)) == {s["wang_meal"], s["li_meal"]}
    assert await ids(world, operator, status="confirmed") == {s["li_meal"]}
    assert await ids(world, operator, date=s["day1"].isoformat()) == {s["wang_meal"]}
    assert await ids(world, operator, date=s["day2"].isoformat()) == {s["wang_bath"], s["li_meal"]}
    assert await ids(world, operator, **{"from": s["day1"].isoformat(), "to": s["day2"].isoformat()}) == {
        s["wang_meal"],
        s["wang_bath"],
        s["li_meal"],
    }
    assert await ids(world, operator, **{"from": s["day2"].isoformat()}) == {s["wang_bath"], s["li_meal"]}
    assert await ids(world, operator, **{"to": s["day1"].isoformat()}) == {s["wang_meal"]}
    assert await ids(
        world, operator, phone="1111", provider_id=str(s["meals"].provider_id), date=s["day1"].isoformat()
    ) == {s["wang_meal"]}
    assert await ids(world, world.keys.headers("admin"), phone="2222") == {s["li_meal"]}


async def test_a_phone_search_is_recorded_as_acting_for_each_resident_found(world: Any) -> None:
    s = await scene(world)
    assert await ids(world, world.keys.headers("operator"), phone="1111") == {s["wang_meal"], s["wang_bath"]}
    trail = await world.client.get(
        f"/api/v1/residents/{s['wang']['id']}/acting-for", headers=world.keys.headers("operator")
    )
    assert "list_bookings" in [record["action"] for record in trail.json()["items"]]
    other = await world.client.get(
        f"/api/v1/residents/{s['li']['id']}/acting-for", headers=world.keys.headers("operator")
    )
    assert "list_bookings" not in [record["action"] for record in other.json()["items"]]


async def test_filters_narrow_what_residents_and_providers_see_never_widen_it(world: Any) -> None:
    s = await scene(world)
    meals_admin = world.provider_headers(s["meals"])
    assert await ids(world, meals_admin) == {s["wang_meal"], s["li_meal"]}
    assert await ids(world, meals_admin, provider_id=str(s["baths"].provider_id)) == set()
    assert await ids(world, meals_admin, date=s["day2"].isoformat()) == {s["li_meal"]}
    wang = world.resident_headers(s["wang"])
    assert await ids(world, wang) == {s["wang_meal"], s["wang_bath"]}
    assert await ids(world, wang, provider_id=str(s["baths"].provider_id)) == {s["wang_bath"]}
    assert await ids(world, wang, status="confirmed") == set()
    official = world.keys.headers("official")
    assert await ids(world, official, provider_id=str(s["baths"].provider_id)) == {s["wang_bath"]}
    # Only operators search by phone: a provider or a resident could otherwise probe numbers.
    for headers in (meals_admin, wang, official):
        response = await world.client.get(BOOKINGS, params={"phone": "1111"}, headers=headers)
        assert response.status_code == 403
        assert response.json()["code"] == "phone_search_not_allowed"


async def test_malformed_search_filters_are_422(world: Any) -> None:
    s = await scene(world)
    operator = world.keys.headers("operator")
    day1, day2 = s["day1"].isoformat(), s["day2"].isoformat()
    for params, code in (
        ({"date": "tomorrow"}, None),
        ({"date": "2026-13-01"}, None),
        ({"from": "2026-11-26T09:00"}, None),
        ({"provider_id": "meals"}, None),
        ({"status": "lost"}, None),
        ({"phone": "123"}, None),
        ({"phone": "1" * 40}, None),
        ({"phone": "not a number"}, "invalid_phone"),
        ({"phone": "10000000000000"}, "invalid_phone"),
        ({"date": day1, "from": day1}, "date_and_range"),
        ({"from": day2, "to": day1}, "invalid_range"),
        ({"created_from": "2026-11-26T09:00"}, None),  # no time zone: ambiguous
        ({"created_before": "today"}, None),
    ):
        response = await world.client.get(BOOKINGS, params=params, headers=operator)
        assert response.status_code == 422, params
        assert response.headers["content-type"].startswith("application/problem+json")
        if code is not None:
            assert response.json()["code"] == code, params


async def test_the_shift_queue_lists_bookings_made_in_a_window(world: Any) -> None:
    before = datetime.now(UTC) - timedelta(seconds=1)
    s = await scene(world)
    after = datetime.now(UTC) + timedelta(seconds=1)
    operator = world.keys.headers("operator")
    made = {s["wang_meal"], s["wang_bath"], s["li_meal"]}
    assert await ids(world, operator, created_from=before.isoformat()) == made
    assert await ids(world, operator, created_from=after.isoformat()) == set()
    assert await ids(world, operator, created_before=before.isoformat()) == set()
    assert await ids(world, operator, created_from=before.isoformat(), created_before=after.isoformat()) == made
