from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends, Query, status

from procurement.auth import Official
from procurement.clock import Now
from procurement.needs import schemas, service
from procurement.needs.models import NeedStatus
from service_kit.auth import Principal, Role, require_roles
from service_kit.db import SessionDep
from service_kit.errors import error_responses
from service_kit.pagination import Page, PaginationDep
from service_kit.routing import service_router

# The feedback service owns /api/v1/needs (residents' suggestions); this is the officials' pool built from them.
router = service_router(prefix="/api/v1/need-pool", tags=["needs"])

NeedRecorder = Annotated[Principal, Depends(require_roles(Role.official, Role.operator))]
# Who reads the pool: those who record needs, and auditors.
NeedReader = Annotated[Principal, Depends(require_roles(Role.official, Role.operator, Role.auditor))]


@router.post(
    "",
    response_model=schemas.Need,
    status_code=status.HTTP_201_CREATED,
    summary="Add a need to the pool (an operator from a caller, or an official)",
    responses=error_responses(401, 403, 422),
)
async def create_need(data: schemas.NeedCreate, session: SessionDep, principal: NeedRecorder, now: Now) -> schemas.Need:
    return schemas.Need.model_validate(await service.create(session, data, by=principal, now=now))


@router.get(
    "",
    response_model=Page[schemas.Need],
    summary="The needs pool: ranked needs first, then the most asked-for",
    responses=error_responses(401, 403, 422),
    operation_id="listPooledNeeds",
)
async def list_needs(
    session: SessionDep,
    principal: NeedReader,
    page: PaginationDep,
    status: Annotated[NeedStatus | None, Query()] = None,
    category_code: Annotated[str | None, Query(max_length=80)] = None,
) -> Page[schemas.Need]:
    items, total = await service.list_page(
        session,
        status=status,
        category_code=category_code,
        limit=page.limit,
        offset=page.offset,
        street_code=principal.street_code,
    )
    return page.of([schemas.Need.model_validate(n) for n in items], total)


@router.put(
    "/ranking",
    response_model=list[schemas.Need],
    summary="Rank open needs, most urgent first",
    responses=error_responses(401, 403, 404, 409, 422),
)
async def rank_needs(
    data: schemas.NeedRanking, session: SessionDep, principal: Official, now: Now
) -> list[schemas.Need]:
    ranked = await service.rank(session, data.need_ids, by=principal, now=now)
    return [schemas.Need.model_validate(n) for n in ranked]


@router.get(
    "/{need_id}",
    response_model=schemas.Need,
    summary="A need",
    responses=error_responses(401, 403, 404, 422),
    operation_id="getPooledNeed",
)
async def get_need(need_id: uuid.UUID, session: SessionDep, principal: NeedReader) -> schemas.Need:
    return schemas.Need.model_validate(await service.get(session, need_id, by=principal))


@router.post(
    "/{need_id}/merge",
    response_model=schemas.Need,
    summary="Merge a duplicate need into another; returns the need merged into",
    responses=error_responses(401, 403, 404, 409, 422),
)
async def merge_need(
    need_id: uuid.UUID, data: schemas.NeedMerge, session: SessionDep, principal: Official, now: Now
) -> schemas.Need:
    return schemas.Need.model_validate(await service.merge(session, need_id, data.into, by=principal, now=now))


@router.post(
    "/{need_id}/decline",
    response_model=schemas.Need,
    summary="Decline an open need, with the reason its residents are told (need.progressed: declined)",
    responses=error_responses(401, 403, 404, 409, 422),
)
async def decline_need(
    need_id: uuid.UUID, data: schemas.NeedDecline, session: SessionDep, principal: Official, now: Now
) -> schemas.Need:
    return schemas.Need.model_validate(await service.decline(session, need_id, data, by=principal, now=now))
