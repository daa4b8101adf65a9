"""The quota line for a booking the resident already holds: she booked her lunch at the full price because the
subsidised meals were used up, and waits for a subsidised one *for that booking*. A unit given back is offered to
her; accepting re-prices her booking (subsidy applied, her share lowered, the unit drawn from the pool and from her
own allowance, audited, ``booking.repriced`` emitted, and she reads what she now pays). A booking cancelled or
begun by then ends its place and the unit passes on; racing accepts and cancellations never draw two units; a
resident whose own allowance is used up cannot join; operators read a programme's line and anyone who may see a
resident reads her places."""

import asyncio
import uuid
from datetime import date, timedelta
from typing import Any

from sqlalchemy import func, select, update

from booking.bookings.models import Booking, BookingStatus
from booking.entitlements.models import EntitlementUsage
from booking.waitlist.models import WaitlistEntry
from service_kit.testing import eventually

from .test_quota_waitlist import WAITLIST, join, lunch_with_quota, pool, used_up

QUOTA_LINE = f"{WAITLIST}/quota"


async def full_price_booking(world: Any, lunch: Any, resident: dict[str, Any], hour: int = 12) -> dict[str, Any]:
    """The call center books her lunch while the subsidised meals are used up: 15 元, and why."""
    made = await world.book(lunch, resident, world.at(world.tomorrow(), hour))
    assert made.status_code == 201, made.text
    booking: dict[str, Any] = made.json()
    assert (booking["price_fen"], booking["subsidy_fen"], booking["funded_contract_id"]) == (1500, 0, None)
    assert booking["price_note"] == "本项目的补贴名额已用完，本次按原价收费。"
    return booking


async def allowance(world: Any, contract: Any, lunch: Any, units: int) -> None:
    """The district states each eligible resident's subsidised lunches a month."""
    stated = await world.client.put(
        f"/api/v1/entitlements/programs/{contract.contract_id}/{lunch.offering_id}",
        json={"units_per_period": units, "period": "month", "unit": "booking"},
        headers=world.keys.headers("official"),
    )
    assert stated.status_code == 200, stated.text


async def used_of(world: Any, resident: dict[str, Any]) -> int:
    async with world.sessionmaker() as session:
        used = await session.scalar(
            select(func.sum(EntitlementUsage.used)).where(EntitlementUsage.resident_id == uuid.UUID(resident["id"]))
        )
    return int(used or 0)


async def accept(world: Any, entry: dict[str, Any], headers: dict[str, str]) -> Any:
    return await world.client.post(f"{WAITLIST}/{entry['id']}/accept", headers=headers)


async def inbox(world: Any, resident: dict[str, Any]) -> list[dict[str, Any]]:
    response = await world.client.get("/api/v1/notifications", headers=world.resident_headers(resident))
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def test_accepting_the_offer_reprices_the_booking_she_holds(world: Any) -> None:
    lunch, contract, (subsidised,) = await used_up(world, 1)
    await allowance(world, contract, lunch, 4)
    elder = await world.resident(name="赵淑华", tags=["age_80_plus"])
    booking = await full_price_booking(world, lunch, elder)

    joined = await join(world, lunch, elder)
    assert joined.status_code == 201, joined.text
    entry = joined.json()
    assert (entry["kind"], entry["position"], entry["for_booking_id"]) == ("quota", 1, booking["id"])

    await world.cancel(subsidised, "住院了")
    await eventually(lambda: world.offered(entry["id"], elder))
    offer = (await inbox(world, elder))[0]
    assert "补贴名额有空了，补贴价3元，为您保留到" in offer["body"]

    accepted = await accept(world, entry, world.keys.headers("operator"))
    assert accepted.status_code == 201, accepted.text
    shown = accepted.json()
    assert shown["id"] == booking["id"]  # her booking, not a new one
    assert (shown["price_fen"], shown["subsidy_fen"], shown["resident_share_fen"]) == (300, 1200, 300)
    assert shown["funded_contract_id"] == str(contract.contract_id)
    assert shown["price_note"] is None
    assert shown["status"] == booking["status"]
    mine = await world.client.get("/api/v1/bookings", headers=world.resident_headers(elder))
    assert [(b["id"], b["price_fen"]) for b in mine.json()["items"]] == [(booking["id"], 300)]
    assert await pool(world, contract) == 1
    assert await used_of(world, elder) == 1
    placed = await world.waitlist_entry(entry["id"], elder)
    assert (placed["status"], placed["booking_id"]) == ("accepted", booking["id"])

    # Procurement and feedback hear the new price; the operator's change is in her acting-for log.
    events = await world.emitted(booking["id"])
    repriced = [data for kind, data in events if kind == "linli.booking.repriced.v1"]
    assert len(repriced) == 1
    assert (repriced[0]["price_fen"], repriced[0]["subsidy_fen"], repriced[0]["previous_price_fen"]) == (
        300,
        1200,
        1500,
    )
    assert repriced[0]["funded_contract_id"] == str(contract.contract_id)
    log = await world.client.get(f"/api/v1/residents/{elder['id']}/acting-for", headers=world.keys.headers("operator"))
    assert ("reprice", booking["id"]) in [(r["action"], r["booking_id"]) for r in log.json()["items"]]

    async def told() -> dict[str, Any] | None:
        return next((m for m in await inbox(world, elder) if m["title"] == "已改按补贴价"), None)

    message = await eventually(told)
    assert message["body"].endswith("已改按补贴价，您只需付3元（原价15元）。")
    assert message["body"].startswith("您预约的老年餐桌（")

    # Cancelling the re-priced booking gives back all it drew, as any subsidised booking does.
    again = await world.cancel(shown, "改天")
    assert again.status_code == 200, again.text
    assert (await pool(world, contract), await used_of(world, elder)) == (0, 0)


async def test_a_cancelled_booking_ends_its_place_and_the_unit_passes_on(world: Any) -> None:
    lunch, contract, (subsidised,) = await used_up(world, 1)
    elder, neighbour = await world.resident(tags=["age_80_plus"]), await world.resident(tags=["age_80_plus"])
    booking = await full_price_booking(world, lunch, elder)
    mine = (await join(world, lunch, elder)).json()
    theirs = (await join(world, lunch, neighbour, hour=13)).json()
    await world.cancel(subsidised, "不去了")
    await eventually(lambda: world.offered(mine["id"], elder))

    # Her booking is cancelled before its event is heard (a late consumer): accepting ends the offer, the unit
    # goes to the next in line, and her booking stays as it was.
    async with world.sessionmaker() as session:
        await session.execute(
            update(Booking).where(Booking.id == uuid.UUID(booking["id"])).values(status=BookingStatus.cancelled)
        )
        await session.commit()
    refused = await accept(world, mine, world.resident_headers(elder))
    assert refused.status_code == 409, refused.text
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert (refused.json()["code"], refused.json()["booking_status"]) == ("booking_not_repriceable", "cancelled")
    assert "补贴名额已转给下一位" in refused.json()["detail"]
    assert (await world.waitlist_entry(mine["id"], elder))["status"] == "expired"
    assert await world.offered(theirs["id"], neighbour)
    assert await pool(world, contract) == 1
    async with world.sessionmaker() as session:
        kept = await session.get(Booking, uuid.UUID(booking["id"]))
    assert kept is not None
    assert (kept.price_fen, kept.funded_program_id) == (1500, None)


async def test_a_unit_skips_a_place_whose_booking_ended_unheard(world: Any) -> None:
    lunch, contract, (subsidised,) = await used_up(world, 1)
    elder, neighbour = await world.resident(tags=["age_80_plus"]), await world.resident(tags=["age_80_plus"])
    booking = await full_price_booking(world, lunch, elder)
    mine = (await join(world, lunch, elder)).json()
    theirs = (await join(world, lunch, neighbour, hour=13)).json()
    # Her booking ends before its event is heard: the freed unit is not offered for it but to the next in line.
    async with world.sessionmaker() as session:
        await session.execute(
            update(Booking).where(Booking.id == uuid.UUID(booking["id"])).values(status=BookingStatus.rejected)
        )
        await session.commit()
    await world.cancel(subsidised, "住院了")
    await eventually(lambda: world.offered(theirs["id"], neighbour))
    assert (await world.waitlist_entry(mine["id"], elder))["status"] == "left"
    assert await pool(world, contract) == 1


async def test_cancelling_the_booking_takes_its_place_out_of_line(world: Any) -> None:
    lunch, contract, (subsidised,) = await used_up(world, 1)
    elder, neighbour = await world.resident(tags=["age_80_plus"]), await world.resident(tags=["age_80_plus"])
    booking = await full_price_booking(world, lunch, elder)
    mine = (await join(world, lunch, elder)).json()
    theirs = (await join(world, lunch, neighbour, hour=13)).json()
    assert (await world.cancel(booking, "不需要了")).status_code == 200

    async def left() -> bool:
        return (await world.waitlist_entry(mine["id"], elder))["status"] == "left"

    await eventually(left)
    assert (await world.waitlist_entry(theirs["id"], neighbour))["position"] == 1
    await world.cancel(subsidised, "住院了")
    await eventually(lambda: world.offered(theirs["id"], neighbour))
    assert await pool(world, contract) == 1


async def test_racing_accepts_and_cancellations_never_draw_two_units(world: Any) -> None:
    lunch, contract, (subsidised,) = await used_up(world, 1)
    elder = await world.resident(tags=["age_80_plus"])
    booking = await full_price_booking(world, lunch, elder)
    entry = (await join(world, lunch, elder)).json()
    await world.cancel(subsidised, "改天")
    await eventually(lambda: world.offered(entry["id"], elder))

    # The resident and the operator on the phone accept at once: one re-pricing, one unit.
    both = await asyncio.gather(
        accept(world, entry, world.resident_headers(elder)), accept(world, entry, world.keys.headers("operator"))
    )
    assert sorted(r.status_code for r in both) == [201, 409], [r.text for r in both]
    assert next(r for r in both if r.status_code == 409).json()["code"] == "offer_already_accepted"
    assert await pool(world, contract) == 1
    assert await used_of(world, elder) == 0  # no personal allowance stated: none drawn

    # A second elder's offer accepted while her booking is cancelled at once: either the re-pricing came first
    # and the cancellation gave its unit back, or the cancellation came first and nothing was drawn for it.
    second = await world.resident(tags=["age_80_plus"])
    hers = await full_price_booking(world, lunch, second, hour=13)
    place = (await join(world, lunch, second, hour=13)).json()
    await world.cancel(booking, "改天")  # her re-priced lunch gives its unit back, and it goes to the second
    await eventually(lambda: world.offered(place["id"], second))
    accepted, cancelled = await asyncio.gather(
        accept(world, place, world.resident_headers(second)), world.cancel(hers, "不去了")
    )
    assert cancelled.status_code == 200, cancelled.text
    assert accepted.status_code in (201, 409), accepted.text

    async def settled() -> bool:
        async with world.sessionmaker() as session:
            offered = await session.scalar(
                select(func.count()).where(WaitlistEntry.kind == "quota", WaitlistEntry.status == "offered")
            )
            status = await session.scalar(
                select(WaitlistEntry.status).where(WaitlistEntry.id == uuid.UUID(place["id"]))
            )
        return offered == 0 and status in ("accepted", "left", "expired")

    await eventually(settled)
    async with world.sessionmaker() as session:
        active_subsidised = await session.scalar(
            select(func.count()).where(
                Booking.offering_id == lunch.offering_id,
                Booking.status.in_((BookingStatus.requested, BookingStatus.confirmed)),
                Booking.funded_program_id.is_not(None),
            )
        )
    # Nobody else waits: every unit is back in the pool, whichever won.
    assert active_subsidised == 0
    assert await pool(world, contract) == 0


async def test_a_resident_whose_own_allowance_is_used_up_cannot_join(world: Any) -> None:
    lunch, contract = await lunch_with_quota(world, 2)
    await allowance(world, contract, lunch, 1)
    elder = await world.resident(tags=["age_80_plus"])
    first = await world.book(lunch, elder, world.at(world.tomorrow(), 9))
    assert first.json()["subsidy_fen"] == 1200  # her one subsidised lunch of the month
    other = await world.book(lunch, await world.resident(tags=["age_80_plus"]), world.at(world.tomorrow(), 9))
    assert other.json()["subsidy_fen"] == 1200  # the pool is used up

    refused = await join(world, lunch, elder)
    assert refused.status_code == 409, refused.text
    assert refused.headers["content-type"].startswith("application/problem+json")
    problem = refused.json()
    day = world.tomorrow()
    renews = (date(day.year, day.month, 28) + timedelta(days=4)).replace(day=1)
    assert (problem["code"], problem["left"], problem["used"], problem["units_per_period"]) == (
        "entitlement_used_up",
        0,
        1,
        1,
    )
    assert problem["renews_on"] == renews.isoformat()
    assert problem["detail"].startswith(
        f"本月补贴已用完（每月1次，已用1次，剩余0次），排队等到补贴名额也不能按补贴价收费；{renews.month}月{renews.day}日起恢复。"
    )
    async with world.sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(WaitlistEntry)) == 0


async def test_a_subsidised_booking_needs_no_place_in_line(world: Any) -> None:
    lunch, _, (booking,) = await used_up(world, 1)
    resident_id = booking["resident_id"]
    body = {
        "kind": "quota",
        "offering_id": str(lunch.offering_id),
        "slot_start": world.at(world.tomorrow(), 9).isoformat(),
        "resident_id": resident_id,
    }
    refused = await world.client.post(WAITLIST, json=body, headers=world.keys.headers("operator"))
    assert (refused.status_code, refused.json()["code"]) == (409, "already_subsidised")
    slot = await world.client.post(WAITLIST, json=body | {"kind": "slot"}, headers=world.keys.headers("operator"))
    assert (slot.status_code, slot.json()["code"]) == (409, "already_booked")


async def test_operators_read_a_programmes_quota_line(world: Any) -> None:
    lunch, contract, (booking,) = await used_up(world, 1)
    first = await world.resident(name="赵淑华", tags=["age_80_plus"])
    second = await world.resident(name="孙桂芝", tags=["age_80_plus"])
    third = await world.resident(name="钱玉兰", tags=["age_80_plus"])
    one, two, three = [(await join(world, lunch, r, hour=10 + n)).json() for n, r in enumerate((first, second, third))]
    await world.cancel(booking, "住院了")
    await eventually(lambda: world.offered(one["id"], first))

    params = {"contract_id": str(contract.contract_id), "offering_id": str(lunch.offering_id)}
    line = await world.client.get(QUOTA_LINE, params=params, headers=world.keys.headers("operator"))
    assert line.status_code == 200, line.text
    page = line.json()
    assert page["total"] == 3
    shown = [(e["id"], e["status"], e["position"], e["resident"]["name"], e["offering_name"]) for e in page["items"]]
    assert shown == [
        (one["id"], "offered", None, "赵淑华", "老年餐桌"),
        (two["id"], "waiting", 1, "孙桂芝", "老年餐桌"),
        (three["id"], "waiting", 2, "钱玉兰", "老年餐桌"),
    ]
    assert page["items"][0]["offer_expires_at"] is not None

    # Paged: the second page's positions run on.
    second_page = await world.client.get(
        QUOTA_LINE, params=params | {"limit": 1, "offset": 2}, headers=world.keys.headers("operator")
    )
    assert [(e["id"], e["position"]) for e in second_page.json()["items"]] == [(three["id"], 2)]
    # The console's waitlist dialog knows the service, not the contract: the lines of every programme funding it.
    of_service = await world.client.get(
        QUOTA_LINE, params={"offering_id": str(lunch.offering_id)}, headers=world.keys.headers("operator")
    )
    assert [(e["id"], e["position"]) for e in of_service.json()["items"]] == [
        (one["id"], None),
        (two["id"], 1),
        (three["id"], 2),
    ]
    waiting = await world.client.get(
        QUOTA_LINE, params=params | {"status": "waiting"}, headers=world.keys.headers("official")
    )
    assert [e["position"] for e in waiting.json()["items"]] == [1, 2]
    assert "*" in waiting.json()["items"][0]["resident"]["phone"]  # an official reads no phone number

    for headers in (world.resident_headers(first), world.provider_headers(lunch)):
        denied = await world.client.get(QUOTA_LINE, params=params, headers=headers)
        assert denied.status_code == 403, denied.text
    for bad, field in [
        ({}, "offering_id"),
        ({"contract_id": str(contract.contract_id)}, "offering_id"),
        ({"program_id": str(uuid.uuid4()), **params}, "program_id"),
        ({"contract_id": "not-a-uuid", "offering_id": str(lunch.offering_id)}, "contract_id"),
        (params | {"status": "gone"}, "status"),
    ]:
        refused = await world.client.get(QUOTA_LINE, params=bad, headers=world.keys.headers("operator"))
        assert refused.status_code == 422, refused.text
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert [e["field"] for e in refused.json()["errors"]] == [field]
    unknown = await world.client.get(
        QUOTA_LINE, params={**params, "contract_id": str(uuid.uuid4())}, headers=world.keys.headers("operator")
    )
    assert (unknown.status_code, unknown.json()["code"]) == (404, "program_not_found")
    nowhere = await world.client.get(
        QUOTA_LINE, params={"offering_id": str(uuid.uuid4())}, headers=world.keys.headers("operator")
    )
    assert (nowhere.status_code, nowhere.json()["code"]) == (404, "offering_not_found")


async def test_a_residents_own_places_for_her_her_helper_and_operators(world: Any) -> None:
    lunch, _, _ = await used_up(world, 1)
    phone = f"+86139{uuid.uuid4().int % 10**8:08d}"
    mother = await world.resident(phone=phone, tags=["age_80_plus"])
    sub = await world.sign_in(phone)
    as_mother = world.keys.headers(
        "resident", sub=sub, resident_id=mother["id"], phone_number=phone, phone_number_verified=True
    )
    full = await world.offering(name_zh="理发", capacity_per_slot=1, weekly_rules=lunch.weekly_rules)
    taken = await world.book(full, await world.resident(), world.at(world.tomorrow(), 10))
    assert taken.status_code == 201, taken.text
    slot_place = await world.client.post(
        WAITLIST,
        json={"offering_id": str(full.offering_id), "slot_start": world.at(world.tomorrow(), 10).isoformat()},
        headers=as_mother,
    )
    assert slot_place.status_code == 201, slot_place.text
    quota_place = await join(world, lunch, mother, hour=12)
    assert quota_place.status_code == 201, quota_place.text
    left = await world.client.post(f"{WAITLIST}/{quota_place.json()['id']}/leave", headers=as_mother)
    assert left.status_code == 200, left.text

    mine = await world.client.get(f"/api/v1/residents/{mother['id']}/waitlist", headers=as_mother)
    assert mine.status_code == 200, mine.text
    assert [(e["kind"], e["offering_name"], e["status"], e["position"]) for e in mine.json()["items"]] == [
        ("slot", "理发", "waiting", 1),
        ("quota", "老年餐桌", "left", None),
    ]
    open_only = await world.client.get(
        f"/api/v1/residents/{mother['id']}/waitlist", params={"open": "true"}, headers=world.keys.headers("operator")
    )
    assert [e["id"] for e in open_only.json()["items"]] == [slot_place.json()["id"]]

    _, as_daughter, daughter_phone = await world.signed_in_relative()
    path = f"/api/v1/residents/{mother['id']}/waitlist"
    assert (await world.client.get(path, headers=as_daughter)).status_code == 404  # not (yet) her helper
    granted = await world.client.post(
        f"/api/v1/residents/{mother['id']}/helpers",
        json={"helper_phone": daughter_phone, "relation": "女儿"},
        headers=as_mother,
    )
    assert granted.status_code == 201, granted.text
    helped = await world.client.get(path, headers=as_daughter)
    assert helped.status_code == 200, helped.text
    assert helped.json()["total"] == 2
    for headers in (world.keys.headers("official"), world.provider_headers(lunch)):
        hidden = await world.client.get(path, headers=headers)
        assert (hidden.status_code, hidden.json()["code"]) == (404, "resident_not_found")
    bad = await world.client.get(f"/api/v1/residents/{mother['id']}/waitlist", params={"limit": 0}, headers=as_mother)
    assert bad.status_code == 422
    assert bad.headers["content-type"].startswith("application/problem+json")
