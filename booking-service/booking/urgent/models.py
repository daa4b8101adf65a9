import uuid
from datetime import datetime

from sqlalchemy import Index, String
from sqlalchemy.orm import Mapped, mapped_column

from booking.models import Base
from service_kit.db import IdMixin


class UrgentCall(IdMixin, Base):
    """An urgent safety call about a resident (a fall; no answer from someone living alone): opened by an
    operator, escalated at once to the resident's emergency contact and the community's duty phone (SMS, see
    ``escalation_event``), then ``contacted`` (someone reached the resident) and ``resolved``, each step with who
    and when. While it is not resolved ``open_resident_id`` holds the resident: one open urgent call per resident,
    which the database enforces against two operators opening one at the same moment."""

    __tablename__ = "urgent_call"
    __table_args__ = (Index("ix_urgent_call_status_opened_at", "status", "opened_at"),)

    resident_id: Mapped[uuid.UUID] = mapped_column(index=True)
    open_resident_id: Mapped[uuid.UUID | None] = mapped_column(unique=True)
    reason: Mapped[str] = mapped_column(String(16))
    note: Mapped[str] = mapped_column(String(1000))
    # opened, contacted, resolved
    status: Mapped[str] = mapped_column(String(12))
    # Whom the escalation went to, as the card names them (the contact's name and relation, the community's).
    contact_name: Mapped[str | None] = mapped_column(String(80))
    community_code: Mapped[str | None] = mapped_column(String(64))
    community_name: Mapped[str | None] = mapped_column(String(100))
    opened_by: Mapped[str] = mapped_column(String(160))
    opened_by_name: Mapped[str | None] = mapped_column(String(100))
    opened_at: Mapped[datetime]
    contacted_by: Mapped[str | None] = mapped_column(String(160))
    contacted_by_name: Mapped[str | None] = mapped_column(String(100))
    contacted_at: Mapped[datetime | None]
    contacted_note: Mapped[str | None] = mapped_column(String(500))
    resolved_by: Mapped[str | None] = mapped_column(String(160))
    resolved_by_name: Mapped[str | None] = mapped_column(String(100))
    resolved_at: Mapped[datetime | None]
    resolved_note: Mapped[str | None] = mapped_column(String(500))


def escalation_event(call_id: uuid.UUID, recipient: str) -> str:
    """The id under which the SMS to one recipient of an urgent call is written: once, whatever the retries."""
    return f"urgent:{call_id}:{recipient}"
