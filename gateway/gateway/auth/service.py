"""Issuing tokens: the claims every Linli service reads from a signed-in account."""

import uuid
from datetime import timedelta
from typing import Any

from gateway.accounts.models import Account
from gateway.auth.keys import SigningKey
from gateway.auth.schemas import TokenResponse
from gateway.config import GatewaySettings
from service_kit.timeutil import utcnow


def issue_token(account: Account, *, key: SigningKey, settings: GatewaySettings) -> TokenResponse:
    now = utcnow()
    ttl = settings.access_token_ttl_seconds
    claims: dict[str, Any] = {
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "sub": str(account.id),
        "iat": int(now.timestamp()),
        "exp": int((now + timedelta(seconds=ttl)).timestamp()),
        "jti": str(uuid.uuid4()),
        "roles": list(account.roles),
    }
    if account.name:
        claims["name"] = account.name
    if account.provider_id is not None:
        claims["provider_id"] = str(account.provider_id)
    if account.resident_id is not None:
        claims["resident_id"] = str(account.resident_id)
    return TokenResponse(access_token=key.sign(claims), expires_in=ttl)
