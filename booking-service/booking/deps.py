"""Dependencies the booking's endpoints share: its settings, the personal-data keyring, the caller."""

from typing import Annotated

from fastapi import Depends, Request

from booking.config import Settings
from booking.residents import service as residents_service
from service_kit.auth import CurrentPrincipal, Principal, TokenVerifier
from service_kit.db import SessionDep
from service_kit.protection import Keyring
from service_kit.settings import settings_dependency

get_settings = settings_dependency(Settings)


async def get_keyring(request: Request) -> Keyring:
    """The keyring personal data is sealed with (the one the service's sessions carry)."""
    keyring: Keyring = request.app.state.runtime.keyring
    return keyring


async def get_caller(principal: CurrentPrincipal, session: SessionDep) -> Principal:
    """The verified caller; a resident whose token carries no ``resident_id`` is matched to the record linked to
    their account (by the token's ``sub``), and one whose record has since moved to another phone is refused
    (``residents.service.with_own_resident``)."""
    return await residents_service.with_own_resident(session, principal)


async def get_token_verifier(request: Request) -> TokenVerifier:
    verifier: TokenVerifier = request.app.state.token_verifier
    return verifier


SettingsDep = Annotated[Settings, Depends(get_settings)]
KeyringDep = Annotated[Keyring, Depends(get_keyring)]
Caller = Annotated[Principal, Depends(get_caller)]
TokenVerifierDep = Annotated[TokenVerifier, Depends(get_token_verifier)]
