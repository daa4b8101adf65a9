"""Public notices (公示) of approved projects and the objections (异议) anyone may file while they run."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Enum, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from procurement.models import Base
from service_kit.db import IdMixin, TimestampMixin


class ObjectionStatus(StrEnum):
    open = "open"
    answered = "answered"


class Notice(IdMixin, TimestampMixin, Base):
    __tablename__ = "notice"

    call_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("proposal_call.id"), unique=True)
    kind: Mapped[str] = mapped_column(String(32))
    title: Mapped[str] = mapped_column(String(300))
    # The approved applications as announced: [{application_id, provider_id, provider_name, title, amount_fen, …}]
    projects: Mapped[list[Any]]
    published_at: Mapped[datetime]
    published_by: Mapped[str] = mapped_column(String(200))
    period_working_days: Mapped[int] = mapped_column(Integer)
    # The last day (Beijing time) objections are taken; a contract is signed only after it.
    objection_deadline: Mapped[date]


class Objection(IdMixin, TimestampMixin, Base):
    __tablename__ = "objection"

    notice_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("notice.id"), index=True)
    application_id: Mapped[uuid.UUID | None]
    # The filer's identity is kept for the officials who answer; the public sees it masked.
    filer_name: Mapped[str] = mapped_column(String(100))
    filer_phone: Mapped[str | None] = mapped_column(String(32))
    filer_subject: Mapped[str | None] = mapped_column(String(200))
    content: Mapped[str] = mapped_column(Text)
    status: Mapped[ObjectionStatus] = mapped_column(
        Enum(ObjectionStatus, native_enum=False, create_constraint=False, length=16), index=True
    )
    filed_at: Mapped[datetime]
    answer: Mapped[str | None] = mapped_column(Text)
    answered_at: Mapped[datetime | None]
    answered_by: Mapped[str | None] = mapped_column(String(200))
