"""Why a booking is or is not subsidised, as a code the console reads (the quote's ``subsidy``): only a used-up pool
lets the resident wait in the programme's quota line, and the other reasons are told to the caller as they are.
A subsidised booking moved to a day its programme no longer funds, or by which her evidence has expired, is left as
it was (409 naming why), as a move into a used-up month is: the operator books the new day at the full price."""

import asyncio
import uuid
from datetime import UTC, date, datetime
from typing import Any

import pytest
from fastapi import FastAPI

from booking.bookings.models import Booking
from service_kit.events.contracts import WeeklyRule
from service_kit.testing import Clock
from service_kit.timeutil import SHANGHAI

BOOKINGS = "/api/v1/bookings"
# Sunday 29 November 2026, 09:00 in Beijing.
NOW = datetime(2026, 11, 29, 1, 0, tzinfo=UTC)
ALL_DAY = tuple(WeeklyRule(weekday=d, start="00:00", end="24:00") for d in range(7))


@pytest.fixture
def clock() -> Clock:
    return Clock(NOW)


@pytest.fixture
def app(app_on_clock: FastAPI) -> FastAPI:
    return app_on_clock


def at(day: int, month: int, hour: int) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=SHANGHAI)


async def lunch_programme(world: Any, *, quota: int = 100, units: int | None = None, ends: date | None = None) -> Any:
    """The conftest's programme, from November 2026 (to ``ends``, else a year)."""
    lunch, _ = await world.lunch_programme(
        quota=quota, units=units, during=(date(2026, 11, 1), ends or date(2027, 10, 31))
    )
    return lunch


async def quote(world: Any, lunch: Any, elder: dict[str, Any], day: date) -> dict[str, Any]:
    response = await world.client.get(
        f"{BOOKINGS}/quote",
        params={"offering_id": str(lunch.offering_id), "resident_id": elder["id"], "date": day.isoformat()},
        headers=world.keys.headers("operator"),
    )
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found


async def book(world: Any, lunch: Any, elder: dict[str, Any], slot: datetime) -> dict[str, Any]:
    response = await world.book(lunch, elder, slot)
    assert response.status_code == 201, response.text
    booked: dict[str, Any] = response.json()
    return booked


async def evidence_until(world: Any, elder: dict[str, Any], expires_on: date) -> None:
    recorded = await world.client.put(
        f"/api/v1/residents/{elder['id']}/eligibility/age_80_plus",
        json={"evidence_type": "id_card", "verified_on": "2026-01-05", "expires_on": expires_on.isoformat()},
        headers=world.keys.headers("operator"),
    )
    assert recorded.status_code == 200, recorded.text


async def reschedule(world: Any, booking: dict[str, Any], slot: datetime) -> Any:
    return await world.client.post(
        f"{BOOKINGS}/{booking['id']}/reschedule",
        json={"slot_start": slot.isoformat(), "reason": "老人要去医院复查"},
        headers=world.keys.headers("operator"),
    )


async def slot_of(world: Any, booking: dict[str, Any]) -> datetime:
    async with world.sessionmaker() as session:
        row = await session.get(Booking, uuid.UUID(booking["id"]))
        assert row is not None
        return row.slot_start.astimezone(SHANGHAI)


async def test_the_quote_names_each_reason_a_lunch_is_or_is_not_subsidised(world: Any) -> None:
    day = date(2026, 11, 30)
    lunch = await lunch_programme(world, quota=1, units=1)
    elder, neighbour = await world.resident(tags=["age_80_plus"]), await world.resident(tags=["age_80_plus"])
    first = await quote(world, lunch, elder, day)
    assert (first["subsidy"], first["resident_price_fen"], first["price_note"]) == ("subsidised", 300, None)

    # The programme's one unit goes to her: her month is used up, and for her neighbour the pool is.
    await book(world, lunch, elder, at(30, 11, 11))
    hers, theirs = await quote(world, lunch, elder, day), await quote(world, lunch, neighbour, day)
    assert (hers["subsidy"], hers["resident_price_fen"]) == ("entitlement_used_up", 1500)
    assert hers["price_note"] == "本月补贴已用完（每月1次，已用1次），本次不享受补贴，按原价15元收费。"
    assert (theirs["subsidy"], theirs["price_note"]) == ("quota_used_up", "本项目的补贴名额已用完，本次按原价收费。")

    # Someone under 80, and a service no programme funds: no note, but the reason.
    young = await world.resident()
    assert (await quote(world, lunch, young, day))["subsidy"] == "not_eligible"
    haircut = await world.offering(price_fen=2000, weekly_rules=ALL_DAY)
    unfunded = await quote(world, haircut, elder, day)
    assert (unfunded["subsidy"], unfunded["price_note"]) == ("not_funded", None)


async def test_expired_evidence_is_named_only_where_a_programme_asks_for_it(world: Any) -> None:
    lunch = await lunch_programme(world)
    elder = await world.resident(tags=["age_80_plus"])
    await evidence_until(world, elder, date(2026, 11, 30))
    assert (await quote(world, lunch, elder, date(2026, 11, 30)))["subsidy"] == "subsidised"
    expired = await quote(world, lunch, elder, date(2026, 12, 1))
    assert (expired["subsidy"], expired["price_note"]) == (
        "evidence_expired",
        "“80岁以上”资格证明已于11月30日到期，待复核，本次按原价收费。",
    )
    # A haircut no programme funds is full price for everyone: her evidence is not why.
    haircut = await world.offering(price_fen=2000, weekly_rules=ALL_DAY)
    unfunded = await quote(world, haircut, elder, date(2026, 12, 1))
    assert (unfunded["subsidy"], unfunded["price_note"]) == ("not_funded", None)
    booked = await book(world, haircut, elder, at(1, 12, 10))
    assert booked["price_note"] is None


async def test_a_lunch_moved_past_her_evidence_is_refused_and_stays_subsidised_where_it_was(world: Any) -> None:
    lunch = await lunch_programme(world)
    elder = await world.resident(tags=["age_80_plus"])
    await evidence_until(world, elder, date(2026, 11, 30))
    booking = await book(world, lunch, elder, at(30, 11, 11))
    assert booking["subsidy_fen"] == 1200

    refused = await reschedule(world, booking, at(1, 12, 11))
    assert refused.status_code == 409, refused.text
    problem = refused.json()
    assert (problem["code"], problem["tag"], problem["expires_on"], problem["date"]) == (
        "evidence_expired",
        "age_80_plus",
        "2026-11-30",
        "2026-12-01",
    )
    assert problem["detail"].startswith(
        "“80岁以上”资格证明已于11月30日到期，不能按补贴价改到这一天，原预约未变；可按原价15元另约。"
    )
    assert await slot_of(world, booking) == at(30, 11, 11)
    assert await world.units_held(lunch, at(1, 12, 11)) == 0
    # The same day at another time is still hers at the subsidised price.
    moved = await reschedule(world, booking, at(30, 11, 12))
    assert (moved.status_code, moved.json()["subsidy_fen"]) == (200, 1200), moved.text


async def test_a_lunch_moved_past_its_programme_s_end_is_refused(world: Any) -> None:
    lunch = await lunch_programme(world, ends=date(2026, 11, 30))
    elder = await world.resident(tags=["age_80_plus"])
    booking = await book(world, lunch, elder, at(30, 11, 11))
    assert booking["subsidy_fen"] == 1200

    refused = await reschedule(world, booking, at(1, 12, 11))
    assert refused.status_code == 409, refused.text
    assert (refused.json()["code"], refused.json()["date"], refused.json()["price_fen"]) == (
        "program_not_funding_then",
        "2026-12-01",
        1500,
    )
    assert refused.json()["detail"].startswith(
        "补贴项目12月1日不再资助这项服务，不能按补贴价改到这一天，原预约未变；可按原价15元另约。"
    )
    assert await slot_of(world, booking) == at(30, 11, 11)
    # Racing moves of two such lunches: both refused, neither slot taken, on both databases.
    other = await book(world, lunch, elder, at(30, 11, 12))
    answers = await asyncio.gather(reschedule(world, booking, at(2, 12, 11)), reschedule(world, other, at(2, 12, 11)))
    assert [a.json()["code"] for a in answers] == ["program_not_funding_then"] * 2
    assert await world.units_held(lunch, at(2, 12, 11)) == 0
    # A full-price booking of the new day is what the operator offers instead.
    instead = await book(world, lunch, elder, at(1, 12, 11))
    assert (instead["price_fen"], instead["subsidy_fen"]) == (1500, 0)


async def test_a_lunch_of_an_elder_whose_tag_was_removed_is_not_moved_at_the_subsidised_price(world: Any) -> None:
    lunch = await lunch_programme(world)
    elder = await world.resident(tags=["age_80_plus"])
    booking = await book(world, lunch, elder, at(30, 11, 11))
    corrected = await world.client.patch(
        f"/api/v1/residents/{elder['id']}", json={"eligibility_tags": []}, headers=world.keys.headers("operator")
    )
    assert corrected.status_code == 200, corrected.text

    refused = await reschedule(world, booking, at(1, 12, 11))
    assert refused.status_code == 409, refused.text
    assert (refused.json()["code"], refused.json()["required_tags"]) == ("no_longer_eligible", ["age_80_plus"])
    assert refused.json()["detail"].startswith(
        "该居民已不符合本项目的补贴条件，不能按补贴价改到这一天，原预约未变；可按原价15元另约。"
    )
    assert await slot_of(world, booking) == at(30, 11, 11)
    assert (await quote(world, lunch, elder, date(2026, 12, 1)))["subsidy"] == "not_eligible"
