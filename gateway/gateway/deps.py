"""Dependency aliases of the gateway's own endpoints."""

from typing import Annotated

from fastapi import Depends, Request

from gateway.auth.keys import SigningKey
from gateway.config import GatewaySettings
from service_kit.auth import Principal, Role, require_roles


def get_settings(request: Request) -> GatewaySettings:
    settings: GatewaySettings = request.app.state.settings
    return settings


def get_signing_key(request: Request) -> SigningKey:
    key: SigningKey = request.app.state.signing_key
    return key


SettingsDep = Annotated[GatewaySettings, Depends(get_settings)]
SigningKeyDep = Annotated[SigningKey, Depends(get_signing_key)]
AdminPrincipal = Annotated[Principal, Depends(require_roles(Role.admin))]
