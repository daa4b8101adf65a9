"""Historical projects: completed purchases from before Linli, one row per project with its current facts."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from procurement.models import Base


class HistoricalProject(Base):
    """A project as last imported. Its id is derived from its year, reference (or title) and provider
    (``history.service.project_id``), so importing it again finds this row. Every import that recorded or
    corrected it is also in the audit trail (kind ``historical_project``), with who, when and the facts."""

    __tablename__ = "historical_project"
    __table_args__ = (
        CheckConstraint("amount_fen > 0", name="amount_positive"),
        Index("ix_historical_project_year_title", "year", "title"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    reference: Mapped[str | None] = mapped_column(String(80))
    year: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(200))
    direction: Mapped[str] = mapped_column(String(40))
    street_code: Mapped[str] = mapped_column(String(40))
    provider_id: Mapped[uuid.UUID]
    provider_name: Mapped[str] = mapped_column(String(200))
    provider_kind: Mapped[str] = mapped_column(String(32))
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    result: Mapped[str] = mapped_column(String(16))
    score: Mapped[int | None] = mapped_column(Integer)
    # When the project was first imported, and when its current facts were (the first import, or the last
    # correction).
    recorded_at: Mapped[datetime]
    updated_at: Mapped[datetime]
