import uuid
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Self

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

# The scopes live in the service kit: the gateway's policy table and the services' own checks name the same ones.
from service_kit.auth import PROVIDER_KEY_SCOPES
from service_kit.auth import ApiKeyScope as Scope


class KeyKind(StrEnum):
    provider = "provider"  # a provider's system: its provider's bookings, offerings, contracts, webhooks
    open311 = "open311"  # an application filing Open311 GeoReport service requests (an admin issues it)


def _sorted_unique(scopes: list[Scope] | None) -> list[Scope] | None:
    return None if scopes is None else sorted(set(scopes))


class ApiKeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(
        min_length=1,
        max_length=120,
        examples=["排班系统"],
        description="The system or application the key is for; an Open311 application's name is recorded on what "
        "it files",
    )
    kind: KeyKind = Field(
        KeyKind.provider,
        description="`provider`: a provider's system (scopes required); `open311`: an application filing Open311 "
        "GeoReport service requests, issued by an admin, of no provider, with the one scope `open311:requests`",
    )
    scopes: Annotated[
        list[Scope] | None, Field(None, min_length=1, max_length=len(Scope)), AfterValidator(_sorted_unique)
    ]
    provider_id: uuid.UUID | None = Field(None, description="The provider (an admin must say; a provider_admin's own)")

    @model_validator(mode="after")
    def _scopes_of_the_kind(self) -> Self:
        if self.kind == KeyKind.open311:
            if self.provider_id is not None:
                raise ValueError("an open311 key belongs to an application, not to a provider: no provider_id")
            if self.scopes not in (None, [Scope.open311_requests]):
                raise ValueError("an open311 key has the one scope open311:requests")
            self.scopes = [Scope.open311_requests]
        elif not self.scopes:
            raise ValueError("scopes: a provider's key needs at least one scope")
        elif not PROVIDER_KEY_SCOPES.issuperset(self.scopes):
            raise ValueError("scopes: open311:requests is for open311 keys only")
        return self


class ApiKey(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    kind: KeyKind
    provider_id: uuid.UUID | None
    name: str
    prefix: str
    scopes: list[Scope]
    created_by: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class ApiKeyCreated(ApiKey):
    key: str = Field(description="The key itself: shown this once, never again")
