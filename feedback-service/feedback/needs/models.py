import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Enum, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from feedback.models import Base
from service_kit.db import IdMixin


class NeedKind(StrEnum):
    need = "need"  # an unmet need: "no meal table near us"
    suggestion = "suggestion"  # an idea to do better


class NeedSource(StrEnum):
    resident = "resident"
    operator = "operator"
    official = "official"
    application = "application"  # an Open311 application's (its key's subject is ``submitted_by``)


class NeedGroup(Base):
    """Similar needs (same category, same community) counted together: what procurement weighs."""

    __tablename__ = "need_group"
    __table_args__ = (Index("ix_need_group_count", "count"),)

    group_key: Mapped[str] = mapped_column(String(140), primary_key=True)
    category_code: Mapped[str] = mapped_column(String(64))
    community_code: Mapped[str | None] = mapped_column(String(64))
    count: Mapped[int]
    first_at: Mapped[datetime]
    last_at: Mapped[datetime]


class Need(IdMixin, Base):
    __tablename__ = "need"
    __table_args__ = (
        Index("ix_need_group_key_created_at", "group_key", "created_at"),
        Index("ix_need_street_code", "street_code"),
    )

    group_key: Mapped[str] = mapped_column(ForeignKey("need_group.group_key"))
    kind: Mapped[NeedKind] = mapped_column(Enum(NeedKind, native_enum=False, length=16))
    category_code: Mapped[str] = mapped_column(String(64))
    community_code: Mapped[str | None] = mapped_column(String(64))
    # Derived from community_code (feedback.communities.street_of): what reports by street group on.
    street_code: Mapped[str | None] = mapped_column(String(64))
    target_group: Mapped[str | None] = mapped_column(String(32))
    # Masked before storage: phone and ID numbers never reach the table (or procurement).
    text: Mapped[str] = mapped_column(Text)
    source: Mapped[NeedSource] = mapped_column(Enum(NeedSource, native_enum=False, length=16))
    resident_id: Mapped[uuid.UUID | None] = mapped_column(index=True)
    submitted_by: Mapped[str] = mapped_column(String(200))
    # The resident's helper (a relative's resident account the resident authorised) who recorded it, if one did.
    helper_resident_id: Mapped[uuid.UUID | None]
    # Set when the need came through the Open311 facade: its public id there is the need's id.
    via_open311: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime]
    # Where the need stands in procurement (a NeedStage: received, pooled, in_call, contracted, in_service,
    # declined) and the moment of that step (NULL: received, at created_at). Its steps are in need_step.
    status: Mapped[str] = mapped_column(String(16), default="received", server_default="received")
    status_at: Mapped[datetime | None]


class NeedStep(IdMixin, Base):
    """One step of a need's story after it was received, from procurement's ``need.progressed``."""

    __tablename__ = "need_step"
    # One step per need and event: a redelivered need.progressed is never a second step.
    __table_args__ = (UniqueConstraint("need_id", "event_id"),)

    need_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("need.id"), index=True)
    event_id: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))
    occurred_at: Mapped[datetime]
    call_id: Mapped[uuid.UUID | None]
    call_title: Mapped[str | None] = mapped_column(String(200))
    contract_id: Mapped[uuid.UUID | None]
    contract_title: Mapped[str | None] = mapped_column(String(200))
    offering_ids: Mapped[list[Any]]
    reason: Mapped[str | None] = mapped_column(Text)
