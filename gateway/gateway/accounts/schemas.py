import uuid
from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from service_kit.auth import MACHINE_ROLES, Role

USERNAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._@-]{1,63}$"
MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 256


def _human_roles(roles: list[Role]) -> list[Role]:
    if machine := sorted(MACHINE_ROLES.intersection(roles)):
        raise ValueError(f"{machine[0]} is for machine clients with API keys, not for staff accounts")
    return sorted(set(roles))


Username = Annotated[str, StringConstraints(pattern=USERNAME_PATTERN, to_lower=True)]
Password = Annotated[str, Field(min_length=MIN_PASSWORD_LENGTH, max_length=MAX_PASSWORD_LENGTH)]
StreetCode = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[a-z0-9_.]{1,40}$")]
StaffRoles = Annotated[list[Role], Field(min_length=1, max_length=8), AfterValidator(_human_roles)]


class AccountCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: Username
    password: Password
    roles: StaffRoles
    name: str | None = Field(None, min_length=1, max_length=120)
    provider_id: uuid.UUID | None = None
    resident_id: uuid.UUID | None = None
    street_code: StreetCode | None = Field(
        None, description="The street (registry street code) a street-scoped official works for; none: district-wide."
    )


class Account(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    username: str
    roles: list[Role]
    name: str | None
    provider_id: uuid.UUID | None
    resident_id: uuid.UUID | None
    street_code: str | None
    active: bool
    created_at: datetime
    updated_at: datetime
