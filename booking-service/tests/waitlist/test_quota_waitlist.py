"""Waitlists for a funded programme's used-up subsidised quota: only an eligible resident joins and only when the
pool is used up; a subsidised unit given back is held for the first in line with a message that names the
subsidised price; accepting books the slot at that price; an unanswered offer passes on; a larger quota offers
units; and racing cancellations and joins never offer one unit twice."""

import asyncio
import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from booking.bookings.models import ACTIVE_STATUSES, Booking
from booking.catalog.models import FundedProgram
from booking.config import Settings
from booking.waitlist import service as waitlist_service
from booking.waitlist.models import WaitlistEntry
from service_kit.events.contracts import ContractAmended, FundedOffering, WeeklyRule
from service_kit.testing import eventually
from service_kit.timeutil import utcnow

WAITLIST = "/api/v1/bookings/waitlist"
BOOKINGS = "/api/v1/bookings"
ALL_DAY = tuple(WeeklyRule(weekday=d, start="00:00", end="24:00") for d in range(7))


def funded(offering: Any, quota: int) -> tuple[FundedOffering, ...]:
    return (
        FundedOffering(
            offering_id=offering.offering_id,
            unit_price_fen=1500,
            resident_price_fen=300,
            quota=quota,
            eligibility_tags=("age_80_plus",),
        ),
    )


async def lunch_with_quota(world: Any, quota: int, **terms: Any) -> tuple[Any, Any]:
    """老年餐桌 at 15 元; a programme for residents of 80 and over pays 12 元 of it, ``quota`` meals in all (the
    contract's other ``terms`` as given)."""
    lunch = await world.offering(price_fen=1500, capacity_per_slot=100, weekly_rules=ALL_DAY)
    contract = world.contract_event(offering_id=lunch.offering_id, funded=funded(lunch, quota), **terms)
    await world.apply(contract, source="procurement")
    return lunch, contract


async def amend_quota(world: Any, lunch: Any, contract: Any, quota: int) -> None:
    """The contract amended to fund ``quota`` lunches in all."""
    amended = world.contract_event(
        ContractAmended,
        contract_id=contract.contract_id,
        provider_id=contract.provider_id,
        offering_id=lunch.offering_id,
        funded=funded(lunch, quota),
        occurred_at=utcnow() + timedelta(seconds=1),
    )
    await world.apply(amended, source="procurement")


async def used_up(world: Any, quota: int, **terms: Any) -> tuple[Any, Any, list[dict[str, Any]]]:
    """A lunch whose programme's quota is all drawn by subsidised bookings tomorrow at 9."""
    lunch, contract = await lunch_with_quota(world, quota, **terms)
    bookings = []
    for _ in range(quota):
        made = await world.book(lunch, await world.resident(tags=["age_80_plus"]), world.at(world.tomorrow(), 9))
        assert (made.status_code, made.json().get("subsidy_fen")) == (201, 1200), made.text
        bookings.append(made.json())
    return lunch, contract, bookings


async def join(world: Any, lunch: Any, resident: dict[str, Any], hour: int = 12, **extra: Any) -> Any:
    body = {"kind": "quota", "offering_id": str(lunch.offering_id), "slot_start": world.at(world.tomorrow(), hour)}
    body["slot_start"] = body["slot_start"].isoformat()
    return await world.client.post(WAITLIST, json=body | extra, headers=world.resident_headers(resident))


async def pool(world: Any, contract: Any) -> int:
    async with world.sessionmaker() as session:
        used = await session.scalar(select(FundedProgram.used).where(FundedProgram.contract_id == contract.contract_id))
    return int(used or 0)


async def test_only_an_eligible_resident_joins_and_only_a_used_up_quota(world: Any) -> None:
    lunch, contract = await lunch_with_quota(world, 1)
    elder = await world.resident(tags=["age_80_plus"])
    left = await join(world, lunch, elder)
    assert left.status_code == 409, left.text
    assert left.headers["content-type"].startswith("application/problem+json")
    assert (left.json()["code"], left.json()["quota_left"]) == ("quota_not_full", 1)
    assert "补贴名额还有剩余" in left.json()["detail"]

    assert (await world.book(lunch, await world.resident(tags=["age_80_plus"]), world.at(world.tomorrow(), 9))).json()[
        "subsidy_fen"
    ] == 1200
    younger = await world.resident(tags=["low_income"])
    refused = await join(world, lunch, younger)
    assert refused.status_code == 422, refused.text
    assert refused.json()["code"] == "not_eligible"
    assert [(e["field"], e["type"]) for e in refused.json()["errors"]] == [("resident_id", "not_eligible")]
    assert "不符合本项目的补贴条件（需要：80岁以上）" in refused.json()["errors"][0]["message"]
    other = await join(world, lunch, elder, contract_id=str(uuid.uuid4()))
    assert (other.status_code, other.json()["code"]) == (422, "program_not_funding")
    unfunded = await world.offering(price_fen=1500, weekly_rules=ALL_DAY)
    nothing = await join(world, unfunded, elder)
    assert (nothing.status_code, nothing.json()["code"]) == (422, "program_not_funding")
    assert [e["field"] for e in nothing.json()["errors"]] == ["offering_id"]

    for wrong, status, field in [({"kind": "both"}, 422, "kind"), ({"kind": "slot"}, 422, "contract_id")]:
        bad = await join(world, lunch, elder, contract_id=str(contract.contract_id), **wrong)
        assert bad.status_code == status, bad.text
        assert bad.headers["content-type"].startswith("application/problem+json")
        assert field in str(bad.json()["errors"])
    joined = await join(world, lunch, elder, contract_id=str(contract.contract_id))
    assert joined.status_code == 201, joined.text
    assert (joined.json()["kind"], joined.json()["status"], joined.json()["position"]) == ("quota", "waiting", 1)
    twice = await join(world, lunch, elder)
    assert (twice.status_code, twice.json()["code"]) == (409, "already_waiting")
    async with world.sessionmaker() as session:
        waiting = await session.scalar(select(func.count()).select_from(WaitlistEntry))
    assert waiting == 1


async def test_a_given_back_unit_is_offered_with_the_subsidised_price_and_accepted_at_it(world: Any) -> None:
    lunch, contract, (booking,) = await used_up(world, 1)
    first, second = await world.resident(tags=["age_80_plus"]), await world.resident(tags=["age_80_plus"])
    one = (await join(world, lunch, first)).json()
    two = (await join(world, lunch, second, hour=13)).json()
    assert (one["position"], two["position"]) == (1, 2)

    cancelled = await world.cancel(booking, "住院了")
    assert cancelled.status_code == 200, cancelled.text

    await eventually(lambda: world.offered(one["id"], first))
    assert (await world.waitlist_entry(two["id"], second))["position"] == 1
    inbox = (await world.client.get("/api/v1/notifications", headers=world.resident_headers(first))).json()
    assert inbox["items"][0]["title"] == "补贴名额有空了"
    assert "补贴名额有空了，补贴价3元，为您保留到" in inbox["items"][0]["body"]
    # The unit is held for her: another eligible resident booking now pays the full price, and is told why.
    walk_in = await world.book(lunch, await world.resident(tags=["age_80_plus"]), world.at(world.tomorrow(), 10))
    assert (walk_in.json()["price_fen"], walk_in.json()["price_note"]) == (
        1500,
        "本项目的补贴名额已用完，本次按原价收费。",
    )

    accepted = await world.client.post(f"{WAITLIST}/{one['id']}/accept", headers=world.resident_headers(first))
    assert accepted.status_code == 201, accepted.text
    shown = accepted.json()
    assert (shown["resident_id"], shown["price_fen"], shown["subsidy_fen"]) == (first["id"], 300, 1200)
    assert shown["funded_contract_id"] == str(contract.contract_id)
    assert datetime.fromisoformat(shown["slot_start"]) == world.at(world.tomorrow(), 12)
    assert (await world.waitlist_entry(one["id"], first))["booking_id"] == shown["id"]
    assert await pool(world, contract) == 1
    again = await world.client.post(f"{WAITLIST}/{one['id']}/accept", headers=world.resident_headers(first))
    assert (again.status_code, again.json()["code"]) == (409, "offer_already_accepted")


async def test_an_unanswered_offer_passes_on_and_a_larger_quota_offers_units(world: Any, settings: Settings) -> None:
    lunch, contract, (booking,) = await used_up(world, 1)
    first, second, third = [await world.resident(tags=["age_80_plus"]) for _ in range(3)]
    one, two, three = [(await join(world, lunch, r)).json() for r in (first, second, third)]
    await world.cancel(booking, "改天")

    await eventually(lambda: world.offered(one["id"], first))
    await world.let_offer_lapse(settings, (one["id"], first), (two["id"], second))
    assert await pool(world, contract) == 1
    terms = waitlist_service.OfferTerms.of(settings)

    # The contract amended to a larger quota: the sweep offers the new unit to the next in line.
    await amend_quota(world, lunch, contract, 2)
    await waitlist_service.pass_on_overdue_offers(world.sessionmaker, terms=terms, batch=10, now=utcnow())
    assert await world.offered(three["id"], third)
    assert await pool(world, contract) == 2


async def test_racing_cancellations_and_joins_never_offer_one_unit_twice(world: Any, settings: Settings) -> None:
    quota = 8
    lunch, contract, bookings = await used_up(world, quota)
    waiting = [await world.resident(tags=["age_80_plus"]) for _ in range(quota + 4)]

    results = await asyncio.gather(
        *(world.cancel(b, "不去了") for b in bookings), *(join(world, lunch, r) for r in waiting)
    )
    assert [r.status_code for r in results[:quota]] == [200] * quota
    joins = results[quota:]
    assert {r.status_code for r in joins} <= {201, 409}, [r.text for r in joins]
    assert all(r.json()["code"] == "quota_not_full" for r in joins if r.status_code == 409)
    joined = sum(r.status_code == 201 for r in joins)

    async def counts() -> tuple[int, int, int]:
        async with world.sessionmaker() as session:
            offered = await session.scalar(
                select(func.count()).where(WaitlistEntry.kind == "quota", WaitlistEntry.status == "offered")
            )
            subsidised = await session.scalar(
                select(func.count()).where(
                    Booking.offering_id == lunch.offering_id,
                    Booking.status.in_(ACTIVE_STATUSES),
                    Booking.funded_program_id.is_not(None),
                )
            )
        return int(offered or 0), int(subsidised or 0), await pool(world, contract)

    async def settled() -> bool:
        offered, _, _ = await counts()
        return offered == min(joined, quota)

    await eventually(settled)
    terms = waitlist_service.OfferTerms.of(settings)
    await waitlist_service.pass_on_overdue_offers(world.sessionmaker, terms=terms, batch=100, now=utcnow())
    offered, subsidised, used = await counts()
    assert offered == min(joined, quota)
    assert subsidised == 0
    # Every unit drawn from the pool is one offer: never both offered and free, nor offered to two people.
    assert used == offered <= quota
    async with world.sessionmaker() as session:
        offered_to = (
            await session.scalars(select(WaitlistEntry.resident_id).where(WaitlistEntry.status == "offered"))
        ).all()
    assert len(set(offered_to)) == len(offered_to)


async def test_accepting_when_her_own_entitlement_ran_out_books_nothing_and_says_why(world: Any) -> None:
    lunch, contract, (booking,) = await used_up(world, 1)
    stated = await world.client.put(
        f"/api/v1/entitlements/programs/{contract.contract_id}/{lunch.offering_id}",
        json={"units_per_period": 1, "period": "month", "unit": "booking"},
        headers=world.keys.headers("official"),
    )
    assert stated.status_code == 200, stated.text
    elder = await world.resident(tags=["age_80_plus"])
    one = (await join(world, lunch, elder)).json()
    await world.cancel(booking, "改天")
    await eventually(lambda: world.offered(one["id"], elder))
    # Meanwhile the contract is amended to a larger quota and the call center books her a subsidised lunch
    # straight away: her one subsidised lunch of the month is used.
    await amend_quota(world, lunch, contract, 2)
    direct = await world.book(lunch, elder, world.at(world.tomorrow(), 15))
    assert (direct.json()["subsidy_fen"], direct.json()["price_fen"]) == (1200, 300)

    refused = await world.client.post(f"{WAITLIST}/{one['id']}/accept", headers=world.resident_headers(elder))
    assert refused.status_code == 409, refused.text
    assert refused.json()["code"] == "subsidy_not_available"
    assert refused.json()["detail"] == "本月补贴已用完（每月1次，已用1次），本次不享受补贴，按原价15元收费。"
    mine = await world.client.get(BOOKINGS, headers=world.resident_headers(elder))
    assert [b["id"] for b in mine.json()["items"]] == [direct.json()["id"]]
    assert (await world.waitlist_entry(one["id"], elder))["status"] == "offered"
    assert await pool(world, contract) == 2
