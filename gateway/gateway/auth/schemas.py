import uuid
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from service_kit.auth import Role


class TokenRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)


class TokenResponse(BaseModel):
    access_token: str
    token_type: Literal["Bearer"] = "Bearer"
    expires_in: int = Field(description="Seconds until the token expires")


class JWK(BaseModel):
    kty: str
    crv: str
    x: str
    kid: str
    alg: str
    use: str


class JWKS(BaseModel):
    keys: list[JWK]


class Me(BaseModel):
    """The caller, as their token says; ``username`` when the token belongs to a gateway account."""

    subject: str
    username: str | None
    roles: list[Role]
    name: str | None
    provider_id: uuid.UUID | None
    resident_id: uuid.UUID | None
