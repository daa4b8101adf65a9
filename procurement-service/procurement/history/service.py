"""Historical projects: completed purchases from before Linli, imported by officials for the dashboard.

Each project is a row of ``historical_project`` holding its current facts. A project's id is derived from its
year and reference (or title) and provider, so importing the same list again records nothing; a project not
known before is inserted (``recorded``), one whose facts differ is updated (``corrected``), and each of those is
also an entry of the audit trail (kind ``historical_project``) carrying the facts, by whom and when. Two imports
racing insert a project once: the second finds it (and, with the same facts, leaves it unchanged).

Every project names its street. A street-scoped official lists their street's projects only, and imports only
projects of their street: a project naming another street, or one already recorded for another street, is refused
(403 ``street_forbidden`` on its ``street_code``) and nothing of the import is recorded.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal, cast

from sqlalchemy.ext.asyncio import AsyncSession

from procurement.audit import service as audit
from procurement.calls.schemas import Direction, ProviderKind
from procurement.history import repository, schemas
from procurement.history.models import HistoricalProject
from service_kit.auth import Principal
from service_kit.errors import Forbidden, ValidationFailed
from service_kit.timeutil import SHANGHAI

KIND = "historical_project"
_NAMESPACE = uuid.UUID("5f0c4d52-7a1e-4a43-9a3c-6b1f2e8d0c11")


def project_id(project: schemas.HistoricalProjectIn) -> uuid.UUID:
    name = project.reference or project.title
    return uuid.uuid5(_NAMESPACE, f"{project.year}|{name}|{project.provider.organization_id}")


def facts_of(project: schemas.HistoricalProjectIn) -> dict[str, Any]:
    """The project's facts as the table's columns: the provider flattened."""
    facts = project.model_dump(mode="json", exclude={"provider"})
    provider = project.provider
    return {
        **facts,
        "provider_id": provider.organization_id,
        "provider_name": provider.name,
        "provider_kind": provider.kind,
    }


def view(row: HistoricalProject) -> schemas.HistoricalProject:
    """The project as clients see it; ``recorded_at`` is when its current facts were recorded."""
    return schemas.HistoricalProject(
        id=row.id,
        reference=row.reference,
        year=row.year,
        title=row.title,
        direction=cast(Direction, row.direction),
        street_code=row.street_code,
        provider=schemas.HistoricalProvider(
            organization_id=row.provider_id, name=row.provider_name, kind=cast(ProviderKind, row.provider_kind)
        ),
        amount_fen=row.amount_fen,
        result=cast(schemas.Result, row.result),
        score=row.score,
        recorded_at=row.updated_at,
    )


async def projects(
    session: AsyncSession, *, year: int | None, street_code: str | None = None
) -> list[schemas.HistoricalProject]:
    """Every historical project, or those of ``year`` (and of ``street_code``)."""
    return [view(row) for row in await repository.of_year(session, year, street_code=street_code)]


async def _ensure_own_street(
    session: AsyncSession, data: schemas.HistoricalImport, ids: dict[uuid.UUID, int], street_code: str
) -> None:
    """A street-scoped official's import names their street only, and corrects no other street's project."""
    recorded = await repository.streets_of(session, ids)
    for pid, index in sorted(ids.items(), key=lambda item: item[1]):
        for street in (data.projects[index].street_code, recorded.get(pid, street_code)):
            if street != street_code:
                raise Forbidden(
                    f"You act for the street {street_code}; projects.{index} is of the street {street}.",
                    code="street_forbidden",
                    field=f"projects.{index}.street_code",
                )


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
    if by.street_code is not None:
        await _ensure_own_street(session, data, ids, by.street_code)
    outcome = schemas.ImportOutcome(recorded=0, corrected=0, unchanged=0)
    for pid, index in ids.items():
        project = data.projects[index]
        facts = facts_of(project)
        if await repository.insert_if_absent(session, pid, facts, now):
            action: Literal["recorded", "corrected"] = "recorded"
            outcome.recorded += 1
        elif await repository.update_if_different(session, pid, facts, now):
            action = "corrected"
            outcome.corrected += 1
        else:
            outcome.unchanged += 1
            continue
        details = project.model_dump(mode="json")
        await audit.record(session, kind=KIND, subject_id=pid, action=action, by=by, at=now, details=details)
    return outcome


async def list_page(
    session: AsyncSession, *, year: int | None, limit: int, offset: int, street_code: str | None = None
) -> tuple[list[schemas.HistoricalProject], int]:
    rows, total = await repository.list_page(session, year=year, limit=limit, offset=offset, street_code=street_code)
    return [view(row) for row in rows], total
