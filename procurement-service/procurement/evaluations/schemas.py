from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from procurement.evaluations.models import EvaluationStage, EvaluationStatus

Comment = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=5000)]
Subject = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Note = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]


class EvaluationOpen(BaseModel):
    model_config = ConfigDict(extra="forbid")

    stage: EvaluationStage


class ScoreSubmit(BaseModel):
    """The caller's party's score: an official scores for the purchaser, an assigned evaluator as the third party."""

    model_config = ConfigDict(extra="forbid")

    score: float = Field(ge=0, le=100, allow_inf_nan=False, description="0–100, to two decimals.")
    comment: Comment | None = None


class OfferingAttainment(BaseModel):
    offering_id: uuid.UUID
    promised: int = Field(description="The quantity target, at most what the contract (as amended) funds.")
    delivered: int = Field(description="Verified services of the offering counted on the contract.")


class KpiAttainment(BaseModel):
    """Delivered against promised: the contract's quantity targets and the verified deliverables counted."""

    promised: int
    delivered: int
    attainment_percent: float
    offerings: list[OfferingAttainment]


PartState = Literal["scored", "missing"]


class Part(BaseModel):
    """One scored part of the evaluation: 0–100, or ``missing`` when there is no data to score it on. A missing
    part keeps its weight and adds nothing to the combined score."""

    state: PartState
    score: float | None
    weight: float
    basis: dict[str, float | int | None] = Field(description="What the score was computed from.")


class Parts(BaseModel):
    quantity: Part = Field(description="Verified, non-suspect deliverables against the quantity targets.")
    quality: Part = Field(
        description="The contract's own recipients: ratings of its funded bookings and the random callbacks."
    )
    fund_use: Part = Field(description="The value delivered (unit price × verified services) against what was paid.")
    purchaser: Part
    third_party: Part


class Weights(BaseModel):
    purchaser: float
    recipients: float
    third_party: float


EvaluationResult = Literal["passed", "failed", "incomplete"]


class Evaluation(BaseModel):
    id: uuid.UUID
    contract_id: uuid.UUID
    stage: EvaluationStage
    status: EvaluationStatus
    purchaser_score: float | None
    purchaser_comment: str | None
    third_party_score: float | None
    third_party_comment: str | None
    recipients_score: float | None = Field(
        description="The quality part: the contract's recipients' satisfaction on 0–100 (5 stars = 100)."
    )
    recipients_rating_count: int | None = Field(description="Ratings of the contract's funded bookings.")
    weights: Weights | None = Field(description="The purchaser's, recipients' and third party's weights applied.")
    combined_score: float | None
    kpi: KpiAttainment
    parts: Parts | None = Field(description="Each scored part, once finalized (as it stands, while open).")
    missing_parts: list[str] = Field(description="The parts without data: shown, weighted, scored as nothing.")
    result: EvaluationResult | None = Field(
        description="Once finalized: passed, failed, or incomplete (no quantity to judge on; never passed)."
    )
    attainment_threshold: float = Field(description="The attainment acceptance and the last installment need.")
    opened_at: datetime
    finalized_at: datetime | None


class EvaluatorAssign(BaseModel):
    model_config = ConfigDict(extra="forbid")

    evaluator_subject: Subject = Field(description="The evaluator's account id (their token's sub).")
    evaluator_name: Subject
    linked_provider_ids: list[uuid.UUID] = Field(
        default_factory=list,
        max_length=100,
        description="Providers the evaluator is known to be linked to; they may not score those providers' work.",
    )


class Evaluator(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    contract_id: uuid.UUID
    evaluator_subject: str
    evaluator_name: str
    linked_provider_ids: list[uuid.UUID]
    conflict: bool | None = Field(description="The evaluator's declaration; null until they declare.")
    declaration_note: str | None
    declared_at: datetime | None
    created_at: datetime


class CallbackResult(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reached: bool = Field(strict=True, description="Whether the resident answered the callback.")
    satisfied: bool | None = Field(
        default=None, strict=True, description="The resident's answer: satisfied with the service or not."
    )
    note: Note | None = None


class Callback(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    contract_id: uuid.UUID
    booking_id: uuid.UUID = Field(description="The funded booking whose resident is called back.")
    offering_id: uuid.UUID
    status: Literal["pending", "recorded"]
    drawn_by: str
    drawn_at: datetime
    reached: bool | None
    satisfied: bool | None
    note: str | None
    recorded_by: str | None
    recorded_at: datetime | None
