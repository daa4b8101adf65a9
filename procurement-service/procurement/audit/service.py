"""Writing and reading the audit trail; every stage of the lifecycle records its changes here."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from procurement.audit.models import AuditEntry
from service_kit.auth import Principal
from service_kit.pagination import fetch_page

# Events from other services are recorded with this actor.
SYSTEM = Principal(subject="system:events", roles=frozenset(), name="Linli events")


class AuditEntryView(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    seq: int
    subject_kind: str
    subject_id: uuid.UUID
    action: str
    actor_subject: str
    actor_name: str | None
    actor_roles: list[str]
    occurred_at: datetime
    details: dict[str, Any]
    reason: str | None


async def record(
    session: AsyncSession,
    *,
    kind: str,
    subject_id: uuid.UUID,
    action: str,
    by: Principal,
    at: datetime,
    details: dict[str, Any] | None = None,
    reason: str | None = None,
) -> None:
    session.add(
        AuditEntry(
            subject_kind=kind,
            subject_id=subject_id,
            action=action,
            actor_subject=by.subject,
            actor_name=by.name,
            actor_roles=sorted(str(role) for role in by.roles),
            occurred_at=at,
            details=details or {},
            reason=reason,
        )
    )
    await session.flush()


async def entries_for(
    session: AsyncSession, subject_id: uuid.UUID, *, limit: int, offset: int
) -> tuple[Sequence[AuditEntry], int]:
    query = select(AuditEntry).where(AuditEntry.subject_id == subject_id).order_by(AuditEntry.seq)
    return await fetch_page(session, query, limit=limit, offset=offset)
