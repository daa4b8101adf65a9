"""Every SQL statement about historical projects."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from procurement.guarded import update_if
from procurement.history.models import HistoricalProject
from service_kit.db import upsert
from service_kit.pagination import fetch_page


async def insert_if_absent(session: AsyncSession, project_id: uuid.UUID, facts: dict[str, Any], at: datetime) -> bool:
    """Record the project unless it is known; of two imports racing, one inserts and the other finds it."""
    statement = (
        upsert(session, HistoricalProject)
        .values(id=project_id, **facts, recorded_at=at, updated_at=at)
        .on_conflict_do_nothing(index_elements=["id"])
    )
    result = cast(CursorResult[Any], await session.execute(statement))
    return result.rowcount == 1


async def update_if_different(
    session: AsyncSession, project_id: uuid.UUID, facts: dict[str, Any], at: datetime
) -> bool:
    """Replace the project's facts where any differs; False when they are all the same already (a racing
    import with the same facts then changes nothing)."""
    columns = HistoricalProject.__table__.c
    differs = or_(*(columns[name].is_distinct_from(value) for name, value in facts.items()))
    return await update_if(
        session,
        HistoricalProject,
        HistoricalProject.id == project_id,
        differs,
        keep_session=True,
        **facts,
        updated_at=at,
    )


def _of_year(year: int | None, street_code: str | None = None) -> list[Any]:
    conditions: list[Any] = [HistoricalProject.year == year] if year is not None else []
    if street_code is not None:
        conditions.append(HistoricalProject.street_code == street_code)
    return conditions


async def streets_of(session: AsyncSession, project_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, str]:
    """The street each of the projects already recorded names."""
    rows = await session.execute(
        select(HistoricalProject.id, HistoricalProject.street_code).where(HistoricalProject.id.in_(list(project_ids)))
    )
    return {project_id: street for project_id, street in rows.all()}


async def list_page(
    session: AsyncSession, *, year: int | None, limit: int, offset: int, street_code: str | None = None
) -> tuple[Sequence[HistoricalProject], int]:
    query = (
        select(HistoricalProject)
        .where(*_of_year(year, street_code))
        .order_by(HistoricalProject.year.desc(), HistoricalProject.title, HistoricalProject.id)
    )
    return await fetch_page(session, query, limit=limit, offset=offset)


async def of_year(
    session: AsyncSession, year: int | None, *, street_code: str | None = None
) -> Sequence[HistoricalProject]:
    """Every historical project, or those of ``year`` (and of ``street_code``): what the dashboard counts."""
    result = await session.execute(
        select(HistoricalProject)
        .where(*_of_year(year, street_code))
        .order_by(HistoricalProject.year, HistoricalProject.id)
    )
    return result.scalars().all()
