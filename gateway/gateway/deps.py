"""Dependency aliases of the gateway's own endpoints."""

from typing import Annotated

from fastapi import Depends, Request

from gateway.auth.keys import Keyring, SigningKey
from gateway.config import GatewaySettings
from gateway.residents.linking import ResidentLinker
from gateway.residents.sms import SmsSender
from service_kit.auth import CurrentPrincipal, Principal, Role, require_roles
from service_kit.errors import Forbidden
from service_kit.settings import settings_dependency

get_settings = settings_dependency(GatewaySettings)


async def get_signing_key(request: Request) -> SigningKey:
    keyring: Keyring = request.app.state.keyring
    return keyring.current


async def get_sms_sender(request: Request) -> SmsSender:
    sender: SmsSender = request.app.state.sms_sender
    return sender


async def get_resident_linker(request: Request) -> ResidentLinker:
    return ResidentLinker(request.app.state.upstreams, await get_signing_key(request), await get_settings(request))


async def resident_principal(principal: CurrentPrincipal) -> Principal:
    """A resident, and only a resident (not even an admin): what only a resident's own app does."""
    if Role.resident not in principal.roles:
        raise Forbidden("Only a resident signed in by phone does this.", code="role_forbidden")
    return principal


SmsSenderDep = Annotated[SmsSender, Depends(get_sms_sender)]
ResidentLinkerDep = Annotated[ResidentLinker, Depends(get_resident_linker)]
ResidentPrincipal = Annotated[Principal, Depends(resident_principal)]
SettingsDep = Annotated[GatewaySettings, Depends(get_settings)]
SigningKeyDep = Annotated[SigningKey, Depends(get_signing_key)]
AdminPrincipal = Annotated[Principal, Depends(require_roles(Role.admin))]
