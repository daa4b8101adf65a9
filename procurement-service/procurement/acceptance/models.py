"""Acceptance (验收) of a contract's service: passed, conditional (rectify and be accepted again) or failed,
with the service recipients' opinions; the result is public."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Enum, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from procurement.models import Base
from service_kit.db import IdMixin, TimestampMixin


class AcceptanceResult(StrEnum):
    passed = "passed"
    conditional = "conditional"
    failed = "failed"


class ContractAcceptance(IdMixin, TimestampMixin, Base):
    __tablename__ = "contract_acceptance"
    __table_args__ = (UniqueConstraint("contract_id", "attempt"),)

    contract_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("contract.id"), index=True)
    # 1 for the first acceptance; a conditional result is followed by another attempt.
    attempt: Mapped[int] = mapped_column(Integer)
    result: Mapped[AcceptanceResult] = mapped_column(
        Enum(
            AcceptanceResult,
            native_enum=False,
            create_constraint=False,
            length=16,
            values_callable=lambda s: [m.value for m in s],
        )
    )
    summary: Mapped[str] = mapped_column(Text)
    conditions: Mapped[str | None] = mapped_column(Text)
    rectification_due: Mapped[date | None]
    # [{"name", "opinion", "satisfied"}]: the residents served who took part (names kept; shown masked).
    recipient_opinions: Mapped[list[Any]]
    evaluator_opinion: Mapped[str | None] = mapped_column(Text)
    decided_by: Mapped[str] = mapped_column(String(200))
    decided_by_name: Mapped[str | None] = mapped_column(String(200))
    decided_at: Mapped[datetime]
