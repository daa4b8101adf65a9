"""Dependencies the booking's endpoints share: its settings, the personal-data protector, the caller."""

from typing import Annotated, cast

from fastapi import Depends, Request

from booking.config import Settings
from booking.residents import service as residents_service
from booking.residents.protection import Protector
from service_kit.auth import CurrentPrincipal, Principal
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
    """The verified caller; a resident whose token carries no ``resident_id`` is matched to the resident they
    registered themself as (by the token's ``sub``)."""
    return await residents_service.with_own_resident(session, principal)


SettingsDep = Annotated[Settings, Depends(get_settings)]
ProtectorDep = Annotated[Protector, Depends(get_protector)]
Caller = Annotated[Principal, Depends(get_caller)]
