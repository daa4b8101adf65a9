"""A resident's rights over their data (PIPL): read, correct, export, delete; and registering themself."""

import uuid
from typing import Any

from sqlalchemy import select

from booking.bookings.models import Booking
from booking.residents.models import Resident

RESIDENTS = "/api/v1/residents"
BOOKINGS = "/api/v1/bookings"
ID_NUMBER = "110111193803151237"


def body(**overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "name": "赵玉兰",
        "phone": f"139{uuid.uuid4().int % 10**8:08d}",
        "consent": {"version": "2026-11", "channel": "app"},
    }
    values.update(overrides)
    return values


async def test_the_export_holds_what_operators_recorded_about_the_resident(world: Any) -> None:
    """Calls (with the callback scheduled and the urgent call opened), urgent calls with their escalation, the
    lines they joined and the evidence behind their eligibility: what the hotline recorded about them."""
    offering = await world.offering(capacity_per_slot=1)
    slot = world.at(world.tomorrow(), 9)
    assert (await world.book(offering, await world.resident(), slot)).status_code == 201
    resident = await world.resident(
        emergency_contact={"name": "李红", "phone": "13900001111", "relation": "女儿"}, address="长阳镇天星苑5号楼"
    )
    operator = world.keys.headers("operator", name="话务员 小陈", sub="op-chen")
    url = f"{RESIDENTS}/{resident['id']}"
    due = (world.at(world.tomorrow(), 15)).isoformat()
    call = await world.client.post(
        f"{url}/calls",
        json={
            "reason": "helper_request",
            "note": "女儿代问助浴",
            "caller": {"kind": "helper", "name": "李红", "relation": "女儿"},
            "callback": {"due_at": due, "reason": "告知助浴时间"},
        },
        headers=operator,
    )
    assert call.status_code == 201, call.text
    urgent = await world.client.post(
        f"{url}/urgent-calls", json={"reason": "fall", "note": "在家摔倒"}, headers=operator
    )
    assert urgent.status_code == 201, urgent.text
    evidence = await world.client.put(
        f"{url}/eligibility/living_alone",
        json={"evidence_type": "household_register", "verified_on": world.tomorrow().isoformat()},
        headers=operator,
    )
    assert evidence.status_code == 200, evidence.text
    body = {"offering_id": str(offering.offering_id), "slot_start": slot.isoformat()}
    waiting = await world.client.post(f"{BOOKINGS}/waitlist", json=body, headers=world.resident_headers(resident))
    assert waiting.status_code == 201, waiting.text

    response = await world.client.get(f"{url}/export", headers=world.resident_headers(resident))
    assert response.status_code == 200, response.text
    export = response.json()
    safety, helped = export["calls"]
    assert (helped["note"], helped["caller"]["name"], helped["callback"]["reason"]) == (
        "女儿代问助浴",
        "李红",
        "告知助浴时间",
    )
    assert (safety["reason"], safety["urgent"]["id"]) == ("safety", urgent.json()["id"])
    [opened] = export["urgent_calls"]
    assert (opened["note"], opened["status"], opened["opened_by_name"]) == ("在家摔倒", "opened", "话务员 小陈")
    assert [e["to"] for e in opened["escalations"]] == ["emergency_contact", "community_duty"]
    assert [(w["id"], w["position"]) for w in export["waitlist_entries"]] == [(waiting.json()["id"], 1)]
    assert [(e["tag"], e["evidence_type"], e["verified_by_name"]) for e in export["eligibility"]] == [
        ("living_alone", "household_register", "话务员 小陈")
    ]


async def test_a_resident_corrects_their_own_data_but_not_their_eligibility(world: Any) -> None:
    resident = await world.resident(tags=["living_alone"])
    mine = world.resident_headers(resident)
    url = f"{RESIDENTS}/{resident['id']}"

    response = await world.client.patch(
        url,
        json={
            "name": "赵玉兰 ",
            "id_card_number": ID_NUMBER,
            "address": "房山区拱辰街道",
            "position": {"latitude": 39.73, "longitude": 116.14},
            "emergency_contact": {"name": "赵强", "phone": "13711112222"},
        },
        headers=mine,
    )
    assert response.status_code == 200, response.text
    corrected = response.json()
    assert corrected["name"] == "赵玉兰"
    assert corrected["id_card_number"] == "1101**********1237"
    assert corrected["birth_date"] == "1938-03-15"
    assert corrected["eligibility_tags"] == ["living_alone"]
    assert corrected["emergency_contact"]["relation"] is None
    assert (await world.client.get(url, headers=mine)).json() == corrected

    # Clearing optional fields with null; the birth date stays tied to the ID number.
    cleared = await world.client.patch(url, json={"address": None, "position": None}, headers=mine)
    assert (cleared.json()["address"], cleared.json()["position"]) == (None, None)
    mismatch = await world.client.patch(url, json={"birth_date": "1950-01-01"}, headers=mine)
    assert mismatch.status_code == 422
    assert mismatch.json()["code"] == "birth_date_mismatch"

    forbidden = await world.client.patch(url, json={"eligibility_tags": ["low_income"]}, headers=mine)
    assert forbidden.status_code == 403
    assert forbidden.json()["code"] == "eligibility_by_operator"
    by_operator = await world.client.patch(
        url, json={"eligibility_tags": ["low_income"]}, headers=world.keys.headers("operator")
    )
    assert by_operator.json()["eligibility_tags"] == ["low_income"]

    # Another resident's phone: an operator's correction to it is refused (the resident's own needs a proof of
    # it first, test_identity.py).
    other = await world.resident()
    taken = await world.client.patch(url, json={"phone": other["phone"]}, headers=world.keys.headers("operator"))
    assert taken.status_code == 409
    assert taken.json()["code"] == "phone_taken"
    for bad in ({"name": None}, {"phone": None}, {"role": "admin"}, {"id_card_number": "123"}, [1]):
        response = await world.client.patch(url, json=bad, headers=mine)
        assert response.status_code == 422, bad
    theirs = await world.client.patch(f"{RESIDENTS}/{other['id']}", json={"name": "x"}, headers=mine)
    assert theirs.status_code == 404
    provider = world.keys.headers("provider_admin", provider_id=uuid.uuid4())
    assert (await world.client.patch(url, json={"name": "x"}, headers=provider)).status_code == 404


async def test_a_resident_exports_all_their_data_with_their_bookings(world: Any) -> None:
    offering = await world.offering()
    resident = (
        await world.client.post(
            RESIDENTS, json=body(id_card_number=ID_NUMBER), headers=world.keys.headers("operator", sub="op-9")
        )
    ).json()
    booking = (await world.book(offering, resident, world.at(world.tomorrow(), 10))).json()

    response = await world.client.get(f"{RESIDENTS}/{resident['id']}/export", headers=world.resident_headers(resident))
    assert response.status_code == 200, response.text
    export = response.json()
    assert export["resident"]["id"] == resident["id"]
    assert export["resident"]["phone"] == resident["phone"]
    assert export["id_card_number"] == ID_NUMBER
    assert [b["id"] for b in export["bookings"]] == [booking["id"]]
    assert export["acting_for"][-1]["action"] == "register"
    assert export["exported_at"].endswith("Z")

    stranger = world.keys.headers("resident", resident_id=uuid.uuid4())
    assert (await world.client.get(f"{RESIDENTS}/{resident['id']}/export", headers=stranger)).status_code == 404
    official = world.keys.headers("official")
    assert (await world.client.get(f"{RESIDENTS}/{resident['id']}/export", headers=official)).status_code == 404


async def test_deletion_erases_personal_data_and_keeps_an_anonymized_booking_reference(world: Any) -> None:
    offering = await world.offering()
    operator = world.keys.headers("operator")
    resident = (await world.client.post(RESIDENTS, json=body(id_card_number=ID_NUMBER), headers=operator)).json()
    mine = world.resident_headers(resident)
    booking = (
        await world.client.post(
            BOOKINGS,
            json=world.booking_body(offering, hour=9),
            headers=mine,
        )
    ).json()

    refused = await world.client.delete(f"{RESIDENTS}/{resident['id']}", headers=mine)
    assert refused.status_code == 409
    assert refused.json()["code"] == "resident_has_active_bookings"
    cancelled = await world.client.post(
        f"{BOOKINGS}/{booking['id']}/cancel", json={"reason": "住院了，电话 13912345678"}, headers=mine
    )
    assert cancelled.status_code == 200

    erased = await world.client.delete(f"{RESIDENTS}/{resident['id']}", headers=mine)
    assert erased.status_code == 204, erased.text
    assert (await world.client.get(f"{RESIDENTS}/{resident['id']}", headers=operator)).status_code == 404
    assert (await world.client.delete(f"{RESIDENTS}/{resident['id']}", headers=operator)).status_code == 404
    found = await world.client.get(RESIDENTS, params={"phone": resident["phone"]}, headers=operator)
    assert found.json()["items"] == []

    kept = await world.client.get(f"{BOOKINGS}/{booking['id']}", headers=operator)
    assert kept.status_code == 200
    assert kept.json()["resident_id"] == resident["id"]
    assert kept.json()["resident"] is None
    assert kept.json()["status_reason"] is None
    async with world.sessionmaker() as session:
        row = await session.scalar(select(Resident).where(Resident.id == uuid.UUID(resident["id"])))
        assert row is not None
        assert row.erased_at is not None
        personal = (row.phone, row.id_card_encrypted, row.id_card_index, row.id_card_masked, row.birth_date)
        assert personal == (None, None, None, None, None)
        assert row.name != "赵玉兰"
        stored_booking = await session.scalar(select(Booking).where(Booking.id == uuid.UUID(booking["id"])))
        assert stored_booking is not None
        assert stored_booking.booked_by == stored_booking.status_actor == "resident:erased"

    # The phone number and ID number are free for a new registration.
    again = await world.client.post(
        RESIDENTS, json=body(phone=resident["phone"], id_card_number=ID_NUMBER), headers=operator
    )
    assert again.status_code == 201
    # A booking for the erased resident is refused.
    late = await world.book(offering, resident, world.at(world.tomorrow(), 11))
    assert late.status_code == 404


def signed_in(phone: str, **claims: Any) -> dict[str, Any]:
    """The claims of a token of a phone-code sign-in at the gateway: the phone, verified."""
    return {"phone_number": phone, "phone_number_verified": True, **claims}


async def test_a_resident_registers_themself_and_is_linked_by_their_account(world: Any) -> None:
    offering = await world.offering()
    own = body()
    own_phone = "+86" + own["phone"]
    account = world.keys.headers("resident", sub="app-user-42", **signed_in(own_phone))
    # Before registering there is nothing to book for.
    nothing = await world.client.post(
        BOOKINGS,
        json=world.booking_body(offering, hour=9),
        headers=account,
    )
    assert nothing.status_code == 403

    tagged = await world.client.post(RESIDENTS, json={**own, "eligibility_tags": ["low_income"]}, headers=account)
    assert tagged.status_code == 403
    assert tagged.json()["code"] == "eligibility_by_operator"
    response = await world.client.post(RESIDENTS, json=own, headers=account)
    assert response.status_code == 201, response.text
    me = response.json()
    assert me["phone"] == own_phone

    # A fresh token of the same account (no resident_id claim yet) acts as this resident.
    later = world.keys.headers("resident", sub="app-user-42", **signed_in(own_phone))
    assert (await world.client.get(f"{RESIDENTS}/{me['id']}", headers=later)).status_code == 200
    booked = await world.client.post(
        BOOKINGS,
        json=world.booking_body(offering, hour=9),
        headers=later,
    )
    assert booked.status_code == 201, booked.text
    assert booked.json()["resident_id"] == me["id"]
    assert booked.json()["channel"] == "app"

    twice = await world.client.post(RESIDENTS, json=own, headers=later)
    assert twice.status_code == 409
    assert twice.json()["code"] == "already_registered"
    linked = world.keys.headers("resident", sub="another", resident_id=me["id"], **signed_in(own_phone))
    assert (await world.client.post(RESIDENTS, json=own, headers=linked)).status_code == 409
    stranger = world.keys.headers("resident", sub="app-user-43")
    assert (await world.client.get(f"{RESIDENTS}/{me['id']}", headers=stranger)).status_code == 404


async def test_resident_signed_in_by_phone_code_registers_under_their_gateway_identity(world: Any) -> None:
    # The gateway's phone-code sign-in issues tokens whose sub and resident_id are the resident's identity.
    identity = uuid.uuid4()
    own = body()
    token = world.keys.headers("resident", sub=str(identity), resident_id=identity, **signed_in(own["phone"]))
    response = await world.client.post(RESIDENTS, json=own, headers=token)
    assert response.status_code == 201, response.text
    assert response.json()["id"] == str(identity)
    assert (await world.client.get(f"{RESIDENTS}/{identity}", headers=token)).status_code == 200
    again = await world.client.post(RESIDENTS, json=own, headers=token)
    assert (again.status_code, again.json()["code"]) == (409, "already_registered")
