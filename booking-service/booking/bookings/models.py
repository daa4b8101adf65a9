import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Enum, Index, String, text
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
    expired = "expired"


# Statuses in which a booking holds its unit of the slot for the resident.
ACTIVE_STATUSES = (BookingStatus.requested, BookingStatus.confirmed, BookingStatus.in_service)
ACTIVE_SQL = text("status IN ('requested', 'confirmed', 'in_service')")


class Booking(IdMixin, TimestampMixin, Base):
    """One unit of one slot of an offering, held for a resident."""

    __tablename__ = "booking"
    __table_args__ = (
        Index("ix_booking_resident_id_created_at", "resident_id", "created_at"),
        Index("ix_booking_provider_id_created_at", "provider_id", "created_at"),
        # One resident holds at most one active booking of a slot; the database decides, even under a race.
        Index(
            "uq_booking_resident_id_active_slot",
            "resident_id",
            "offering_id",
            "slot_start",
            unique=True,
            sqlite_where=ACTIVE_SQL,
            postgresql_where=ACTIVE_SQL,
        ),
        # The expiry sweep reads requested bookings past their confirmation deadline.
        Index("ix_booking_status_confirm_by", "status", "confirm_by"),
        # Operators search by status and date; the reminder sweep reads confirmed bookings starting soon.
        Index("ix_booking_status_slot_start", "status", "slot_start"),
        # Operators list the open provider-missed alerts.
        Index("ix_booking_provider_missed_at", "provider_missed_at"),
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
    # The resident's personal entitlement it drew: the period (its first day) and how many units, given back with
    # the booking's place.
    entitlement_period_start: Mapped[date | None]
    entitlement_units: Mapped[int | None]
    # Why the booking carries no subsidy, as the operator reads it to the caller (the entitlement used up, say).
    price_note: Mapped[str | None] = mapped_column(String(300))
    booked_by: Mapped[str] = mapped_column(String(160))
    # The booker's name as their token gave it (an operator's, for the card: "话务员 王芳").
    booked_by_name: Mapped[str | None] = mapped_column(String(100))
    # The resident's helper (a relative's resident id) who made the booking for them, if one did.
    helper_resident_id: Mapped[uuid.UUID | None]
    # Who made the last change, why, and when (e.g. the resident who cancelled and their reason).
    status_actor: Mapped[str | None] = mapped_column(String(160))
    status_reason: Mapped[str | None] = mapped_column(String(500))
    status_changed_at: Mapped[datetime]
    # A requested booking not confirmed by then expires (the expiry sweep).
    confirm_by: Mapped[datetime | None]
    # Delivery evidence: who checked in and out of the visit, when, and where (WGS-84), with the distance from
    # the resident's address; a check-in farther than the configured distance is flagged, not refused.
    checked_in_at: Mapped[datetime | None]
    checked_in_by: Mapped[str | None] = mapped_column(String(160))
    checked_in_latitude: Mapped[float | None]
    checked_in_longitude: Mapped[float | None]
    checked_in_distance_m: Mapped[int | None]
    checked_in_far: Mapped[bool | None]
    # A provider staff member checking in who is not the assigned one is flagged, not refused.
    checked_in_staff_mismatch: Mapped[bool | None]
    checked_out_at: Mapped[datetime | None]
    checked_out_by: Mapped[str | None] = mapped_column(String(160))
    checked_out_latitude: Mapped[float | None]
    checked_out_longitude: Mapped[float | None]
    # The provider's staff member sent to deliver (their account ``sub``), named by the provider or an operator.
    assigned_staff_id: Mapped[str | None] = mapped_column(String(160))
    assigned_staff_name: Mapped[str | None] = mapped_column(String(50))
    assigned_by: Mapped[str | None] = mapped_column(String(160))
    assigned_at: Mapped[datetime | None]
    # A relay number the provider's telephony gives the assigned staff member for this visit (E.164): shown to
    # them in place of the resident's own phone.
    relay_number: Mapped[str | None] = mapped_column(String(32))
    # When the reminder the day before was sent; set by a guarded write so it is sent once, by one replica.
    reminded_at: Mapped[datetime | None]
    # Why the visit's evidence is doubtful (``far_from_place``, ``unassigned_staff``, ``outside_window``): the
    # visit is accepted, the provider sees the reasons, and procurement pays it only once an official accepts it.
    suspect_reasons: Mapped[list[Any] | None]
    # The provider did not come: no check-in by the end of the confirmed slot (the provider-missed job sets it
    # once, by a guarded write); an operator closes the alert with a note after calling the resident.
    provider_missed_at: Mapped[datetime | None]
    provider_missed_closed_at: Mapped[datetime | None]
    provider_missed_closed_by: Mapped[str | None] = mapped_column(String(160))
    provider_missed_note: Mapped[str | None] = mapped_column(String(500))


class SlotCounter(Base):
    """Units of a slot held by active bookings. Taken and given back only by guarded writes, so concurrent
    bookings can never hold more than the offering's capacity."""

    __tablename__ = "slot_counter"

    offering_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    slot_start: Mapped[datetime] = mapped_column(primary_key=True)
    used: Mapped[int] = mapped_column(default=0)
