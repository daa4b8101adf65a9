"""Historical projects: completed purchases from before Linli, imported by officials for the dashboard.

They live in the audit trail (kind ``historical_project``): each import of a project is an entry carrying its
facts, by whom and when, and the latest entry of a project is its current account. A project's id is derived
from its year and reference (or title) and provider, so importing the same list again records nothing, and a
corrected figure is recorded as a correction, never an overwrite. Two imports racing may both record the same
project; readers take the latest entry per project, so the figures never count it twice.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from procurement.audit import service as audit
from procurement.audit.models import AuditEntry
from procurement.history import schemas
from service_kit.auth import Principal
from service_kit.errors import ValidationFailed
from service_kit.timeutil import SHANGHAI

KIND = "historical_project"
_NAMESPACE = uuid.UUID("5f0c4d52-7a1e-4a43-9a3c-6b1f2e8d0c11")


def project_id(project: schemas.HistoricalProjectIn) -> uuid.UUID:
    name = project.reference or project.title
    return uuid.uuid5(_NAMESPACE, f"{project.year}|{name}|{project.provider.organization_id}")


async def latest(session: AsyncSession) -> dict[uuid.UUID, AuditEntry]:
    """Every historical project's latest entry, by project id."""
    result = await session.execute(select(AuditEntry).where(AuditEntry.subject_kind == KIND).order_by(AuditEntry.seq))
    return {entry.subject_id: entry for entry in result.scalars().all()}


def view(entry: AuditEntry) -> schemas.HistoricalProject:
    return schemas.HistoricalProject(**entry.details, id=entry.subject_id, recorded_at=entry.occurred_at)


async def import_projects(
    session: AsyncSession, data: schemas.HistoricalImport, *, by: Principal, now: datetime
) -> schemas.ImportOutcome:
    this_year = now.astimezone(SHANGHAI).year
    ids: dict[uuid.UUID, int] = {}
    for index, project in enumerate(data.projects):
        if project.year > this_year:
            raise ValidationFailed(
                f"projects.{index}: a historical project is a completed one; {project.year} has not passed.",
                code="project_in_future",
            )
        pid = project_id(project)
        if pid in ids:
            raise ValidationFailed(
                f"projects.{index} repeats projects.{ids[pid]} (same year, reference or title, and provider).",
                code="duplicate_project",
            )
        ids[pid] = index
    known = await latest(session)
    outcome = schemas.ImportOutcome(recorded=0, corrected=0, unchanged=0)
    for pid, index in ids.items():
        facts: dict[str, Any] = data.projects[index].model_dump(mode="json")
        earlier = known.get(pid)
        if earlier is not None and earlier.details == facts:
            outcome.unchanged += 1
            continue
        action = "recorded" if earlier is None else "corrected"
        await audit.record(session, kind=KIND, subject_id=pid, action=action, by=by, at=now, details=facts)
        if earlier is None:
            outcome.recorded += 1
        else:
            outcome.corrected += 1
    return outcome


async def list_page(
    session: AsyncSession, *, year: int | None, limit: int, offset: int
) -> tuple[list[schemas.HistoricalProject], int]:
    projects = [view(e) for e in (await latest(session)).values()]
    if year is not None:
        projects = [p for p in projects if p.year == year]
    projects.sort(key=lambda p: (-p.year, p.title, str(p.id)))
    return projects[offset : offset + limit], len(projects)
