"""Bookings left without their funding: a resident's upcoming booking whose contract ended, to be replaced."""

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import Enum, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from booking.models import Base
from service_kit.db import IdMixin, TimestampMixin


class ReplacementStatus(StrEnum):
    # The resident still needs an operator to offer them an equivalent funded service.
    open = "open"
    # An operator booked the resident another service (``replacement_booking_id``).
    rebooked = "rebooked"
    # The resident declined any replacement (and keeps the booking they had, at its price).
    declined = "declined"


class FundingCause(StrEnum):
    """How the funding ended."""

    terminated = "terminated"  # linli.contract.terminated.v1 (or a contract event with an ended status)
    amended = "amended"  # a bilateral amendment stopped funding the offering
    expired = "expired"  # the contract's last day passed


class BookingReplacement(IdMixin, TimestampMixin, Base):
    """One upcoming booking of a resident the ended contract funded (or had funded, for an earlier booking of
    the same offering) that needs a replacement. At most one per booking, however often the end is learnt."""

    __tablename__ = "booking_replacement"
    __table_args__ = (Index("ix_booking_replacement_status_created_at", "status", "created_at"),)

    booking_id: Mapped[uuid.UUID] = mapped_column(unique=True)
    resident_id: Mapped[uuid.UUID] = mapped_column(index=True)
    offering_id: Mapped[uuid.UUID]
    category_code: Mapped[str] = mapped_column(String(64))
    contract_id: Mapped[uuid.UUID]
    cause: Mapped[FundingCause] = mapped_column(
        Enum(FundingCause, native_enum=False, length=16, values_callable=lambda e: [m.value for m in e])
    )
    funding_ended_at: Mapped[datetime]
    status: Mapped[ReplacementStatus] = mapped_column(
        Enum(ReplacementStatus, native_enum=False, length=16, values_callable=lambda e: [m.value for m in e])
    )
    handled_by: Mapped[str | None] = mapped_column(String(160))
    handled_at: Mapped[datetime | None]
    note: Mapped[str | None] = mapped_column(String(500))
    replacement_booking_id: Mapped[uuid.UUID | None]
