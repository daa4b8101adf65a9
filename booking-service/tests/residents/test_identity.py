"""One person, one resident record. A phone verified at the gateway is the proof: the gateway's sign-in links the
app account to the record an operator registered with that phone; a resident registers themself only with their
verified phone, changes it only to one they have just proved; no path makes a second record for a phone or an ID
number, however requests race."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
from sqlalchemy import func, select

from booking.residents.models import Resident, ResidentLink
from service_kit.auth import GATEWAY_SUBJECT, GatewayScope, phone_proof_audience

RESIDENTS = "/api/v1/residents"
BOOKINGS = "/api/v1/bookings"
LINKS = "/internal/v1/resident-links"
ID_NUMBER = "110111193803151237"


def new_phone() -> str:
    return f"+86139{uuid.uuid4().int % 10**8:08d}"


def gateway_headers(world: Any) -> dict[str, str]:
    """The gateway's own token for asking booking which record a verified phone is."""
    return world.keys.headers(sub=GATEWAY_SUBJECT, scope=GatewayScope.resident_links.value)


def app_account(world: Any, phone: str, *, sub: str | None = None, resident_id: Any = None) -> dict[str, str]:
    """A resident's token from the gateway's phone-code sign-in: the account, its record (or its own id while
    there is none) and the phone, verified."""
    sub = sub or str(uuid.uuid4())
    return world.keys.headers(
        "resident",
        sub=sub,
        resident_id=resident_id or sub,
        phone_number=phone,
        phone_number_verified=True,
    )


def proof(world: Any, sub: str, phone: str, **claims: Any) -> str:
    """The gateway's proof that ``sub`` has just verified ``phone`` (POST /api/v1/auth/otp/proof)."""
    token: str = world.keys.token(
        sub=sub, aud=phone_proof_audience("linli"), phone_number=phone, phone_number_verified=True, **claims
    )
    return token


def self_registration(phone: str, **overrides: Any) -> dict[str, Any]:
    return {"name": "孙晓雯", "phone": phone, "consent": {"version": "2026-11", "channel": "app"}, **overrides}


async def link(world: Any, phone: str, subject: str, consent_version: str | None = None) -> httpx.Response:
    body = {"phone": phone, "account_subject": subject, "consent_version": consent_version}
    response: httpx.Response = await world.client.post(LINKS, json=body, headers=gateway_headers(world))
    return response


async def count(world: Any, model: Any, *where: Any) -> int:
    async with world.sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


async def links(world: Any, resident_id: str) -> list[ResidentLink]:
    async with world.sessionmaker() as session:
        rows = await session.execute(
            select(ResidentLink).where(ResidentLink.resident_id == uuid.UUID(resident_id)).order_by(ResidentLink.at)
        )
        return list(rows.scalars().all())


# ------------------------------------------------------------------ signing in to a record an operator registered


async def test_a_sign_in_reaches_the_record_and_bookings_an_operator_made(world: Any) -> None:
    offering = await world.offering()
    phone = new_phone()
    resident = await world.resident(phone=phone, tags=["age_80_plus"])
    booking = (await world.book(offering, resident, world.at(world.tomorrow(), 10))).json()

    # The gateway, at her sign-in by phone code: this phone is the record, now linked to her app account.
    account = str(uuid.uuid4())
    response = await link(world, phone, account)
    assert response.status_code == 200, response.text
    assert response.json() == {"resident_id": resident["id"]}

    # Her tokens from then on name the record: she sees her profile and the booking the operator made.
    mine = app_account(world, phone, sub=account, resident_id=resident["id"])
    profile = await world.client.get(f"{RESIDENTS}/{resident['id']}", headers=mine)
    assert profile.status_code == 200
    assert (profile.json()["name"], profile.json()["phone"]) == ("王秀英", phone)
    listed = await world.client.get(BOOKINGS, headers=mine)
    assert [b["id"] for b in listed.json()["items"]] == [booking["id"]]

    # The link is on the record's trail with the consent it rests on: the app reported none at this sign-in,
    # so it is the registration's (given by phone to the operator), which stays as it was.
    [first] = await links(world, resident["id"])
    assert (first.account_subject, first.how) == (account, "phone_sign_in")
    assert (first.consent_version, first.consent_source) == ("2026-11", "registration")
    assert profile.json()["consent"] == resident["consent"]
    # Signing in again changes nothing; a privacy notice accepted in the app is recorded once, as the app's.
    assert (await link(world, phone, account)).status_code == 200
    assert (await link(world, phone, account, "2027-01")).status_code == 200
    assert (await link(world, phone, account, "2027-01")).status_code == 200
    trail = await links(world, resident["id"])
    assert [(r.consent_version, r.consent_source) for r in trail] == [("2026-11", "registration"), ("2027-01", "app")]
    export = (await world.client.get(f"{RESIDENTS}/{resident['id']}/export", headers=mine)).json()
    assert [(r["how"], r["consent_source"]) for r in export["account_links"]] == [
        ("phone_sign_in", "app"),
        ("phone_sign_in", "registration"),
    ]
    assert (await world.client.get(f"{RESIDENTS}/{resident['id']}", headers=mine)).json()["consent"]["channel"] == (
        "phone"
    )

    # A self-registration of hers now would be a second record: refused, and nothing changes.
    again = await world.client.post(RESIDENTS, json=self_registration(phone), headers=app_account(world, phone))
    assert (again.status_code, again.json()["code"]) == (409, "already_registered")
    assert await count(world, Resident, Resident.name == "孙晓雯") == 0


async def test_only_the_gateway_asks_which_record_a_phone_is(world: Any) -> None:
    phone = new_phone()
    await world.resident(phone=phone)
    body = {"phone": phone, "account_subject": "someone"}
    assert (await world.client.post(LINKS, json=body)).status_code == 401
    for headers in (
        world.keys.headers("admin"),
        world.keys.headers("operator"),
        app_account(world, phone),
        world.keys.headers(sub="another-service", scope=GatewayScope.resident_links.value),
        world.keys.headers(sub=GATEWAY_SUBJECT, scope="bookings:read"),
    ):
        response = await world.client.post(LINKS, json=body, headers=headers)
        assert (response.status_code, response.json()["code"]) == (403, "gateway_only")
    nobody = await link(world, new_phone(), "someone")
    assert (nobody.status_code, nobody.json()["code"]) == (404, "no_resident_for_phone")
    for bad in ({"phone": "hello", "account_subject": "x"}, {"phone": phone}, {**body, "extra": 1}):
        assert (await world.client.post(LINKS, json=bad, headers=gateway_headers(world))).status_code == 422


async def test_registered_in_the_app_then_phoning_the_call_center_finds_the_same_record(world: Any) -> None:
    phone = new_phone()
    identity = str(uuid.uuid4())
    registered = await world.client.post(
        RESIDENTS, json=self_registration(phone), headers=app_account(world, phone, sub=identity)
    )
    assert registered.status_code == 201, registered.text
    me = registered.json()
    assert me["id"] == identity

    operator = world.keys.headers("operator")
    found = await world.client.get(RESIDENTS, params={"phone": phone[3:]}, headers=operator)
    assert [r["id"] for r in found.json()["items"]] == [identity]
    # The operator cannot register her a second time; her next sign-in is the same record.
    twice = await world.client.post(
        RESIDENTS,
        json={**self_registration(phone), "consent": {"version": "2026-11", "channel": "phone"}},
        headers=operator,
    )
    assert (twice.status_code, twice.json()["code"]) == (409, "phone_taken")
    assert (await link(world, phone, identity)).json() == {"resident_id": identity}
    [only] = await links(world, identity)
    assert (only.how, only.consent_source, only.consent_version) == ("self_registration", "app", "2026-11")


async def test_after_erasing_their_record_a_resident_registers_again(world: Any) -> None:
    phone = new_phone()
    identity = str(uuid.uuid4())
    account = app_account(world, phone, sub=identity)
    first = await world.client.post(RESIDENTS, json=self_registration(phone), headers=account)
    assert first.json()["id"] == identity
    assert (await world.client.delete(f"{RESIDENTS}/{identity}", headers=account)).status_code == 204
    assert (await link(world, phone, identity)).status_code == 404  # the erased record has no phone any more
    # The erased row keeps the identity's id as an anonymized reference: the new record takes another one.
    again = await world.client.post(RESIDENTS, json=self_registration(phone), headers=account)
    assert again.status_code == 201, again.text
    assert again.json()["id"] != identity
    assert (await link(world, phone, identity)).json() == {"resident_id": again.json()["id"]}


# ------------------------------------------------------------------ registering themself: the verified phone only


async def test_a_resident_registers_themself_only_with_their_verified_phone(world: Any) -> None:
    mine, someone_elses = new_phone(), new_phone()
    account = app_account(world, mine)
    cases = [
        (account, self_registration(someone_elses), 403, "phone_not_verified"),
        (world.keys.headers("resident", sub="no-phone"), self_registration(mine), 403, "phone_not_verified"),
        (
            world.keys.headers("resident", sub="unverified", phone_number=mine, phone_number_verified=False),
            self_registration(mine),
            403,
            "phone_not_verified",
        ),
        (
            account,
            self_registration(mine, consent={"version": "2026-11", "channel": "phone"}),
            422,
            "consent_channel_not_app",
        ),
    ]
    for headers, payload, status, code in cases:
        response = await world.client.post(RESIDENTS, json=payload, headers=headers)
        assert (response.status_code, response.json()["code"]) == (status, code), response.text
        assert response.headers["content-type"] == "application/problem+json"
    channel = await world.client.post(
        RESIDENTS, json=self_registration(mine, consent={"version": "2026-11", "channel": "paper"}), headers=account
    )
    assert [e["field"] for e in channel.json()["errors"]] == ["consent.channel"]
    assert await count(world, Resident) == 0

    # The operator's caller lookup by the other phone finds no squatter.
    lookup = await world.client.get(RESIDENTS, params={"phone": someone_elses}, headers=world.keys.headers("operator"))
    assert lookup.json()["items"] == []
    assert (await world.client.post(RESIDENTS, json=self_registration(mine), headers=account)).status_code == 201


# ------------------------------------------------------------------ changing the phone: only to a proved one


async def test_a_resident_changes_their_phone_only_to_one_they_just_verified(world: Any) -> None:
    phone, new = new_phone(), new_phone()
    resident = await world.resident(phone=phone)
    account = str(uuid.uuid4())
    assert (await link(world, phone, account)).status_code == 200
    mine = app_account(world, phone, sub=account, resident_id=resident["id"])
    url = f"{RESIDENTS}/{resident['id']}"
    taken = (await world.resident())["phone"]
    expired = proof(world, account, new, exp=int(world.at(world.tomorrow(), 0).timestamp()) - 3 * 86400)
    refusals = [
        ({"phone": new}, 403, "phone_not_verified"),
        ({"phone": new, "phone_proof": proof(world, account, new_phone())}, 403, "phone_not_verified"),
        ({"phone": new, "phone_proof": proof(world, "someone-else", new)}, 403, "phone_proof_invalid"),
        ({"phone": new, "phone_proof": expired}, 403, "phone_proof_invalid"),
        ({"phone": new, "phone_proof": "not-a-proof"}, 403, "phone_proof_invalid"),
        # An access token is no proof, even one naming the phone as verified.
        ({"phone": new, "phone_proof": mine["Authorization"].split()[1]}, 403, "phone_proof_invalid"),
        ({"phone": taken, "phone_proof": proof(world, account, taken)}, 409, "phone_taken"),
        ({"phone": new, "phone_proof": ""}, 422, "validation_error"),
    ]
    for payload, status, code in refusals:
        response = await world.client.patch(url, json={**payload, "name": "改了名"}, headers=mine)
        assert (response.status_code, response.json()["code"]) == (status, code), payload
    # Nothing changed: not the phone, not the name sent with it; the lookup by the new phone finds nobody.
    unchanged = (await world.client.get(url, headers=mine)).json()
    assert (unchanged["phone"], unchanged["name"]) == (phone, "王秀英")
    operator = world.keys.headers("operator")
    assert (await world.client.get(RESIDENTS, params={"phone": new}, headers=operator)).json()["items"] == []
    # The same phone in another form is no change, and needs no proof.
    same = await world.client.patch(url, json={"phone": phone[3:]}, headers=mine)
    assert (same.status_code, same.json()["phone"]) == (200, phone)

    changed = await world.client.patch(
        url, json={"phone": new, "phone_proof": proof(world, account, new)}, headers=mine
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["phone"] == new
    assert [
        r["id"] for r in (await world.client.get(RESIDENTS, params={"phone": new}, headers=operator)).json()["items"]
    ] == [resident["id"]]
    # The app account was linked through the old phone: its tokens stop here, and she signs in with the new one.
    outdated = await world.client.get(url, headers=mine)
    assert (outdated.status_code, outdated.json()["code"]) == (401, "resident_token_outdated")
    assert (await link(world, phone, account)).status_code == 404
    assert (await link(world, new, account)).json() == {"resident_id": resident["id"]}
    assert (
        await world.client.get(url, headers=app_account(world, new, sub=account, resident_id=resident["id"]))
    ).status_code == 200


async def test_an_operators_correction_of_a_wrong_number_cuts_off_its_sign_in(world: Any) -> None:
    offering = await world.offering()
    wrong, right = new_phone(), new_phone()
    resident = await world.resident(phone=wrong)  # the operator mistyped her number
    await world.book(offering, resident, world.at(world.tomorrow(), 9))
    stranger = str(uuid.uuid4())  # whose number it really is: signing in with it reaches her record
    assert (await link(world, wrong, stranger)).status_code == 200
    theirs = app_account(world, wrong, sub=stranger, resident_id=resident["id"])
    assert (await world.client.get(BOOKINGS, headers=theirs)).json()["total"] == 1

    operator = world.keys.headers("operator")
    corrected = await world.client.patch(f"{RESIDENTS}/{resident['id']}", json={"phone": right}, headers=operator)
    assert corrected.status_code == 200  # an operator checks a number on the phone, no proof needed
    for path in (f"{RESIDENTS}/{resident['id']}", BOOKINGS):
        refused = await world.client.get(path, headers=theirs)
        assert (refused.status_code, refused.json()["code"]) == (401, "resident_token_outdated")
    # A token without a resident_id from that account no longer finds the record through the old link either.
    unlinked = world.keys.headers("resident", sub=stranger, phone_number=wrong, phone_number_verified=True)
    assert (await world.client.get(f"{RESIDENTS}/{resident['id']}", headers=unlinked)).status_code == 404
    assert (await link(world, wrong, stranger)).status_code == 404
    # The stranger may now register themself with their own number: another person, another record.
    own = app_account(world, wrong, sub=stranger)
    assert (await world.client.post(RESIDENTS, json=self_registration(wrong), headers=own)).status_code == 201


# ------------------------------------------------------------------ races: one phone, one ID number, one record


async def test_racing_first_registrations_of_one_phone_make_one_record(world: Any) -> None:
    phone = new_phone()
    identity = str(uuid.uuid4())
    account = app_account(world, phone, sub=identity)
    operator = world.keys.headers("operator")
    by_operator = {**self_registration(phone), "consent": {"version": "2026-11", "channel": "phone"}}
    responses = await asyncio.gather(
        *(world.client.post(RESIDENTS, json=self_registration(phone), headers=account) for _ in range(4)),
        *(world.client.post(RESIDENTS, json=by_operator, headers=operator) for _ in range(2)),
    )
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201] + [409] * 5, [r.text for r in responses]
    assert {r.json()["code"] for r in responses if r.status_code == 409} <= {"already_registered", "phone_taken"}
    assert await count(world, Resident, Resident.phone_index == world.phone_index(phone)) == 1
    # Sign-ins racing each other link it once.
    answers = await asyncio.gather(*(link(world, phone, identity) for _ in range(4)))
    assert {r.status_code for r in answers} == {200}
    [resident] = [r.json() for r in responses if r.status_code == 201]
    # Whoever registered it, the account is linked once (by its self-registration, or by the first sign-in).
    assert len(await links(world, resident["id"])) == 1


async def test_racing_registrations_of_one_id_number_make_one_record(world: Any) -> None:
    operator = world.keys.headers("operator")
    bodies = [
        {
            "name": "赵玉兰",
            "phone": new_phone(),
            "id_card_number": ID_NUMBER,
            "consent": {"version": "2026-11", "channel": "phone"},
        }
        for _ in range(4)
    ]
    phone = new_phone()
    bodies.append({**self_registration(phone), "id_card_number": ID_NUMBER})
    responses = await asyncio.gather(
        *(world.client.post(RESIDENTS, json=b, headers=operator) for b in bodies[:4]),
        world.client.post(RESIDENTS, json=bodies[4], headers=app_account(world, phone)),
    )
    assert sorted(r.status_code for r in responses) == [201] + [409] * 4, [r.text for r in responses]
    assert {r.json()["code"] for r in responses if r.status_code == 409} == {"id_card_taken"}
    assert await count(world, Resident, Resident.id_card_index.is_not(None)) == 1
