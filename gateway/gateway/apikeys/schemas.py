import uuid
from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field


class Scope(StrEnum):
    bookings_read = "bookings:read"
    bookings_write = "bookings:write"
    offerings_write = "offerings:write"


def _sorted_unique(scopes: list[Scope]) -> list[Scope]:
    return sorted(set(scopes))


class ApiKeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=120, examples=["排班系统"])
    scopes: Annotated[list[Scope], Field(min_length=1, max_length=len(Scope)), AfterValidator(_sorted_unique)]
    provider_id: uuid.UUID | None = Field(None, description="The provider (an admin must say; a provider_admin's own)")


class ApiKey(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    provider_id: uuid.UUID
    name: str
    prefix: str
    scopes: list[Scope]
    created_by: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class ApiKeyCreated(ApiKey):
    key: str = Field(description="The key itself: shown this once, never again")
