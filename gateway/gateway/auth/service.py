"""Issuing tokens: a short-lived access JWT with the claims every Linli service reads, and a refresh token.

Refresh tokens are opaque random strings; only their SHA-256 is stored. Each use rotates the token (the
old one is spent, a new one of the same family is returned). A spent token presented again means two
parties hold it — one of them a thief — so the whole family is revoked and both must sign in again."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import datetime, timedelta
from typing import Any, Protocol

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.accounts import repository as accounts
from gateway.accounts.models import Account
from gateway.auth import repository
from gateway.auth.keys import SigningKey
from gateway.auth.models import RefreshToken
from gateway.auth.schemas import TokenResponse
from gateway.config import GatewaySettings
from gateway.residents import repository as residents
from gateway.residents.models import ResidentIdentity
from service_kit.auth import Role
from service_kit.db import commit_then_raise
from service_kit.errors import Unauthorized
from service_kit.timeutil import utcnow

log = structlog.get_logger("linli.gateway.auth")

Holder = Account | ResidentIdentity
INVALID_REFRESH = "The refresh token is not valid; sign in again."


def _claims_of(holder: Holder) -> dict[str, Any]:
    if isinstance(holder, ResidentIdentity):
        # The account is the identity (sub); the resident is its booking record, or the identity's own id while
        # there is none. The phone it proved goes along (OpenID Connect's claims) for the services to check.
        return {
            "sub": str(holder.id),
            "roles": [Role.resident.value],
            "resident_id": str(holder.token_resident_id),
            "phone_number": holder.phone,
            "phone_number_verified": True,
        }
    claims: dict[str, Any] = {"sub": str(holder.id), "roles": list(holder.roles)}
    if holder.name:
        claims["name"] = holder.name
    if holder.provider_id is not None:
        claims["provider_id"] = str(holder.provider_id)
    if holder.resident_id is not None:
        claims["resident_id"] = str(holder.resident_id)
    if holder.street_code:
        claims["street_code"] = holder.street_code
    return claims


def access_token(holder: Holder, *, key: SigningKey, settings: GatewaySettings, now: datetime) -> str:
    claims: dict[str, Any] = {
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "iat": int(now.timestamp()),
        "exp": int((now + timedelta(seconds=settings.access_token_ttl_seconds)).timestamp()),
        "jti": str(uuid.uuid4()),
        **_claims_of(holder),
    }
    return key.sign(claims)


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def issue_tokens(
    session: AsyncSession,
    holder: Holder,
    *,
    key: SigningKey,
    settings: GatewaySettings,
    family_id: uuid.UUID | None = None,
) -> TokenResponse:
    """An access token and a new refresh token (a new family at sign-in, the same family on refresh)."""
    now = utcnow()
    refresh = secrets.token_urlsafe(32)
    await repository.add(
        session,
        RefreshToken(
            token_hash=_hash(refresh),
            family_id=family_id or uuid.uuid4(),
            account_id=holder.id if isinstance(holder, Account) else None,
            resident_identity_id=holder.id if isinstance(holder, ResidentIdentity) else None,
            created_at=now,
            expires_at=now + timedelta(seconds=settings.refresh_token_ttl_seconds),
        ),
    )
    return TokenResponse(
        access_token=access_token(holder, key=key, settings=settings, now=now),
        expires_in=settings.access_token_ttl_seconds,
        refresh_token=refresh,
        refresh_expires_in=settings.refresh_token_ttl_seconds,
    )


class ResidentRelinker(Protocol):
    async def link(self, session: AsyncSession, identity: ResidentIdentity, *, request_id: str | None = None) -> None:
        """Bring the identity's resident record up to date (gateway/residents/linking.py)."""


async def refresh(
    session: AsyncSession,
    token: str,
    *,
    key: SigningKey,
    settings: GatewaySettings,
    linker: ResidentRelinker | None = None,
    request_id: str | None = None,
) -> TokenResponse:
    """Spend ``token`` and return fresh tokens, with the holder's current roles (a resident's current record,
    asked of booking through ``linker``); refuse a spent token and revoke its family (committed before the
    refusal)."""
    now = utcnow()
    row = await repository.by_hash(session, _hash(token))
    if row is None or row.revoked_at is not None or row.expires_at <= now:
        raise Unauthorized(INVALID_REFRESH, code="invalid_refresh_token")
    if not await repository.spend(session, row.id, now):
        await repository.revoke_family(session, row.family_id, now)
        log.warning("refresh token reused: family revoked", family_id=str(row.family_id))
        await commit_then_raise(session, Unauthorized(INVALID_REFRESH, code="refresh_token_reused"))
    holder: Holder | None = None
    if row.account_id is not None:
        holder = await accounts.get(session, row.account_id)
    elif row.resident_identity_id is not None:
        holder = await residents.get_identity(session, row.resident_identity_id)
    if holder is None or not holder.active:
        raise Unauthorized(INVALID_REFRESH, code="invalid_refresh_token")
    if isinstance(holder, ResidentIdentity) and linker is not None:
        await linker.link(session, holder, request_id=request_id)
    return await issue_tokens(session, holder, key=key, settings=settings, family_id=row.family_id)


async def logout(session: AsyncSession, token: str) -> None:
    """Revoke the family of ``token`` (every refresh token of that sign-in); an unknown token is ignored."""
    row = await repository.by_hash(session, _hash(token))
    if row is not None:
        await repository.revoke_family(session, row.family_id, utcnow())
