from __future__ import annotations

import uuid

from fastapi import APIRouter, status

from procurement.auth import ContractReader, Official
from procurement.clock import Now
from procurement.config import SettingsDep
from procurement.evaluations import schemas, service
from procurement.evaluations.models import EvaluationStage
from service_kit.db import SessionDep
from service_kit.errors import error_responses
from service_kit.pagination import Page, PaginationDep

router = APIRouter(prefix="/api/v1/contracts", tags=["evaluations"])


@router.post(
    "/{contract_id}/evaluations",
    response_model=schemas.Evaluation,
    status_code=status.HTTP_201_CREATED,
    summary="Open the mid-term or (after it) the final evaluation (评估) of a contract",
    responses=error_responses(401, 403, 404, 409, 422),
)
async def open_evaluation(
    contract_id: uuid.UUID, data: schemas.EvaluationOpen, session: SessionDep, principal: Official, now: Now
) -> schemas.Evaluation:
    return await service.open_evaluation(session, contract_id, data, by=principal, now=now)


@router.get(
    "/{contract_id}/evaluations",
    response_model=Page[schemas.Evaluation],
    summary="A contract's evaluations with their parties' scores, weighted result and KPI attainment",
    responses=error_responses(401, 403, 404, 422),
)
async def list_evaluations(
    contract_id: uuid.UUID, session: SessionDep, principal: ContractReader, page: PaginationDep
) -> Page[schemas.Evaluation]:
    items, total = await service.list_page(session, contract_id, by=principal, limit=page.limit, offset=page.offset)
    return Page(items=items, total=total, limit=page.limit, offset=page.offset)


@router.get(
    "/{contract_id}/evaluations/{stage}",
    response_model=schemas.Evaluation,
    summary="One evaluation of a contract",
    responses=error_responses(401, 403, 404, 422),
)
async def get_evaluation(
    contract_id: uuid.UUID, stage: EvaluationStage, session: SessionDep, principal: ContractReader
) -> schemas.Evaluation:
    return await service.get(session, contract_id, stage, by=principal)


@router.post(
    "/{contract_id}/evaluations/{stage}/scores",
    response_model=schemas.Evaluation,
    summary="Score an open evaluation: an official for the purchaser, an evaluator as the third party",
    responses=error_responses(401, 403, 404, 409, 422),
)
async def submit_score(
    contract_id: uuid.UUID,
    stage: EvaluationStage,
    data: schemas.ScoreSubmit,
    session: SessionDep,
    principal: ContractReader,
    now: Now,
) -> schemas.Evaluation:
    return await service.submit_score(session, contract_id, stage, data, by=principal, now=now)


@router.post(
    "/{contract_id}/evaluations/{stage}/finalize",
    response_model=schemas.Evaluation,
    summary="Combine the three parties' scores with the configured weights; a low final score sanctions",
    responses=error_responses(401, 403, 404, 409, 422),
)
async def finalize_evaluation(
    contract_id: uuid.UUID,
    stage: EvaluationStage,
    session: SessionDep,
    principal: Official,
    now: Now,
    settings: SettingsDep,
) -> schemas.Evaluation:
    return await service.finalize(session, contract_id, stage, by=principal, now=now, settings=settings)
