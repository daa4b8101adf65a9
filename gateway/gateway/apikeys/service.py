"""API keys: ``linli_<prefix>_<secret>``. The prefix finds the row, the SHA-256 of the whole key proves it
(the secret is 256 random bits, so a fast hash is enough). A provider_admin manages their provider's keys; an
admin any provider's, and the ``open311`` keys of the applications that file GeoReport service requests
(docs/api-keys.md)."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from gateway.apikeys import repository
from gateway.apikeys.models import ApiKey
from gateway.apikeys.schemas import ApiKeyCreate, KeyKind
from service_kit.auth import Principal, Role
from service_kit.errors import Forbidden, NotFound, ValidationFailed
from service_kit.pagination import Pagination
from service_kit.timeutil import utcnow

KEY_PATTERN = re.compile(r"^linli_([0-9a-f]{12})_[A-Za-z0-9_-]{43}$")


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _provider_of(principal: Principal, requested: uuid.UUID | None) -> uuid.UUID:
    """The provider whose keys ``principal`` acts on: an admin names it, a provider_admin has their own."""
    if principal.has_any(Role.admin):
        if requested is None:
            raise ValidationFailed("provider_id: an admin must name the provider.", code="provider_required")
        return requested
    if principal.provider_id is None or (requested is not None and requested != principal.provider_id):
        raise NotFound("No such provider.", code="provider_not_found")
    return principal.provider_id


async def create(session: AsyncSession, data: ApiKeyCreate, *, by: Principal) -> tuple[ApiKey, str]:
    prefix = secrets.token_hex(6)
    key = f"linli_{prefix}_{secrets.token_urlsafe(32)}"
    if data.kind == KeyKind.open311 and not by.has_any(Role.admin):
        raise Forbidden("Only an admin issues keys to Open311 applications.", code="role_forbidden")
    row = ApiKey(
        kind=data.kind.value,
        provider_id=None if data.kind == KeyKind.open311 else _provider_of(by, data.provider_id),
        name=data.name,
        prefix=prefix,
        key_hash=hash_key(key),
        scopes=[str(scope) for scope in data.scopes or ()],  # the model filled in an open311 key's one scope
        created_by=by.subject[:120],
    )
    return await repository.add(session, row), key


async def list_keys(
    session: AsyncSession,
    *,
    by: Principal,
    provider_id: uuid.UUID | None,
    page: Pagination,
    kind: KeyKind | None = None,
) -> tuple[Sequence[ApiKey], int]:
    # An admin who names no provider sees every provider's keys.
    of = _provider_of(by, provider_id) if not by.has_any(Role.admin) or provider_id is not None else None
    return await repository.page(
        session, kind=None if kind is None else kind.value, provider_id=of, limit=page.limit, offset=page.offset
    )


async def revoke(session: AsyncSession, key_id: uuid.UUID, *, by: Principal) -> None:
    """Revoke a key of the caller's provider (any provider for an admin); revoking twice is harmless."""
    row = await repository.get(session, key_id)
    own = row is not None and row.provider_id is not None and row.provider_id == by.provider_id
    if row is None or not (by.has_any(Role.admin) or own):
        raise NotFound("No such API key.", code="api_key_not_found")
    if row.revoked_at is None:
        row.revoked_at = utcnow()


async def authenticate(session: AsyncSession, key: str, *, now: datetime) -> ApiKey | None:
    """The live key ``key`` is, with its last use recorded; None for anything else."""
    match = KEY_PATTERN.match(key)
    if match is None:
        return None
    row = await repository.by_prefix(session, match.group(1))
    if row is None or row.revoked_at is not None or not hmac.compare_digest(row.key_hash, hash_key(key)):
        return None
    await repository.record_use(session, row.id, now)
    return row
