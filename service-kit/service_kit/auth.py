"""Token verification: every service checks the caller's JWT itself (defense in depth)."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import httpx
import jwt
from fastapi import Depends, Request
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

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
    # Reads every procurement record and the audit trail, changes nothing (the district's audit office).
    auditor = "auditor"
    admin = "admin"
    # A provider's system calling with an API key, exchanged by the gateway for a token.
    provider_system = "provider_system"
    # An application integrating through Open311 GeoReport v2 (the district's 12345 hotline system, a community
    # app), calling with an ``open311`` API key an admin issued to it: it files service requests and nothing else.
    open311_client = "open311_client"


# Machine clients: the roles the gateway gives the tokens it makes from API keys, never a person's account.
MACHINE_ROLES = frozenset({Role.provider_system, Role.open311_client})


class ApiKeyScope(StrEnum):
    """What an API key may do; the gateway's policy table (gateway/policy.py) names the scope each route needs, and
    the services check again which provider's objects the key's token reaches (``Principal.system_of``)."""

    # a provider's system
    bookings_read = "bookings:read"
    bookings_write = "bookings:write"
    offerings_write = "offerings:write"
    contracts_read = "contracts:read"  # its own contracts: terms, versions, history
    deliverables_read = "deliverables:read"  # what was delivered under its own contracts
    webhooks_manage = "webhooks:manage"  # register, change, rotate, delete its webhook endpoints; redeliver
    # an Open311 application: files GeoReport service requests (``open311`` keys have this scope and no other)
    open311_requests = "open311:requests"


PROVIDER_KEY_SCOPES = frozenset(scope for scope in ApiKeyScope if scope != ApiKeyScope.open311_requests)


# The gateway calling a service on its own behalf (it is the edge: it may call services, nothing calls it back):
# a short-lived token it signs with this subject and a scope of ``GatewayScope``.
GATEWAY_SUBJECT = "linli-gateway"
# Scopes only the built-in issuer's tokens (the gateway's keys) keep: a token of any other issuer loses them, and
# the gateway gives none to an account or an API key.
GATEWAY_SCOPE_PREFIX = "gateway:"


class GatewayScope(StrEnum):
    # booking: the resident record of a phone the gateway has just verified (sign-in by phone code), linked to
    # the app account that verified it
    resident_links = "gateway:resident-links"
    # any service with read-mostly answers: which of them changed (service_kit.readmostly), for the gateway's copies
    read_mostly = "gateway:read-mostly"


def phone_proof_audience(audience: str) -> str:
    """The audience of the gateway's proof that a caller verified a phone number (not an access token: a
    service refuses it as a bearer token, and only reads it where a phone is being changed)."""
    return f"{audience}:phone-proof"


@dataclass(frozen=True)
class PhoneProof:
    """A phone number the holder of ``subject``'s token has just verified with a one-time code."""

    subject: str
    phone_number: str


class Principal(BaseModel):
    """Who is calling, as the verified token says."""

    model_config = ConfigDict(frozen=True)

    subject: str
    roles: frozenset[Role]
    name: str | None = None
    provider_id: uuid.UUID | None = None
    resident_id: uuid.UUID | None = None
    scopes: frozenset[str] = Field(default_factory=frozenset)
    # OpenID Connect's standard claims: the phone the token's holder signed in with, and whether the issuer
    # verified it (the gateway's phone-code sign-in does).
    phone_number: str | None = Field(default=None, max_length=32)
    phone_number_verified: bool = False
    # A street-scoped official's street (the registry's street code): they see and act only on its needs,
    # calls and contracts. None: district-wide.
    street_code: str | None = Field(default=None, min_length=1, max_length=40)

    @property
    def verified_phone(self) -> str | None:
        """The phone number the issuer verified the holder has, as the token gives it; None when none."""
        return self.phone_number if self.phone_number_verified and self.phone_number else None

    def has_any(self, *roles: Role) -> bool:
        return bool(self.roles.intersection(roles))

    @property
    def is_staff(self) -> bool:
        return self.has_any(Role.operator, Role.official, Role.admin)

    def system_of(self, provider_id: uuid.UUID | None, *scopes: str) -> bool:
        """A provider's own system (an API key the gateway exchanged for this token) holding one of ``scopes``."""
        return (
            self.has_any(Role.provider_system)
            and provider_id is not None
            and self.provider_id == provider_id
            and bool(self.scopes.intersection(scopes))
        )


# Asymmetric signatures only: a shared-secret (HS*) or unsigned token is never accepted from any issuer.
ASYMMETRIC_ALGORITHMS = frozenset(
    {"EdDSA", "ES256", "ES384", "ES512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512"}
)


class TrustedIssuer(BaseModel):
    """An issuer whose tokens are accepted, where its keys are, and how its claims map onto a Principal.

    Claim names may be dotted paths into nested objects (``realm_access.roles``); a claim name that exists as
    is (``https://linli.example/roles``) wins over the path. ``role_map`` names the provider's roles that count
    and the Linli role each becomes (``{"linli-operator": "operator"}``): with a map, a role it does not name is
    ignored, even one spelled like a Linli role (a provider's own ``admin`` is not Linli's); without one, the
    provider's role names are Linli's. Names that are no Linli role are ignored."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    issuer: str = Field(min_length=1)
    audience: str = "linli"
    jwks_url: str = ""
    jwks_file: Path | None = None
    algorithms: tuple[str, ...] = ("RS256", "ES256", "EdDSA")
    subject_claim: str = "sub"
    roles_claim: str = "roles"
    role_map: dict[str, str] = Field(default_factory=dict)
    provider_id_claim: str = "provider_id"
    resident_id_claim: str = "resident_id"
    name_claim: str = "name"
    scope_claim: str = "scope"
    phone_number_claim: str = "phone_number"
    phone_number_verified_claim: str = "phone_number_verified"
    street_claim: str = "street_code"

    @field_validator("algorithms")
    @classmethod
    def _asymmetric(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value or not set(value) <= ASYMMETRIC_ALGORITHMS:
            raise ValueError(f"algorithms must be among {sorted(ASYMMETRIC_ALGORITHMS)}")
        return value

    @model_validator(mode="after")
    def _has_keys(self) -> TrustedIssuer:
        if not self.jwks_url and self.jwks_file is None:
            raise ValueError(f"the issuer {self.issuer!r} needs a jwks_url or a jwks_file")
        return self

    def claim(self, claims: dict[str, Any], name: str) -> Any:
        if name in claims:
            return claims[name]
        value: Any = claims
        for part in name.split("."):
            if not isinstance(value, dict):
                return None
            value = value.get(part)
        return value


_LINLI_CLAIMS = TrustedIssuer.model_construct(issuer="linli-gateway")


class OidcSettings(BaseSettings):
    """External OpenID Connect issuers (a district SSO, say) trusted beside the gateway's own, or instead of it.

    ``LINLI_OIDC_ISSUERS`` is a JSON list of :class:`TrustedIssuer`; ``LINLI_OIDC_TRUST_BUILTIN=false`` stops
    trusting the gateway's tokens (every caller then signs in at the external provider)."""

    model_config = SettingsConfigDict(env_prefix="LINLI_OIDC_", extra="ignore")

    issuers: list[TrustedIssuer] = Field(default_factory=list)
    trust_builtin: bool = True


@dataclass
class _IssuerKeys:
    trusted: TrustedIssuer
    keys: dict[str, Any] = field(default_factory=dict)
    fetched_at: float = 0.0
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


class TokenVerifier:
    """Verifies JWTs from every trusted issuer: the gateway's own (EdDSA/ES256, keys from ``jwks_url`` or
    ``jwks_file``) and the external ones of :class:`OidcSettings`.

    Keys are cached per issuer and fetched again only when a token names an unknown ``kid`` (at most every
    ``min_refresh_interval`` seconds). A verified token is remembered until it expires, so a caller's next
    requests cost a dictionary lookup; the memory is emptied whenever an issuer's keys change."""

    min_refresh_interval = 5.0
    max_remembered_tokens = 10_000

    def __init__(self, settings: ServiceSettings, oidc: OidcSettings | None = None) -> None:
        self.settings = settings
        oidc = oidc if oidc is not None else OidcSettings()
        # The gateway's own: its claims are Linli's names; its keys may also come only through load_jwks.
        self.builtin = TrustedIssuer.model_construct(
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
            jwks_url=settings.jwks_url,
            jwks_file=settings.jwks_file,
            algorithms=("EdDSA", "ES256"),
        )
        self._issuers: dict[str, _IssuerKeys] = {}
        if oidc.trust_builtin:
            self._issuers[self.builtin.issuer] = _IssuerKeys(self.builtin)
        for trusted in oidc.issuers:
            self._issuers[trusted.issuer] = _IssuerKeys(trusted)
        self._verified: dict[str, tuple[Principal, float]] = {}

    @property
    def trusted_issuers(self) -> tuple[str, ...]:
        return tuple(self._issuers)

    @property
    def _fetched_at(self) -> float:
        """When the built-in issuer's keys were last fetched (``time.monotonic()``); tests age it."""
        entry = self._issuers.get(self.builtin.issuer)
        return entry.fetched_at if entry else 0.0

    @_fetched_at.setter
    def _fetched_at(self, value: float) -> None:
        if entry := self._issuers.get(self.builtin.issuer):
            entry.fetched_at = value

    @staticmethod
    def _parse_jwks(document: dict[str, Any]) -> dict[str, Any]:
        keys: dict[str, Any] = {}
        for jwk in document.get("keys", []):
            if not isinstance(jwk, dict) or jwk.get("use", "sig") != "sig":
                continue
            try:
                keys[str(jwk.get("kid", ""))] = jwt.PyJWK.from_dict(jwk).key
            except jwt.PyJWTError:
                continue  # a key type this verifier cannot use; the issuer's other keys still count
        return keys

    def load_jwks(self, document: dict[str, Any]) -> None:
        """Trust these keys for the built-in issuer (the gateway's)."""
        self.load_issuer_jwks(self.builtin.issuer, document)

    def load_issuer_jwks(self, issuer: str, document: dict[str, Any]) -> None:
        entry = self._issuers.get(issuer)
        if entry is None:
            return
        entry.keys = self._parse_jwks(document)
        self._verified.clear()  # a withdrawn key must stop its tokens at once

    async def _fetch(self, trusted: TrustedIssuer) -> dict[str, Any]:
        if trusted.jwks_file is not None:
            document = json.loads(await asyncio.to_thread(trusted.jwks_file.read_text))
        else:
            try:
                async with httpx.AsyncClient(timeout=5.0) as client:
                    response = await client.get(trusted.jwks_url)
                    response.raise_for_status()
                    document = response.json()
            except (httpx.HTTPError, ValueError) as exc:
                raise DependencyUnavailable("The token issuer's keys cannot be fetched.") from exc
        if not isinstance(document, dict):
            raise DependencyUnavailable("The token issuer's keys are not a JWKS document.")
        return document

    async def _refresh(self, entry: _IssuerKeys) -> None:
        async with entry.lock:
            if time.monotonic() - entry.fetched_at < self.min_refresh_interval and entry.keys:
                return
            if not entry.trusted.jwks_url and entry.trusted.jwks_file is None:
                return  # keys come only through load_jwks (the gateway's own)
            document = await self._fetch(entry.trusted)
            if entry.trusted is self.builtin:
                self.load_jwks(document)  # subclasses add keys of their own here
            else:
                self.load_issuer_jwks(entry.trusted.issuer, document)
            entry.fetched_at = time.monotonic()

    def _remember(self, token: str, principal: Principal, expires_at: float) -> None:
        if len(self._verified) >= self.max_remembered_tokens:
            now = time.time()
            self._verified = {t: v for t, v in self._verified.items() if v[1] > now}
            if len(self._verified) >= self.max_remembered_tokens:
                self._verified.clear()
        self._verified[token] = (principal, expires_at)

    async def verify(self, token: str) -> Principal:
        remembered = self._verified.get(token)
        if remembered is not None:
            if time.time() < remembered[1]:
                return remembered[0]
            del self._verified[token]
        claims, trusted = await self._claims(token)
        principal = principal_from_claims(claims, trusted, own=trusted is self.builtin)
        self._remember(token, principal, float(claims["exp"]))
        return principal

    async def verify_phone_proof(self, token: str) -> PhoneProof:
        """The phone a caller proved at the gateway (``POST /api/v1/auth/otp/proof``): a token of the built-in
        issuer for :func:`phone_proof_audience`, naming the caller's ``sub`` and the verified phone."""
        claims, _ = await self._claims(token, audience=phone_proof_audience(self.builtin.audience))
        phone, subject = claims.get("phone_number"), claims.get("sub")
        if claims.get("phone_number_verified") is not True or not isinstance(phone, str) or not phone:
            raise Unauthorized("The phone proof names no verified phone.", code="invalid_token")
        return PhoneProof(subject=str(subject), phone_number=phone)

    async def _claims(self, token: str, *, audience: str | None = None) -> tuple[dict[str, Any], TrustedIssuer]:
        """The verified claims of ``token`` and its issuer. With ``audience``, only the built-in issuer's token
        for that audience passes (the gateway's proofs); without, any trusted issuer's access token."""
        try:
            header = jwt.get_unverified_header(token)
            unverified = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError as exc:
            raise Unauthorized("The bearer token is malformed.", code="invalid_token") from exc
        entry = self._issuers.get(str(unverified.get("iss", "")))
        if entry is None or (audience is not None and entry.trusted is not self.builtin):
            raise Unauthorized("The token's issuer is not trusted here.", code="invalid_token")
        trusted = entry.trusted
        kid = str(header.get("kid", ""))
        if kid not in entry.keys:
            await self._refresh(entry)
        key = entry.keys.get(kid)
        if key is None and not header.get("kid") and len(entry.keys) == 1:
            key = next(iter(entry.keys.values()))  # an issuer with one key may leave ``kid`` out
        if key is None:
            raise Unauthorized("The token was signed by an unknown key.", code="invalid_token")
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key=key,
                algorithms=list(trusted.algorithms),
                audience=audience or trusted.audience,
                issuer=trusted.issuer,
                options={"require": ["exp", "iat", "sub"] if trusted is self.builtin else ["exp", "iss", "aud"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise Unauthorized("The token has expired.", code="token_expired") from exc
        except jwt.PyJWTError as exc:
            raise Unauthorized("The token is not valid.", code="invalid_token") from exc
        return claims, trusted


def _roles(value: Any, role_map: dict[str, str]) -> frozenset[Role]:
    names = value.replace(",", " ").split() if isinstance(value, str) else value
    if not isinstance(names, list | tuple):
        return frozenset()
    mapped = (role_map.get(str(name)) if role_map else str(name) for name in names)
    return frozenset(Role(name) for name in mapped if name is not None and name in Role.__members__)


def _phone_claims(claims: dict[str, Any], mapping: TrustedIssuer) -> dict[str, Any]:
    phone = mapping.claim(claims, mapping.phone_number_claim)
    if not isinstance(phone, str) or not phone.strip():
        return {}
    # OpenID Connect's phone_number_verified is a JSON boolean; anything else is not a verification.
    return {
        "phone_number": phone.strip(),
        "phone_number_verified": mapping.claim(claims, mapping.phone_number_verified_claim) is True,
    }


def principal_from_claims(
    claims: dict[str, Any], issuer: TrustedIssuer | None = None, *, own: bool | None = None
) -> Principal:
    """The caller the claims describe, read through the issuer's claim mapping (the gateway's by default).

    ``own``: the claims come from the built-in issuer (the gateway's keys); default: when no issuer is given.
    Only then do the gateway's own scopes (``GATEWAY_SCOPE_PREFIX``) count."""
    mapping = issuer or _LINLI_CLAIMS
    own = issuer is None if own is None else own
    subject = mapping.claim(claims, mapping.subject_claim)
    if subject is None or str(subject) == "":
        raise Unauthorized("The token names no subject.", code="invalid_token")
    scopes = frozenset(str(mapping.claim(claims, mapping.scope_claim) or "").split())
    if not own:
        scopes = frozenset(scope for scope in scopes if not scope.startswith(GATEWAY_SCOPE_PREFIX))
    try:
        return Principal(
            subject=str(subject),
            roles=_roles(mapping.claim(claims, mapping.roles_claim) or [], mapping.role_map),
            name=mapping.claim(claims, mapping.name_claim),
            provider_id=mapping.claim(claims, mapping.provider_id_claim),
            resident_id=mapping.claim(claims, mapping.resident_id_claim),
            scopes=scopes,
            street_code=mapping.claim(claims, mapping.street_claim),
            **_phone_claims(claims, mapping),
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


def require_gateway(scope: GatewayScope) -> Callable[..., Coroutine[Any, Any, Principal]]:
    """A dependency admitting only the gateway itself, calling with a token it signed for ``scope`` (no admin:
    nobody else holds a gateway scope, since other issuers' tokens lose them)."""

    async def dependency(principal: CurrentPrincipal) -> Principal:
        if principal.subject != GATEWAY_SUBJECT or scope.value not in principal.scopes:
            raise Forbidden("Only the gateway calls this.", code="gateway_only")
        return principal

    return dependency


def RequireRole(*roles: Role) -> Any:
    return Annotated[Principal, Depends(require_roles(*roles))]
