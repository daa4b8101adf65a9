from datetime import datetime
from typing import Any

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from booking.models import Base
from service_kit.db import IdMixin, TimestampMixin


class Resident(IdMixin, TimestampMixin, Base):
    """A resident who books community services, registered by an operator (or themself through the app)."""

    __tablename__ = "resident"

    name: Mapped[str] = mapped_column(String(50))
    # E.164 (``+8613812345678``): one resident per phone number.
    phone: Mapped[str] = mapped_column(String(20), unique=True)
    community_code: Mapped[str | None] = mapped_column(String(32), index=True)
    eligibility_tags: Mapped[list[Any]]
    # PIPL consent: which text the resident agreed to, how, and when.
    consent_version: Mapped[str] = mapped_column(String(20))
    consent_channel: Mapped[str] = mapped_column(String(16))
    consent_at: Mapped[datetime]
    registered_by: Mapped[str] = mapped_column(String(120))

    def __repr__(self) -> str:  # never the phone or name: reprs end up in logs
        return f"Resident(id={self.id!s})"
