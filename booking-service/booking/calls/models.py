import uuid
from datetime import datetime

from sqlalchemy import Index, String
from sqlalchemy.orm import Mapped, mapped_column

from booking.models import Base
from service_kit.db import IdMixin


class CallRecord(IdMixin, Base):
    """One call the hotline took about a resident: why they called (a reason code of ``calls/reasons.py``), the
    operator's note, who was on the line (the resident, a helper for them, someone else) and what was done about
    it (a booking, a complaint, a registration …). Never changed: the card's timeline and the shift's counts."""

    __tablename__ = "call_record"
    __table_args__ = (
        Index("ix_call_record_resident_id_at", "resident_id", "at"),
        Index("ix_call_record_at", "at"),
    )

    resident_id: Mapped[uuid.UUID]
    reason: Mapped[str] = mapped_column(String(32))
    note: Mapped[str] = mapped_column(String(1000))
    # resident, helper (a relative calling for them), other
    caller_kind: Mapped[str] = mapped_column(String(16))
    caller_name: Mapped[str | None] = mapped_column(String(50))
    caller_relation: Mapped[str | None] = mapped_column(String(20))
    # What was done: booking, complaint, need, registration, callback (and its id), or nothing.
    outcome_kind: Mapped[str | None] = mapped_column(String(16))
    outcome_id: Mapped[uuid.UUID | None]
    operator: Mapped[str] = mapped_column(String(160))
    operator_name: Mapped[str | None] = mapped_column(String(100))
    at: Mapped[datetime]


class Callback(IdMixin, Base):
    """A call the hotline owes a resident: when and why, scheduled from a call; worked through by the shift
    (``done``, or no answer and a new time). ``attempts`` counts the tries with no answer, and guards each
    outcome: of two operators working one callback at once, one records it."""

    __tablename__ = "callback"
    __table_args__ = (Index("ix_callback_status_due_at", "status", "due_at"),)

    resident_id: Mapped[uuid.UUID] = mapped_column(index=True)
    call_id: Mapped[uuid.UUID]
    due_at: Mapped[datetime]
    reason: Mapped[str] = mapped_column(String(200))
    # due, done
    status: Mapped[str] = mapped_column(String(8))
    attempts: Mapped[int]
    created_by: Mapped[str] = mapped_column(String(160))
    created_by_name: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime]
    done_by: Mapped[str | None] = mapped_column(String(160))
    done_by_name: Mapped[str | None] = mapped_column(String(100))
    done_at: Mapped[datetime | None]
    last_note: Mapped[str | None] = mapped_column(String(500))
