"""Series and single bookings taking and giving back the same slots, allowances and pools at once never deadlock
(issue 17): every path locks in one order (``booking.bookings.service``'s docstring). Twenty rounds of a series
cancelled while others are booked over its dates, single bookings made, cancelled and moved across a month's end,
all at once: no answer is a server error, and afterwards every counter equals what the live bookings hold. On
PostgreSQL a lock taken out of order makes the database abort one of two requests (a deadlock, which the kit
answers 422 ``invalid_value``: it retries no transaction); on SQLite the
write lock serialises them, and the counts are checked the same. On the service's clock (late September 2026)."""

import asyncio
import uuid
from collections import Counter
from datetime import UTC, date, datetime
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import select

from booking.bookings.models import ACTIVE_STATUSES, Booking, SlotCounter
from booking.catalog.models import FundedProgram
from booking.entitlements.models import EntitlementUsage
from service_kit.events.contracts import WeeklyRule
from service_kit.testing import Clock

SERIES = "/api/v1/bookings/series"
BOOKINGS = "/api/v1/bookings"
# Friday 25 September 2026, 09:00 in Beijing.
NOW = datetime(2026, 9, 25, 1, 0, tzinfo=UTC)
WORKING_WEEK_LUNCH = tuple(WeeklyRule(weekday=d, start="11:00", end="12:00") for d in range(5))
ROUNDS = 20


@pytest.fixture
def clock() -> Clock:
    return Clock(NOW)


@pytest.fixture
def app(app_on_clock: FastAPI) -> FastAPI:
    return app_on_clock


async def lunch(world: Any) -> tuple[Any, uuid.UUID]:
    """老年餐桌 at 15 元 on weekdays, three places a day; a programme for residents of 80 and over pays 12 元 of
    it, three meals a month each and 40 in all (so the pool runs out in some rounds)."""
    offering, _ = await world.lunch_programme(
        units=3,
        quota=40,
        during=(date(2026, 9, 1), date(2027, 12, 31)),
        capacity_per_slot=3,
        weekly_rules=WORKING_WEEK_LUNCH,
        horizon_days=92,
    )
    async with world.sessionmaker() as session:
        program_id = await session.scalar(
            select(FundedProgram.id).where(FundedProgram.offering_id == offering.offering_id)
        )
    assert program_id is not None
    return offering, program_id


def series_of(offering: Any, resident: dict[str, Any], weekdays: list[int]) -> dict[str, Any]:
    """Her lunches on ``weekdays`` from Monday 26 October to Friday 6 November: across a month's end."""
    return {
        "offering_id": str(offering.offering_id),
        "resident_id": resident["id"],
        "kind": "weekly",
        "weekdays": weekdays,
        "skip_holidays": False,
        "time": "11:00",
        "start_date": "2026-10-26",
        "end_date": "2026-11-06",
    }


async def booked(world: Any, offering: Any, resident: dict[str, Any], day: int, month: int = 10) -> dict[str, Any]:
    response = await world.book(offering, resident, world.at(date(2026, month, day), 11))
    assert response.status_code == 201, response.text
    answer: dict[str, Any] = response.json()
    return answer


async def counts(world: Any, offering: Any, program_id: uuid.UUID) -> dict[str, Any]:
    """What the counters hold and what the live bookings of the offering say they should."""
    async with world.sessionmaker() as session:
        live = (
            await session.scalars(
                select(Booking).where(Booking.offering_id == offering.offering_id, Booking.status.in_(ACTIVE_STATUSES))
            )
        ).all()
        slots = dict(
            (
                await session.execute(
                    select(SlotCounter.slot_start, SlotCounter.used).where(
                        SlotCounter.offering_id == offering.offering_id
                    )
                )
            ).all()
        )
        usage = {
            (row.resident_id, row.period_start): row.used
            for row in (
                await session.execute(select(EntitlementUsage).where(EntitlementUsage.program_id == program_id))
            ).scalars()
        }
        pool = await session.scalar(select(FundedProgram.used).where(FundedProgram.id == program_id))
    subsidised = [b for b in live if b.funded_program_id == program_id]
    return {
        "slots": {start: used for start, used in slots.items() if used},
        "slots_of_live": dict(Counter(b.slot_start for b in live)),
        "usage": {key: used for key, used in usage.items() if used},
        "usage_of_live": dict(
            Counter((b.resident_id, b.entitlement_period_start) for b in subsidised if b.entitlement_period_start)
        ),
        "pool": pool,
        "pool_of_live": len(subsidised),
    }


async def test_series_and_single_bookings_racing_on_the_same_dates_never_fail_and_count_exactly(world: Any) -> None:
    operator = world.keys.headers("operator")
    for round_ in range(ROUNDS):
        offering, program_id = await lunch(world)
        ana, bo, chen, dai, eva = [await world.resident(tags=["age_80_plus"]) for _ in range(5)]
        # Before the round: Ana's Monday-Wednesday-Friday series, a Tuesday of Bo's, a November lunch of Chen's
        # (moved into October in the round), and one of Eva's she cancels.
        created = await world.client.post(SERIES, json=series_of(offering, ana, [0, 2, 4]), headers=operator)
        assert created.status_code == 201, created.text
        bos_tuesday = await booked(world, offering, bo, 27)
        chens_november = await booked(world, offering, chen, 3, month=11)
        evas_wednesday = await booked(world, offering, eva, 4, month=11)

        answers = await asyncio.gather(
            # Ana's series cancelled from its first date on: each slot and her units of both months given back.
            world.client.post(
                f"{SERIES}/{created.json()['id']}/cancel",
                json={"from_date": "2026-10-26", "reason": "搬去女儿家住"},
                headers=operator,
            ),
            # Bo's and Dai's series booked over the same dates, Bo's own Tuesday cancelled meanwhile.
            world.client.post(SERIES, json=series_of(offering, bo, [0, 1, 2, 3, 4]), headers=operator),
            world.client.post(SERIES, json=series_of(offering, dai, [0, 1, 2, 3, 4]), headers=operator),
            world.client.post(f"{BOOKINGS}/{bos_tuesday['id']}/cancel", json={"reason": "改约"}, headers=operator),
            # Ana books her Tuesdays and Thursdays alone while her series goes.
            world.book(offering, ana, world.at(date(2026, 10, 27), 11)),
            world.book(offering, ana, world.at(date(2026, 11, 5), 11)),
            # Chen's November lunch moves to October (her units move from one month to the other).
            world.client.post(
                f"{BOOKINGS}/{chens_november['id']}/reschedule",
                json={"slot_start": world.at(date(2026, 10, 29), 11).isoformat()},
                headers=operator,
            ),
            # Eva cancels one lunch and books another.
            world.client.post(f"{BOOKINGS}/{evas_wednesday['id']}/cancel", json={"reason": "不去了"}, headers=operator),
            world.book(offering, eva, world.at(date(2026, 10, 28), 11)),
        )

        # A deadlock PostgreSQL broke is a 5xx, or the kit's "a value was refused by the database" (422).
        failed = [
            (i, a.status_code, a.text)
            for i, a in enumerate(answers)
            if a.status_code >= 500 or a.json().get("code") == "invalid_value"
        ]
        assert failed == [], f"round {round_}: {failed}"
        cancelled, bos, dais, bo_cancel, ana_tue, ana_thu, moved, eva_cancel, eva_book = answers
        assert (cancelled.status_code, bos.status_code, dais.status_code) == (200, 201, 201), round_
        assert cancelled.json()["not_cancelled"] == []
        assert (bo_cancel.status_code, eva_cancel.status_code) == (200, 200), round_
        # A full slot (three places a day) is the only refusal a booking or a move may meet here.
        for answer in (ana_tue, ana_thu, eva_book, moved):
            assert answer.status_code in (200, 201) or answer.json()["code"] == "slot_full", (round_, answer.text)
        # Bo's series met his Tuesday either still his (refused as his) or cancelled (booked again).
        tuesday = next(o for o in bos.json()["occurrences"] if o["date"] == "2026-10-27")
        assert (tuesday["outcome"], tuesday["code"]) in (
            ("booked", None),
            ("refused", "already_booked"),
            ("full", "slot_full"),
        )

        held = await counts(world, offering, program_id)
        assert held["slots"] == held["slots_of_live"], round_
        assert held["usage"] == held["usage_of_live"], round_
        assert held["pool"] == held["pool_of_live"], round_
        assert max(held["slots"].values()) <= 3
        assert all(used <= 3 for used in held["usage"].values())
        assert held["pool"] <= 40
