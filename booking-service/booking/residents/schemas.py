import uuid
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from booking.timefmt import LocalDateTime

EligibilityTag = Literal["age_80_plus", "living_alone", "disabled", "low_income"]
ConsentChannel = Literal["app", "phone", "walk_in", "paper"]


def _distinct_sorted(tags: list[EligibilityTag]) -> list[EligibilityTag]:
    return sorted(set(tags))


EligibilityTags = Annotated[list[EligibilityTag], Field(max_length=8), AfterValidator(_distinct_sorted)]


class ConsentCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=20)]
    channel: ConsentChannel


class ResidentCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=50)]
    phone: Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=32)] = Field(
        description="A Chinese mobile or landline number, with or without +86; stored in E.164."
    )
    community_code: Annotated[str, StringConstraints(pattern=r"^[0-9A-Za-z_.-]{1,32}$")] | None = None
    eligibility_tags: EligibilityTags = Field(default_factory=list)
    consent: ConsentCreate


class Consent(BaseModel):
    version: str
    channel: str
    recorded_at: LocalDateTime


class Resident(BaseModel):
    id: uuid.UUID
    name: str
    phone: str = Field(description="E.164 for operators, admins and the resident; masked (138****5678) otherwise.")
    community_code: str | None
    eligibility_tags: list[str]
    consent: Consent
    created_at: LocalDateTime
    updated_at: LocalDateTime


class ResidentSummary(BaseModel):
    """The resident as shown on a booking."""

    id: uuid.UUID
    name: str
    phone: str


class ResidentList(BaseModel):
    items: list[Resident]
