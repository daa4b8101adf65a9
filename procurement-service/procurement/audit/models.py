"""The audit trail of the sourcing lifecycle: funds, needs, calls, applications, reviews, notices."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from procurement.models import Base


class AuditEntry(Base):
    """Who did what to which record, when, why, and the facts of the change."""

    __tablename__ = "audit_entry"
    __table_args__ = (Index("ix_audit_entry_subject_id_seq", "subject_id", "seq"),)

    # SQLite autoincrements only an INTEGER primary key.
    seq: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True
    )
    subject_kind: Mapped[str] = mapped_column(String(32))
    subject_id: Mapped[uuid.UUID]
    action: Mapped[str] = mapped_column(String(40))
    actor_subject: Mapped[str] = mapped_column(String(200))
    actor_name: Mapped[str | None] = mapped_column(String(200))
    actor_roles: Mapped[list[Any]]
    occurred_at: Mapped[datetime]
    details: Mapped[dict[str, Any]]
    reason: Mapped[str | None] = mapped_column(Text)
