"""A deliverable is a proven service, through the gateway of a stack with the district's visit rules (start at most
30 minutes before the slot, last at least half of it): a provider's API key cannot start a visit early or complete
it at once, a far-away check-in ends as a suspect deliverable not counted until an official accepts it, and a
visit nobody came to shows up in the operators' list and as a supervision record of the funding contract.

Time is not waited for: where the story needs the slot to come (or to have passed), the test moves the booking's
times back in booking's own database, as the service's clock would have moved."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from service_kit.db import UTCDateTime
from service_kit.testing import DatabaseFactory, eventually_blocking
from service_kit.timeutil import SHANGHAI, utcnow

from .conftest import (
    ANY_TIME_VISITS,
    STACK_ENV,
    DevStack,
    booked_when_funded,
    free_slots,
    login,
    own_stack,
    provider_with_funded_offering,
    registered_by_operator,
    scheduling_system,
)

pytestmark = pytest.mark.stack

TIANANMEN = {"latitude": 39.9087, "longitude": 116.3975}  # some 25 km from the resident's door
HOME = {"latitude": 39.7289, "longitude": 116.1946}

BOOKING = sa.table(
    "booking",
    sa.column("id", sa.Uuid()),
    sa.column("slot_start", UTCDateTime()),
    sa.column("slot_end", UTCDateTime()),
    sa.column("checked_in_at", UTCDateTime()),
)


@pytest.fixture(scope="module")
def district(
    tmp_path_factory: pytest.TempPathFactory, _database_factory_session: DatabaseFactory
) -> Iterator[DevStack]:
    """A stack of its own with booking's visit rules as the district configures them (the shared stack turns
    them off for the journeys that deliver tomorrow's visit at once); the provider-missed job looks twice a
    second."""
    env = {key: value for key, value in STACK_ENV.items() if key not in ANY_TIME_VISITS}
    env["LINLI_PROVIDER_MISSED_SWEEP_SECONDS"] = "0.5"
    with own_stack(tmp_path_factory, _database_factory_session, "evidence", env) as dev:
        yield dev


@pytest.fixture
def gw(district: DevStack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=district.gateway_url, timeout=30.0) as client:
        yield client


def move_booking(stack: DevStack, booking_id: str, **values: datetime) -> None:
    """Set the booking's times in booking's database: the slot coming, or passing, without waiting for it."""

    async def write() -> None:
        engine = create_async_engine(stack.database_url("booking"))
        try:
            async with engine.begin() as connection:
                await connection.execute(
                    sa.update(BOOKING).where(BOOKING.c.id == uuid.UUID(booking_id)).values(**values)
                )
        finally:
            await engine.dispose()

    asyncio.run(write())


def funded_booking(gw: httpx.Client, world: dict[str, Any], resident: dict[str, Any], slot: dict[str, Any]) -> Any:
    """Book ``slot`` for the resident once the contract's funding has reached booking (by event)."""
    return booked_when_funded(
        gw, world["offering_id"], slot, resident["id"], lambda booking: booking["funded_contract_id"] is not None
    )


def test_visits_are_proven_before_the_contract_pays(gw: httpx.Client, district: DevStack) -> None:
    operator, official = login(gw, "operator"), login(gw, "official")
    world = provider_with_funded_offering(gw)
    system = scheduling_system(gw, world["provider"])
    resident = registered_by_operator(gw, operator, name="周淑珍", eligibility_tags=["age_80_plus"], position=HOME)
    slots = free_slots(gw, world["offering_id"], operator, 2)
    visit = funded_booking(gw, world, resident, slots[0])
    contract_id = visit["funded_contract_id"]
    assert gw.post(f"/api/v1/bookings/{visit['id']}/confirm", headers=system, json={}).status_code == 200

    # Two days ahead, the provider's system cannot check in: it is told when it may.
    early = gw.post(f"/api/v1/bookings/{visit['id']}/start", headers=system, json={"position": HOME})
    assert early.status_code == 409, early.text
    problem = early.json()
    assert problem["code"] == "visit_too_early"
    may_start = datetime.fromisoformat(visit["slot_start"]) - timedelta(minutes=30)
    assert datetime.fromisoformat(problem["may_start_at"]) == may_start
    local = may_start.astimezone(SHANGHAI)
    assert f"最早可于{local.month}月{local.day}日 {local:%H:%M}" in problem["detail"]

    # The slot comes (it starts in 10 minutes): the check-in is accepted, far from the door, so suspect.
    now = utcnow()
    move_booking(district, visit["id"], slot_start=now + timedelta(minutes=10), slot_end=now + timedelta(minutes=70))
    started = gw.post(f"/api/v1/bookings/{visit['id']}/start", headers=system, json={"position": TIANANMEN})
    assert started.status_code == 200, started.text
    assert started.json()["suspect_reasons"] == ["far_from_place"]
    too_fast = gw.post(f"/api/v1/bookings/{visit['id']}/complete", headers=system, json={"position": TIANANMEN})
    assert (too_fast.status_code, too_fast.json()["code"]) == (409, "visit_too_short")
    assert "最早可于" in too_fast.json()["detail"]
    checked_in = datetime.fromisoformat(started.json()["visit"]["checked_in_at"])
    # Half an hour of service passes.
    move_booking(district, visit["id"], checked_in_at=checked_in - timedelta(minutes=31))
    done = gw.post(f"/api/v1/bookings/{visit['id']}/complete", headers=system, json={"position": TIANANMEN})
    assert done.status_code == 200, done.text
    assert done.json()["suspect_reasons"] == ["far_from_place"]

    # Procurement records it as a suspect deliverable the provider sees, and counts it nowhere yet.
    deliverables = f"/api/v1/contracts/{contract_id}/deliverables"

    def recorded() -> dict[str, Any] | None:
        items = gw.get(deliverables, headers=world["provider"]).json().get("items", [])
        return next((d for d in items if d["booking_id"] == visit["id"]), None)

    deliverable = eventually_blocking(recorded)
    assert (deliverable["review"], deliverable["suspect_reasons"]) == ("pending", ["far_from_place"])
    assert gw.get(f"/api/v1/contracts/{contract_id}", headers=official).json()["delivered_count"] == 0

    accept = f"{deliverables}/{deliverable['id']}/accept"
    assert gw.post(accept, headers=world["provider"], json={"reason": "属实"}).status_code == 403
    no_reason = gw.post(accept, headers=official, json={})
    assert no_reason.status_code == 422
    assert no_reason.json()["errors"][0]["field"] == "reason"
    accepted = gw.post(accept, headers=official, json={"reason": "已回访老人：送餐员在天安门附近签到后送达"})
    assert (accepted.status_code, accepted.json()["review"]) == (200, "accepted")
    assert gw.get(f"/api/v1/contracts/{contract_id}", headers=official).json()["delivered_count"] == 1
    again = gw.post(accept, headers=official, json={"reason": "再次确认"})
    assert (again.status_code, again.json()["code"]) == (409, "deliverable_already_reviewed")

    # A confirmed visit nobody came to: when its slot has passed, the operators are alerted.
    missed = funded_booking(gw, world, resident, slots[1])
    assert gw.post(f"/api/v1/bookings/{missed['id']}/confirm", headers=system, json={}).status_code == 200
    now = utcnow()
    move_booking(district, missed["id"], slot_start=now - timedelta(minutes=70), slot_end=now - timedelta(minutes=10))

    def alerted() -> dict[str, Any] | None:
        items = gw.get("/api/v1/bookings/provider-missed", headers=operator).json()["items"]
        return next((b for b in items if b["id"] == missed["id"]), None)

    alert = eventually_blocking(alerted)
    assert alert["provider_missed"]["closed_at"] is None
    assert gw.get("/api/v1/bookings/provider-missed", headers=world["provider"]).status_code == 403
    closed = gw.post(
        f"/api/v1/bookings/{missed['id']}/provider-missed/close",
        headers=operator,
        json={"note": "已致电周阿姨，送餐站道歉并改约"},
    )
    assert closed.status_code == 200, closed.text
    assert closed.json()["provider_missed"]["note"] == "已致电周阿姨，送餐站道歉并改约"
    assert not [
        b
        for b in gw.get("/api/v1/bookings/provider-missed", headers=operator).json()["items"]
        if b["id"] == missed["id"]
    ]

    # Procurement keeps it as a supervision record of the contract that funded the visit.
    def supervised() -> dict[str, Any] | None:
        items = gw.get(f"/api/v1/contracts/{contract_id}/supervision", headers=official).json().get("items", [])
        return next((r for r in items if r["booking_id"] == missed["id"]), None)

    record = eventually_blocking(supervised)
    assert (record["kind"], record["conclusion"]) == ("provider_missed", "unsatisfactory")
