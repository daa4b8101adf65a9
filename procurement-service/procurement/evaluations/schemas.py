from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from procurement.evaluations.models import EvaluationStage, EvaluationStatus

Comment = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=5000)]


class EvaluationOpen(BaseModel):
    model_config = ConfigDict(extra="forbid")

    stage: EvaluationStage


class ScoreSubmit(BaseModel):
    """The caller's party's score: an official scores for the purchaser, an evaluator as the third party."""

    model_config = ConfigDict(extra="forbid")

    score: float = Field(ge=0, le=100, allow_inf_nan=False, description="0–100, to two decimals.")
    comment: Comment | None = None


class OfferingAttainment(BaseModel):
    offering_id: uuid.UUID
    promised: int
    delivered: int


class KpiAttainment(BaseModel):
    """Delivered against promised: the funded offerings' quotas and the deliverables counted."""

    promised: int
    delivered: int
    attainment_percent: float
    offerings: list[OfferingAttainment]


class Weights(BaseModel):
    purchaser: float
    recipients: float
    third_party: float


class Evaluation(BaseModel):
    id: uuid.UUID
    contract_id: uuid.UUID
    stage: EvaluationStage
    status: EvaluationStatus
    purchaser_score: float | None
    purchaser_comment: str | None
    third_party_score: float | None
    third_party_comment: str | None
    recipients_score: float | None = Field(description="Residents' satisfaction on 0–100 (5 stars = 100).")
    recipients_rating_count: int | None
    weights: Weights | None = Field(description="The weights applied (rescaled when no resident rated).")
    combined_score: float | None
    kpi: KpiAttainment
    opened_at: datetime
    finalized_at: datetime | None
