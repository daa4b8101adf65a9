"""Token verification: every service checks the caller's JWT itself (defense in depth)."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Callable, Coroutine
from enum import StrEnum
from typing import Annotated, Any

import httpx
import jwt
from fastapi import Depends, Request
from pydantic import BaseModel, ConfigDict, Field

from service_kit.errors import DependencyUnavailable, Forbidden, Unauthorized
from service_kit.settings import ServiceSettings


class Role(StrEnum):
    resident = "resident"
    operator = "operator"
    provider_admin = "provider_admin"
    provider_staff = "provider_staff"
    official = "official"
    reviewer = "reviewer"
    evaluator = "evaluator"
    admin = "admin"
    # A provider's system calling with an API key, exchanged by the gateway for a token.
    provider_system = "provider_system"


class Principal(BaseModel):
    """Who is calling, as the verified token says."""

    model_config = ConfigDict(frozen=True)

    subject: str
    roles: frozenset[Role]
    name: str | None = None
    provider_id: uuid.UUID | None = None
    resident_id: uuid.UUID | None = None
    scopes: frozenset[str] = Field(default_factory=frozenset)

    def has_any(self, *roles: Role) -> bool:
        return bool(self.roles.intersection(roles))

    @property
    def is_staff(self) -> bool:
        return self.has_any(Role.operator, Role.official, Role.admin)


class TokenVerifier:
    """Verifies EdDSA/ES256 JWTs against a JWKS (from the gateway's URL or a file), refreshed on unknown ``kid``."""

    algorithms = ("EdDSA", "ES256")
    min_refresh_interval = 5.0

    def __init__(self, settings: ServiceSettings) -> None:
        self.settings = settings
        self._keys: dict[str, Any] = {}
        self._fetched_at = 0.0
        self._lock = asyncio.Lock()

    def load_jwks(self, document: dict[str, Any]) -> None:
        keys: dict[str, Any] = {}
        for jwk in document.get("keys", []):
            keys[jwk.get("kid", "")] = jwt.PyJWK.from_dict(jwk).key
        self._keys = keys

    async def _refresh(self) -> None:
        async with self._lock:
            if time.monotonic() - self._fetched_at < self.min_refresh_interval and self._keys:
                return
            if self.settings.jwks_file is not None:
                self.load_jwks(json.loads(self.settings.jwks_file.read_text()))
            elif self.settings.jwks_url:
                try:
                    async with httpx.AsyncClient(timeout=5.0) as client:
                        response = await client.get(self.settings.jwks_url)
                        response.raise_for_status()
                except httpx.HTTPError as exc:
                    raise DependencyUnavailable("The token issuer's keys cannot be fetched.") from exc
                self.load_jwks(response.json())
            self._fetched_at = time.monotonic()

    async def verify(self, token: str) -> Principal:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise Unauthorized("The bearer token is malformed.", code="invalid_token") from exc
        kid = header.get("kid", "")
        if kid not in self._keys:
            await self._refresh()
        key = self._keys.get(kid)
        if key is None:
            raise Unauthorized("The token was signed by an unknown key.", code="invalid_token")
        try:
            claims = jwt.decode(
                token,
                key=key,
                algorithms=list(self.algorithms),
                audience=self.settings.jwt_audience,
                issuer=self.settings.jwt_issuer,
                options={"require": ["exp", "iat", "sub"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise Unauthorized("The token has expired.", code="token_expired") from exc
        except jwt.PyJWTError as exc:
            raise Unauthorized("The token is not valid.", code="invalid_token") from exc
        return principal_from_claims(claims)


def principal_from_claims(claims: dict[str, Any]) -> Principal:
    try:
        return Principal(
            subject=str(claims["sub"]),
            roles=frozenset(Role(r) for r in claims.get("roles", []) if r in Role.__members__),
            name=claims.get("name"),
            provider_id=claims.get("provider_id"),
            resident_id=claims.get("resident_id"),
            scopes=frozenset(str(claims.get("scope", "")).split()),
        )
    except ValueError as exc:
        raise Unauthorized("The token's claims are not valid.", code="invalid_token") from exc


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


async def optional_principal(request: Request) -> Principal | None:
    token = _bearer(request)
    if token is None:
        return None
    verifier: TokenVerifier = request.app.state.token_verifier
    return await verifier.verify(token)


async def current_principal(request: Request) -> Principal:
    principal = await optional_principal(request)
    if principal is None:
        raise Unauthorized("Sign in: this endpoint needs a bearer token.")
    return principal


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]
OptionalPrincipal = Annotated[Principal | None, Depends(optional_principal)]


def require_roles(*roles: Role) -> Callable[..., Coroutine[Any, Any, Principal]]:
    """A dependency admitting only callers holding one of ``roles`` (``admin`` always passes)."""

    async def dependency(principal: CurrentPrincipal) -> Principal:
        if not principal.has_any(*roles, Role.admin):
            raise Forbidden(f"This needs one of the roles: {', '.join(sorted(roles))}.")
        return principal

    return dependency


def RequireRole(*roles: Role) -> Any:
    return Annotated[Principal, Depends(require_roles(*roles))]
