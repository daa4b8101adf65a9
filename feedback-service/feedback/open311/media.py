"""Open311's ``media``: a photo uploaded with a request (``multipart/form-data``, the standard's way to send one)
is kept as a document of the complaint or need (service_kit.documents: its type read from its content, its EXIF
location removed); ``media_url`` then answers a short-lived signed link to it, for whom may read the request in
full."""

from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import UploadFile

from feedback.documents import NEED_PHOTO
from feedback.open311 import service
from feedback.open311.catalog import COMPLAINT_PREFIX
from service_kit.auth import Principal
from service_kit.documents import COMPLAINT_PHOTO, Documents, Prepared, Purpose
from service_kit.errors import ValidationFailed

MEDIA = "media"


def is_multipart(request: Request) -> bool:
    return request.headers.get("content-type", "").split(";", 1)[0].strip().lower() == "multipart/form-data"


async def parse_multipart(request: Request) -> tuple[dict[str, str], dict[str, str], UploadFile | None]:
    """The fields, ``attribute[...]`` values and ``media`` file of a multipart POST."""
    form = await request.form(max_files=1, max_fields=100)
    pairs: list[tuple[str, str]] = []
    media: UploadFile | None = None
    for key, value in form.multi_items():
        if isinstance(value, UploadFile):
            if key != MEDIA:
                raise ValidationFailed(f"{key}: only the field {MEDIA!r} may be a file.")
            media = value
        else:
            pairs.append((key, value))
    # The text fields are read as the form-encoded ones are, with the same rules.
    fields, attributes = service.parse_request_body(urlencode(pairs).encode(), "application/x-www-form-urlencoded")
    return fields, attributes, media


def purpose_of(service_code: str) -> Purpose:
    return COMPLAINT_PHOTO if service_code.startswith(COMPLAINT_PREFIX) else NEED_PHOTO


async def read(documents: Documents, service_code: str, media: UploadFile) -> Prepared:
    """The photo checked before the request is filed: a refused photo files nothing."""
    return await documents.read(media, purpose_of(service_code))


async def attach(
    session: AsyncSession, documents: Documents, filed: list[dict[str, Any]], photo: Prepared, *, by: Principal
) -> None:
    await documents.save(session, photo, owner_id=filed[0]["service_request_id"], by=by.subject)


async def with_media_links(
    session: AsyncSession, documents: Documents, requests: list[dict[str, Any]], viewer: Principal | None
) -> list[dict[str, Any]]:
    """``media_url`` of each request read in full (its ``description`` shown) that has no link of its own: a
    signed link to its first photo."""
    if viewer is None:
        return requests
    for item in requests:
        if item.get("media_url") or item.get("description") is None:
            continue
        owner_kind = purpose_of(item["service_code"]).owner_kind
        listed = await documents.listed(session, owner_kind, item["service_request_id"], viewer=viewer)
        if listed:
            item["media_url"] = listed[0]["url"]
    return requests
