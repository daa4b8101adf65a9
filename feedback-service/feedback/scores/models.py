import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import Enum, String
from sqlalchemy.orm import Mapped, mapped_column

from feedback.models import Base


class Outcome(StrEnum):
    completed = "completed"
    no_show = "no_show"


class BookingOutcome(Base):
    """How a booking ended, from ``booking.completed`` / ``booking.no_show``: what the rates are counted from.
    (A complaint about a booking finds it in ``feedback.reference``, which keeps every booking's state.)"""

    __tablename__ = "booking_outcome"

    booking_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    provider_id: Mapped[uuid.UUID] = mapped_column(index=True)
    offering_id: Mapped[uuid.UUID] = mapped_column(index=True)
    resident_id: Mapped[uuid.UUID | None]
    outcome: Mapped[Outcome] = mapped_column(Enum(Outcome, native_enum=False, length=16))
    occurred_at: Mapped[datetime]


class ScoreChange(Base):
    """A provider's or offering's score inputs changed (``version``) since the last ``score.updated`` sent for
    it (``emitted_version``, at ``emitted_at``). The publisher job sends at most one event per subject per
    debounce interval, however many ratings arrive."""

    __tablename__ = "score_change"

    subject_kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    subject_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    provider_id: Mapped[uuid.UUID]
    version: Mapped[int] = mapped_column(default=1)
    emitted_version: Mapped[int] = mapped_column(default=0)
    changed_at: Mapped[datetime]
    emitted_at: Mapped[datetime | None]
