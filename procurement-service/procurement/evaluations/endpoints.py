from __future__ import annotations

import uuid

from fastapi import status

from procurement.auth import CallbackReader, CallCenter, ContractReader, ContractViewer, Evaluator, Official
from procurement.clock import Now
from procurement.config import SettingsDep
from procurement.evaluations import schemas, service
from procurement.evaluations.models import EvaluationStage
from procurement.reviews.schemas import DeclarationCreate
from service_kit.db import SessionDep
from service_kit.errors import error_responses
from service_kit.pagination import Page, PaginationDep
from service_kit.routing import service_router

router = service_router(prefix="/api/v1/contracts", tags=["evaluations"])


@router.post(
    "/{contract_id}/evaluations",
    response_model=schemas.Evaluation,
    status_code=status.HTTP_201_CREATED,
    summary="Open the mid-term or (after it) the final evaluation (评估) of a contract",
    responses=error_responses(401, 403, 404, 409, 422),
)
async def open_evaluation(
    contract_id: uuid.UUID,
    data: schemas.EvaluationOpen,
    session: SessionDep,
    principal: Official,
    now: Now,
    settings: SettingsDep,
) -> schemas.Evaluation:
    return await service.open_evaluation(session, contract_id, data, by=principal, now=now, settings=settings)


@router.get(
    "/{contract_id}/evaluations",
    response_model=Page[schemas.Evaluation],
    summary="A contract's evaluations with their parties' scores, weighted result and KPI attainment",
    responses=error_responses(401, 403, 404, 422),
)
async def list_evaluations(
    contract_id: uuid.UUID, session: SessionDep, principal: ContractViewer, page: PaginationDep, settings: SettingsDep
) -> Page[schemas.Evaluation]:
    items, total = await service.list_page(
        session, contract_id, by=principal, limit=page.limit, offset=page.offset, settings=settings
    )
    return page.of(items, total)


@router.get(
    "/{contract_id}/evaluations/{stage}",
    response_model=schemas.Evaluation,
    summary="One evaluation of a contract",
    responses=error_responses(401, 403, 404, 422),
)
async def get_evaluation(
    contract_id: uuid.UUID,
    stage: EvaluationStage,
    session: SessionDep,
    principal: ContractViewer,
    settings: SettingsDep,
) -> schemas.Evaluation:
    return await service.get(session, contract_id, stage, by=principal, settings=settings)


@router.post(
    "/{contract_id}/evaluations/{stage}/scores",
    response_model=schemas.Evaluation,
    summary="Score an open evaluation: an official for the purchaser, an assigned evaluator (who declared no "
    "conflict of interest) as the third party",
    responses=error_responses(401, 403, 404, 409, 422),
)
async def submit_score(
    contract_id: uuid.UUID,
    stage: EvaluationStage,
    data: schemas.ScoreSubmit,
    session: SessionDep,
    principal: ContractReader,
    now: Now,
    settings: SettingsDep,
) -> schemas.Evaluation:
    return await service.submit_score(session, contract_id, stage, data, by=principal, now=now, settings=settings)


@router.post(
    "/{contract_id}/evaluations/{stage}/finalize",
    response_model=schemas.Evaluation,
    summary="Score the parts (quantity, quality, fund use, purchaser, third party) and combine them with the "
    "configured weights; a missing part is shown and adds nothing; a low final score sanctions",
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


@router.post(
    "/{contract_id}/evaluators",
    response_model=schemas.Evaluator,
    status_code=status.HTTP_201_CREATED,
    summary="Assign a third-party evaluator to a contract, recording the providers they are known to be linked to",
    responses=error_responses(401, 403, 404, 409, 422),
)
async def assign_evaluator(
    contract_id: uuid.UUID, data: schemas.EvaluatorAssign, session: SessionDep, principal: Official, now: Now
) -> schemas.Evaluator:
    assignment = await service.assign_evaluator(session, contract_id, data, by=principal, now=now)
    return schemas.Evaluator.model_validate(assignment)


@router.get(
    "/{contract_id}/evaluators",
    response_model=Page[schemas.Evaluator],
    summary="A contract's assigned evaluators and their conflict-of-interest declarations",
    responses=error_responses(401, 403, 404, 422),
)
async def list_evaluators(
    contract_id: uuid.UUID, session: SessionDep, principal: ContractViewer, page: PaginationDep
) -> Page[schemas.Evaluator]:
    items, total = await service.evaluators_page(
        session, contract_id, by=principal, limit=page.limit, offset=page.offset
    )
    return page.of(items, total)


@router.post(
    "/{contract_id}/evaluators/declaration",
    response_model=schemas.Evaluator,
    status_code=status.HTTP_201_CREATED,
    summary="Declare whether you (an assigned evaluator) are linked to the contracted provider, before scoring",
    responses=error_responses(401, 403, 404, 409, 422),
    operation_id="declareAsEvaluator",
)
async def declare(
    contract_id: uuid.UUID, data: DeclarationCreate, session: SessionDep, principal: Evaluator, now: Now
) -> schemas.Evaluator:
    return schemas.Evaluator.model_validate(await service.declare(session, contract_id, data, by=principal, now=now))


@router.post(
    "/{contract_id}/callbacks",
    response_model=schemas.Callback,
    status_code=status.HTTP_201_CREATED,
    summary="Draw at random a funded booking of the contract whose resident an operator calls back (电话回访)",
    responses=error_responses(401, 403, 404, 409, 422),
)
async def draw_callback(
    contract_id: uuid.UUID, session: SessionDep, principal: CallCenter, now: Now
) -> schemas.Callback:
    return await service.draw_callback(session, contract_id, by=principal, now=now)


@router.post(
    "/{contract_id}/callbacks/{callback_id}/result",
    response_model=schemas.Callback,
    summary="Record the result of a satisfaction callback: the resident reached or not, satisfied or not",
    responses=error_responses(401, 403, 404, 409, 422),
)
async def record_callback(
    contract_id: uuid.UUID,
    callback_id: uuid.UUID,
    data: schemas.CallbackResult,
    session: SessionDep,
    principal: CallCenter,
    now: Now,
) -> schemas.Callback:
    return await service.record_callback(session, contract_id, callback_id, data, by=principal, now=now)


@router.get(
    "/{contract_id}/callbacks",
    response_model=Page[schemas.Callback],
    summary="A contract's satisfaction callbacks, drawn and recorded",
    responses=error_responses(401, 403, 404, 422),
)
async def list_callbacks(
    contract_id: uuid.UUID, session: SessionDep, principal: CallbackReader, page: PaginationDep
) -> Page[schemas.Callback]:
    items, total = await service.callbacks_page(
        session, contract_id, by=principal, limit=page.limit, offset=page.offset
    )
    return page.of(items, total)
