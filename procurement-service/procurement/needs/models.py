"""The needs pool (需求征集): what residents, operators and officials say the district lacks."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import Enum, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from procurement.models import Base
from service_kit.db import IdMixin, TimestampMixin


class NeedStatus(StrEnum):
    open = "open"
    merged = "merged"
    declined = "declined"  # an official decided the district will not buy it; the reason is told to its residents


class Need(IdMixin, TimestampMixin, Base):
    __tablename__ = "need"

    source: Mapped[str] = mapped_column(String(16))
    # Residents' suggestions arrive grouped by feedback-service: one pooled need per group.
    group_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    category_code: Mapped[str] = mapped_column(String(80), index=True)
    street_code: Mapped[str | None] = mapped_column(String(40))
    community_code: Mapped[str | None] = mapped_column(String(40))
    target_group: Mapped[str | None] = mapped_column(String(40))
    summary: Mapped[str] = mapped_column(Text)
    # How many residents ask for it (merged needs add theirs to the one they merge into).
    count: Mapped[int] = mapped_column(Integer)
    status: Mapped[NeedStatus] = mapped_column(
        Enum(NeedStatus, native_enum=False, create_constraint=False, length=16), index=True
    )
    merged_into_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("need.id"))
    rank: Mapped[int | None] = mapped_column(Integer)
    submitted_by: Mapped[str] = mapped_column(String(200))
    decline_reason: Mapped[str | None] = mapped_column(Text)
    declined_at: Mapped[datetime | None]
