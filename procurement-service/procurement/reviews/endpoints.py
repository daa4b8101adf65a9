from __future__ import annotations

import uuid

from fastapi import status

from procurement.auth import Official, OfficialReader, PerformanceReader, Reviewer
from procurement.calls import schemas as calls_schemas
from procurement.calls import service as calls_service
from procurement.clock import Now
from procurement.performance import schemas as performance_schemas
from procurement.reviews import schemas, service
from service_kit.db import SessionDep
from service_kit.errors import error_responses
from service_kit.pagination import Page, PaginationDep
from service_kit.routing import service_router

router = service_router(prefix="/api/v1/calls", tags=["review"])
# A reviewer's own work list; nothing in it names another reviewer.
assignments_router = service_router(prefix="/api/v1/review-assignments", tags=["review"])


@router.post(
    "/{call_id}/reviewers",
    response_model=schemas.Assignment,
    status_code=status.HTTP_201_CREATED,
    summary="Assign an expert reviewer to a call, recording the providers they are known to be linked to",
    responses=error_responses(401, 403, 404, 409, 422),
)
async def assign_reviewer(
    call_id: uuid.UUID, data: schemas.AssignmentCreate, session: SessionDep, principal: Official, now: Now
) -> schemas.Assignment:
    return schemas.Assignment.model_validate(await service.assign(session, call_id, data, by=principal, now=now))


@router.get(
    "/{call_id}/reviewers",
    response_model=Page[schemas.AssignmentProgress],
    summary="A call's reviewers and how far each has got (no scores)",
    responses=error_responses(401, 403, 404, 422),
)
async def list_reviewers(
    call_id: uuid.UUID, session: SessionDep, principal: OfficialReader, page: PaginationDep
) -> Page[schemas.AssignmentProgress]:
    items, total = await service.progress(session, call_id, by=principal, limit=page.limit, offset=page.offset)
    return page.of(items, total)


@router.post(
    "/{call_id}/applications/{application_id}/declaration",
    response_model=schemas.Declaration,
    status_code=status.HTTP_201_CREATED,
    summary="Declare whether you (a reviewer) are linked to the applicant, before scoring",
    responses=error_responses(401, 403, 404, 409, 422),
    operation_id="declareAsReviewer",
)
async def declare(
    call_id: uuid.UUID,
    application_id: uuid.UUID,
    data: schemas.DeclarationCreate,
    session: SessionDep,
    principal: Reviewer,
    now: Now,
) -> schemas.Declaration:
    declaration = await service.declare(session, call_id, application_id, data, by=principal, now=now)
    return schemas.Declaration.model_validate(declaration)


@router.put(
    "/{call_id}/applications/{application_id}/my-scores",
    response_model=schemas.ScoreSheet,
    summary="Score each criterion 0–100 (a reviewer may revise until the review closes)",
    responses=error_responses(401, 403, 404, 409, 422),
)
async def submit_scores(
    call_id: uuid.UUID,
    application_id: uuid.UUID,
    data: schemas.ScoreSheetSubmit,
    session: SessionDep,
    principal: Reviewer,
    now: Now,
) -> schemas.ScoreSheet:
    return await service.submit_scores(session, call_id, application_id, data, by=principal, now=now)


@router.get(
    "/{call_id}/applications/{application_id}/past-performance",
    response_model=performance_schemas.PastPerformance,
    summary="The applicant's past performance, for scoring: contracts delivered, acceptance, complaints, history",
    description=(
        "What the applicant delivered before: each signed contract's verified deliveries, latest acceptance, "
        "final evaluation score, supervision findings and residents' complaints; residents' satisfaction; its "
        "historical projects and any sanction. A call's `past_performance` criterion is scored from it."
    ),
    responses=error_responses(401, 403, 404, 422),
)
async def past_performance(
    call_id: uuid.UUID, application_id: uuid.UUID, session: SessionDep, principal: PerformanceReader
) -> performance_schemas.PastPerformance:
    return await service.applicant_past_performance(session, call_id, application_id, by=principal)


@router.get(
    "/{call_id}/applications/{application_id}/my-scores",
    response_model=schemas.ScoreSheet,
    summary="Your own score sheet for an application",
    responses=error_responses(401, 403, 404, 422),
)
async def my_scores(
    call_id: uuid.UUID, application_id: uuid.UUID, session: SessionDep, principal: Reviewer
) -> schemas.ScoreSheet:
    return await service.my_sheet(session, call_id, application_id, by=principal)


@router.get(
    "/{call_id}/applications/{application_id}/scores",
    response_model=list[schemas.ScoreSheet],
    summary="Every reviewer's sheet for an application, once the review has closed",
    responses=error_responses(401, 403, 404, 409, 422),
)
async def all_scores(
    call_id: uuid.UUID, application_id: uuid.UUID, session: SessionDep, principal: OfficialReader
) -> list[schemas.ScoreSheet]:
    return await service.sheets(session, call_id, application_id, by=principal)


@router.post(
    "/{call_id}/close-review",
    response_model=calls_schemas.Call,
    summary="Close the review: aggregate the scores (trimming outliers from five reviewers) and rank",
    responses=error_responses(401, 403, 404, 409, 422),
)
async def close_review(call_id: uuid.UUID, session: SessionDep, principal: Official, now: Now) -> calls_schemas.Call:
    return calls_service.call_view(await service.close_review(session, call_id, by=principal, now=now))


@assignments_router.get(
    "",
    response_model=Page[schemas.MyAssignment],
    summary="The calls you (a reviewer) are assigned to",
    responses=error_responses(401, 403, 422),
)
async def my_assignments(session: SessionDep, principal: Reviewer, page: PaginationDep) -> Page[schemas.MyAssignment]:
    items, total = await service.my_assignments(session, by=principal, limit=page.limit, offset=page.offset)
    return page.of(items, total)
