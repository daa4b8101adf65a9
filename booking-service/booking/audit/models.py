import uuid
from datetime import datetime

from sqlalchemy import Index, String
from sqlalchemy.orm import Mapped, mapped_column

from booking.models import Base
from service_kit.db import IdMixin


class ActingFor(IdMixin, Base):
    """One thing an operator (or the resident's helper) did for a resident: "X acting for resident Y" (PIPL
    accountability).

    Kept when the resident's personal data is erased: the resident id is then an anonymized reference."""

    __tablename__ = "acting_for"
    __table_args__ = (Index("ix_acting_for_resident_id_at", "resident_id", "at"),)

    operator_subject: Mapped[str] = mapped_column(String(160))
    operator_name: Mapped[str | None] = mapped_column(String(100))
    resident_id: Mapped[uuid.UUID]
    # register, view, lookup, correct, export, erase, book, confirm, cancel, reschedule, …
    action: Mapped[str] = mapped_column(String(32))
    booking_id: Mapped[uuid.UUID | None]
    # Set when the one acting was the resident's helper (a relative's resident account the resident authorised):
    # ``operator_subject`` is then the helper's account.
    helper_resident_id: Mapped[uuid.UUID | None]
    at: Mapped[datetime]
