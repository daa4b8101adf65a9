import uuid
from typing import Annotated

from fastapi import Depends, Query

from feedback.complaints import examples, service
from feedback.complaints.models import ComplaintStatus, StepAction
from feedback.complaints.schemas import Assignment, Complaint, ComplaintCreate, ComplaintDetail, NoteCreate, StepCreate
from feedback.config import SettingsDep
from service_kit.auth import CurrentPrincipal, Principal, Role, require_roles
from service_kit.db import ReadSessionDep, SessionDep
from service_kit.errors import error_responses
from service_kit.pagination import Page, PaginationDep
from service_kit.routing import service_router

router = service_router(prefix="/api/v1/complaints", tags=["complaints"])

Filer = Annotated[Principal, Depends(require_roles(Role.resident, Role.operator, Role.official))]
Official = Annotated[Principal, Depends(require_roles(Role.official))]


@router.post(
    "",
    response_model=Complaint,
    status_code=201,
    summary="File a complaint (a resident in the app, an operator by phone, staff at a center)",
    responses=error_responses(401, 403, 404, 422),
    openapi_extra=examples.FILE,
)
async def file_complaint(
    session: SessionDep, principal: Filer, settings: SettingsDep, body: ComplaintCreate
) -> Complaint:
    return await service.file_complaint(session, body, by=principal, settings=settings)


@router.get(
    "",
    response_model=Page[Complaint],
    summary="Complaints the caller may see; filter by number, status, provider, resident or overdue",
    responses=error_responses(401, 403, 422),
)
async def list_complaints(
    session: ReadSessionDep,
    principal: CurrentPrincipal,
    page: PaginationDep,
    status: ComplaintStatus | None = None,
    provider_id: uuid.UUID | None = None,
    resident_id: uuid.UUID | None = None,
    overdue: Annotated[bool | None, Query(description="Only complaints past a deadline (or only those not)")] = None,
    reference: Annotated[
        str | None,
        Query(
            max_length=32,
            description="The complaint with this number (8 digits; spaces or dashes between them are ignored), "
            "among those the caller may see; 422 invalid_reference for a number that cannot be one",
            examples=["4711 2086"],
        ),
    ] = None,
) -> Page[Complaint]:
    return await service.list_complaints(
        session,
        viewer=principal,
        page=page,
        status=status,
        provider_id=provider_id,
        resident_id=resident_id,
        overdue=overdue,
        reference=reference,
    )


@router.get(
    "/overdue",
    response_model=Page[Complaint],
    summary="Complaints past their acknowledgement or resolution deadline (officials)",
    responses=error_responses(401, 403, 422),
)
async def list_overdue_complaints(session: ReadSessionDep, principal: Official, page: PaginationDep) -> Page[Complaint]:
    return await service.list_complaints(session, viewer=principal, page=page, overdue=True)


@router.get(
    "/{complaint_id}",
    response_model=ComplaintDetail,
    summary="A complaint with its history (internal notes only for staff and the provider)",
    responses=error_responses(401, 404, 422),
)
async def get_complaint(
    session: ReadSessionDep, principal: CurrentPrincipal, complaint_id: uuid.UUID
) -> ComplaintDetail:
    return await service.get_complaint(session, complaint_id, viewer=principal)


def _workflow_route(action: StepAction, path: str, summary: str) -> None:
    async def endpoint(
        session: SessionDep,
        principal: CurrentPrincipal,
        settings: SettingsDep,
        complaint_id: uuid.UUID,
        body: StepCreate | None = None,
    ) -> ComplaintDetail:
        return await service.move(session, complaint_id, action, body or StepCreate(), by=principal, settings=settings)

    endpoint.__name__ = f"complaint_{path}"
    router.add_api_route(
        f"/{{complaint_id}}/{path}",
        endpoint,
        methods=["POST"],
        response_model=ComplaintDetail,
        summary=summary,
        responses=error_responses(401, 403, 404, 409, 422),
    )


_workflow_route(
    StepAction.acknowledged, "acknowledge", "Acknowledge a submitted complaint (official, assigned provider)"
)
_workflow_route(StepAction.investigating, "investigate", "Start (or resume) the investigation")
_workflow_route(StepAction.resolved, "resolve", "Resolve: emits complaint.resolved")
_workflow_route(StepAction.closed, "close", "Close a resolved complaint (the complainant, an operator, an official)")
_workflow_route(StepAction.reopened, "reopen", "Reopen within 7 days of the resolution (the complainant)")


@router.post(
    "/{complaint_id}/assign",
    response_model=ComplaintDetail,
    summary="Assign to an official or to the provider concerned (officials)",
    responses=error_responses(401, 403, 404, 409, 422),
)
async def assign_complaint(
    session: SessionDep, principal: Official, complaint_id: uuid.UUID, body: Assignment
) -> ComplaintDetail:
    return await service.assign(session, complaint_id, body, by=principal)


@router.post(
    "/{complaint_id}/notes",
    response_model=ComplaintDetail,
    status_code=201,
    summary="Add a note to the history; internal notes are hidden from the complainant",
    responses=error_responses(401, 404, 422),
)
async def add_note(
    session: SessionDep, principal: CurrentPrincipal, complaint_id: uuid.UUID, body: NoteCreate
) -> ComplaintDetail:
    return await service.add_note(session, complaint_id, body, by=principal)
