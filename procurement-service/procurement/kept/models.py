"""Bookings a contract still owes after it stopped funding them (a termination, or an amendment that dropped the
offering): booking-service keeps the price the resident was told, so the contract pays their delivery."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, CheckConstraint, Enum, ForeignKey
from sqlalchemy.orm import Mapped, mapped_column

from procurement.models import Base
from service_kit.db import IdMixin, TimestampMixin


class KeptState(StrEnum):
    open = "open"  # not delivered yet: its value stays committed
    delivered = "delivered"  # completed; a deliverable of the contract, paid by a settlement once it counts
    lapsed = "lapsed"  # cancelled, rejected, expired, a no-show or missed by the provider: nothing is owed


class KeptBooking(IdMixin, TimestampMixin, Base):
    __tablename__ = "kept_booking"
    __table_args__ = (CheckConstraint("value_fen >= 0", name="value_not_negative"),)

    contract_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("contract.id"), index=True)
    # One row per booking, whichever of booking's report and the booking's own events arrives first.
    booking_id: Mapped[uuid.UUID] = mapped_column(unique=True)
    offering_id: Mapped[uuid.UUID]
    # What the contract pays for the delivery: the offering's unit price under the contract.
    value_fen: Mapped[int] = mapped_column(BigInteger)
    state: Mapped[KeptState] = mapped_column(
        Enum(KeptState, native_enum=False, length=16, values_callable=lambda e: [m.value for m in e])
    )
    closed_at: Mapped[datetime | None]
    # The settlement that paid it (a delivered booking's only).
    disbursement_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("disbursement.id"), index=True)
