"""The quota line stays true to life: a lunch moved to another day keeps its place in line for the new time; the
places of a programme whose contract ended (or stopped funding the service) end, and each resident who waited is
told once that no subsidised unit will come; a place whose time has passed counts ahead of nobody and is ended by
the sweep; and of two accepts of one offer at the same moment, the loser is told the offer was just accepted."""

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from booking.bookings.models import Booking
from booking.config import Settings
from booking.notifications.models import Notification
from booking.replacements import service as replacements_service
from booking.waitlist import service as waitlist_service
from booking.waitlist.models import WaitlistEntry
from service_kit.events.contracts import ContractAmended, ContractTerminated
from service_kit.testing import eventually
from service_kit.timeutil import utcnow

from .test_quota_repricing import QUOTA_LINE, accept, full_price_booking, inbox
from .test_quota_waitlist import WAITLIST, join, pool, used_up

ENDED_TEXT = "老年餐桌的补贴项目已结束，您的补贴名额候补也结束了，不会再有补贴名额通知。已约的服务不受影响。"


async def test_a_rescheduled_booking_keeps_its_place_with_the_new_time(world: Any) -> None:
    lunch, _, (subsidised,) = await used_up(world, 1)
    elder, neighbour = await world.resident(tags=["age_80_plus"]), await world.resident(tags=["age_80_plus"])
    booking = await full_price_booking(world, lunch, elder)
    mine = (await join(world, lunch, elder)).json()
    theirs = (await join(world, lunch, neighbour, hour=13)).json()

    # She cannot come at noon: the operator moves her lunch to the day after at 11.
    later = world.at(world.tomorrow() + timedelta(days=1), 11)
    moved = await world.client.post(
        f"/api/v1/bookings/{booking['id']}/reschedule",
        json={"slot_start": later.isoformat()},
        headers=world.keys.headers("operator"),
    )
    assert moved.status_code == 200, moved.text

    async def followed() -> dict[str, Any] | None:
        entry = await world.waitlist_entry(mine["id"], elder)
        return entry if datetime.fromisoformat(entry["slot_start"]) == later else None

    entry = await eventually(followed)
    assert (entry["status"], entry["position"], entry["for_booking_id"]) == ("waiting", 1, booking["id"])
    places = await world.client.get(f"/api/v1/residents/{elder['id']}/waitlist", headers=world.resident_headers(elder))
    assert [datetime.fromisoformat(e["slot_start"]) for e in places.json()["items"]] == [later]

    # The unit given back is offered to her for the new time, and accepting re-prices the moved booking.
    await world.cancel(subsidised, "住院了")
    await eventually(lambda: world.offered(mine["id"], elder))
    offer = (await inbox(world, elder))[0]
    assert f"老年餐桌（{later.month}月{later.day}日 11:00）补贴名额有空了" in offer["body"], offer["body"]
    accepted = await accept(world, mine, world.resident_headers(elder))
    assert accepted.status_code == 201, accepted.text
    assert (accepted.json()["id"], accepted.json()["price_fen"]) == (booking["id"], 300)
    assert datetime.fromisoformat(accepted.json()["slot_start"]) == later
    assert (await world.waitlist_entry(theirs["id"], neighbour))["position"] == 1


async def test_an_ended_programme_ends_its_places_and_tells_each_resident_once(world: Any) -> None:
    lunch, contract, (subsidised,) = await used_up(world, 1)
    elder, neighbour, third = [await world.resident(tags=["age_80_plus"]) for _ in range(3)]
    one = (await join(world, lunch, elder)).json()
    two = (await join(world, lunch, neighbour, hour=13)).json()
    # The elder waits for two lunches; she is told once.
    also = (await join(world, lunch, elder, hour=14)).json()
    await world.cancel(subsidised, "住院了")
    await eventually(lambda: world.offered(one["id"], elder))
    assert await pool(world, contract) == 1  # the unit held for her

    values = contract.model_dump() | {"status": "terminated", "occurred_at": datetime.now(UTC), "reason": "合同解除"}
    await world.apply(ContractTerminated(**values), source="procurement")
    for entry_id, resident in ((one["id"], elder), (two["id"], neighbour), (also["id"], elder)):
        place = await world.waitlist_entry(entry_id, resident)
        assert (place["status"], place["end_reason"], place["position"]) == ("ended", "program_ended", None)
    assert await pool(world, contract) == 0  # the held unit went back, to nobody
    refused = await accept(world, one, world.resident_headers(elder))
    assert (refused.status_code, refused.json()["code"]) == (409, "no_offer")

    for resident, count in ((elder, 1), (neighbour, 1), (third, 0)):
        ended = [m for m in await inbox(world, resident) if m["title"] == "补贴名额候补已结束"]
        assert [m["body"] for m in ended] == [ENDED_TEXT] * count
    # The event heard again (a redelivery) ends and tells nothing more.
    await world.apply(ContractTerminated(**values), source="procurement")
    async with world.sessionmaker() as session:
        told = await session.scalar(
            select(func.count()).select_from(Notification).where(Notification.title == "补贴名额候补已结束")
        )
    assert told == 2
    line = await world.client.get(
        QUOTA_LINE, params={"offering_id": str(lunch.offering_id)}, headers=world.keys.headers("operator")
    )
    assert {(e["status"], e["end_reason"]) for e in line.json()["items"]} == {("ended", "program_ended")}


async def test_an_amendment_that_drops_the_service_ends_its_places(world: Any) -> None:
    lunch, contract, _ = await used_up(world, 1)
    elder = await world.resident(tags=["age_80_plus"])
    place = (await join(world, lunch, elder)).json()
    other = await world.offering(name_zh="助浴", weekly_rules=lunch.weekly_rules)
    amended = world.contract_event(
        ContractAmended,
        contract_id=contract.contract_id,
        provider_id=contract.provider_id,
        offering_id=other.offering_id,
        occurred_at=utcnow() + timedelta(seconds=1),
    )
    await world.apply(amended, source="procurement")
    shown = await world.waitlist_entry(place["id"], elder)
    assert (shown["status"], shown["end_reason"]) == ("ended", "program_ended")
    assert [m["body"] for m in await inbox(world, elder)] == [ENDED_TEXT]


async def test_positions_count_only_live_places_and_the_sweep_ends_passed_ones(world: Any, settings: Settings) -> None:
    lunch, _, _ = await used_up(world, 1)
    elder = await world.resident(tags=["age_80_plus"])
    mine = (await join(world, lunch, elder)).json()
    # Someone joined before her for a lunch yesterday that nobody offered her a unit for: it is behind us.
    gone = await world.resident(tags=["age_80_plus"])
    program_id = (
        await world.client.get(
            QUOTA_LINE, params={"offering_id": str(lunch.offering_id)}, headers=world.keys.headers("operator")
        )
    ).json()["items"][0]
    async with world.sessionmaker() as session:
        entry = await session.get(WaitlistEntry, uuid.UUID(program_id["id"]))
        assert entry is not None
        yesterday = utcnow() - timedelta(days=1)
        session.add(
            WaitlistEntry(
                id=uuid.uuid4(),
                kind="quota",
                program_id=entry.program_id,
                offering_id=lunch.offering_id,
                provider_id=lunch.provider_id,
                slot_start=yesterday,
                resident_id=uuid.UUID(gone["id"]),
                status="waiting",
                joined_at=yesterday - timedelta(days=1),
                joined_by="operator",
            )
        )
        await session.commit()

    # 第1位 is true: the passed place counts ahead of nobody, in her own view and the operators' line.
    assert (await world.waitlist_entry(mine["id"], elder))["position"] == 1
    line = await world.client.get(
        QUOTA_LINE,
        params={"offering_id": str(lunch.offering_id), "status": "waiting"},
        headers=world.keys.headers("operator"),
    )
    assert [(e["resident_id"], e["position"]) for e in line.json()["items"]] == [(gone["id"], 1), (elder["id"], 1)]

    terms = waitlist_service.OfferTerms.of(settings)
    await waitlist_service.pass_on_overdue_offers(world.sessionmaker, terms=terms, batch=10, now=utcnow())
    line = await world.client.get(
        QUOTA_LINE, params={"offering_id": str(lunch.offering_id)}, headers=world.keys.headers("operator")
    )
    shown = [(e["resident_id"], e["status"], e["position"], e["end_reason"]) for e in line.json()["items"]]
    assert shown == [(gone["id"], "ended", None, "slot_passed"), (elder["id"], "waiting", 1, None)]


async def test_the_losing_accept_of_one_offer_is_told_it_was_just_accepted(world: Any) -> None:
    lunch, contract, (subsidised,) = await used_up(world, 1)
    elder = await world.resident(tags=["age_80_plus"])
    booking = await full_price_booking(world, lunch, elder)
    entry = (await join(world, lunch, elder)).json()
    await world.cancel(subsidised, "改天")
    await eventually(lambda: world.offered(entry["id"], elder))

    # She confirms in the app while the operator on the phone confirms for her.
    both = await asyncio.gather(
        accept(world, entry, world.resident_headers(elder)), accept(world, entry, world.keys.headers("operator"))
    )
    assert sorted(r.status_code for r in both) == [201, 409], [r.text for r in both]
    lost = next(r for r in both if r.status_code == 409)
    assert lost.headers["content-type"].startswith("application/problem+json")
    assert lost.json()["code"] == "offer_already_accepted"
    assert lost.json()["detail"].startswith("这个名额刚刚已经确认过了（同一个通知的另一次确认），不用再确认。")
    assert "next in line" not in lost.json()["detail"]
    assert await pool(world, contract) == 1
    async with world.sessionmaker() as session:
        kept = await session.get(Booking, uuid.UUID(booking["id"]))
    assert kept is not None
    assert kept.price_fen == 300

    # Pressed again later: the same truth, with the booking it re-priced.
    again = await world.client.post(f"{WAITLIST}/{entry['id']}/accept", headers=world.keys.headers("operator"))
    assert (again.status_code, again.json()["code"], again.json()["booking_id"]) == (
        409,
        "offer_already_accepted",
        booking["id"],
    )


async def test_a_contracts_last_day_passing_ends_its_places(world: Any) -> None:
    lunch, contract, _ = await used_up(world, 1, end_date=world.tomorrow())
    elder = await world.resident(tags=["age_80_plus"])
    place = (await join(world, lunch, elder)).json()
    # The funding-end sweep, the day after the contract's last day.
    ended = await replacements_service.end_expired_funding(
        world.sessionmaker, now=utcnow() + timedelta(days=3), batch=10
    )
    assert ended == 1
    shown = await world.waitlist_entry(place["id"], elder)
    assert (shown["status"], shown["end_reason"]) == ("ended", "program_ended")
    assert [m["body"] for m in await inbox(world, elder)] == [ENDED_TEXT]
    assert contract.end_date == world.tomorrow()


async def test_an_offer_held_when_her_lunch_moves_is_retold_for_the_new_time(world: Any) -> None:
    lunch, _, (subsidised,) = await used_up(world, 1)
    elder = await world.resident(tags=["age_80_plus"])
    booking = await full_price_booking(world, lunch, elder)
    entry = (await join(world, lunch, elder)).json()
    await world.cancel(subsidised, "住院了")
    await eventually(lambda: world.offered(entry["id"], elder))

    later = world.at(world.tomorrow() + timedelta(days=1), 11)
    moved = await world.client.post(
        f"/api/v1/bookings/{booking['id']}/reschedule",
        json={"slot_start": later.isoformat()},
        headers=world.keys.headers("operator"),
    )
    assert moved.status_code == 200, moved.text

    async def retold() -> dict[str, Any] | None:
        offers = [m for m in await inbox(world, elder) if m["title"] == "补贴名额有空了"]
        return offers[0] if len(offers) == 2 else None

    newest = await eventually(retold)
    assert f"老年餐桌（{later.month}月{later.day}日 11:00）补贴名额有空了，补贴价3元" in newest["body"], newest["body"]
    shown = await world.waitlist_entry(entry["id"], elder)
    assert (shown["status"], datetime.fromisoformat(shown["slot_start"])) == ("offered", later)
    accepted = await accept(world, entry, world.resident_headers(elder))
    assert accepted.status_code == 201, accepted.text
    assert (accepted.json()["price_fen"], datetime.fromisoformat(accepted.json()["slot_start"])) == (300, later)
