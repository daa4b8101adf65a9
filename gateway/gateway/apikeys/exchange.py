"""At the edge, ``Authorization: ApiKey <key>`` or ``X-API-Key: <key>`` becomes a short-lived bearer token of
role ``provider_system`` with the key's provider and scopes; the services verify it as any other token. An
``open311`` key (an Open311 application's, sent as GeoReport's ``api_key``) becomes a token of role
``open311_client``, subject ``open311-app:<key id>``, named after the application, with the scope
``open311:requests`` and no provider: what it files records that subject as its filer.

A minted token is kept in memory for ``api_key_cache_seconds``, so a busy system costs one database read
(which also records the key's last use) per key and period, not one per request. A revoked key therefore
stops working at once on the replica that revoked it, and within that period on the others."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway.apikeys import service
from gateway.apikeys.schemas import KeyKind
from gateway.auth.keys import SigningKey
from gateway.config import GatewaySettings
from service_kit.auth import Role
from service_kit.errors import Unauthorized
from service_kit.timeutil import utcnow

MAX_CACHED_KEYS = 10_000
# The subject of an Open311 application's tokens, before its key's id: the filer recorded on what it files.
OPEN311_SUBJECT_PREFIX = "open311-app:"


def presented_api_key(authorization: str, x_api_key: str | None) -> str | None:
    """The key of ``Authorization: ApiKey <key>`` or ``X-API-Key``; None when there is none. A header that names
    a key but holds none gives ``""``: a bad key (401 ``invalid_api_key``), not an anonymous caller."""
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() == "apikey":
        return value.strip()
    return x_api_key


@dataclass(frozen=True)
class Exchanged:
    key_id: uuid.UUID
    token: str
    scopes: frozenset[str]
    fresh_until: float


class ApiKeyExchange:
    def __init__(self, settings: GatewaySettings, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self.settings = settings
        self.sessionmaker = sessionmaker
        self._cache: dict[str, Exchanged] = {}

    async def exchange(self, key: str, signing_key: SigningKey) -> Exchanged:
        digest = service.hash_key(key)
        cached = self._cache.get(digest)
        if cached is not None and cached.fresh_until > time.monotonic():
            return cached
        now = utcnow()
        async with self.sessionmaker() as session, session.begin():
            row = await service.authenticate(session, key, now=now)
            if row is None:
                self._cache.pop(digest, None)
                raise Unauthorized("The API key is not valid.", code="invalid_api_key")
            kind = KeyKind(row.kind)
            claims: dict[str, Any] = {
                "iss": self.settings.jwt_issuer,
                "aud": self.settings.jwt_audience,
                "sub": f"{OPEN311_SUBJECT_PREFIX if kind == KeyKind.open311 else 'api-key:'}{row.id}",
                "iat": int(now.timestamp()),
                "exp": int((now + timedelta(seconds=self.settings.api_key_token_ttl_seconds)).timestamp()),
                "jti": str(uuid.uuid4()),
                "roles": [(Role.open311_client if kind == KeyKind.open311 else Role.provider_system).value],
                "scope": " ".join(row.scopes),
                "name": row.name,
            }
            if row.provider_id is not None:
                claims["provider_id"] = str(row.provider_id)
            exchanged = Exchanged(
                key_id=row.id,
                token=signing_key.sign(claims),
                scopes=frozenset(row.scopes),
                fresh_until=time.monotonic() + self.settings.api_key_cache_seconds,
            )
        if len(self._cache) >= MAX_CACHED_KEYS:
            self._cache.clear()
        self._cache[digest] = exchanged
        return exchanged

    def forget(self, key_id: uuid.UUID) -> None:
        """Drop a revoked key's token from this replica's memory."""
        for digest in [d for d, exchanged in self._cache.items() if exchanged.key_id == key_id]:
            self._cache.pop(digest, None)
