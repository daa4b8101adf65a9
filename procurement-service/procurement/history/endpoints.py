"""Historical projects: officials import completed purchases from before Linli, and read them back."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query

from procurement.auth import Official, OfficialReader
from procurement.clock import Now
from procurement.history import schemas, service
from service_kit.db import SessionDep
from service_kit.errors import error_responses
from service_kit.pagination import Page, PaginationDep
from service_kit.routing import service_router

router = service_router(prefix="/api/v1/funds/historical-projects", tags=["dashboard"])


@router.post(
    "",
    response_model=schemas.ImportOutcome,
    summary="Import completed projects from before Linli (audited; importing the same list again records nothing)",
    responses=error_responses(401, 403, 422),
)
async def import_projects(
    data: schemas.HistoricalImport, session: SessionDep, principal: Official, now: Now
) -> schemas.ImportOutcome:
    return await service.import_projects(session, data, by=principal, now=now)


@router.get(
    "",
    response_model=Page[schemas.HistoricalProject],
    summary="Historical projects, newest year first",
    responses=error_responses(401, 403, 422),
)
async def list_projects(
    session: SessionDep,
    principal: OfficialReader,
    page: PaginationDep,
    year: Annotated[int | None, Query(ge=2000, le=2100)] = None,
) -> Page[schemas.HistoricalProject]:
    items, total = await service.list_page(
        session, year=year, limit=page.limit, offset=page.offset, street_code=principal.street_code
    )
    return page.of(items, total)
