import uuid
from datetime import datetime, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from gateway.auth.keys import Keyring
from service_kit.auth import Role


class TokenRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)


class TokenResponse(BaseModel):
    access_token: str
    token_type: Literal["Bearer"] = "Bearer"
    expires_in: int = Field(description="Seconds until the token expires")
    refresh_token: str = Field(description="Exchange it at /api/v1/auth/refresh; each use returns a new one")
    refresh_expires_in: int = Field(description="Seconds the refresh token stays valid unused")


class RefreshRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    refresh_token: str = Field(min_length=1, max_length=128)


class JWK(BaseModel):
    kty: str
    crv: str
    x: str
    kid: str
    alg: str
    use: str


class JWKS(BaseModel):
    keys: list[JWK]


class SigningKeys(BaseModel):
    current: str = Field(description="Key id (kid) that signs new tokens")
    published: list[str] = Field(description="Key ids in the JWKS: the current one and those still verifying")

    @classmethod
    def of(cls, keyring: Keyring, now: datetime, keep_for: timedelta) -> "SigningKeys":
        return cls(current=keyring.current.kid, published=[k.kid for k in keyring.verifying_keys(now, keep_for)])


class Me(BaseModel):
    """The caller, as their token says; ``username`` when the token belongs to a gateway account."""

    subject: str
    username: str | None
    roles: list[Role]
    name: str | None
    provider_id: uuid.UUID | None
    resident_id: uuid.UUID | None
    street_code: str | None = None
    # An API key's scopes (what its provider's system may do); empty for a person's token.
    scopes: list[str] = []
