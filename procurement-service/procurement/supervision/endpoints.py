from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import File, Request, UploadFile, status

from procurement.auth import ContractViewer, Official, ProviderAdmin
from procurement.clock import Now
from procurement.supervision import schemas, service
from service_kit.db import SessionDep
from service_kit.documents import Documents
from service_kit.errors import error_responses
from service_kit.pagination import Page, PaginationDep
from service_kit.routing import service_router

router = service_router(prefix="/api/v1/contracts", tags=["supervision"])


@router.post(
    "/{contract_id}/progress-reports",
    response_model=schemas.ProgressReport,
    status_code=status.HTTP_201_CREATED,
    summary="The contracted provider reports progress for a period",
    responses=error_responses(401, 403, 404, 409, 422),
)
async def submit_progress_report(
    contract_id: uuid.UUID, data: schemas.ProgressReportCreate, session: SessionDep, principal: ProviderAdmin, now: Now
) -> schemas.ProgressReport:
    return await service.submit_progress_report(session, contract_id, data, by=principal, now=now)


@router.get(
    "/{contract_id}/progress-reports",
    response_model=Page[schemas.ProgressReport],
    summary="A contract's progress reports, oldest first",
    responses=error_responses(401, 403, 404, 422),
)
async def list_progress_reports(
    contract_id: uuid.UUID, session: SessionDep, principal: ContractViewer, page: PaginationDep
) -> Page[schemas.ProgressReport]:
    items, total = await service.progress_reports(
        session, contract_id, by=principal, limit=page.limit, offset=page.offset
    )
    return page.of(items, total)


@router.post(
    "/{contract_id}/supervision",
    response_model=schemas.SupervisionRecord,
    status_code=status.HTTP_201_CREATED,
    summary="An official records a supervision (监管): a visit or check, its findings and conclusion",
    responses=error_responses(401, 403, 404, 409, 422),
)
async def record_supervision(
    contract_id: uuid.UUID, data: schemas.SupervisionCreate, session: SessionDep, principal: Official, now: Now
) -> schemas.SupervisionRecord:
    return await service.record_supervision(session, contract_id, data, by=principal, now=now)


@router.get(
    "/{contract_id}/supervision",
    response_model=Page[schemas.SupervisionRecord],
    summary="A contract's supervision records, oldest first",
    responses=error_responses(401, 403, 404, 422),
)
async def list_supervision(
    contract_id: uuid.UUID, session: SessionDep, principal: ContractViewer, page: PaginationDep
) -> Page[schemas.SupervisionRecord]:
    items, total = await service.supervision_records(
        session, contract_id, by=principal, limit=page.limit, offset=page.offset
    )
    return page.of(items, total)


@router.get(
    "/{contract_id}/complaints",
    response_model=Page[schemas.LinkedComplaint],
    summary="Residents' complaints about the contracted service (from feedback), oldest first",
    responses=error_responses(401, 403, 404, 422),
    operation_id="listContractComplaints",
)
async def list_complaints(
    contract_id: uuid.UUID, session: SessionDep, principal: ContractViewer, page: PaginationDep
) -> Page[schemas.LinkedComplaint]:
    items, total = await service.complaints(session, contract_id, by=principal, limit=page.limit, offset=page.offset)
    return page.of(items, total)


@router.post(
    "/{contract_id}/supervision/{record_id}/reports",
    status_code=status.HTTP_201_CREATED,
    summary="Attach a report to a supervision record (PDF, JPEG or PNG; multipart, field `file`)",
    responses=error_responses(401, 403, 404, 413, 415, 422),
)
async def attach_supervision_report(
    request: Request,
    contract_id: uuid.UUID,
    record_id: uuid.UUID,
    file: Annotated[UploadFile, File(description="The report: PDF, JPEG or PNG")],
    session: SessionDep,
    principal: Official,
) -> dict[str, Any]:
    return await service.attach_report(session, Documents.of(request), contract_id, record_id, file, by=principal)


@router.get(
    "/{contract_id}/supervision/{record_id}/reports",
    summary="A supervision record's reports, each with a short-lived link",
    responses=error_responses(401, 403, 404, 422),
)
async def list_supervision_reports(
    request: Request, contract_id: uuid.UUID, record_id: uuid.UUID, session: SessionDep, principal: ContractViewer
) -> list[dict[str, Any]]:
    return await service.reports(session, Documents.of(request), contract_id, record_id, by=principal)
