from __future__ import annotations

import uuid

from fastapi import status

from procurement.auth import Official, OfficialReader, ensure_district_wide
from procurement.clock import Now
from procurement.funds import schemas, service
from service_kit.db import SessionDep
from service_kit.errors import error_responses
from service_kit.pagination import Page, PaginationDep
from service_kit.routing import service_router

router = service_router(prefix="/api/v1/funds", tags=["funds"])


@router.post(
    "",
    response_model=schemas.Fund,
    status_code=status.HTTP_201_CREATED,
    summary="Open a fund with its budget (e.g. 2026年社区服务专项资金); a district-wide official's act",
    responses=error_responses(401, 403, 422),
)
async def create_fund(data: schemas.FundCreate, session: SessionDep, principal: Official, now: Now) -> schemas.Fund:
    ensure_district_wide(principal, "opening a fund")
    return await service.create(session, data, by=principal, now=now)


@router.get(
    "", response_model=Page[schemas.Fund], summary="Funds, newest year first", responses=error_responses(401, 403, 422)
)
async def list_funds(session: SessionDep, principal: OfficialReader, page: PaginationDep) -> Page[schemas.Fund]:
    items, total = await service.list_page(session, limit=page.limit, offset=page.offset)
    return page.of(items, total)


@router.get(
    "/{fund_id}",
    response_model=schemas.Fund,
    summary="A fund: budget, committed, remaining",
    responses=error_responses(401, 403, 404, 422),
)
async def get_fund(fund_id: uuid.UUID, session: SessionDep, principal: OfficialReader) -> schemas.Fund:
    return await service.get(session, fund_id)
