"""Dependency aliases of the gateway's own endpoints."""

from typing import Annotated

from fastapi import Depends, Request

from gateway.auth.keys import Keyring, SigningKey
from gateway.config import GatewaySettings
from gateway.residents.sms import FakeSmsSender
from service_kit.auth import Principal, Role, require_roles


def get_settings(request: Request) -> GatewaySettings:
    settings: GatewaySettings = request.app.state.settings
    return settings


def get_signing_key(request: Request) -> SigningKey:
    keyring: Keyring = request.app.state.keyring
    return keyring.current


def get_sms_sender(request: Request) -> FakeSmsSender:
    sender: FakeSmsSender = request.app.state.sms_sender
    return sender


SmsSenderDep = Annotated[FakeSmsSender, Depends(get_sms_sender)]
SettingsDep = Annotated[GatewaySettings, Depends(get_settings)]
SigningKeyDep = Annotated[SigningKey, Depends(get_signing_key)]
AdminPrincipal = Annotated[Principal, Depends(require_roles(Role.admin))]
