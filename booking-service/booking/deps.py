"""Dependencies the booking's endpoints share: its settings, the personal-data protector, the caller."""

from typing import Annotated, cast

from fastapi import Depends, Request

from booking.config import Settings
from booking.residents import service as residents_service
from booking.residents.protection import Protector
from service_kit.auth import CurrentPrincipal, Principal, TokenVerifier
from service_kit.db import SessionDep


def get_settings(request: Request) -> Settings:
    return cast(Settings, request.app.state.runtime.settings)


def get_protector(request: Request) -> Protector:
    protector: Protector | None = getattr(request.app.state, "protector", None)
    if protector is None:
        protector = Protector.from_secret(get_settings(request).data_key)
        request.app.state.protector = protector
    return protector


async def get_caller(principal: CurrentPrincipal, session: SessionDep) -> Principal:
    """The verified caller; a resident whose token carries no ``resident_id`` is matched to the record linked to
    their account (by the token's ``sub``), and one whose record has since moved to another phone is refused
    (``residents.service.with_own_resident``)."""
    return await residents_service.with_own_resident(session, principal)


def get_token_verifier(request: Request) -> TokenVerifier:
    verifier: TokenVerifier = request.app.state.token_verifier
    return verifier


SettingsDep = Annotated[Settings, Depends(get_settings)]
ProtectorDep = Annotated[Protector, Depends(get_protector)]
Caller = Annotated[Principal, Depends(get_caller)]
TokenVerifierDep = Annotated[TokenVerifier, Depends(get_token_verifier)]
