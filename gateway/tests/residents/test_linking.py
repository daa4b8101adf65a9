"""A verified phone is the resident's record: the gateway asks booking at each sign-in and refresh, with a token
only it can sign; only mainland mobile numbers get a code; a signed-in resident proves a new phone."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from gateway.config import GatewaySettings
from gateway.residents import service as residents_service
from gateway.residents.models import OtpChallenge, ResidentIdentity, phone_index
from gateway.residents.sms import FakeSmsSender
from service_kit.auth import GATEWAY_SUBJECT, GatewayScope, Role, TokenVerifier
from service_kit.errors import LinliError

PHONE = "+8613812345678"
OTHER_PHONE = "+8613912345678"


def fake_sms(gateway: FastAPI) -> FakeSmsSender:
    sender: FakeSmsSender = gateway.state.sms_sender
    return sender


def booking(services: dict[str, Any]) -> Any:
    """The booking service's stand-in (gateway/tests/conftest.py): its records and the calls it received."""
    return services["booking"].app.state


async def send_code(client: httpx.AsyncClient, gateway: FastAPI, phone: str = PHONE) -> str:
    response = await client.post("/api/v1/auth/otp", json={"phone": phone})
    assert response.status_code == 202, response.text
    code = fake_sms(gateway).last_code(response.json()["phone"])
    assert code is not None
    return code


async def resident_sign_in(
    client: httpx.AsyncClient, gateway: FastAPI, phone: str = PHONE, **extra: Any
) -> dict[str, Any]:
    code = await send_code(client, gateway, phone)
    response = await client.post("/api/v1/auth/otp/verify", json={"phone": phone, "code": code, **extra})
    assert response.status_code == 200, response.text
    tokens: dict[str, Any] = response.json()
    return tokens


async def identity_of(gateway: FastAPI, phone: str) -> ResidentIdentity:
    async with gateway.state.sessionmaker() as session:
        identity: ResidentIdentity = (
            await session.execute(
                select(ResidentIdentity).where(ResidentIdentity.phone_index == phone_index(session, phone))
            )
        ).scalar_one()
        return identity


async def test_sign_in_names_the_record_booking_has_for_the_phone(
    client: httpx.AsyncClient, gateway: FastAPI, services: dict[str, Any]
) -> None:
    record = uuid.uuid4()  # an operator registered this phone's resident
    booking(services).resident_records[PHONE] = record

    tokens = await resident_sign_in(client, gateway, consent_version="2026-11")
    principal = await gateway.state.token_verifier.verify(tokens["access_token"])
    identity = await identity_of(gateway, PHONE)
    assert principal.resident_id == record
    assert principal.subject == str(identity.id)  # the account stays the identity
    assert principal.roles == {Role.resident}
    assert (principal.phone_number, principal.phone_number_verified) == (PHONE, True)
    assert (identity.resident_id, identity.consent_version) == (record, "2026-11")

    # What booking was asked, and with what: a token of the gateway's own, for this one purpose.
    [call] = booking(services).link_calls
    assert call["phone"] == PHONE
    assert call["account_subject"] == str(identity.id)
    assert call["consent_version"] == "2026-11"
    scheme, _, credential = call["authorization"].partition(" ")
    assert scheme == "Bearer"
    caller = await gateway.state.token_verifier.verify(credential)
    assert caller.subject == GATEWAY_SUBJECT
    assert caller.scopes == {GatewayScope.resident_links.value}
    assert caller.roles == frozenset()


async def test_without_a_record_the_token_carries_the_identity_until_booking_has_one(
    client: httpx.AsyncClient, gateway: FastAPI, services: dict[str, Any]
) -> None:
    tokens = await resident_sign_in(client, gateway)
    before = await gateway.state.token_verifier.verify(tokens["access_token"])
    identity = await identity_of(gateway, PHONE)
    assert before.resident_id == identity.id == uuid.UUID(before.subject)
    assert identity.resident_id is None

    # An operator registers her meanwhile: her next refresh names that record.
    record = uuid.uuid4()
    booking(services).resident_records[PHONE] = record
    refreshed = await client.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert refreshed.status_code == 200, refreshed.text
    after = await gateway.state.token_verifier.verify(refreshed.json()["access_token"])
    assert (after.resident_id, after.subject) == (record, before.subject)
    assert (await identity_of(gateway, PHONE)).resident_id == record

    # The record leaves this phone (erased, or its phone corrected): the next refresh no longer reaches it.
    del booking(services).resident_records[PHONE]
    again = await client.post("/api/v1/auth/refresh", json={"refresh_token": refreshed.json()["refresh_token"]})
    assert again.status_code == 200
    latest = await gateway.state.token_verifier.verify(again.json()["access_token"])
    assert latest.resident_id == identity.id
    assert (await identity_of(gateway, PHONE)).resident_id is None


async def test_one_record_is_linked_to_one_identity(
    client: httpx.AsyncClient, gateway: FastAPI, services: dict[str, Any]
) -> None:
    record = uuid.uuid4()
    booking(services).resident_records[PHONE] = record
    await resident_sign_in(client, gateway, PHONE)
    # The record's phone becomes another (she proved it): that phone's sign-in takes the record over.
    booking(services).resident_records = {OTHER_PHONE: record}
    tokens = await resident_sign_in(client, gateway, OTHER_PHONE)
    assert (await gateway.state.token_verifier.verify(tokens["access_token"])).resident_id == record
    assert (await identity_of(gateway, OTHER_PHONE)).resident_id == record
    assert (await identity_of(gateway, PHONE)).resident_id is None


@pytest.mark.parametrize("failure", ["error", "down"])
async def test_when_booking_cannot_answer_nobody_signs_in_and_nothing_is_spent(
    client: httpx.AsyncClient, gateway: FastAPI, services: dict[str, Any], failure: str
) -> None:
    tokens = await resident_sign_in(client, gateway)
    code = await send_code(client, gateway)
    if failure == "error":
        booking(services).link_status = 500
    else:
        await services["booking"].stop()

    refused = await client.post("/api/v1/auth/otp/verify", json={"phone": PHONE, "code": code})
    assert refused.status_code == 503
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["code"] == "resident_lookup_unavailable"
    assert refused.headers["retry-after"]
    not_refreshed = await client.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert (not_refreshed.status_code, not_refreshed.json()["code"]) == (503, "resident_lookup_unavailable")

    if failure == "error":
        booking(services).link_status = None
    else:
        await services["booking"].start()
    # The same code and the same refresh token work once booking answers again.
    response = await client.post("/api/v1/auth/otp/verify", json={"phone": PHONE, "code": code})
    assert response.status_code == 200, response.text
    refreshed = await client.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert refreshed.status_code == 200, refreshed.text


async def test_a_bad_consent_version_is_refused(client: httpx.AsyncClient, gateway: FastAPI) -> None:
    code = await send_code(client, gateway)
    for bad in ("", "x" * 21, "2026 11", 2026):
        response = await client.post(
            "/api/v1/auth/otp/verify", json={"phone": PHONE, "code": code, "consent_version": bad}
        )
        assert response.status_code == 422, bad
        assert response.json()["errors"][0]["field"] == "consent_version"
    assert (await client.post("/api/v1/auth/otp/verify", json={"phone": PHONE, "code": code})).status_code == 200


@pytest.mark.parametrize(
    "phone",
    [
        "+1 212 555 1234",  # New York
        "+12125551234",
        "010 6552 9999",  # a Beijing landline
        "+86 10 6552 9999",
        "+852 6123 4567",  # a Hong Kong mobile
        "400 810 8888",  # a service number
        "14012345678",  # not a number at all
        "12345",
        "not a phone",
    ],
)
async def test_codes_go_only_to_mainland_mobile_numbers(
    client: httpx.AsyncClient, gateway: FastAPI, phone: str
) -> None:
    response = await client.post("/api/v1/auth/otp", json={"phone": phone})
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["code"] == "not_a_mobile_number"
    assert [error["field"] for error in problem["errors"]] == ["phone"]
    assert problem["detail"].startswith("phone: ")
    assert fake_sms(gateway).messages == []
    verify = await client.post("/api/v1/auth/otp/verify", json={"phone": phone, "code": "123456"})
    assert (verify.status_code, verify.json()["code"]) == (422, "not_a_mobile_number")
    async with gateway.state.sessionmaker() as session:
        assert (await session.execute(select(OtpChallenge))).scalars().all() == []
        assert (await session.execute(select(ResidentIdentity))).scalars().all() == []


async def test_a_signed_in_resident_proves_a_new_phone(
    client: httpx.AsyncClient, gateway: FastAPI, settings: GatewaySettings, create_account: Any, sign_in: Any
) -> None:
    tokens = await resident_sign_in(client, gateway)
    me = {"Authorization": f"Bearer {tokens['access_token']}"}
    principal = await gateway.state.token_verifier.verify(tokens["access_token"])
    code = await send_code(client, gateway, "139 1234 5678")

    # Only with a resident's token, only with the right code, only for a mobile number.
    assert (await client.post("/api/v1/auth/otp/proof", json={"phone": OTHER_PHONE, "code": code})).status_code == 401
    await create_account("admin1", "admin", "operator")
    staff = await sign_in("admin1")
    forbidden = await client.post("/api/v1/auth/otp/proof", json={"phone": OTHER_PHONE, "code": code}, headers=staff)
    assert (forbidden.status_code, forbidden.json()["code"]) == (403, "role_forbidden")
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    bad = await client.post("/api/v1/auth/otp/proof", json={"phone": OTHER_PHONE, "code": wrong}, headers=me)
    assert (bad.status_code, bad.json()["code"]) == (401, "invalid_code")
    landline = await client.post("/api/v1/auth/otp/proof", json={"phone": "010 6552 9999", "code": code}, headers=me)
    assert (landline.status_code, landline.json()["code"]) == (422, "not_a_mobile_number")

    response = await client.post("/api/v1/auth/otp/proof", json={"phone": "139-1234-5678", "code": code}, headers=me)
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    answer = response.json()
    assert (answer["phone"], answer["expires_in"]) == (OTHER_PHONE, 600)
    verifier = TokenVerifier(settings)
    verifier.load_jwks(gateway.state.signing_key.jwks())
    proof = await verifier.verify_phone_proof(answer["phone_proof"])
    assert (proof.subject, proof.phone_number) == (principal.subject, OTHER_PHONE)
    # The proof is no access token, and an access token is no proof.
    with pytest.raises(LinliError):
        await verifier.verify(answer["phone_proof"])
    with pytest.raises(LinliError):
        await verifier.verify_phone_proof(tokens["access_token"])
    # The code is spent, and proving a phone signs nobody in with it.
    again = await client.post("/api/v1/auth/otp/proof", json={"phone": OTHER_PHONE, "code": code}, headers=me)
    assert again.status_code == 401
    async with gateway.state.sessionmaker() as session:
        phones = [i.phone for i in (await session.execute(select(ResidentIdentity))).scalars().all()]
    assert phones == [PHONE]


async def sign_in_resident(client: httpx.AsyncClient, gateway: FastAPI) -> dict[str, Any]:
    return await resident_sign_in(client, gateway)


async def test_two_first_sign_ins_at_once_make_one_identity(gateway: FastAPI) -> None:
    async def first_sign_in() -> uuid.UUID:
        async with gateway.state.sessionmaker() as session, session.begin():
            identity = await residents_service._identity_of(session, PHONE)
            return identity.id

    ids = await asyncio.gather(*(first_sign_in() for _ in range(4)))
    assert len(set(ids)) == 1
    async with gateway.state.sessionmaker() as session:
        assert len((await session.execute(select(ResidentIdentity))).scalars().all()) == 1
