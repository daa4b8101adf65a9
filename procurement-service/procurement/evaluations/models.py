"""Evaluations (评估) of a contract, mid-term and final, by three parties: the purchaser, the service
recipients (their ratings, from feedback-service) and a third-party evaluator, combined with weights."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Enum, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from procurement.models import Base
from service_kit.db import IdMixin, TimestampMixin


class EvaluationStage(StrEnum):
    midterm = "midterm"
    final = "final"


class EvaluationStatus(StrEnum):
    open = "open"  # the purchaser and the evaluator score
    finalized = "finalized"  # combined; no score changes


def _enum(cls: type[StrEnum]) -> Enum:
    return Enum(
        cls, native_enum=False, create_constraint=False, length=16, values_callable=lambda s: [m.value for m in s]
    )


class ContractEvaluation(IdMixin, TimestampMixin, Base):
    __tablename__ = "contract_evaluation"
    __table_args__ = (UniqueConstraint("contract_id", "stage"),)

    contract_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("contract.id"), index=True)
    stage: Mapped[EvaluationStage] = mapped_column(_enum(EvaluationStage))
    status: Mapped[EvaluationStatus] = mapped_column(_enum(EvaluationStatus))
    # Scores are hundredths of a point on a 0–100 scale (0–10000).
    purchaser_score_centi: Mapped[int | None] = mapped_column(Integer)
    purchaser_comment: Mapped[str | None] = mapped_column(Text)
    purchaser_by: Mapped[str | None] = mapped_column(String(200))
    third_party_score_centi: Mapped[int | None] = mapped_column(Integer)
    third_party_comment: Mapped[str | None] = mapped_column(Text)
    third_party_by: Mapped[str | None] = mapped_column(String(200))
    # Taken when the evaluation is finalized: the recipients' satisfaction and the weights applied.
    recipients_score_centi: Mapped[int | None] = mapped_column(Integer)
    recipients_rating_count: Mapped[int | None] = mapped_column(Integer)
    weights: Mapped[dict[str, Any] | None]
    combined_score_centi: Mapped[int | None] = mapped_column(Integer)
    # Delivered against promised (quota) when finalized: {"promised", "delivered", "attainment_percent", ...}.
    kpi: Mapped[dict[str, Any] | None]
    opened_by: Mapped[str] = mapped_column(String(200))
    opened_at: Mapped[datetime]
    finalized_by: Mapped[str | None] = mapped_column(String(200))
    finalized_at: Mapped[datetime | None]


class ProviderSatisfaction(Base):
    """The residents' satisfaction with a provider, from feedback-service's score.updated (1–5 stars)."""

    __tablename__ = "provider_satisfaction"

    provider_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    # The Bayesian score in thousandths of a star (0–5000).
    score_milli: Mapped[int] = mapped_column(Integer)
    rating_count: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime]
