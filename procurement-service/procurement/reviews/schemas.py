from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from procurement.calls.models import CallStatus

Subject = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Note = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]
Score = Annotated[int, Field(strict=True, ge=0, le=100)]


class AssignmentCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reviewer_subject: Subject = Field(description="The reviewer's account id (their token's sub).")
    reviewer_name: Subject
    linked_provider_ids: list[uuid.UUID] = Field(
        default_factory=list,
        max_length=100,
        description="Providers the reviewer is known to be linked to; they may not score those applications.",
    )


class Assignment(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    call_id: uuid.UUID
    reviewer_subject: str
    reviewer_name: str
    linked_provider_ids: list[uuid.UUID]
    created_at: datetime


class AssignmentProgress(Assignment):
    declarations: int
    score_sheets: int


class MyAssignment(BaseModel):
    id: uuid.UUID
    call_id: uuid.UUID
    call_title: str
    call_status: CallStatus
    deadline: datetime


class DeclarationCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    conflict: bool = Field(strict=True, description="True when the reviewer is linked to the applicant.")
    note: Note | None = Field(default=None, description="What the link is, or why there is none.")


class Declaration(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    application_id: uuid.UUID
    conflict: bool
    note: str | None
    declared_at: datetime


class ScoreSheetSubmit(BaseModel):
    model_config = ConfigDict(extra="forbid")

    scores: dict[Annotated[str, StringConstraints(max_length=40)], Score] = Field(
        min_length=1, max_length=20, description="Each criterion's code → 0–100."
    )
    comment: Note | None = None


class ScoreSheet(BaseModel):
    application_id: uuid.UUID
    reviewer_subject: str
    scores: dict[str, int]
    weighted_total: float
    comment: str | None
    scored_at: datetime
