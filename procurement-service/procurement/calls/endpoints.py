from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import File, Query, Request, UploadFile, status

from procurement.auth import Official, ProviderAdmin
from procurement.calls import schemas, service
from procurement.calls.models import CallStatus
from procurement.clock import Now
from service_kit.auth import CurrentPrincipal, OptionalPrincipal
from service_kit.db import ReadSessionDep, SessionDep
from service_kit.documents import Documents
from service_kit.errors import error_responses
from service_kit.pagination import Page, PaginationDep
from service_kit.routing import service_router

router = service_router(prefix="/api/v1/calls", tags=["calls"])


@router.post(
    "",
    response_model=schemas.Call,
    status_code=status.HTTP_201_CREATED,
    summary="Draft a call for proposals (项目征集)",
    responses=error_responses(401, 403, 404, 422),
)
async def create_call(data: schemas.CallCreate, session: SessionDep, principal: Official, now: Now) -> schemas.Call:
    return service.call_view(await service.create_call(session, data, by=principal, now=now))


@router.get(
    "",
    response_model=Page[schemas.Call],
    summary="Calls for proposals: published ones are public; officials also see drafts",
    responses=error_responses(422),
)
async def list_calls(
    session: SessionDep,
    principal: OptionalPrincipal,
    page: PaginationDep,
    status: Annotated[CallStatus | None, Query()] = None,
) -> Page[schemas.Call]:
    items, total = await service.list_calls(session, by=principal, status=status, limit=page.limit, offset=page.offset)
    return page.of([service.call_view(c) for c in items], total)


@router.get(
    "/{call_id}", response_model=schemas.Call, summary="A call for proposals", responses=error_responses(404, 422)
)
async def get_call(call_id: uuid.UUID, session: SessionDep, principal: OptionalPrincipal) -> schemas.Call:
    return service.call_view(await service.get_call(session, call_id, by=principal))


@router.post(
    "/{call_id}/publish",
    response_model=schemas.Call,
    summary="Publish a draft call: it is public and takes applications until its deadline",
    responses=error_responses(401, 403, 404, 409, 422),
)
async def publish_call(call_id: uuid.UUID, session: SessionDep, principal: Official, now: Now) -> schemas.Call:
    return service.call_view(await service.publish_call(session, call_id, by=principal, now=now))


@router.post(
    "/{call_id}/close",
    response_model=schemas.Call,
    summary="Close a call after its deadline: the review begins",
    responses=error_responses(401, 403, 404, 409, 422),
)
async def close_call(call_id: uuid.UUID, session: SessionDep, principal: Official, now: Now) -> schemas.Call:
    return service.call_view(await service.close_call(session, call_id, by=principal, now=now))


@router.post(
    "/{call_id}/applications",
    response_model=schemas.Application,
    status_code=status.HTTP_201_CREATED,
    summary="Apply to a call (申报) for your provider, before the deadline",
    responses=error_responses(401, 403, 404, 409, 422),
    operation_id="applyToCall",
)
async def apply(
    call_id: uuid.UUID, data: schemas.ApplicationCreate, session: SessionDep, principal: ProviderAdmin, now: Now
) -> schemas.Application:
    return service.application_view(await service.apply(session, call_id, data, by=principal, now=now))


@router.get(
    "/{call_id}/applications",
    response_model=Page[schemas.Application],
    summary="A call's applications: all for officials, assigned reviewers' calls, a provider's own; by rank",
    responses=error_responses(401, 404, 422),
)
async def list_applications(
    call_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal, page: PaginationDep
) -> Page[schemas.Application]:
    items, total = await service.list_applications(session, call_id, by=principal, limit=page.limit, offset=page.offset)
    return page.of([service.application_view(a) for a in items], total)


@router.get(
    "/{call_id}/applications/{application_id}",
    response_model=schemas.Application,
    summary="An application",
    responses=error_responses(401, 404, 422),
)
async def get_application(
    call_id: uuid.UUID, application_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal
) -> schemas.Application:
    return service.application_view(await service.get_application(session, call_id, application_id, by=principal))


@router.post(
    "/{call_id}/applications/{application_id}/withdraw",
    response_model=schemas.Application,
    summary="Withdraw your application before the deadline",
    responses=error_responses(401, 403, 404, 409, 422),
)
async def withdraw_application(
    call_id: uuid.UUID, application_id: uuid.UUID, session: SessionDep, principal: ProviderAdmin, now: Now
) -> schemas.Application:
    return service.application_view(await service.withdraw(session, call_id, application_id, by=principal, now=now))


@router.post(
    "/{call_id}/applications/{application_id}/approve",
    response_model=schemas.Application,
    summary="Approve a reviewed application (立项), committing its amount within the fund's budget",
    responses=error_responses(401, 403, 404, 409, 422),
)
async def approve_application(
    call_id: uuid.UUID,
    application_id: uuid.UUID,
    data: schemas.Approval,
    session: SessionDep,
    principal: Official,
    now: Now,
) -> schemas.Application:
    return service.application_view(
        await service.approve(session, call_id, application_id, data, by=principal, now=now)
    )


@router.post(
    "/{call_id}/documents",
    response_model=schemas.CallDocument,
    status_code=status.HTTP_201_CREATED,
    summary="Attach a document to a call (PDF, JPEG or PNG; multipart, field `file`): public with the call",
    responses=error_responses(401, 403, 404, 413, 415, 422),
)
async def attach_call_document(
    request: Request,
    call_id: uuid.UUID,
    file: Annotated[UploadFile, File(description="The document: PDF, JPEG or PNG")],
    session: SessionDep,
    principal: Official,
) -> schemas.CallDocument:
    return await service.attach_document(session, Documents.of(request), call_id, file, by=principal)


@router.get(
    "/{call_id}/documents",
    response_model=list[schemas.CallDocument],
    summary="A call's documents: public with a published call, each at its public URL",
    responses=error_responses(404, 422),
)
async def list_call_documents(
    request: Request, call_id: uuid.UUID, session: ReadSessionDep, principal: OptionalPrincipal
) -> list[schemas.CallDocument]:
    return await service.call_documents(session, Documents.of(request), call_id, by=principal)


@router.post(
    "/{call_id}/applications/{application_id}/attachments",
    status_code=status.HTTP_201_CREATED,
    summary="The applicant attaches a document to its application (PDF, JPEG or PNG; multipart, field `file`)",
    responses=error_responses(401, 403, 404, 413, 415, 422),
)
async def attach_to_application(
    request: Request,
    call_id: uuid.UUID,
    application_id: uuid.UUID,
    file: Annotated[UploadFile, File(description="The document: PDF, JPEG or PNG")],
    session: SessionDep,
    principal: ProviderAdmin,
) -> dict[str, Any]:
    return await service.attach_to_application(
        session, Documents.of(request), call_id, application_id, file, by=principal
    )


@router.get(
    "/{call_id}/applications/{application_id}/attachments",
    summary="An application's attachments, each with a short-lived link (its provider, officials, its reviewers)",
    responses=error_responses(401, 404, 422),
)
async def list_application_attachments(
    request: Request, call_id: uuid.UUID, application_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal
) -> list[dict[str, Any]]:
    return await service.application_attachments(session, Documents.of(request), call_id, application_id, by=principal)
