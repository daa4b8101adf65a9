from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict

from procurement.contracts.schemas import Reason
from procurement.sanctions.models import SanctionCause, SanctionStatus


class Sanction(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    provider_id: uuid.UUID
    contract_id: uuid.UUID | None
    cause: SanctionCause
    measure: str
    reason: str
    rounds: int
    rounds_served: int
    status: SanctionStatus
    imposed_at: datetime
    imposed_by: str
    ended_at: datetime | None
    lifted_by: str | None
    lift_reason: str | None


class SanctionLift(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Reason
