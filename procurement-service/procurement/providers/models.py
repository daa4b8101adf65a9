"""What procurement knows of providers, from the registry's and its own events: kind, standing, sanctions."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from procurement.models import Base


class ProviderStanding(Base):
    __tablename__ = "provider_standing"

    provider_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    name: Mapped[str | None] = mapped_column(String(200))
    kind: Mapped[str | None] = mapped_column(String(32))
    # The registry's status (verified / suspended …) and when the registry announced it; None until it has.
    status: Mapped[str | None] = mapped_column(String(32))
    status_at: Mapped[datetime | None]
    sanctioned: Mapped[bool] = mapped_column(default=False)
    sanction_until: Mapped[date | None]
    sanction_reason: Mapped[str | None] = mapped_column(Text)
    sanction_at: Mapped[datetime | None]
