from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import File, Request, UploadFile, status

from procurement.acceptance import schemas, service
from procurement.auth import Official
from procurement.clock import Now
from procurement.config import SettingsDep
from service_kit.db import ReadSessionDep, SessionDep
from service_kit.documents import Documents
from service_kit.errors import error_responses
from service_kit.pagination import Page, PaginationDep
from service_kit.routing import service_router

router = service_router(prefix="/api/v1/contracts", tags=["acceptance"])


@router.post(
    "/{contract_id}/acceptance",
    response_model=schemas.Acceptance,
    status_code=status.HTTP_201_CREATED,
    summary="Record the acceptance (验收): passed, conditional or failed, with the recipients' opinions",
    responses=error_responses(401, 403, 404, 409, 422),
)
async def record_acceptance(
    contract_id: uuid.UUID,
    data: schemas.AcceptanceCreate,
    session: SessionDep,
    principal: Official,
    now: Now,
    settings: SettingsDep,
) -> schemas.Acceptance:
    return await service.accept(session, contract_id, data, by=principal, now=now, settings=settings)


@router.get(
    "/{contract_id}/acceptance",
    response_model=Page[schemas.Acceptance],
    summary="A contract's acceptance results, public (no login; residents' names masked)",
    responses=error_responses(404, 422),
)
async def public_acceptance(
    contract_id: uuid.UUID, session: SessionDep, page: PaginationDep
) -> Page[schemas.Acceptance]:
    items, total = await service.public_page(session, contract_id, limit=page.limit, offset=page.offset)
    return page.of(items, total)


@router.post(
    "/{contract_id}/acceptance/{acceptance_id}/reports",
    response_model=schemas.AcceptanceReport,
    status_code=status.HTTP_201_CREATED,
    summary="Attach an acceptance report (验收报告, a PDF or a photo; multipart, field `file`): public at once",
    responses=error_responses(401, 403, 404, 413, 415, 422),
)
async def attach_acceptance_report(
    request: Request,
    contract_id: uuid.UUID,
    acceptance_id: uuid.UUID,
    file: Annotated[UploadFile, File(description="The report: PDF, JPEG or PNG")],
    session: SessionDep,
    principal: Official,
) -> schemas.AcceptanceReport:
    return await service.attach_report(session, Documents.of(request), contract_id, acceptance_id, file, by=principal)


@router.get(
    "/{contract_id}/acceptance/{acceptance_id}/reports",
    response_model=list[schemas.AcceptanceReport],
    summary="An acceptance's reports, public (no login), each at its public URL",
    responses=error_responses(404, 422),
)
async def list_acceptance_reports(
    request: Request, contract_id: uuid.UUID, acceptance_id: uuid.UUID, session: ReadSessionDep
) -> list[schemas.AcceptanceReport]:
    return await service.reports(session, Documents.of(request), contract_id, acceptance_id)
