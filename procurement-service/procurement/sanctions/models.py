"""Sanctions (优胜劣汰): a provider whose acceptance failed or whose final evaluation fell below the threshold
may not apply to the next rounds of calls for proposals."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, Enum, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from procurement.models import Base
from service_kit.db import IdMixin, TimestampMixin


class SanctionStatus(StrEnum):
    active = "active"
    served = "served"  # the provider sat out its rounds
    lifted = "lifted"  # an official lifted it, with a reason


class SanctionCause(StrEnum):
    acceptance_failed = "acceptance_failed"
    final_score_below_threshold = "final_score_below_threshold"


def _enum(cls: type[StrEnum]) -> Enum:
    return Enum(
        cls, native_enum=False, create_constraint=False, length=32, values_callable=lambda s: [m.value for m in s]
    )


class ProviderSanction(IdMixin, TimestampMixin, Base):
    __tablename__ = "provider_sanction"
    __table_args__ = (CheckConstraint("rounds_served >= 0 AND rounds_served <= rounds", name="rounds_served"),)

    provider_id: Mapped[uuid.UUID] = mapped_column(index=True)
    contract_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("contract.id"), index=True)
    cause: Mapped[SanctionCause] = mapped_column(_enum(SanctionCause))
    # What the registry and booking are told (provider.sanctioned's measure).
    measure: Mapped[str] = mapped_column(String(40))
    reason: Mapped[str] = mapped_column(Text)
    # How many calls for proposals, published after the sanction, the provider sits out.
    rounds: Mapped[int] = mapped_column(Integer)
    rounds_served: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[SanctionStatus] = mapped_column(_enum(SanctionStatus), index=True)
    imposed_at: Mapped[datetime]
    imposed_by: Mapped[str] = mapped_column(String(200))
    ended_at: Mapped[datetime | None]
    lifted_by: Mapped[str | None] = mapped_column(String(200))
    lift_reason: Mapped[str | None] = mapped_column(Text)
