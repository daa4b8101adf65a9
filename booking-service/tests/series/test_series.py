"""Recurring series, on the service's clock (late September 2026: National Day's week off and its make-up Saturday
lie ahead): the dates booked, retries and the extension job booking nothing twice, full dates reported and
waitlisted, the provider's one confirmation, "this and all future" cancelled, and refusals that change nothing."""

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi import FastAPI

from booking.config import Settings
from booking.series import service as series_service
from service_kit.events.contracts import WeeklyRule
from service_kit.testing import Clock

SERIES = "/api/v1/bookings/series"
BOOKINGS = "/api/v1/bookings"
# Friday 25 September 2026, 09:00 in Beijing.
NOW = datetime(2026, 9, 25, 1, 0, tzinfo=UTC)
WORKING_WEEK_LUNCH = tuple(WeeklyRule(weekday=d, start="11:00", end="12:00") for d in range(5))
EVERY_DAY_LUNCH = tuple(WeeklyRule(weekday=d, start="11:00", end="12:00") for d in range(7))


@pytest.fixture
def clock() -> Clock:
    return Clock(NOW)


@pytest.fixture
def app(app_on_clock: FastAPI) -> FastAPI:
    return app_on_clock


def lunch_series(offering: Any, **fields: Any) -> dict[str, Any]:
    return {"offering_id": str(offering.offering_id), "kind": "working_days", "time": "11:00", **fields}


async def bookings_of(world: Any, resident: dict[str, Any]) -> list[dict[str, Any]]:
    response = await world.client.get(
        BOOKINGS, params={"resident_id": resident["id"], "limit": 200}, headers=world.keys.headers("operator")
    )
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def test_a_working_day_lunch_series_skips_national_day_and_books_the_make_up_saturday(world: Any) -> None:
    offering = await world.offering(weekly_rules=EVERY_DAY_LUNCH, capacity_per_slot=5)
    resident = await world.resident()
    body = lunch_series(offering, start_date="2026-09-28", end_date="2026-10-16")
    response = await world.client.post(SERIES, json=body, headers=world.resident_headers(resident))
    assert response.status_code == 201, response.text
    series = response.json()
    booked = [o["date"] for o in series["occurrences"] if o["outcome"] == "booked"]
    assert booked == [
        "2026-09-28", "2026-09-29", "2026-09-30",
        # 1–7 October: National Day's week off; Saturday 10 October is worked in its place.
        "2026-10-08", "2026-10-09", "2026-10-10",
        "2026-10-12", "2026-10-13", "2026-10-14", "2026-10-15", "2026-10-16",
    ]  # fmt: skip
    assert {d["date"] for d in series["days_off_skipped"]} == {
        "2026-10-01", "2026-10-02", "2026-10-05", "2026-10-06", "2026-10-07"
    }  # fmt: skip
    assert series["days_off_skipped"][0]["name"] == "国庆节"
    assert series["status"] == "ended"
    first = series["occurrences"][0]["booking"]
    assert first["slot_start"] == "2026-09-28T03:00:00Z"  # 11:00 in Beijing
    assert first["channel"] == "app"
    assert first["status"] == "requested"
    assert len(await bookings_of(world, resident)) == 11


async def test_a_retried_request_books_nothing_twice(world: Any) -> None:
    offering = await world.offering(weekly_rules=WORKING_WEEK_LUNCH)
    resident = await world.resident()
    body = lunch_series(offering, resident_id=resident["id"], start_date="2026-09-28", count=4)
    headers = world.keys.headers("operator") | {"Idempotency-Key": "call-0925-lunch"}
    first = await world.client.post(SERIES, json=body, headers=headers)
    again = await world.client.post(SERIES, json=body, headers=headers)
    assert first.status_code == again.status_code == 201, first.text
    assert again.json()["id"] == first.json()["id"]
    assert [o["date"] for o in first.json()["occurrences"]] == ["2026-09-28", "2026-09-29", "2026-09-30", "2026-10-08"]
    assert len(await bookings_of(world, resident)) == 4


async def test_the_extension_job_books_dates_the_horizon_reaches_once(
    world: Any, settings: Settings, sessionmaker: Any, clock: Clock
) -> None:
    offering = await world.offering(weekly_rules=WORKING_WEEK_LUNCH)
    resident = await world.resident()
    body = {
        **lunch_series(offering, resident_id=resident["id"]),
        "kind": "weekly",
        "weekdays": [1, 3],
        "start_date": "2026-09-29",
        "end_date": "2026-12-31",
    }
    response = await world.client.post(SERIES, json=body, headers=world.keys.headers("operator"))
    assert response.status_code == 201, response.text
    series = response.json()
    # The 30-day horizon reaches Sunday 25 October 09:00, before its 11:00 slot: Tuesdays and Thursdays until the
    # 24th, but 1 October (National Day) and 6 October (a day off of its week).
    assert series["planned_through"] == "2026-10-24"
    assert [o["date"] for o in series["occurrences"]] == [
        "2026-09-29", "2026-10-08", "2026-10-13", "2026-10-15", "2026-10-20", "2026-10-22"
    ]  # fmt: skip
    planned = [o["date"] for o in series["occurrences"]]
    assert "2026-10-01" not in planned
    assert "2026-10-06" not in planned
    assert series["status"] == "active"

    later = NOW + timedelta(days=20)
    first_run = await series_service.extend(sessionmaker, settings=settings, batch=10, now=later)
    second_run = await series_service.extend(sessionmaker, settings=settings, batch=10, now=later)
    assert first_run == 6  # 27 and 29 October, 3, 5, 10 and 12 November
    assert second_run == 0
    fetched = await world.client.get(f"{SERIES}/{series['id']}", headers=world.keys.headers("operator"))
    dates = [o["date"] for o in fetched.json()["occurrences"]]
    assert dates[-6:] == ["2026-10-27", "2026-10-29", "2026-11-03", "2026-11-05", "2026-11-10", "2026-11-12"]
    assert len(dates) == len(set(dates))
    assert len(await bookings_of(world, resident)) == len(dates)


async def test_a_full_date_is_reported_and_waitlisted_when_asked(world: Any) -> None:
    offering = await world.offering(weekly_rules=WORKING_WEEK_LUNCH, capacity_per_slot=1)
    neighbour = await world.resident()
    taken = await world.client.post(
        SERIES,
        json=lunch_series(offering, resident_id=neighbour["id"], start_date="2026-09-29", count=1),
        headers=world.keys.headers("operator"),
    )
    assert taken.json()["occurrences"][0]["outcome"] == "booked", taken.text
    resident = await world.resident()
    body = lunch_series(offering, resident_id=resident["id"], start_date="2026-09-28", count=3)
    reported = await world.client.post(SERIES, json=body, headers=world.keys.headers("operator"))
    assert reported.status_code == 201, reported.text
    outcomes = [(o["date"], o["outcome"], o["code"]) for o in reported.json()["occurrences"]]
    assert outcomes == [
        ("2026-09-28", "booked", None), ("2026-09-29", "full", "slot_full"), ("2026-09-30", "booked", None)
    ]  # fmt: skip

    other = await world.resident()
    waitlisted = await world.client.post(
        SERIES,
        json={**body, "resident_id": other["id"], "waitlist_when_full": True},
        headers=world.keys.headers("operator"),
    )
    assert waitlisted.status_code == 201, waitlisted.text
    second = waitlisted.json()["occurrences"][1]
    assert second["outcome"] == "waitlisted"
    assert second["waitlist"]["position"] == 1
    assert second["waitlist"]["status"] == "waiting"


async def test_the_provider_confirms_a_series_once(world: Any, settings: Settings, sessionmaker: Any) -> None:
    offering = await world.offering(weekly_rules=WORKING_WEEK_LUNCH)
    resident = await world.resident()
    body = lunch_series(offering, resident_id=resident["id"], start_date="2026-10-12", end_date="2026-11-20")
    created = (await world.client.post(SERIES, json=body, headers=world.keys.headers("operator"))).json()
    assert {o["booking"]["status"] for o in created["occurrences"]} == {"requested"}

    other_provider = await world.client.post(
        f"{SERIES}/{created['id']}/confirm",
        headers=world.keys.headers("provider_admin", provider_id=offering.offering_id),
    )
    assert other_provider.status_code == 404
    confirmed = await world.client.post(f"{SERIES}/{created['id']}/confirm", headers=world.provider_headers(offering))
    assert confirmed.status_code == 200, confirmed.text
    assert {o["booking"]["status"] for o in confirmed.json()["occurrences"]} == {"confirmed"}

    await series_service.extend(sessionmaker, settings=settings, batch=10, now=NOW + timedelta(days=14))
    later = (await world.client.get(f"{SERIES}/{created['id']}", headers=world.keys.headers("operator"))).json()
    assert len(later["occurrences"]) > len(created["occurrences"])
    assert {o["booking"]["status"] for o in later["occurrences"]} == {"confirmed"}


async def test_this_and_all_future_dates_are_cancelled_and_the_series_stops(
    world: Any, settings: Settings, sessionmaker: Any
) -> None:
    offering = await world.offering(weekly_rules=WORKING_WEEK_LUNCH)
    resident = await world.resident()
    body = lunch_series(offering, start_date="2026-10-12", end_date="2026-12-31")
    created = (await world.client.post(SERIES, json=body, headers=world.resident_headers(resident))).json()
    # One date skipped alone, with the booking's own cancellation.
    first = created["occurrences"][0]["booking"]
    alone = await world.client.post(
        f"{BOOKINGS}/{first['id']}/cancel", json={"reason": "去医院复查"}, headers=world.resident_headers(resident)
    )
    assert alone.status_code == 200, alone.text

    cancelled = await world.client.post(
        f"{SERIES}/{created['id']}/cancel",
        json={"from_date": "2026-10-15", "reason": "搬去女儿家住"},
        headers=world.resident_headers(resident),
    )
    assert cancelled.status_code == 200, cancelled.text
    series = cancelled.json()
    assert series["status"] == "cancelled"
    assert series["not_cancelled"] == []
    statuses = {o["date"]: o["booking"]["status"] for o in series["occurrences"]}
    assert statuses["2026-10-12"] == "cancelled"
    assert statuses["2026-10-13"] == statuses["2026-10-14"] == "requested"
    assert {s for d, s in statuses.items() if d >= "2026-10-15"} == {"cancelled"}
    assert await series_service.extend(sessionmaker, settings=settings, batch=10, now=NOW + timedelta(days=30)) == 0


@pytest.mark.parametrize(
    ("fields", "pointer", "code"),
    [
        ({"kind": "weekly", "weekdays": [1, 5]}, "#/weekdays/1", "weekday_not_offered"),
        ({"end_date": "2026-09-27"}, "#/end_date", "end_before_start"),
        ({"start_date": "2026-11-30", "end_date": "2026-12-30"}, "#/start_date", "series_beyond_horizon"),
        ({"end_date": None, "count": 0}, "#/count", None),
        ({"end_date": None}, "#/end_date", "end_required"),
        ({"count": 5}, "#/count", "end_date_and_count"),
        ({"end_date": "2027-12-31"}, "#/end_date", "series_too_long"),
        ({"kind": "weekly"}, "#/weekdays", "weekdays_required"),
        ({"kind": "weekly", "weekdays": [2, 2]}, "#/weekdays", "weekdays_repeated"),
        ({"weekdays": [1]}, "#/weekdays", "weekdays_not_expected"),
        ({"time": "24:00"}, "#/time", None),
        ({"time": "09:00"}, "#/time", "weekday_not_offered"),
        ({"start_date": "2026-09-20", "end_date": "2026-10-30"}, "#/start_date", "start_in_past"),
    ],
)
async def test_a_series_that_cannot_be_booked_is_refused_with_the_field_and_books_nothing(
    world: Any, fields: dict[str, Any], pointer: str, code: str | None
) -> None:
    offering = await world.offering(weekly_rules=WORKING_WEEK_LUNCH)
    resident = await world.resident()
    body = {**lunch_series(offering, start_date="2026-09-28", end_date="2026-10-30"), **fields}
    body = {k: v for k, v in body.items() if v is not None}
    response = await world.client.post(SERIES, json=body, headers=world.resident_headers(resident))
    assert response.status_code == 422, response.text
    problem = response.json()
    assert response.headers["content-type"].startswith("application/problem+json")
    assert pointer in [
        e["detail"]["pointer"] if isinstance(e.get("detail"), dict) else e.get("pointer") for e in problem["errors"]
    ], problem
    if code is not None:
        assert problem["code"] == code
    assert await bookings_of(world, resident) == []


async def test_another_residents_series_is_not_found(world: Any) -> None:
    offering = await world.offering(weekly_rules=WORKING_WEEK_LUNCH)
    resident, stranger = await world.resident(), await world.resident()
    body = lunch_series(offering, start_date="2026-09-28", count=2)
    created = (await world.client.post(SERIES, json=body, headers=world.resident_headers(resident))).json()
    seen = await world.client.get(f"{SERIES}/{created['id']}", headers=world.resident_headers(stranger))
    assert seen.status_code == 404
    assert seen.json()["code"] == "series_not_found"
    as_other = await world.client.post(
        SERIES, json={**body, "resident_id": resident["id"]}, headers=world.resident_headers(stranger)
    )
    assert as_other.status_code == 404


async def test_a_three_month_weekday_series_is_booked_in_one_answer(
    world: Any, report_figure: Callable[[str], None]
) -> None:
    """Every date of three months of weekday lunches inside an offering's 92-day horizon is booked by one request
    (its time is reported, not asserted: the target is 1 s)."""
    offering = await world.offering(weekly_rules=WORKING_WEEK_LUNCH, capacity_per_slot=20)
    rules = await world.client.put(
        f"/api/v1/availability/{offering.offering_id}/rules",
        json={"horizon_days": 92},
        headers=world.keys.headers("operator"),
    )
    assert rules.status_code == 200, rules.text
    resident = await world.resident(tags=["age_80_plus"])
    body = {
        **lunch_series(offering, resident_id=resident["id"]),
        "kind": "weekly",
        "weekdays": [0, 1, 2, 3, 4],
        "start_date": "2026-09-28",
        "end_date": "2026-12-25",
    }
    started, cpu = time.perf_counter(), time.process_time()
    response = await world.client.post(SERIES, json=body, headers=world.keys.headers("operator"))
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    assert response.status_code == 201, response.text
    occurrences = response.json()["occurrences"]
    # 65 weekdays from 28 September to 25 December, less National Day's five (1, 2, 5, 6 and 7 October).
    assert len(occurrences) == 60
    assert {o["outcome"] for o in occurrences} == {"booked"}
    assert response.json()["status"] == "ended"
    database = world.sessionmaker.kw["bind"].dialect.name
    report_figure(
        f"a 3-month weekday series ({len(occurrences)} bookings, {database}) answered in {elapsed * 1000:.0f} ms "
        f"({cpu * 1000:.0f} ms of the service's CPU)"
    )


async def test_a_daughter_books_her_mothers_series_while_authorised(
    world: Any, settings: Settings, sessionmaker: Any
) -> None:
    offering = await world.offering(weekly_rules=WORKING_WEEK_LUNCH)
    mother, as_mother = await world.signed_in_mother()
    _, as_daughter, daughter_phone = await world.signed_in_relative()
    body = {
        **lunch_series(offering, resident_id=mother["id"]),
        "kind": "weekly",
        "weekdays": [1],
        "start_date": "2026-09-29",
        "end_date": "2026-12-29",
    }
    refused = await world.client.post(SERIES, json=body, headers=as_daughter)
    assert refused.status_code == 404
    assert refused.json()["code"] == "resident_not_found"
    granted = await world.client.post(
        f"/api/v1/residents/{mother['id']}/helpers",
        json={"helper_phone": daughter_phone, "relation": "女儿"},
        headers=as_mother,
    )
    assert granted.status_code == 201, granted.text

    booked = await world.client.post(SERIES, json=body, headers=as_daughter)
    assert booked.status_code == 201, booked.text
    series = booked.json()
    first = series["occurrences"][0]["booking"]
    assert first["resident_id"] == mother["id"]
    assert first["booked_by"]["kind"] == "helper"
    assert first["booked_by"]["helper"]["relation"] == "女儿"
    assert (await world.client.get(f"{SERIES}/{series['id']}", headers=as_mother)).status_code == 200

    # Once the mother ends the grant, later dates are no longer booked in the daughter's name.
    ended = await world.client.delete(
        f"/api/v1/residents/{mother['id']}/helpers/{granted.json()['id']}", headers=as_mother
    )
    assert ended.status_code in (200, 204), ended.text
    await series_service.extend(sessionmaker, settings=settings, batch=10, now=NOW + timedelta(days=14))
    later = (await world.client.get(f"{SERIES}/{series['id']}", headers=as_mother)).json()
    added = later["occurrences"][len(series["occurrences"]) :]
    assert added
    assert {(o["outcome"], o["code"]) for o in added} == {("refused", "resident_not_found")}
