import asyncio
import uuid

import structlog
from fastapi import Request, Response

from gateway.accounts import repository as accounts_repository
from gateway.accounts import service as accounts_service
from gateway.apikeys.exchange import presented_api_key
from gateway.auth import keys, rotation, service
from gateway.auth.keys import Keyring
from gateway.auth.schemas import JWKS, Me, RefreshRequest, SigningKeys, TokenRequest, TokenResponse
from gateway.clock import Now
from gateway.deps import AdminPrincipal, ResidentLinkerDep, SettingsDep, SigningKeyDep, SmsSenderDep
from gateway.ratelimit import PasswordSignInLimit, RefreshLimit, SignInKind, limit_target
from service_kit.auth import OptionalPrincipal
from service_kit.db import SessionDep
from service_kit.edge import request_id
from service_kit.errors import Conflict, Unauthorized, error_responses
from service_kit.routing import service_router
from service_kit.timeutil import utcnow

router = service_router(tags=["auth"])
log = structlog.get_logger("linli.gateway.auth")


@router.get("/.well-known/jwks.json", response_model=JWKS, summary="The issuer's public keys")
async def get_jwks(request: Request, settings: SettingsDep, response: Response) -> JWKS:
    response.headers["Cache-Control"] = "public, max-age=300"
    keyring: Keyring = request.app.state.keyring
    return JWKS.model_validate(keyring.jwks(utcnow(), settings.retired_key_lifetime))


@router.post(
    "/api/v1/auth/keys/rotate",
    response_model=SigningKeys,
    responses=error_responses(401, 403, 409),
    summary="Sign with a new key from now on; the old one stays published until its tokens expire (admin)",
    description=(
        "409 `signing_key_read_only` where the key is mounted read-only (a Kubernetes secret): there it is "
        "rotated by replacing the secret and restarting the gateway (docs/deploy.md)."
    ),
)
async def rotate_signing_key(request: Request, settings: SettingsDep, _admin: AdminPrincipal) -> SigningKeys:
    now = utcnow()
    try:
        keyring = await asyncio.to_thread(
            keys.rotate, settings.signing_key_path, now=now, keep_for=settings.retired_key_lifetime
        )
    except OSError as exc:
        log.warning("signing key not rotated", error=repr(exc))
        raise Conflict(
            "The signing key cannot be changed here (its folder is read-only, as a mounted secret is): replace the "
            "secret and restart the gateway instead.",
            code="signing_key_read_only",
        ) from exc
    rotation.install_keyring(request.app, keyring)
    log.warning("signing key rotated", current=keyring.current.kid)
    return SigningKeys.of(keyring, now, settings.retired_key_lifetime)


@router.post(
    "/api/v1/auth/token",
    response_model=TokenResponse,
    responses=error_responses(401, 422, 429),
    summary="Sign in with a username and password",
    description=(
        "Wrong passwords are counted per account, from whatever address: after a few, the next attempt must wait "
        "(429 `sign_in_delayed` with `Retry-After`); after more, the account is locked for a while (429 "
        "`account_locked` with `Retry-After`, the right password included) and its owner is told by SMS when it "
        "has a phone. An admin ends a lockout with `DELETE /api/v1/accounts/{account_id}/lockout`."
    ),
)
async def create_token(
    _limit: PasswordSignInLimit,
    request: Request,
    body: TokenRequest,
    session: SessionDep,
    key: SigningKeyDep,
    settings: SettingsDep,
    sender: SmsSenderDep,
    now: Now,
    response: Response,
) -> TokenResponse:
    await limit_target(request, SignInKind.password, body.username.strip().lower())
    account = await accounts_service.authenticate(
        session, body.username, body.password, settings=settings, sender=sender, now=now
    )
    response.headers["Cache-Control"] = "no-store"
    return await service.issue_tokens(session, account, key=key, settings=settings)


@router.post(
    "/api/v1/auth/refresh",
    response_model=TokenResponse,
    responses=error_responses(401, 422, 429, 503),
    summary="Exchange a refresh token for new tokens (the old one is spent; reusing it signs everyone out)",
    description=(
        "A resident's new tokens name their current resident record, asked of the booking service; when it "
        "cannot answer: 503 `resident_lookup_unavailable` with `Retry-After`, and the refresh token is not spent."
    ),
)
async def refresh_token(
    _limit: RefreshLimit,
    body: RefreshRequest,
    session: SessionDep,
    key: SigningKeyDep,
    settings: SettingsDep,
    linker: ResidentLinkerDep,
    response: Response,
) -> TokenResponse:
    response.headers["Cache-Control"] = "no-store"
    return await service.refresh(
        session, body.refresh_token, key=key, settings=settings, linker=linker, request_id=request_id()
    )


@router.post(
    "/api/v1/auth/logout",
    status_code=204,
    responses=error_responses(422),
    summary="Sign out: revoke this refresh token and every one issued after it",
)
async def logout(body: RefreshRequest, session: SessionDep) -> Response:
    await service.logout(session, body.refresh_token)
    return Response(status_code=204)


@router.get(
    "/api/v1/auth/me",
    response_model=Me,
    responses=error_responses(401),
    summary="Who I am: the token's holder, or the API key's provider and scopes",
    description=(
        "With a bearer token: its subject, roles and account. With an API key (`X-API-Key` or "
        "`Authorization: ApiKey <key>`): role `provider_system`, the key's provider, its name and its scopes, so a "
        "provider's system can check its key before it calls anything; 401 `invalid_api_key` for a key that is "
        "unknown or revoked."
    ),
)
async def get_me(request: Request, principal: OptionalPrincipal, session: SessionDep) -> Me:
    key = presented_api_key(request.headers.get("authorization", ""), request.headers.get("x-api-key"))
    if principal is None and key is not None:
        exchanged = await request.app.state.api_keys.exchange(key, request.app.state.keyring.current)
        holder = await request.app.state.token_verifier.verify(exchanged.token)
        return Me(
            subject=holder.subject,
            username=None,
            roles=sorted(holder.roles),
            name=holder.name,
            provider_id=holder.provider_id,
            resident_id=None,
            scopes=sorted(exchanged.scopes),
        )
    if principal is None:
        raise Unauthorized("Sign in, or present an API key.")
    username = None
    try:
        account = await accounts_repository.get(session, uuid.UUID(principal.subject))
    except ValueError:  # a subject from an external issuer, not one of our accounts
        account = None
    if account is not None:
        username = account.username
    return Me(
        subject=principal.subject,
        username=username,
        roles=sorted(principal.roles),
        name=principal.name,
        provider_id=principal.provider_id,
        resident_id=principal.resident_id,
        street_code=principal.street_code,
    )
