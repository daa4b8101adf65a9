"""Past, completed projects the district bought before Linli, as officials import them. Money is integer fen."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from procurement.calls.schemas import Direction, ProviderKind
from procurement.contracts.schemas import PositiveFen

Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
StreetCode = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40, pattern=r"^[a-z0-9_.]+$")
]
Reference = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=80)]
# The acceptance result (验收结果): 优秀 / 良好 / 合格 / 不合格.
Result = Literal["excellent", "good", "qualified", "unqualified"]

MAX_IMPORT = 1000


class HistoricalProvider(BaseModel):
    model_config = ConfigDict(extra="forbid")

    organization_id: uuid.UUID = Field(description="The organization's id in the provider registry.")
    name: Name
    kind: ProviderKind


class HistoricalProjectIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reference: Reference | None = Field(
        default=None,
        description="The district's own project number (e.g. FS-2024-017); names the project on re-import.",
    )
    year: int = Field(strict=True, ge=2000, le=2100)
    title: Title
    direction: Direction
    street_code: StreetCode = Field(description="The street or town served, e.g. changyang.")
    provider: HistoricalProvider
    amount_fen: PositiveFen
    result: Result
    score: int | None = Field(default=None, strict=True, ge=0, le=100, description="The evaluation score, 0–100.")


class HistoricalImport(BaseModel):
    model_config = ConfigDict(extra="forbid")

    projects: list[HistoricalProjectIn] = Field(min_length=1, max_length=MAX_IMPORT)


class ImportOutcome(BaseModel):
    recorded: int = Field(description="Projects not known before, now recorded.")
    corrected: int = Field(description="Known projects whose facts differed; the new facts are recorded.")
    unchanged: int = Field(description="Known projects imported again with the same facts.")


class HistoricalProject(HistoricalProjectIn):
    id: uuid.UUID
    recorded_at: datetime
