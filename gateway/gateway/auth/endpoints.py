import uuid

from fastapi import APIRouter, Response

from gateway.accounts import repository as accounts_repository
from gateway.accounts import service as accounts_service
from gateway.auth import service
from gateway.auth.schemas import JWKS, Me, TokenRequest, TokenResponse
from gateway.deps import SettingsDep, SigningKeyDep
from service_kit.auth import CurrentPrincipal
from service_kit.db import SessionDep
from service_kit.errors import error_responses

router = APIRouter(tags=["auth"])


@router.get("/.well-known/jwks.json", response_model=JWKS, summary="The issuer's public keys")
async def get_jwks(key: SigningKeyDep, response: Response) -> JWKS:
    response.headers["Cache-Control"] = "public, max-age=300"
    return JWKS.model_validate(key.jwks())


@router.post(
    "/api/v1/auth/token",
    response_model=TokenResponse,
    responses=error_responses(401, 422),
    summary="Sign in with a username and password",
)
async def create_token(
    body: TokenRequest, session: SessionDep, key: SigningKeyDep, settings: SettingsDep, response: Response
) -> TokenResponse:
    account = await accounts_service.authenticate(session, body.username, body.password)
    response.headers["Cache-Control"] = "no-store"
    return service.issue_token(account, key=key, settings=settings)


@router.get("/api/v1/auth/me", response_model=Me, responses=error_responses(401), summary="Who the token says I am")
async def get_me(principal: CurrentPrincipal, session: SessionDep) -> Me:
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
    )
