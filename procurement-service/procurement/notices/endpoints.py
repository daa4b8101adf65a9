from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import File, Request, UploadFile, status

from procurement.auth import Official
from procurement.clock import Now
from procurement.notices import schemas, service
from service_kit.auth import OptionalPrincipal
from service_kit.db import ReadSessionDep, SessionDep
from service_kit.documents import Documents
from service_kit.errors import error_responses
from service_kit.pagination import Page, PaginationDep
from service_kit.routing import service_router

router = service_router(prefix="/api/v1/notices", tags=["notices"])
publish_router = service_router(prefix="/api/v1/calls", tags=["notices"])

DEFAULT_PERIOD = 5


def _default_period(request: Request) -> int:
    settings = request.app.state.runtime.settings
    return int(getattr(settings, "notice_period_working_days", DEFAULT_PERIOD))


@publish_router.post(
    "/{call_id}/notice",
    response_model=schemas.Notice,
    status_code=status.HTTP_201_CREATED,
    summary="Publish the public notice (公示) of a call's approved projects",
    responses=error_responses(401, 403, 404, 409, 422),
)
async def publish_notice(
    call_id: uuid.UUID,
    data: schemas.NoticePublish,
    request: Request,
    session: SessionDep,
    principal: Official,
    now: Now,
) -> schemas.Notice:
    notice = await service.publish(
        session, call_id, data, default_period=_default_period(request), by=principal, now=now
    )
    return await service.view(session, Documents.of(request), notice)


@router.get(
    "",
    response_model=Page[schemas.Notice],
    summary="Public notices, newest first (no login; personal data masked)",
    responses=error_responses(422),
)
async def list_notices(request: Request, session: ReadSessionDep, page: PaginationDep) -> Page[schemas.Notice]:
    items, total = await service.list_page(session, Documents.of(request), limit=page.limit, offset=page.offset)
    return page.of(items, total)


@router.get(
    "/{notice_id}",
    response_model=schemas.Notice,
    summary="A public notice with its objections and answers (no login; personal data masked)",
    responses=error_responses(404, 422),
)
async def get_notice(request: Request, notice_id: uuid.UUID, session: ReadSessionDep) -> schemas.Notice:
    return await service.view(session, Documents.of(request), await service.get(session, notice_id))


@router.post(
    "/{notice_id}/documents",
    response_model=schemas.NoticeDocument,
    status_code=status.HTTP_201_CREATED,
    summary="Attach a document to a notice (PDF, JPEG or PNG; multipart, field `file`): public with the notice",
    responses=error_responses(401, 403, 404, 413, 415, 422),
)
async def attach_notice_document(
    request: Request,
    notice_id: uuid.UUID,
    file: Annotated[UploadFile, File(description="The document: PDF, JPEG or PNG")],
    session: SessionDep,
    principal: Official,
) -> schemas.NoticeDocument:
    return await service.attach_document(session, Documents.of(request), notice_id, file, by=principal)


@router.get(
    "/{notice_id}/documents",
    response_model=list[schemas.NoticeDocument],
    summary="A notice's documents, oldest first, each at its public URL (no login)",
    responses=error_responses(404, 422),
)
async def list_notice_documents(
    request: Request, notice_id: uuid.UUID, session: ReadSessionDep
) -> list[schemas.NoticeDocument]:
    return await service.notice_documents(session, Documents.of(request), notice_id)


@router.post(
    "/{notice_id}/objections",
    response_model=schemas.PublicObjection,
    status_code=status.HTTP_201_CREATED,
    summary="Object (异议) to a notice while it runs; anyone may, with or without an account",
    responses=error_responses(404, 409, 422),
)
async def file_objection(
    notice_id: uuid.UUID, data: schemas.ObjectionCreate, session: SessionDep, principal: OptionalPrincipal, now: Now
) -> schemas.PublicObjection:
    objection = await service.file_objection(session, notice_id, data, by=principal, now=now)
    return service.public_objection(objection)


@router.post(
    "/{notice_id}/objections/{objection_id}/answer",
    response_model=schemas.Objection,
    summary="Answer an objection (published with the notice)",
    responses=error_responses(401, 403, 404, 409, 422),
)
async def answer_objection(
    notice_id: uuid.UUID,
    objection_id: uuid.UUID,
    data: schemas.ObjectionAnswer,
    session: SessionDep,
    principal: Official,
    now: Now,
) -> schemas.Objection:
    objection = await service.answer(session, notice_id, objection_id, data, by=principal, now=now)
    return service.objection_view(objection)
