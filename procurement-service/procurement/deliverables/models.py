"""Deliverables: one completed booking of a funded offering, counted on the contract that pays for it."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from procurement.models import Base
from service_kit.db import IdMixin, TimestampMixin


class Deliverable(IdMixin, TimestampMixin, Base):
    __tablename__ = "deliverable"

    contract_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("contract.id"), index=True)
    # A booking is delivered once, so it counts once, whatever the event stream repeats.
    booking_id: Mapped[uuid.UUID] = mapped_column(unique=True)
    offering_id: Mapped[uuid.UUID]
    unit_price_fen: Mapped[int] = mapped_column(BigInteger)
    delivered_at: Mapped[datetime]
    source_event_id: Mapped[str] = mapped_column(String(120))
