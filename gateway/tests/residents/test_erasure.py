"""Erasure reaches the gateway: when booking answers a forwarded ``DELETE /api/v1/residents/{id}`` with 204, the
gateway forgets the resident's app account (the sealed phone and its index), the codes sent to the phone and the
account's refresh tokens before the answer leaves; what it missed, the reconciliation catches up by asking booking."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import func, select

from gateway.auth.models import RefreshToken
from gateway.residents import erasure
from gateway.residents.linking import ResidentLinker
from gateway.residents.models import OtpChallenge, ResidentIdentity, phone_index

from .test_linking import OTHER_PHONE, PHONE, booking, resident_sign_in

THIRD_PHONE = "+8613712345678"


async def _held(gateway: FastAPI, phone: str) -> dict[str, int]:
    """How many rows of each kind the gateway holds of ``phone``'s resident."""
    async with gateway.state.sessionmaker() as session:
        index = phone_index(session, phone)
        identity = await session.scalar(select(ResidentIdentity.id).where(ResidentIdentity.phone_index == index))
        codes = await session.scalar(select(func.count()).where(OtpChallenge.phone_index == index))
        tokens = await session.scalar(
            select(func.count()).where(RefreshToken.resident_identity_id == identity) if identity else select(0)
        )
        return {"identity": int(identity is not None), "codes": int(codes or 0), "refresh_tokens": int(tokens or 0)}


async def test_a_forwarded_erasure_forgets_the_app_account_before_answering(
    client: httpx.AsyncClient, gateway: FastAPI, services: dict[str, Any]
) -> None:
    record, other = uuid.uuid4(), uuid.uuid4()
    booking(services).resident_records.update({PHONE: record, OTHER_PHONE: other})
    tokens = await resident_sign_in(client, gateway)
    kept = await resident_sign_in(client, gateway, OTHER_PHONE)
    mine = {"Authorization": f"Bearer {tokens['access_token']}"}
    assert await _held(gateway, PHONE) == {"identity": 1, "codes": 1, "refresh_tokens": 1}

    # Booking refuses (an active booking): the gateway forgets nothing.
    booking(services).erase_status = 409
    refused = await client.delete(f"/api/v1/residents/{record}", headers=mine)
    assert (refused.status_code, refused.json()["code"]) == (409, "resident_has_active_bookings")
    assert await _held(gateway, PHONE) == {"identity": 1, "codes": 1, "refresh_tokens": 1}

    booking(services).erase_status = 204
    erased = await client.delete(f"/api/v1/residents/{record}", headers=mine)
    assert erased.status_code == 204, erased.text
    assert await _held(gateway, PHONE) == {"identity": 0, "codes": 0, "refresh_tokens": 0}
    refreshed = await client.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert (refreshed.status_code, refreshed.json()["code"]) == (401, "invalid_refresh_token")
    # Another resident's account is untouched.
    assert await _held(gateway, OTHER_PHONE) == {"identity": 1, "codes": 1, "refresh_tokens": 1}
    again = await client.post("/api/v1/auth/refresh", json={"refresh_token": kept["refresh_token"]})
    assert again.status_code == 200, again.text


async def test_the_reconciliation_forgets_what_the_gateway_did_not_see(
    client: httpx.AsyncClient, gateway: FastAPI, services: dict[str, Any]
) -> None:
    """An erasure made past this replica (it died before forgetting, or the erasure never came through it):
    booking names the erased records among those the accounts name, and the pass forgets them, once."""
    record, other = uuid.uuid4(), uuid.uuid4()
    booking(services).resident_records.update({PHONE: record, OTHER_PHONE: other})
    await resident_sign_in(client, gateway)
    await resident_sign_in(client, gateway, OTHER_PHONE)
    # A resident who registered herself under her account's own id (no record linked yet at sign-in).
    await resident_sign_in(client, gateway, THIRD_PHONE)
    async with gateway.state.sessionmaker() as session:
        own_id = await session.scalar(
            select(ResidentIdentity.id).where(ResidentIdentity.phone_index == phone_index(session, THIRD_PHONE))
        )
    assert own_id is not None
    booking(services).erased_records.update({record, own_id})

    linker = ResidentLinker(gateway.state.upstreams, gateway.state.keyring.current, gateway.state.settings)
    assert await erasure.reconcile(gateway.state.sessionmaker, linker) == 2
    assert await _held(gateway, PHONE) == {"identity": 0, "codes": 0, "refresh_tokens": 0}
    assert await _held(gateway, THIRD_PHONE) == {"identity": 0, "codes": 0, "refresh_tokens": 0}
    assert await _held(gateway, OTHER_PHONE) == {"identity": 1, "codes": 1, "refresh_tokens": 1}
    # Booking was asked, in one call, about every record the accounts name and every account's own id (the
    # record's id too after a self-registration): three accounts, two of them linked to records.
    [asked] = booking(services).erasure_checks
    assert {record, other, own_id} <= set(asked)
    assert len(set(asked)) == 5
    assert await erasure.reconcile(gateway.state.sessionmaker, linker) == 0


def test_only_a_resident_erasure_booking_accepted_counts() -> None:
    resident = uuid.uuid4()
    assert erasure.erased_by("DELETE", f"/api/v1/residents/{resident}", 204) == resident
    assert erasure.erased_by("DELETE", f"/api/v1/residents/{resident}", 404) is None
    assert erasure.erased_by("GET", f"/api/v1/residents/{resident}", 204) is None
    assert erasure.erased_by("DELETE", f"/api/v1/residents/{resident}/helpers/{uuid.uuid4()}", 204) is None
    assert erasure.erased_by("DELETE", "/api/v1/residents/not-an-id", 204) is None
