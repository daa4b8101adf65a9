import uuid
from typing import Annotated

from fastapi import Depends, Query

from feedback.communities import CommunityCode
from feedback.needs import service
from feedback.needs.schemas import Code, Need, NeedCreate, NeedGroup, NeedSubmittedView
from service_kit.auth import CurrentPrincipal, Principal, Role, require_roles
from service_kit.db import ReadSessionDep, SessionDep
from service_kit.errors import error_responses
from service_kit.pagination import Page, PaginationDep
from service_kit.routing import service_router

router = service_router(prefix="/api/v1/needs", tags=["needs"])

Recorder = Annotated[Principal, Depends(require_roles(Role.resident, Role.operator, Role.official))]
Reader = Annotated[Principal, Depends(require_roles(Role.official, Role.operator))]


@router.post(
    "",
    response_model=NeedSubmittedView,
    status_code=201,
    summary="Record an unmet need or a suggestion; emits need.submitted with its group's count",
    responses=error_responses(401, 403, 404, 422),
)
async def submit_need(session: SessionDep, principal: Recorder, body: NeedCreate) -> NeedSubmittedView:
    return await service.submit_need(session, body, by=principal)


@router.get(
    "",
    response_model=Page[Need],
    summary="Needs (staff: all; a resident: their own)",
    responses=error_responses(401, 403, 422),
)
async def list_needs(
    session: ReadSessionDep,
    principal: CurrentPrincipal,
    page: PaginationDep,
    category_code: Annotated[Code | None, Query()] = None,
    community_code: Annotated[CommunityCode | None, Query()] = None,
) -> Page[Need]:
    return await service.list_needs(
        session, viewer=principal, page=page, category_code=category_code, community_code=community_code
    )


@router.get(
    "/groups",
    response_model=Page[NeedGroup],
    summary="Needs grouped by category and community, most frequent first (officials, operators)",
    responses=error_responses(401, 403, 422),
)
async def list_need_groups(
    session: ReadSessionDep,
    principal: Reader,
    page: PaginationDep,
    category_code: Annotated[Code | None, Query()] = None,
    community_code: Annotated[CommunityCode | None, Query()] = None,
) -> Page[NeedGroup]:
    return await service.list_groups(session, page=page, category_code=category_code, community_code=community_code)


@router.get(
    "/{need_id}",
    response_model=Need,
    summary="One need",
    responses=error_responses(401, 404, 422),
)
async def get_need(session: ReadSessionDep, principal: CurrentPrincipal, need_id: uuid.UUID) -> Need:
    return await service.get_need(session, need_id, viewer=principal)
