"""Family helpers: a resident authorises a relative's own phone-verified resident account to act for them. The
helper's own token, naming the resident as any request does (``resident_id``), sees and makes the resident's
bookings while the grant is active, and 404 otherwise; every act is on the resident's acting-for trail and on the
booking events as done by the helper."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx

from booking.residents.models import HelperGrant

RESIDENTS = "/api/v1/residents"
BOOKINGS = "/api/v1/bookings"


def new_phone() -> str:
    return f"+86139{uuid.uuid4().int % 10**8:08d}"


async def signed_in_relative(world: Any, name: str = "李红") -> tuple[dict[str, Any], dict[str, str], str]:
    return await world.signed_in_relative(name)  # type: ignore[no-any-return]


async def signed_in_mother(world: Any) -> tuple[dict[str, Any], dict[str, str]]:
    return await world.signed_in_mother()  # type: ignore[no-any-return]


async def grant(world: Any, mother: dict[str, Any], headers: dict[str, str], **body: Any) -> httpx.Response:
    response: httpx.Response = await world.client.post(
        f"{RESIDENTS}/{mother['id']}/helpers", json=body, headers=headers
    )
    return response


def field_error(response: httpx.Response) -> tuple[int, str, str]:
    problem = response.json()
    return response.status_code, problem["code"], problem["errors"][0]["field"]


async def test_a_daughter_books_and_cancels_for_her_mother_while_authorised(world: Any) -> None:
    offering = await world.offering()
    mother, as_mother = await signed_in_mother(world)
    daughter, as_daughter, daughter_phone = await signed_in_relative(world)
    slot = world.at(world.tomorrow(), 10)
    book_for_mother = {
        "offering_id": str(offering.offering_id),
        "slot_start": slot.isoformat(),
        "resident_id": mother["id"],
    }

    # Before any grant the mother does not exist for the daughter.
    refused = await world.client.post(BOOKINGS, json=book_for_mother, headers=as_daughter)
    assert (refused.status_code, refused.json()["code"]) == (404, "resident_not_found")
    listed = await world.client.get(BOOKINGS, params={"resident_id": mother["id"]}, headers=as_daughter)
    assert listed.status_code == 404

    granted = await grant(world, mother, as_mother, helper_phone=daughter_phone, relation="女儿")
    assert granted.status_code == 201, granted.text
    body = granted.json()
    assert (body["helper_resident_id"], body["relation"], body["consent_channel"]) == (daughter["id"], "女儿", "app")
    assert body["helper"]["name"] == "李红"
    assert body["helper"]["phone"] == f"{daughter_phone[3:6]}****{daughter_phone[-4:]}"  # masked for the mother
    [(kind, event)] = [e for e in await world.emitted(mother["id"]) if e[0].startswith("linli.resident.helper")]
    assert kind == "linli.resident.helper_granted.v1"
    assert (event["helper_resident_id"], event["grant_id"]) == (daughter["id"], body["id"])
    # The daughter's app finds whom she helps.
    helping = await world.client.get(f"{RESIDENTS}/{daughter['id']}/helping", headers=as_daughter)
    assert [(g["resident_id"], g["resident"]["name"]) for g in helping.json()] == [(mother["id"], "王秀英")]

    booked = await world.client.post(BOOKINGS, json=book_for_mother, headers=as_daughter)
    assert booked.status_code == 201, booked.text
    booking = booked.json()
    assert (booking["resident_id"], booking["channel"]) == (mother["id"], "app")
    assert booking["booked_by"]["kind"] == "helper"
    assert booking["booked_by"]["helper"]["relation"] == "女儿"
    assert booking["booked_by"]["helper"]["name"] == "李红"
    [created, *_] = await world.emitted(booking["id"])
    assert (created[0], created[1]["helper_resident_id"], created[1]["resident_id"]) == (
        "linli.booking.created.v1",
        daughter["id"],
        mother["id"],
    )

    # The mother sees the booking, and who made it.
    hers = (await world.client.get(BOOKINGS, headers=as_mother)).json()["items"]
    assert [(b["id"], b["booked_by"]["helper"]["name"]) for b in hers] == [(booking["id"], "李红")]
    # The daughter sees it too (her own list stays her own).
    theirs = await world.client.get(BOOKINGS, params={"resident_id": mother["id"]}, headers=as_daughter)
    assert [b["id"] for b in theirs.json()["items"]] == [booking["id"]]
    assert (await world.client.get(BOOKINGS, headers=as_daughter)).json()["items"] == []
    assert (await world.client.get(f"{BOOKINGS}/{booking['id']}", headers=as_daughter)).status_code == 200

    cancelled = await world.client.post(
        f"{BOOKINGS}/{booking['id']}/cancel", json={"reason": "妈妈那天去医院"}, headers=as_daughter
    )
    assert cancelled.status_code == 200, cancelled.text
    assert (await world.emitted(booking["id"]))[-1][1]["helper_resident_id"] == daughter["id"]

    # The mother's trail: each act the daughter did for her, as the daughter's.
    trail = await world.client.get(f"{RESIDENTS}/{mother['id']}/acting-for", headers=world.keys.headers("operator"))
    done = [(r["action"], r["helper_resident_id"]) for r in trail.json()["items"]]
    assert ("book", daughter["id"]) in done
    assert ("cancel", daughter["id"]) in done
    assert all(helper == daughter["id"] for action, helper in done if action in ("book", "cancel", "list_bookings"))

    # The mother revokes: the daughter reaches nothing of hers any more.
    revoked = await world.client.delete(f"{RESIDENTS}/{mother['id']}/helpers/{body['id']}", headers=as_mother)
    assert revoked.status_code == 200, revoked.text
    assert revoked.json()["revoked_reason"] == "resident"
    assert [e[0] for e in await world.emitted(mother["id"]) if e[0].startswith("linli.resident.helper")] == [
        "linli.resident.helper_granted.v1",
        "linli.resident.helper_revoked.v1",
    ]
    later = {**book_for_mother, "slot_start": world.at(world.tomorrow(), 11).isoformat()}
    assert (await world.client.post(BOOKINGS, json=later, headers=as_daughter)).status_code == 404
    assert (
        await world.client.get(BOOKINGS, params={"resident_id": mother["id"]}, headers=as_daughter)
    ).status_code == 404
    assert (await world.client.get(f"{BOOKINGS}/{booking['id']}", headers=as_daughter)).status_code == 404
    again = await world.client.delete(f"{RESIDENTS}/{mother['id']}/helpers/{body['id']}", headers=as_mother)
    assert (again.status_code, again.json()["code"]) == (409, "helper_grant_revoked")


async def test_who_may_be_a_helper_and_who_grants(world: Any) -> None:
    mother, as_mother = await signed_in_mother(world)
    operator = world.keys.headers("operator", name="王芳")
    # A phone no resident account has signed in with: an operator-registered record, or no record at all.
    never_signed_in = new_phone()
    await world.resident(phone=never_signed_in)
    for phone in (never_signed_in, new_phone()):
        refused = await grant(world, mother, as_mother, helper_phone=phone)
        assert field_error(refused) == (422, "helper_not_signed_in", "helper_phone")
    assert field_error(await grant(world, mother, as_mother, helper_phone="12345")) == (
        422,
        "invalid_phone",
        "helper_phone",
    )

    _son, as_son, son_phone = await signed_in_relative(world, "李强")
    # An operator records how the mother consented.
    no_consent = await grant(world, mother, operator, helper_phone=son_phone, relation="儿子")
    assert field_error(no_consent) == (422, "consent_required", "consent_channel")
    by_phone = await grant(world, mother, operator, helper_phone=son_phone, relation="儿子", consent_channel="phone")
    assert by_phone.status_code == 201, by_phone.text
    assert by_phone.json()["helper"]["phone"] == son_phone  # operators see whole numbers
    twice = await grant(world, mother, as_mother, helper_phone=son_phone)
    assert (twice.status_code, twice.json()["code"]) == (409, "helper_already_granted")
    # The mother cannot be her own helper; the son cannot grant for her; a stranger learns nothing.
    own_phone = (await world.client.get(f"{RESIDENTS}/{mother['id']}", headers=operator)).json()["phone"]
    assert field_error(await grant(world, mother, operator, helper_phone=own_phone, consent_channel="phone")) == (
        422,
        "helper_is_self",
        "helper_phone",
    )
    assert (await grant(world, mother, as_son, helper_phone=son_phone)).status_code == 404
    stranger = world.keys.headers("resident", resident_id=uuid.uuid4())
    assert (await world.client.get(f"{RESIDENTS}/{mother['id']}/helpers", headers=stranger)).status_code == 404
    listed = await world.client.get(f"{RESIDENTS}/{mother['id']}/helpers", headers=as_mother)
    assert [(g["helper"]["name"], g["relation"]) for g in listed.json()] == [("李强", "儿子")]

    # The son steps down himself.
    grant_id = by_phone.json()["id"]
    assert (
        await world.client.delete(f"{RESIDENTS}/{mother['id']}/helpers/{grant_id}", headers=stranger)
    ).status_code == 404
    stepped = await world.client.delete(f"{RESIDENTS}/{mother['id']}/helpers/{grant_id}", headers=as_son)
    assert (stepped.status_code, stepped.json()["revoked_reason"]) == (200, "helper")
    assert (await world.client.get(f"{RESIDENTS}/{mother['id']}/helpers", headers=as_mother)).json() == []


async def test_racing_grants_of_one_helper_make_one(world: Any) -> None:
    mother, as_mother = await signed_in_mother(world)
    _, _, phone = await signed_in_relative(world)
    responses = await asyncio.gather(*(grant(world, mother, as_mother, helper_phone=phone) for _ in range(4)))
    assert sorted(r.status_code for r in responses) == [201, 409, 409, 409], [r.text for r in responses]
    async with world.sessionmaker() as session:
        rows = (await session.execute(HelperGrant.__table__.select())).all()
    assert len([r for r in rows if str(r.resident_id) == mother["id"]]) == 1


async def test_an_operators_booking_shows_the_operator(world: Any) -> None:
    offering = await world.offering()
    resident = await world.resident()
    body = world.booking_body(offering, resident, hour=9)
    booked = await world.client.post(BOOKINGS, json=body, headers=world.keys.headers("operator", name="王芳"))
    assert booked.status_code == 201, booked.text
    assert booked.json()["booked_by"] == {"kind": "operator", "name": "王芳", "helper": None}


async def test_erasing_a_resident_ends_the_grants_for_and_by_them(world: Any) -> None:
    mother, as_mother = await signed_in_mother(world)
    daughter, as_daughter, phone = await signed_in_relative(world)
    granted = await grant(world, mother, as_mother, helper_phone=phone, relation="女儿")
    assert granted.status_code == 201
    erased = await world.client.delete(f"{RESIDENTS}/{daughter['id']}", headers=as_daughter)
    assert erased.status_code == 204, erased.text
    listed = await world.client.get(f"{RESIDENTS}/{mother['id']}/helpers", headers=as_mother)
    assert listed.json() == []
    async with world.sessionmaker() as session:
        row = await session.get(HelperGrant, uuid.UUID(granted.json()["id"]))
    assert row is not None
    assert row.revoked_reason == "erased"
    kinds = [e[0] for e in await world.emitted(mother["id"]) if e[0].startswith("linli.resident.helper")]
    assert kinds == ["linli.resident.helper_granted.v1", "linli.resident.helper_revoked.v1"]
