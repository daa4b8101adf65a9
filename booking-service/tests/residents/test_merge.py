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
from booking.residents.models import HelperGrant, Resident
from service_kit.auth import GATEWAY_SUBJECT, GatewayScope

RESIDENTS = "/api/v1/residents"
BOOKINGS = "/api/v1/bookings"
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
