"""Writing and reading the audit trail; every stage of the lifecycle records its changes here.

A trail is read by its record's id; a record nothing was recorded of has no trail (404). A street-scoped official
reads the trails of their street's records (a sanction's is its contract's street, an application's or a notice's
its call's) and those of the district's funds, which every official reads; any other trail does not exist for them
(404), the district's own records (a district call, the needs pool's ranking) included."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from procurement.audit import repository
from procurement.audit.models import AuditEntry
from procurement.auth import sees_street
from service_kit.auth import Principal
from service_kit.errors import NotFound

# Events from other services are recorded with this actor.
SYSTEM = Principal(subject="system:events", roles=frozenset(), name="Linli events")


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
    await repository.add(
        session,
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
        ),
    )


# Kinds of record of no street that every official reads, a street-scoped one included.
DISTRICT_READABLE = frozenset({"fund"})


async def entries_for(
    session: AsyncSession, subject_id: uuid.UUID, *, by: Principal, limit: int, offset: int
) -> tuple[Sequence[AuditEntry], int]:
    kind = await repository.kind_of(session, subject_id)
    if kind is None or (
        by.street_code is not None
        and kind not in DISTRICT_READABLE
        and not sees_street(by, await repository.street_of(session, kind, subject_id))
    ):
        raise NotFound("No recorded change to such a record.", code="audit_trail_not_found")
    return await repository.entries_page(session, subject_id, limit=limit, offset=offset)
