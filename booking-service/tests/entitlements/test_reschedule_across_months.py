"""A subsidised booking rescheduled into another month moves its unit: November gets it back, December draws one.
When December's allowance is used up the booking stays where it was and the operator is told the month and what
is left (409), so she can offer the resident a full-price booking of the new day instead; racing moves into a
month with one unit left draw it once."""

import asyncio
import uuid
from datetime import UTC, date, datetime
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import select

from booking.bookings.models import Booking
from booking.entitlements.models import EntitlementUsage
from service_kit.testing import Clock
from service_kit.timeutil import SHANGHAI, rfc3339

BOOKINGS = "/api/v1/bookings"
# Sunday 29 November 2026, 09:00 in Beijing.
NOW = datetime(2026, 11, 29, 1, 0, tzinfo=UTC)
NOVEMBER, DECEMBER = date(2026, 11, 1), date(2026, 12, 1)
PROGRAMME_YEAR = (date(2026, 11, 1), date(2027, 10, 31))


@pytest.fixture
def clock() -> Clock:
    return Clock(NOW)


@pytest.fixture
def app(app_on_clock: FastAPI) -> FastAPI:
    return app_on_clock


def at(day: int, month: int, hour: int) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=SHANGHAI)


async def book(world: Any, lunch: Any, elder: dict[str, Any], slot: datetime) -> dict[str, Any]:
    response = await world.book(lunch, elder, slot)
    assert response.status_code == 201, response.text
    booked: dict[str, Any] = response.json()
    assert booked["subsidy_fen"] == 1200
    return booked


async def reschedule(world: Any, booking: dict[str, Any], slot: datetime) -> Any:
    return await world.client.post(
        f"{BOOKINGS}/{booking['id']}/reschedule",
        json={"slot_start": slot.isoformat(), "reason": "老人要去医院复查"},
        headers=world.keys.headers("operator"),
    )


async def used(world: Any, elder: dict[str, Any]) -> dict[date, int]:
    async with world.sessionmaker() as session:
        rows = await session.execute(
            select(EntitlementUsage).where(EntitlementUsage.resident_id == uuid.UUID(elder["id"]))
        )
        return {row.period_start: row.used for row in rows.scalars()}


async def left_on(world: Any, elder: dict[str, Any], lunch: Any, day: date) -> int:
    card = await world.client.get(
        f"/api/v1/residents/{elder['id']}/entitlements",
        params={"date": day.isoformat()},
        headers=world.keys.headers("operator"),
    )
    assert card.status_code == 200, card.text
    [meals] = [e for e in card.json()["entitlements"] if e["offering_id"] == str(lunch.offering_id)]
    left: int = meals["left"]
    return left


async def test_a_lunch_moved_from_30_november_to_2_december_gives_november_its_unit_back(world: Any) -> None:
    lunch, _ = await world.lunch_programme(units=2, during=PROGRAMME_YEAR)
    elder = await world.resident(tags=["age_80_plus"])
    booking = await book(world, lunch, elder, at(30, 11, 11))
    assert await used(world, elder) == {NOVEMBER: 1}

    moved = await reschedule(world, booking, at(2, 12, 11))
    assert moved.status_code == 200, moved.text
    assert (moved.json()["slot_start"], moved.json()["subsidy_fen"]) == (rfc3339(at(2, 12, 11)), 1200)
    assert await used(world, elder) == {NOVEMBER: 0, DECEMBER: 1}
    assert (await left_on(world, elder, lunch, date(2026, 11, 30)), await left_on(world, elder, lunch, DECEMBER)) == (
        2,
        1,
    )
    # Cancelling it now gives the unit back to December, where it is.
    cancelled = await world.client.post(
        f"{BOOKINGS}/{booking['id']}/cancel", json={"reason": "住院"}, headers=world.keys.headers("operator")
    )
    assert cancelled.status_code == 200, cancelled.text
    assert await used(world, elder) == {NOVEMBER: 0, DECEMBER: 0}
    # Within one month nothing moves.
    other = await book(world, lunch, elder, at(1, 12, 12))
    assert (await reschedule(world, other, at(3, 12, 12))).status_code == 200
    assert await used(world, elder) == {NOVEMBER: 0, DECEMBER: 1}


async def test_a_move_into_a_used_up_december_is_refused_naming_the_month_and_nothing_changes(world: Any) -> None:
    lunch, _ = await world.lunch_programme(units=2, during=PROGRAMME_YEAR)
    elder = await world.resident(tags=["age_80_plus"])
    booking = await book(world, lunch, elder, at(30, 11, 11))
    for day in (1, 3):
        await book(world, lunch, elder, at(day, 12, 11))

    refused = await reschedule(world, booking, at(2, 12, 11))
    assert refused.status_code == 409, refused.text
    problem = refused.json()
    assert (problem["code"], problem["unit"], problem["period_start"], problem["used"], problem["left"]) == (
        "entitlement_used_up",
        "booking",
        "2026-12-01",
        2,
        0,
    )
    assert problem["detail"].startswith(
        "2026年12月的补贴已用完（每月2次，已用2次，剩余0次），不能改到这一天，原预约未变；可按原价15元另约。"
    )
    # Nothing changed: the booking, its slot, the units of both months.
    assert await used(world, elder) == {NOVEMBER: 1, DECEMBER: 2}
    assert await world.units_held(lunch, at(2, 12, 11)) == 0
    async with world.sessionmaker() as session:
        row = await session.get(Booking, uuid.UUID(booking["id"]))
        assert row is not None
        assert (row.slot_start.astimezone(SHANGHAI), row.entitlement_period_start) == (at(30, 11, 11), NOVEMBER)


async def test_racing_moves_into_a_month_with_one_unit_left_draw_it_once(world: Any) -> None:
    lunch, _ = await world.lunch_programme(units=2, during=PROGRAMME_YEAR)
    elder = await world.resident(tags=["age_80_plus"])
    first = await book(world, lunch, elder, at(30, 11, 11))
    second = await book(world, lunch, elder, at(30, 11, 12))
    await book(world, lunch, elder, at(1, 12, 11))  # December has one unit left

    answers = await asyncio.gather(reschedule(world, first, at(2, 12, 11)), reschedule(world, second, at(2, 12, 12)))
    assert sorted(a.status_code for a in answers) == [200, 409], [a.text for a in answers]
    [loser] = [a for a in answers if a.status_code == 409]
    assert (loser.json()["code"], loser.json()["left"]) == ("entitlement_used_up", 0)
    assert await used(world, elder) == {NOVEMBER: 1, DECEMBER: 2}
