"""Evaluations (评估) of a contract, mid-term and final: the scored parts (quantity against the targets, the
quality the contract's own recipients report, fund use) and the purchaser's and an assigned third-party
evaluator's scores, combined with weights; the evaluators assigned to each contract and their declarations;
the ratings of funded bookings and the satisfaction callbacks operators make to a random sample of them."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import CheckConstraint, Enum, ForeignKey, Integer, String, Text, UniqueConstraint
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
    # Delivered against the targets when finalized: {"promised", "delivered", "attainment_percent", ...}.
    kpi: Mapped[dict[str, Any] | None]
    # Each scored part when finalized: {"quantity": {"state": "scored" | "missing", "score", ...}, ...}.
    parts: Mapped[dict[str, Any] | None]
    # passed | failed | incomplete (the quantity part is missing): what the finalized evaluation concluded.
    result: Mapped[str | None] = mapped_column(String(16))
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


class ContractEvaluator(IdMixin, TimestampMixin, Base):
    """A third-party evaluator (an account with the role ``evaluator``) an official assigned to a contract, with
    the providers they are known to be linked to and their own conflict-of-interest declaration: only an assigned
    evaluator who declared no conflict, and is linked to no contracted provider, scores the contract."""

    __tablename__ = "contract_evaluator"
    __table_args__ = (UniqueConstraint("contract_id", "evaluator_subject"),)

    contract_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("contract.id"), index=True)
    evaluator_subject: Mapped[str] = mapped_column(String(200), index=True)
    evaluator_name: Mapped[str] = mapped_column(String(200))
    linked_provider_ids: Mapped[list[Any]]
    assigned_by: Mapped[str] = mapped_column(String(200))
    # The declaration, made once before scoring: None until declared.
    conflict: Mapped[bool | None]
    declaration_note: Mapped[str | None] = mapped_column(Text)
    declared_at: Mapped[datetime | None]


class BookingRating(Base):
    """A resident's rating of a completed booking (feedback's rating.submitted), kept so an evaluation reads the
    ratings of the bookings its contract funded, not the provider's score over everything it delivers."""

    __tablename__ = "booking_rating"
    __table_args__ = (CheckConstraint("stars BETWEEN 1 AND 5", name="stars_range"),)

    booking_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    rating_id: Mapped[uuid.UUID]
    provider_id: Mapped[uuid.UUID] = mapped_column(index=True)
    stars: Mapped[int] = mapped_column(Integer)
    submitted_at: Mapped[datetime]


class SatisfactionCallback(IdMixin, TimestampMixin, Base):
    """A satisfaction callback (电话回访) to the resident of one funded booking the service drew at random from
    the contract's deliverables; an operator records whether the resident was reached and was satisfied."""

    __tablename__ = "satisfaction_callback"

    contract_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("contract.id"), index=True)
    # A booking is called back once, however many operators draw at the same moment.
    booking_id: Mapped[uuid.UUID] = mapped_column(unique=True)
    offering_id: Mapped[uuid.UUID]
    drawn_by: Mapped[str] = mapped_column(String(200))
    drawn_at: Mapped[datetime]
    reached: Mapped[bool | None]
    satisfied: Mapped[bool | None]
    note: Mapped[str | None] = mapped_column(Text)
    recorded_by: Mapped[str | None] = mapped_column(String(200))
    recorded_at: Mapped[datetime | None]
