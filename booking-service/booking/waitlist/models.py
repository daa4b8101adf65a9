"""Waitlists: residents waiting for a place in a full slot, first come first offered."""

import uuid
from datetime import datetime

from sqlalchemy import Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from booking.models import Base
from service_kit.db import IdMixin, TimestampMixin

WAITING_SQL = text("status IN ('waiting', 'offered')")


class WaitlistEntry(IdMixin, TimestampMixin, Base):
    __tablename__ = "waitlist_entry"
    __table_args__ = (
        # A resident waits once per slot.
        Index(
            "uq_waitlist_entry_resident_slot_waiting",
            "offering_id",
            "slot_start",
            "resident_id",
            unique=True,
            sqlite_where=WAITING_SQL,
            postgresql_where=WAITING_SQL,
        ),
        Index("ix_waitlist_entry_offering_id_slot_start_status", "offering_id", "slot_start", "status"),
        Index("ix_waitlist_entry_status_offer_expires_at", "status", "offer_expires_at"),
        Index("ix_waitlist_entry_program_id_status", "program_id", "status"),
    )

    # ``slot``: waiting for a place in a full slot. ``quota``: waiting for a subsidised unit of the funded programme
    # ``program_id`` (its pool used up), to book the slot at the subsidised price; the line is the programme's.
    kind: Mapped[str] = mapped_column(String(8), default="slot", server_default="slot")
    program_id: Mapped[uuid.UUID | None]

    offering_id: Mapped[uuid.UUID]
    provider_id: Mapped[uuid.UUID]
    slot_start: Mapped[datetime]
    resident_id: Mapped[uuid.UUID] = mapped_column(index=True)
    # ``waiting``, ``offered`` (a place is held for them until ``offer_expires_at``), ``accepted`` (booked),
    # ``expired`` (the offer passed to the next), ``left``, ``ended`` (the system ended it: ``closed_by`` says why —
    # the programme ended, the slot passed).
    status: Mapped[str] = mapped_column(String(16))
    # Order in line: the time of joining, then a number drawn at joining (ties are rare, never ambiguous).
    joined_at: Mapped[datetime]
    joined_by: Mapped[str] = mapped_column(String(160))
    helper_resident_id: Mapped[uuid.UUID | None]
    series_id: Mapped[uuid.UUID | None]
    offered_at: Mapped[datetime | None]
    offer_expires_at: Mapped[datetime | None]
    booking_id: Mapped[uuid.UUID | None]
    # ``quota`` only: the full-price booking of the slot the resident already holds, which accepting re-prices.
    for_booking_id: Mapped[uuid.UUID | None] = mapped_column(index=True)
    closed_at: Mapped[datetime | None]
    closed_by: Mapped[str | None] = mapped_column(String(160))
