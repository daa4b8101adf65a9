"""Delivery evidence photos: the booking's provider (or the call center) attaches photos of the visit. Their
location is kept, because where the photo was taken is part of the evidence, but only officials are given the copy
with it; everyone else who may see the booking gets the photo without it (service_kit.documents)."""

import uuid
from typing import Annotated, Any

from fastapi import Depends, File, Request, UploadFile

from booking.bookings import service
from service_kit.auth import CurrentPrincipal, Principal, Role, require_roles
from service_kit.db import SessionDep
from service_kit.documents import DELIVERY_EVIDENCE, Documents
from service_kit.errors import NotFound, error_responses
from service_kit.routing import service_router

router = service_router(prefix="/api/v1/bookings", tags=["bookings"])

Deliverer = Annotated[
    Principal,
    Depends(require_roles(Role.provider_admin, Role.provider_staff, Role.provider_system, Role.operator)),
]


@router.post(
    "/{booking_id}/evidence-photos",
    status_code=201,
    summary="Attach a photo of the visit as delivery evidence (multipart, field `file`; its location is kept for "
    "officials)",
    responses=error_responses(401, 403, 404, 413, 415, 422),
)
async def attach_evidence_photo(
    request: Request,
    session: SessionDep,
    principal: Deliverer,
    booking_id: uuid.UUID,
    file: Annotated[UploadFile, File(description="A JPEG or PNG photo")],
) -> dict[str, Any]:
    booking = await service.get_visible(session, booking_id, by=principal)
    if principal.provider_id is not None and principal.provider_id != booking.provider_id:
        raise NotFound("No such booking.", code="booking_not_found")
    documents = Documents.of(request)
    row = await documents.upload_file(
        session, file, purpose=DELIVERY_EVIDENCE, owner_id=booking.id, by=principal.subject
    )
    listed = await documents.listed(session, DELIVERY_EVIDENCE.owner_kind, booking.id, viewer=principal)
    return next(item for item in listed if item["id"] == row["id"])


@router.get(
    "/{booking_id}/evidence-photos",
    summary="A visit's evidence photos, each with a short-lived link (officials also get `located_url`)",
    responses=error_responses(401, 404),
)
async def list_evidence_photos(
    request: Request, session: SessionDep, principal: CurrentPrincipal, booking_id: uuid.UUID
) -> list[dict[str, Any]]:
    booking = await service.get_visible(session, booking_id, by=principal)
    return await Documents.of(request).listed(session, DELIVERY_EVIDENCE.owner_kind, booking.id, viewer=principal)
