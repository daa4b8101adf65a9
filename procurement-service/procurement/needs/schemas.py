from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from procurement.needs.models import NeedStatus

Code = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40)]
CategoryCode = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=80, pattern=r"^[a-z0-9_.]+$")
]
Summary = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]


class NeedCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    category_code: CategoryCode = Field(description="A registry category, e.g. elderly.meal_table.")
    street_code: Code | None = None
    community_code: Code | None = None
    target_group: Code | None = Field(default=None, description="e.g. 80+, living_alone, children.")
    summary: Summary
    count: int = Field(default=1, strict=True, ge=1, le=1_000_000, description="How many residents ask for it.")


class NeedMerge(BaseModel):
    model_config = ConfigDict(extra="forbid")

    into: uuid.UUID = Field(description="The need this duplicate merges into; it takes over the count.")


class NeedDecline(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)] = Field(
        description="Why the district will not buy it; the residents who asked read it."
    )


class NeedRanking(BaseModel):
    model_config = ConfigDict(extra="forbid")

    need_ids: list[uuid.UUID] = Field(min_length=1, max_length=500, description="Open needs, most urgent first.")


class Need(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    source: Literal["resident", "operator", "official", "coverage_gap"]
    group_key: str | None
    category_code: str
    street_code: str | None
    community_code: str | None
    target_group: str | None
    summary: str
    count: int
    status: NeedStatus
    merged_into_id: uuid.UUID | None
    rank: int | None
    decline_reason: str | None
    declined_at: datetime | None
    created_at: datetime
    updated_at: datetime
