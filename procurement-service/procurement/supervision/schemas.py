from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from procurement.supervision.models import SupervisionConclusion, SupervisionKind

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=20_000)]
Place = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


class ProgressReportCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    period_start: date
    period_end: date
    summary: Text = Field(description="What was done in the period (服务开展情况).")
    issues: Text | None = Field(default=None, description="Problems met and how they are handled.")


class ProgressReport(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    contract_id: uuid.UUID
    period_start: date
    period_end: date
    summary: str
    issues: str | None
    submitted_by: str
    submitted_at: datetime


class SupervisionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: SupervisionKind
    occurred_on: date
    location: Place | None = None
    findings: Text
    conclusion: SupervisionConclusion
    rectification_due: date | None = Field(default=None, description="Required when rectification is required.")


class SupervisionRecord(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    contract_id: uuid.UUID
    kind: SupervisionKind
    occurred_on: date
    location: str | None
    findings: str
    conclusion: SupervisionConclusion
    rectification_due: date | None
    recorded_by: str
    recorded_by_name: str | None
    recorded_at: datetime
    booking_id: uuid.UUID | None = None


class LinkedComplaint(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    complaint_id: uuid.UUID
    contract_id: uuid.UUID
    provider_id: uuid.UUID | None
    booking_id: uuid.UUID | None
    offering_id: uuid.UUID | None
    linked_by: str
    category: str
    severity: str
    status: str
    opened_at: datetime
    last_event_at: datetime
