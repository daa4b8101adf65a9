"""Deliverables: one completed booking of a funded offering, counted on the contract that pays for it."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import BigInteger, Enum, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from procurement.models import Base
from service_kit.db import IdMixin, TimestampMixin


class DeliverableReview(StrEnum):
    """An official's review of a suspect deliverable; None for one whose evidence raised no doubt."""

    pending = "pending"
    accepted = "accepted"
    rejected = "rejected"


class Deliverable(IdMixin, TimestampMixin, Base):
    __tablename__ = "deliverable"

    contract_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("contract.id"), index=True)
    # A booking is delivered once, so it counts once, whatever the event stream repeats.
    booking_id: Mapped[uuid.UUID] = mapped_column(unique=True)
    offering_id: Mapped[uuid.UUID]
    unit_price_fen: Mapped[int] = mapped_column(BigInteger)
    delivered_at: Mapped[datetime]
    source_event_id: Mapped[str] = mapped_column(String(120))
    # Doubtful delivery evidence (booking's ``suspect_reasons``): the deliverable is not counted (payable,
    # delivered, attainment, installments, OCDS) while ``review`` is ``pending``, nor once ``rejected``; an
    # official's acceptance counts it.
    suspect_reasons: Mapped[list[Any] | None]
    review: Mapped[DeliverableReview | None] = mapped_column(
        Enum(DeliverableReview, native_enum=False, length=16, values_callable=lambda e: [m.value for m in e])
    )
    review_reason: Mapped[str | None] = mapped_column(String(500))
    reviewed_by: Mapped[str | None] = mapped_column(String(200))
    reviewed_at: Mapped[datetime | None]
