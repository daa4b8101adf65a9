from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from procurement.deliverables.models import DeliverableReview


class Deliverable(BaseModel):
    """One completed booking of a funded offering, counted on the contract that pays for it."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    contract_id: uuid.UUID
    booking_id: uuid.UUID
    offering_id: uuid.UUID
    unit_price_fen: int
    delivered_at: datetime
    created_at: datetime
    suspect_reasons: list[str] | None = Field(
        default=None,
        description="Why booking found the delivery evidence doubtful (far_from_place, unassigned_staff, "
        "outside_window); null when it raised no doubt.",
    )
    review: DeliverableReview | None = Field(
        default=None,
        description="A suspect deliverable's review: pending (not counted), accepted (counted) or rejected (never "
        "counted); null when it raised no doubt (counted).",
    )
    review_reason: str | None = None
    reviewed_by: str | None = None
    reviewed_at: datetime | None = None


class DeliverableReviewCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)] = Field(
        description="Why the official accepts or rejects the doubtful delivery."
    )
