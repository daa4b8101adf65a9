"""The hotline's follow-up of each item of its work list: who took it and who closed it."""

import uuid
from datetime import datetime

from sqlalchemy import Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from booking.models import Base
from service_kit.db import IdMixin


class WorklistFollowUp(IdMixin, Base):
    """One operator's hold on one item of the shift's work list (a callback, an unconfirmed booking, an unanswered
    waitlist offer, a re-check, a no-show, a complaint): taken once, done once. (kind, item) is unique, so of two
    operators taking an item at once the database lets one in; ``done_at`` is written by a guarded update."""

    __tablename__ = "worklist_followup"
    __table_args__ = (
        UniqueConstraint("kind", "item_id"),
        Index("ix_worklist_followup_done_at", "done_at"),
    )

    kind: Mapped[str] = mapped_column(String(24))
    item_id: Mapped[uuid.UUID]
    resident_id: Mapped[uuid.UUID | None]
    taken_by: Mapped[str] = mapped_column(String(160))
    taken_by_name: Mapped[str | None] = mapped_column(String(100))
    taken_at: Mapped[datetime]
    done_by: Mapped[str | None] = mapped_column(String(160))
    done_by_name: Mapped[str | None] = mapped_column(String(100))
    done_at: Mapped[datetime | None]
    note: Mapped[str | None] = mapped_column(String(500))
