"""Reporting: officials' dashboard figures, historical projects, and the public OCDS export."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query

from procurement.auth import OfficialReader
from procurement.dashboard import schemas, service
from procurement.history.endpoints import router as history_router
from procurement.opendata.endpoints import router as ocds_router
from service_kit.db import ReadSessionDep
from service_kit.errors import error_responses
from service_kit.routing import service_router

router = service_router(prefix="/api/v1/funds/dashboard", tags=["dashboard"])


@router.get(
    "",
    response_model=schemas.Dashboard,
    summary="Figures for officials: projects and money by year, direction, street, provider kind; delivery; scores",
    responses=error_responses(401, 403, 422),
)
async def dashboard(
    session: ReadSessionDep,
    principal: OfficialReader,
    year: Annotated[int | None, Query(ge=2000, le=2100, description="Only this year's figures.")] = None,
) -> schemas.Dashboard:
    return await service.dashboard(session, year=year, street_code=principal.street_code)


# Registered before the funds module's ``/api/v1/funds/{fund_id}``, which would otherwise take these paths.
reporting_routers = (router, history_router, ocds_router)
