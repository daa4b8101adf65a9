from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from procurement.acceptance.models import AcceptanceResult
from procurement.documents.schemas import PublicDocument

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=5000)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]


class RecipientOpinion(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name = Field(description="The resident served (shown masked to the public).")
    opinion: Text
    satisfied: bool = Field(strict=True)


class AcceptanceCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    result: AcceptanceResult
    summary: Text = Field(description="The acceptance panel's conclusion (验收结论).")
    conditions: Text | None = Field(default=None, description="What must be rectified; required when conditional.")
    rectification_due: date | None = None
    recipient_opinions: list[RecipientOpinion] = Field(
        min_length=1, max_length=200, description="Service recipients take part in every acceptance."
    )
    evaluator_opinion: Text | None = Field(default=None, description="The third-party evaluator's opinion.")


class PublicOpinion(BaseModel):
    name: str
    opinion: str
    satisfied: bool


class Acceptance(BaseModel):
    """An acceptance result as the public sees it: residents' names and contact details masked."""

    id: uuid.UUID
    contract_id: uuid.UUID
    contract_title: str
    provider_id: uuid.UUID
    attempt: int
    result: AcceptanceResult
    summary: str
    conditions: str | None
    rectification_due: date | None
    recipient_opinions: list[PublicOpinion]
    satisfied_count: int
    evaluator_opinion: str | None
    decided_at: datetime


class AcceptanceReport(PublicDocument):
    """An acceptance report (验收报告), public as the acceptance is: its plain URL is the one OCDS publishes."""
