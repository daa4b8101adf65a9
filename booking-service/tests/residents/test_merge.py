"""One person, one record: no path makes a second record of a phone or an ID number (registrations racing, a
correction taking a phone another record has), and an operator merges the duplicates made before the rules
(two records of one person, different phones): bookings, links and helper grants move to the survivor, the
duplicate is gone, ``resident.merged`` tells feedback. A refused merge changes nothing."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
from sqlalchemy import select

from booking.bookings.models import Booking
from booking.entitlements.models import EntitlementUsage
from booking.residents.models import HelperGrant, Resident
from booking.waitlist.models import WaitlistEntry
from service_kit.auth import GATEWAY_SUBJECT, GatewayScope

RESIDENTS = "/api/v1/residents"
BOOKINGS = "/api/v1/bookings"
SERIES = "/api/v1/bookings/series"
WAITLIST = "/api/v1/bookings/waitlist"
ID_NUMBER = "110111193803151237"
OTHER_ID_NUMBER = "11011119380315004X"


def new_phone() -> str:
    return f"+86139{uuid.uuid4().int % 10**8:08d}"


def operator(world: Any) -> dict[str, str]:
    return world.keys.headers("operator", sub="operator-wang", name="王芳")


async def register(world: Any, **fields: Any) -> dict[str, Any]:
    body = {"name": "赵玉兰", "phone": new_phone(), "consent": {"version": "2026-11", "channel": "phone"}, **fields}
    response = await world.client.post(RESIDENTS, json=body, headers=operator(world))
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


async def merge(world: Any, survivor: Any, duplicate: Any, headers: dict[str, str] | None = None) -> httpx.Response:
    body = {"duplicate_id": str(duplicate), "reason": "同一位老人：两次来电登记了不同电话"}
    response: httpx.Response = await world.client.post(
        f"{RESIDENTS}/{survivor}/merge", json=body, headers=headers or operator(world)
    )
    return response


async def sign_in(world: Any, phone: str) -> str:
    return await world.sign_in(phone)  # type: ignore[no-any-return]


async def owners(world: Any, booking_ids: list[str]) -> set[str]:
    async with world.sessionmaker() as session:
        rows = await session.execute(
            select(Booking.resident_id).where(Booking.id.in_([uuid.UUID(b) for b in booking_ids]))
        )
        return {str(r) for r in rows.scalars()}


async def test_an_operator_merges_two_records_of_one_person(world: Any) -> None:
    offering = await world.offering()
    survivor = await register(world, address="拱辰街道时代家和3号楼")
    duplicate = await register(world, id_card_number=ID_NUMBER, eligibility_tags=["age_80_plus"])
    account = await sign_in(world, duplicate["phone"])
    booking = (await world.book(offering, duplicate, world.at(world.tomorrow(), 10))).json()
    # The duplicate helps her sister, and her son helps the duplicate.
    sister = await register(world)
    son_phone = new_phone()
    son_sub = str(uuid.uuid4())
    son = await world.client.post(
        RESIDENTS,
        json={"name": "赵强", "phone": son_phone, "consent": {"version": "2026-11", "channel": "app"}},
        headers=world.keys.headers(
            "resident", sub=son_sub, resident_id=son_sub, phone_number=son_phone, phone_number_verified=True
        ),
    )
    assert son.status_code == 201
    for resident, helper_phone in ((duplicate, son_phone), (sister, duplicate["phone"])):
        granted = await world.client.post(
            f"{RESIDENTS}/{resident['id']}/helpers",
            json={"helper_phone": helper_phone, "consent_channel": "phone"},
            headers=operator(world),
        )
        assert granted.status_code == 201, granted.text

    merged = await merge(world, survivor["id"], duplicate["id"])
    assert merged.status_code == 200, merged.text
    result = merged.json()
    assert (result["bookings_moved"], result["helper_grants_moved"]) == (1, 2)
    # The survivor keeps its own data and takes what it lacked: the ID number, the tags, the app account.
    person = result["survivor"]
    assert (person["phone"], person["address"]) == (survivor["phone"], "拱辰街道时代家和3号楼")
    assert (person["id_card_number"], person["eligibility_tags"]) == ("1101**********1237", ["age_80_plus"])
    async with world.sessionmaker() as session:
        row = await session.get(Resident, uuid.UUID(survivor["id"]))
        assert row is not None
        assert row.account_subject == account
        tombstone = await session.get(Resident, uuid.UUID(duplicate["id"]))
        assert tombstone is not None
        assert (tombstone.merged_into_id, tombstone.phone, tombstone.id_card_index) == (row.id, None, None)
        grants = (await session.execute(select(HelperGrant).where(HelperGrant.revoked_at.is_(None)))).scalars().all()
    pairs = {(str(g.resident_id), str(g.helper_resident_id)) for g in grants}
    assert (survivor["id"], son.json()["id"]) in pairs
    assert (sister["id"], survivor["id"]) in pairs
    assert not any(duplicate["id"] in pair for pair in pairs)

    # The duplicate is gone, pointing to the survivor; the booking is the survivor's.
    gone = await world.client.get(f"{RESIDENTS}/{duplicate['id']}", headers=operator(world))
    assert (gone.status_code, gone.json()["code"], gone.json()["survivor_id"]) == (
        404,
        "resident_merged",
        survivor["id"],
    )
    assert await owners(world, [booking["id"]]) == {survivor["id"]}
    listed = await world.client.get(BOOKINGS, params={"resident_id": survivor["id"]}, headers=operator(world))
    assert [b["id"] for b in listed.json()["items"]] == [booking["id"]]
    # Her phone-code sign-in with the old phone finds nothing now; the old phone is free for a correction.
    assert (
        await world.client.post(
            "/internal/v1/resident-links",
            json={"phone": duplicate["phone"], "account_subject": account},
            headers=world.keys.headers(sub=GATEWAY_SUBJECT, scope=GatewayScope.resident_links.value),
        )
    ).status_code == 404
    events = await world.emitted(survivor["id"])
    [(_, event)] = [e for e in events if e[0] == "linli.resident.merged.v1"]
    assert (event["duplicate_id"], event["survivor_id"], event["merged_by"]) == (
        duplicate["id"],
        survivor["id"],
        "operator-wang",
    )
    trail = await world.client.get(f"{RESIDENTS}/{survivor['id']}/acting-for", headers=operator(world))
    actions = [r["action"] for r in trail.json()["items"]]
    assert "merge" in actions
    assert "book" in actions  # the duplicate's trail came along


async def test_a_refused_merge_changes_nothing(world: Any) -> None:
    offering = await world.offering()
    first = await register(world, id_card_number=ID_NUMBER)
    second = await register(world, id_card_number=OTHER_ID_NUMBER)
    third = await register(world)

    itself = await merge(world, first["id"], first["id"])
    assert (itself.status_code, itself.json()["code"], itself.json()["errors"][0]["field"]) == (
        422,
        "merge_into_itself",
        "duplicate_id",
    )
    two_people = await merge(world, first["id"], second["id"])
    assert (two_people.status_code, two_people.json()["code"]) == (409, "merge_id_card_conflict")
    unknown = await merge(world, first["id"], uuid.uuid4())
    assert (unknown.status_code, unknown.json()["code"], unknown.json()["errors"][0]["field"]) == (
        422,
        "unknown_resident",
        "duplicate_id",
    )
    missing_survivor = await merge(world, uuid.uuid4(), first["id"])
    assert (missing_survivor.status_code, missing_survivor.json()["code"]) == (404, "resident_not_found")
    resident_token = world.keys.headers("resident", resident_id=first["id"])
    assert (await merge(world, first["id"], third["id"], resident_token)).status_code == 403

    # Both hold a booking of the same slot: cancel one first.
    slot = world.at(world.tomorrow(), 9)
    one = (await world.book(offering, first, slot)).json()
    other = (await world.book(offering, third, slot)).json()
    clash = await merge(world, first["id"], third["id"])
    assert (clash.status_code, clash.json()["code"]) == (409, "merge_booking_conflict")
    assert await owners(world, [one["id"]]) == {first["id"]}
    assert await owners(world, [other["id"]]) == {third["id"]}
    for resident in (first, second, third):
        still = await world.client.get(f"{RESIDENTS}/{resident['id']}", headers=operator(world))
        assert (still.status_code, still.json()["phone"]) == (200, resident["phone"])
    assert [e for e in await world.emitted(first["id"]) if e[0] == "linli.resident.merged.v1"] == []

    # Once merged, a second merge of the same duplicate is refused, naming the survivor.
    assert (
        await world.client.post(
            f"{BOOKINGS}/{other['id']}/cancel", json={"reason": "重复预约"}, headers=operator(world)
        )
    ).status_code == 200
    assert (await merge(world, first["id"], third["id"])).status_code == 200
    again = await merge(world, second["id"], third["id"])
    assert (again.status_code, again.json()["code"], again.json()["survivor_id"]) == (
        409,
        "already_merged",
        first["id"],
    )


async def test_racing_merges_of_one_duplicate_make_one(world: Any) -> None:
    survivor = await register(world)
    other_survivor = await register(world)
    duplicate = await register(world)
    responses = await asyncio.gather(
        merge(world, survivor["id"], duplicate["id"]),
        merge(world, other_survivor["id"], duplicate["id"]),
        merge(world, survivor["id"], duplicate["id"]),
    )
    assert sorted(r.status_code for r in responses) == [200, 409, 409], [r.text for r in responses]
    assert {r.json()["code"] for r in responses if r.status_code == 409} == {"already_merged"}


async def test_corrections_racing_for_one_phone_leave_it_on_one_record(world: Any) -> None:
    residents = [await register(world) for _ in range(3)]
    phone = new_phone()
    responses = await asyncio.gather(
        *(
            world.client.patch(f"{RESIDENTS}/{r['id']}", json={"phone": phone}, headers=operator(world))
            for r in residents
        )
    )
    assert sorted(r.status_code for r in responses) == [200, 409, 409], [r.text for r in responses]
    assert {r.json()["code"] for r in responses if r.status_code == 409} == {"phone_taken"}
    async with world.sessionmaker() as session:
        holders = (
            (await session.execute(select(Resident.id).where(Resident.phone_index == world.phone_index(phone))))
            .scalars()
            .all()
        )
    assert len(holders) == 1


async def card(world: Any, resident: dict[str, Any]) -> dict[str, Any]:
    response = await world.client.get(
        f"{RESIDENTS}/{resident['id']}/entitlements",
        params={"date": world.tomorrow().isoformat()},
        headers=operator(world),
    )
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


async def evidence(world: Any, resident: dict[str, Any], tag: str, kind: str, expires_on: str) -> None:
    response = await world.client.put(
        f"{RESIDENTS}/{resident['id']}/eligibility/{tag}",
        json={"evidence_type": kind, "verified_on": "2026-01-05", "expires_on": expires_on},
        headers=operator(world),
    )
    assert response.status_code == 200, response.text


async def test_after_a_merge_what_she_has_left_this_month_counts_both_records_bookings(world: Any) -> None:
    lunch, _ = await world.lunch_programme(units=3)
    survivor = await world.resident(tags=["age_80_plus"])
    duplicate = await world.resident(tags=["age_80_plus"])
    tomorrow = world.tomorrow()
    # Each record drew one of her three subsidised lunches this month.
    lunches = []
    for resident, hour in ((survivor, 11), (duplicate, 12)):
        booked = await world.book(lunch, resident, world.at(tomorrow, hour))
        assert (booked.status_code, booked.json()["subsidy_fen"]) == (201, 1200), booked.text
        lunches.append(booked.json())

    merged = await merge(world, survivor["id"], duplicate["id"])
    assert merged.status_code == 200, merged.text
    assert (merged.json()["bookings_moved"], merged.json()["entitlement_units_moved"]) == (1, 1)
    [meals] = [e for e in (await card(world, survivor))["entitlements"] if e["offering_id"] == str(lunch.offering_id)]
    assert (meals["used"], meals["left"]) == (2, 1)
    # So the third lunch is subsidised and the fourth is not, saying why.
    third = (await world.book(lunch, survivor, world.at(tomorrow, 13))).json()
    fourth = (await world.book(lunch, survivor, world.at(tomorrow, 14))).json()
    assert (third["subsidy_fen"], fourth["subsidy_fen"]) == (1200, 0)
    assert fourth["price_note"] == "本月补贴已用完（每月3次，已用3次），本次不享受补贴，按原价15元收费。"
    async with world.sessionmaker() as session:
        rows = (await session.execute(select(EntitlementUsage))).scalars().all()
    assert {(str(r.resident_id), r.used) for r in rows} == {(survivor["id"], 3)}
    # Cancelling the lunch the duplicate booked gives its unit back to her, the survivor.
    cancelled = await world.client.post(
        f"{BOOKINGS}/{lunches[1]['id']}/cancel", json={"reason": "住院"}, headers=operator(world)
    )
    assert cancelled.status_code == 200, cancelled.text
    [meals] = [e for e in (await card(world, survivor))["entitlements"] if e["offering_id"] == str(lunch.offering_id)]
    assert (meals["used"], meals["left"]) == (2, 1)


async def test_a_merge_moves_evidence_series_places_in_line_calls_and_urgent_calls(world: Any) -> None:
    survivor = await world.resident(tags=["age_80_plus"])
    duplicate = await world.resident()
    # Both proved her age; the duplicate's proof holds longer. Only the duplicate proved she lives alone.
    await evidence(world, survivor, "age_80_plus", "id_card", "2030-01-31")
    await evidence(world, duplicate, "age_80_plus", "household_register", "2031-06-30")
    await evidence(world, duplicate, "living_alone", "community_certificate", "2030-03-01")
    # A weekly series of the duplicate's, booked for its first two dates.
    offering = await world.offering(capacity_per_slot=5)
    tomorrow = world.tomorrow()
    series = await world.client.post(
        SERIES,
        json={
            "offering_id": str(offering.offering_id),
            "resident_id": duplicate["id"],
            "kind": "weekly",
            "weekdays": [tomorrow.weekday()],
            "time": "10:00",
            "start_date": tomorrow.isoformat(),
            "count": 2,
            "skip_holidays": False,
        },
        headers=operator(world),
    )
    assert series.status_code == 201, series.text
    booked = [o["booking"]["id"] for o in series.json()["occurrences"] if o.get("booking")]
    assert len(booked) == 2
    # Two full slots: in the first the survivor joined the line first, in the second the duplicate did.
    full = await world.offering(capacity_per_slot=1)
    first, second = world.at(tomorrow, 9), world.at(tomorrow, 10)
    for slot in (first, second):
        assert (await world.book(full, await world.resident(), slot)).status_code == 201
    places = {}
    for slot, order in ((first, (survivor, duplicate)), (second, (duplicate, survivor))):
        for resident in order:
            joined = await world.client.post(
                WAITLIST,
                json={"offering_id": str(full.offering_id), "slot_start": slot.isoformat()},
                headers=world.resident_headers(resident),
            )
            assert joined.status_code == 201, joined.text
            places[(slot, resident["id"])] = joined.json()["id"]
    # The hotline's calls about the duplicate: one with a callback owed, and an urgent call still open.
    call = await world.client.post(
        f"{RESIDENTS}/{duplicate['id']}/calls",
        json={
            "reason": "entitlement",
            "note": "问独居补贴",
            "callback": {"due_at": world.at(tomorrow, 15).isoformat(), "reason": "核实后回电"},
        },
        headers=operator(world),
    )
    assert call.status_code == 201, call.text
    urgent = await world.client.post(
        f"{RESIDENTS}/{duplicate['id']}/urgent-calls",
        json={"reason": "fall", "note": "邻居听见摔倒声"},
        headers=operator(world),
    )
    assert urgent.status_code == 201, urgent.text

    merged = await merge(world, survivor["id"], duplicate["id"])
    assert merged.status_code == 200, merged.text
    result = merged.json()
    assert {k: result[k] for k in result if k.endswith(("_moved", "_ended"))} == {
        "bookings_moved": 2,
        "helper_grants_moved": 0,
        "evidence_moved": 2,
        "entitlement_units_moved": 0,
        "series_moved": 1,
        "waitlist_entries_moved": 1,
        "waitlist_entries_ended": 2,
        "calls_moved": 2,  # the call about the allowance, and the one that opened the urgent call
        "callbacks_moved": 1,
        "urgent_calls_moved": 1,
    }
    # Her card: the longer-holding proof of age, and the duplicate's proof that she lives alone.
    shown = {e["tag"]: (e["evidence_type"], e["expires_on"]) for e in (await card(world, survivor))["eligibility"]}
    assert shown == {
        "age_80_plus": ("household_register", "2031-06-30"),
        "living_alone": ("community_certificate", "2030-03-01"),
    }
    got = await world.client.get(f"{SERIES}/{series.json()['id']}", headers=operator(world))
    assert (got.status_code, got.json()["resident_id"]) == (200, survivor["id"])
    assert await owners(world, booked) == {survivor["id"]}
    # In each line she keeps the earlier place, now hers; the later one has ended.
    async with world.sessionmaker() as session:
        entries = await session.execute(select(WaitlistEntry).where(WaitlistEntry.offering_id == full.offering_id))
        state = {e.id: (str(e.resident_id), e.status) for e in entries.scalars()}
    assert state[uuid.UUID(places[(first, survivor["id"])])] == (survivor["id"], "waiting")
    assert state[uuid.UUID(places[(first, duplicate["id"])])][1] == "left"
    assert state[uuid.UUID(places[(second, duplicate["id"])])] == (survivor["id"], "waiting")
    assert state[uuid.UUID(places[(second, survivor["id"])])] == (survivor["id"], "left")
    # The card's timeline shows the duplicate's call and urgent call; the callback is owed to her.
    timeline = await world.client.get(f"{RESIDENTS}/{survivor['id']}/calls", headers=operator(world))
    assert {(c["reason"], c["note"], (c["outcome"] or {}).get("id")) for c in timeline.json()["items"]} == {
        ("safety", "", urgent.json()["id"]),
        ("entitlement", "问独居补贴", None),
    }
    urgent_calls = await world.client.get(f"{RESIDENTS}/{survivor['id']}/urgent-calls", headers=operator(world))
    assert [(c["id"], c["status"]) for c in urgent_calls.json()["items"]] == [(urgent.json()["id"], "opened")]
    owed = await world.client.get(
        "/api/v1/hotline/callbacks", params={"due_before": world.at(tomorrow, 16).isoformat()}, headers=operator(world)
    )
    assert [c["resident_id"] for c in owed.json()["items"]] == [survivor["id"]]


async def test_two_records_each_with_an_open_urgent_call_are_not_merged(world: Any) -> None:
    survivor, duplicate = await world.resident(), await world.resident()
    for resident in (survivor, duplicate):
        opened = await world.client.post(
            f"{RESIDENTS}/{resident['id']}/urgent-calls",
            json={"reason": "fall", "note": "无人应门"},
            headers=operator(world),
        )
        assert opened.status_code == 201, opened.text
    refused = await merge(world, survivor["id"], duplicate["id"])
    assert (refused.status_code, refused.json()["code"]) == (409, "merge_urgent_call_conflict")
    still = await world.client.get(f"{RESIDENTS}/{duplicate['id']}", headers=operator(world))
    assert still.status_code == 200
