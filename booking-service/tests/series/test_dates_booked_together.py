"""A series' dates are booked together (its caller, resident, offering, rules and programmes judged once; slots,
entitlements and pools taken by set-based guarded writes), each with the outcome a booking of it alone would have:
the same prices and notes, a date she holds already refused as hers, a racing series never overbooking a slot nor a
quota, and the statements a series sends not growing with its dates. On the service's clock (late September 2026)."""

import asyncio
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import event, select

from booking.bookings import repository as bookings_repository
from booking.bookings import schemas as booking_schemas
from booking.bookings import service as bookings_service
from booking.config import Settings
from booking.entitlements.models import EntitlementUsage
from service_kit.auth import Principal, Role
from service_kit.events.contracts import WeeklyRule
from service_kit.testing import Clock

SERIES = "/api/v1/bookings/series"
# Friday 25 September 2026, 09:00 in Beijing.
NOW = datetime(2026, 9, 25, 1, 0, tzinfo=UTC)
WORKING_WEEK_LUNCH = tuple(WeeklyRule(weekday=d, start="11:00", end="12:00") for d in range(5))
EXHAUSTED_OCTOBER = "本月补贴已用完（每月3次，已用3次），本次不享受补贴，按原价15元收费。"
POOL_USED_UP = "本项目的补贴名额已用完，本次按原价收费。"
OPERATOR = Principal(subject="op-7", roles=frozenset({Role.operator}), name="话务员 小周")


@pytest.fixture
def clock() -> Clock:
    return Clock(NOW)


@pytest.fixture
def app(app_on_clock: FastAPI) -> FastAPI:
    return app_on_clock


async def lunch_programme(
    world: Any, *, quota: int, units: int | None, capacity: int = 20, weekly_rules: Any = WORKING_WEEK_LUNCH
) -> Any:
    """The conftest's programme on weekdays (``quota`` meals in all, ``units`` a month each when given) from
    September 2026 to the end of 2027, bookable 92 days ahead."""
    offering, _ = await world.lunch_programme(
        quota=quota,
        units=units,
        during=(date(2026, 9, 1), date(2027, 12, 31)),
        capacity_per_slot=capacity,
        weekly_rules=weekly_rules,
        horizon_days=92,
    )
    return offering


def weekday_series(offering: Any, resident: dict[str, Any], start: str, end: str) -> dict[str, Any]:
    return {
        "offering_id": str(offering.offering_id),
        "resident_id": resident["id"],
        "kind": "weekly",
        "weekdays": [0, 1, 2, 3, 4],
        "skip_holidays": False,
        "time": "11:00",
        "start_date": start,
        "end_date": end,
    }


async def book_series(world: Any, body: dict[str, Any]) -> list[dict[str, Any]]:
    response = await world.client.post(SERIES, json=body, headers=world.keys.headers("operator", name="话务员 小周"))
    assert response.status_code == 201, response.text
    occurrences: list[dict[str, Any]] = response.json()["occurrences"]
    return occurrences


def priced(occurrence: dict[str, Any]) -> tuple[str, int, int, str | None]:
    booking = occurrence["booking"]
    return occurrence["date"], booking["price_fen"], booking["subsidy_fen"], booking["price_note"]


async def book_alone(world: Any, settings: Settings, offering: Any, resident: dict[str, Any], day: date) -> Any:
    """An operator's single booking of ``day``'s lunch on the service's clock, through the single-booking path."""
    async with world.sessionmaker() as session:
        request = booking_schemas.BookingCreate(
            offering_id=offering.offering_id, slot_start=world.at(day, 11), resident_id=resident["id"]
        )
        booking = await bookings_service.create(session, request, by=OPERATOR, settings=settings, now=NOW)
        await session.commit()
        return booking


async def used_of(world: Any, resident: dict[str, Any]) -> dict[date, int]:
    async with world.sessionmaker() as session:
        rows = await session.execute(
            select(EntitlementUsage.period_start, EntitlementUsage.used).where(
                EntitlementUsage.resident_id == uuid.UUID(resident["id"])
            )
        )
        return {row.period_start: row.used for row in rows}


async def test_each_date_is_priced_as_a_booking_of_it_alone_would_be(world: Any, settings: Settings) -> None:
    """Three subsidised meals a month each and five in the programme's pool: her October dates are subsidised
    until her three are used, her November ones until the pool is; the rest at full price saying why. A neighbour
    booking the same dates one by one on a twin offering is priced date for date the same."""
    offering, twin = await lunch_programme(world, quota=5, units=3), await lunch_programme(world, quota=5, units=3)
    resident, neighbour = await world.resident(tags=["age_80_plus"]), await world.resident(tags=["age_80_plus"])

    occurrences = await book_series(world, weekday_series(offering, resident, "2026-10-26", "2026-11-06"))

    assert [priced(o) for o in occurrences] == [
        ("2026-10-26", 300, 1200, None),
        ("2026-10-27", 300, 1200, None),
        ("2026-10-28", 300, 1200, None),
        ("2026-10-29", 1500, 0, EXHAUSTED_OCTOBER),
        ("2026-10-30", 1500, 0, EXHAUSTED_OCTOBER),
        ("2026-11-02", 300, 1200, None),
        ("2026-11-03", 300, 1200, None),
        # Her third November meal would be hers, but the pool is used up (and stays so for the dates after).
        ("2026-11-04", 1500, 0, POOL_USED_UP),
        ("2026-11-05", 1500, 0, POOL_USED_UP),
        ("2026-11-06", 1500, 0, POOL_USED_UP),
    ]
    assert await used_of(world, resident) == {date(2026, 10, 1): 3, date(2026, 11, 1): 2}

    alone = []
    for o in occurrences:
        booking = await book_alone(world, settings, twin, neighbour, date.fromisoformat(o["date"]))
        alone.append((o["date"], booking.price_fen, booking.subsidy_fen, booking.price_note))
    assert alone == [priced(o) for o in occurrences]
    assert await used_of(world, neighbour) == await used_of(world, resident)


async def test_a_date_she_already_holds_is_refused_as_hers_and_keeps_one_place(world: Any, settings: Settings) -> None:
    offering = await lunch_programme(world, quota=100, units=None, capacity=2)
    resident = await world.resident()
    held = await book_alone(world, settings, offering, resident, date(2026, 10, 13))

    occurrences = await book_series(world, weekday_series(offering, resident, "2026-10-12", "2026-10-14"))

    assert [(o["date"], o["outcome"], o["code"]) for o in occurrences] == [
        ("2026-10-12", "booked", None),
        ("2026-10-13", "refused", "already_booked"),
        ("2026-10-14", "booked", None),
    ]
    assert await world.units_held(offering, world.at(date(2026, 10, 13), 11)) == 1
    assert await world.units_held(offering, world.at(date(2026, 10, 12), 11)) == 1
    # Each booked date told the rest of Linli once, as the operator's booking; her log shows the operator booking
    # each for her.
    booked = [o["booking"] for o in occurrences if o["booking"]]
    for booking in booked:
        events = await world.emitted(booking["id"])
        assert [(t, d["actor"].split(":")[0]) for t, d in events] == [("linli.booking.created.v1", "operator")]
    log = await world.client.get(
        f"/api/v1/residents/{resident['id']}/acting-for", headers=world.keys.headers("operator")
    )
    assert log.status_code == 200, log.text
    rows = [row for row in log.json()["items"] if row["action"] == "book"]
    assert sorted(row["booking_id"] for row in rows) == sorted([str(held.id), *(b["id"] for b in booked)])
    assert {row["operator_name"] for row in rows} == {"话务员 小周"}


async def test_a_date_a_racing_request_booked_meanwhile_falls_back_to_booking_each_date_alone(
    world: Any, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Her own booking of a date committed after the series looked (the check is made blind here): the database
    refuses the series' bookings together, and each date is then booked alone, that one refused as hers."""
    offering = await lunch_programme(world, quota=100, units=3)
    resident = await world.resident(tags=["age_80_plus"])
    await book_alone(world, settings, offering, resident, date(2026, 10, 13))

    async def sees_nothing(*_: Any) -> set[datetime]:
        return set()

    monkeypatch.setattr(bookings_repository, "slots_held", sees_nothing)
    occurrences = await book_series(world, weekday_series(offering, resident, "2026-10-12", "2026-10-16"))

    assert [(o["date"], o["outcome"], o["code"]) for o in occurrences] == [
        ("2026-10-12", "booked", None),
        ("2026-10-13", "refused", "already_booked"),
        ("2026-10-14", "booked", None),
        ("2026-10-15", "booked", None),
        ("2026-10-16", "booked", None),
    ]
    assert [o["booking"]["price_fen"] for o in occurrences if o["booking"]] == [300, 300, 1500, 1500]
    assert await world.units_held(offering, world.at(date(2026, 10, 13), 11)) == 1
    assert await used_of(world, resident) == {date(2026, 10, 1): 3}


async def test_racing_series_never_overbook_a_slot_nor_the_pool(world: Any) -> None:
    """Eight callers' series of the same five dates at once, three places a date and seven subsidised meals in
    all: each date is booked three times and full for the other five, and seven meals are subsidised."""
    offering = await lunch_programme(world, quota=7, units=None, capacity=3)
    residents = [await world.resident(tags=["age_80_plus"]) for _ in range(8)]

    answers = await asyncio.gather(
        *(book_series(world, weekday_series(offering, r, "2026-10-12", "2026-10-16")) for r in residents)
    )

    for day in ("2026-10-12", "2026-10-13", "2026-10-14", "2026-10-15", "2026-10-16"):
        outcomes = sorted(o["outcome"] for occurrences in answers for o in occurrences if o["date"] == day)
        assert outcomes == ["booked"] * 3 + ["full"] * 5
        assert await world.units_held(offering, world.at(date.fromisoformat(day), 11)) == 3
    subsidised = [o for occurrences in answers for o in occurrences if o["booking"] and o["booking"]["subsidy_fen"]]
    assert len(subsidised) == 7


async def test_her_series_and_her_single_bookings_racing_never_exceed_her_entitlement(
    world: Any, settings: Settings
) -> None:
    """A week of her October lunches booked as a series while an operator books three other October lunches of
    hers: of her three subsidised meals a month she gets three, whichever wins."""
    offering = await lunch_programme(world, quota=100, units=3)
    resident = await world.resident(tags=["age_80_plus"])

    series, *singles = await asyncio.gather(
        book_series(world, weekday_series(offering, resident, "2026-10-12", "2026-10-16")),
        *(book_alone(world, settings, offering, resident, date(2026, 10, day)) for day in (19, 20, 21)),
    )

    prices = [o["booking"]["price_fen"] for o in series] + [b.price_fen for b in singles]
    assert sorted(prices) == [300] * 3 + [1500] * 5
    assert await used_of(world, resident) == {date(2026, 10, 1): 3}


_counting: ContextVar[list[str] | None] = ContextVar("series_statements", default=None)


@contextmanager
def statements(world: Any) -> Iterator[list[str]]:
    """The SQL statements sent for the requests made inside (not the relay's nor the consumers' beside them)."""
    engine = world.sessionmaker.kw["bind"].sync_engine
    sent: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if (into := _counting.get()) is not None:
            into.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    token = _counting.set(sent)
    try:
        yield sent
    finally:
        _counting.reset(token)
        event.remove(engine, "before_cursor_execute", count)


async def test_a_series_sends_as_many_statements_for_eleven_weeks_as_for_one(world: Any) -> None:
    offering = await lunch_programme(world, quota=1000, units=30)
    week, months = await world.resident(tags=["age_80_plus"]), await world.resident(tags=["age_80_plus"])
    await book_series(world, weekday_series(offering, await world.resident(), "2026-10-12", "2026-10-16"))

    with statements(world) as for_a_week:
        short = await book_series(world, weekday_series(offering, week, "2026-10-12", "2026-10-16"))
    with statements(world) as for_three_months:
        long = await book_series(world, weekday_series(offering, months, "2026-10-12", "2026-12-25"))

    assert (len(short), len(long)) == (5, 55)
    assert {o["outcome"] for o in short + long} == {"booked"}
    # Her usage counters span three months instead of one: the same statements, with more rows each.
    assert len(for_three_months) == len(for_a_week), (for_a_week, for_three_months)


async def test_the_single_booking_sends_the_statements_it_did(world: Any) -> None:
    """The single-booking path shares the booking's construction with the series, and nothing else: a funded
    booking of a resident with evidence-backed tags sends what it sent before: 11 statements on either database,
    the answer's own reads included (19 on SQLite and 18 on PostgreSQL before docs/write-path.md's cuts). SQLite's
    BEGIN IMMEDIATE is no statement of the session's: the kit's connection sends it itself (service_kit.db)."""
    every_day = tuple(WeeklyRule(weekday=d, start="11:00", end="12:00") for d in range(7))
    offering = await lunch_programme(world, quota=100, units=3, weekly_rules=every_day)
    resident = await world.resident(tags=["age_80_plus"])
    await world.book(offering, await world.resident(tags=["age_80_plus"]), world.at(world.tomorrow(), 11))

    with statements(world) as sent:
        response = await world.book(offering, resident, world.at(world.tomorrow() + timedelta(days=1), 11))

    assert response.status_code == 201, response.text
    database = world.sessionmaker.kw["bind"].dialect.name
    assert len(sent) == 11, (database, sent)
