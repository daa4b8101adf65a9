import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import Enum, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from booking.models import Base
from service_kit.db import IdMixin, TimestampMixin


class BookingStatus(StrEnum):
    requested = "requested"
    confirmed = "confirmed"
    rejected = "rejected"
    cancelled = "cancelled"
    in_service = "in_service"
    completed = "completed"
    no_show = "no_show"


class Booking(IdMixin, TimestampMixin, Base):
    """One unit of one slot of an offering, held for a resident."""

    __tablename__ = "booking"
    __table_args__ = (
        Index("ix_booking_resident_id_created_at", "resident_id", "created_at"),
        Index("ix_booking_provider_id_created_at", "provider_id", "created_at"),
    )

    offering_id: Mapped[uuid.UUID] = mapped_column(index=True)
    provider_id: Mapped[uuid.UUID]
    resident_id: Mapped[uuid.UUID]
    status: Mapped[BookingStatus] = mapped_column(
        Enum(BookingStatus, native_enum=False, length=16, values_callable=lambda e: [m.value for m in e])
    )
    channel: Mapped[str] = mapped_column(String(16))
    slot_start: Mapped[datetime]
    slot_end: Mapped[datetime]
    price_fen: Mapped[int]
    subsidy_fen: Mapped[int] = mapped_column(default=0)
    funded_contract_id: Mapped[uuid.UUID | None]
    # The funded program whose quota this booking drew, so a cancellation gives the unit back.
    funded_program_id: Mapped[uuid.UUID | None]
    booked_by: Mapped[str] = mapped_column(String(160))
    # Who made the last change, why, and when (e.g. the resident who cancelled and their reason).
    status_actor: Mapped[str | None] = mapped_column(String(160))
    status_reason: Mapped[str | None] = mapped_column(String(500))
    status_changed_at: Mapped[datetime]


class SlotCounter(Base):
    """Units of a slot held by active bookings. Taken and given back only by guarded writes, so concurrent
    bookings can never hold more than the offering's capacity."""

    __tablename__ = "slot_counter"

    offering_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    slot_start: Mapped[datetime] = mapped_column(primary_key=True)
    used: Mapped[int] = mapped_column(default=0)
