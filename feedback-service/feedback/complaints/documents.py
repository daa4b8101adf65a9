"""A complaint's photos: attached by whoever may see the complaint, listed on it with short-lived links."""

import uuid
from typing import Annotated, Any

from fastapi import File, Request, UploadFile

from feedback.complaints import service
from service_kit.auth import CurrentPrincipal
from service_kit.db import SessionDep
from service_kit.documents import COMPLAINT_PHOTO, Documents
from service_kit.errors import error_responses
from service_kit.routing import service_router

router = service_router(prefix="/api/v1/complaints", tags=["complaints"])


@router.post(
    "/{complaint_id}/documents",
    status_code=201,
    summary="Attach a photo to a complaint (multipart, field `file`); its EXIF location is removed",
    responses=error_responses(401, 403, 404, 413, 415, 422),
)
async def attach_complaint_photo(
    request: Request,
    session: SessionDep,
    principal: CurrentPrincipal,
    complaint_id: uuid.UUID,
    file: Annotated[UploadFile, File(description="A JPEG or PNG photo")],
) -> dict[str, Any]:
    await service.get_complaint(session, complaint_id, viewer=principal)  # 404 unless the caller may see it
    documents = Documents.of(request)
    row = await documents.upload_file(
        session, file, purpose=COMPLAINT_PHOTO, owner_id=complaint_id, by=principal.subject
    )
    listed = await documents.listed(session, COMPLAINT_PHOTO.owner_kind, complaint_id, viewer=principal)
    return next(item for item in listed if item["id"] == row["id"])


@router.get(
    "/{complaint_id}/documents",
    summary="A complaint's photos, each with a short-lived link",
    responses=error_responses(401, 403, 404),
)
async def list_complaint_photos(
    request: Request, session: SessionDep, principal: CurrentPrincipal, complaint_id: uuid.UUID
) -> list[dict[str, Any]]:
    await service.get_complaint(session, complaint_id, viewer=principal)
    return await Documents.of(request).listed(session, COMPLAINT_PHOTO.owner_kind, complaint_id, viewer=principal)
