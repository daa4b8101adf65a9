"""The funding-end sweep runs by itself in the worker, on the clock the app is given: a contract's last day
passes, and its residents' bookings beyond it are listed for replacement."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi import FastAPI

from booking.app import SERVICE_DIR, create_app
from booking.config import Settings
from booking.replacements import service
from service_kit.testing import Clock, eventually, service_settings
from service_kit.timeutil import SHANGHAI

REPLACEMENTS = "/api/v1/bookings/replacements"
HOME = (39.7350, 116.1400)


async def place(world: Any, *, north: float, name: str) -> Any:
    return await world.offering(name_zh=name, latitude=HOME[0] + north, longitude=HOME[1], capacity_per_slot=10)


async def elder(world: Any) -> dict[str, Any]:
    position = {"latitude": HOME[0], "longitude": HOME[1]}
    resident: dict[str, Any] = await world.resident(name="张桂兰", tags=["age_80_plus"], position=position)
    return resident


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime.now(UTC))


settings = service_settings(Settings, SERVICE_DIR, funding_end_sweep_seconds=0.05)


@pytest.fixture
def app(settings: Settings, clock: Clock) -> FastAPI:
    return create_app(settings, clock=clock)


async def test_the_sweep_lists_bookings_beyond_a_contracts_last_day_once_it_passes(
    world: Any, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    sweeps = 0
    end_expired_funding = service.end_expired_funding

    async def counted(*args: Any, **kwargs: Any) -> int:
        nonlocal sweeps
        ended = await end_expired_funding(*args, **kwargs)
        sweeps += 1
        return ended

    monkeypatch.setattr(service, "end_expired_funding", counted)
    last_day = world.tomorrow()
    meals = await place(world, north=0.0005, name="长阳老年餐桌")
    contract = world.contract_event(offering_id=meals.offering_id, provider_id=meals.provider_id, end_date=last_day)
    await world.apply(contract, source="procurement")
    resident = await elder(world)
    within = await world.book(meals, resident, world.at(last_day, 9))
    beyond = await world.book(meals, resident, world.at(last_day + timedelta(days=1), 9))
    assert within.json()["subsidy_fen"] == 2500
    assert (beyond.json()["price_fen"], beyond.json()["funded_contract_id"]) == (3000, None)

    # The last minute of the contract's last day: nothing has ended.
    clock.now = datetime.combine(last_day + timedelta(days=1), datetime.min.time(), tzinfo=SHANGHAI) - timedelta(
        minutes=1
    )
    seen = sweeps
    await eventually(lambda: sweeps >= seen + 3)
    assert await world.open_replacements() == []

    # Past it: the resident's booking beyond the last day (at full price) is listed; the one within, whose slot
    # has begun by the clock, is not.
    clock.now = datetime.combine(last_day + timedelta(days=1), datetime.min.time(), tzinfo=SHANGHAI) + timedelta(
        hours=8, minutes=30
    )
    listed = await eventually(lambda: world.open_replacements())
    assert [(e["booking"]["id"], e["cause"]) for e in listed] == [(beyond.json()["id"], "expired")]
    assert datetime.fromisoformat(listed[0]["funding_ended_at"]) == datetime.combine(
        last_day + timedelta(days=1), datetime.min.time(), tzinfo=SHANGHAI
    )
    seen = sweeps
    await eventually(lambda: sweeps >= seen + 3)
    response = await world.client.get(REPLACEMENTS, headers=world.keys.headers("operator"))
    assert response.json()["total"] == 1
