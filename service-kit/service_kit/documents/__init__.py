"""Documents: files attached to a record (a complaint's photos, an acceptance's report, a call's files),
the one way every Linli service takes, keeps and serves them.

- **Upload** (``Documents.upload``): at most ``LINLI_MAX_DOCUMENT_BYTES`` (413 beyond); the type is read from the
  content (service_kit.documents.content), never from the name or the declared type (415 when they lie or the type
  is not taken). A photo loses its EXIF location, unless its purpose keeps it (delivery evidence): then the copy
  with the location is kept beside the one without, and only officials are given a link to it.
- **Storage**: content-addressed by sha256 (service_kit.documents.store), under ``LINLI_DOCUMENTS_DIR`` (a volume)
  or, with ``LINLI_DOCUMENTS_STORE=s3``, in an S3-compatible bucket; the same bytes are stored once, and a read
  checks them against their checksum.
- **Links**: short-lived (``LINLI_DOCUMENT_LINK_SECONDS``) and signed (HMAC-SHA256 with a key of the keyring), for
  whom the listing was made; they expire by the injected clock. A public document (a call's files, an acceptance
  report) is also served at its plain URL, which open-data documents (OCDS) carry.
- **Listing** (``Documents.listed``): a record's documents with their links, shown on the record.
- **Audit**: every upload, link given and download is recorded in ``document_access`` (who, what, when; no content).

A service declares ``DocumentTables(Base.metadata)``, creates them in a migration (``service_kit.documents.migration``),
includes ``documents_router(name)`` and sets ``app.state.documents`` (``Documents.for_app``)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import unicodedata
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any
from urllib.parse import quote, urlencode

import structlog
from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import UploadFile

from service_kit.auth import Principal, Role
from service_kit.db import SessionDep
from service_kit.documents.content import PHOTOS, has_location, sniff, without_location
from service_kit.documents.store import DamagedContent, Store, store_from_settings
from service_kit.documents.tables import DocumentTables
from service_kit.errors import DependencyUnavailable, Forbidden, NotFound, PayloadTooLarge, UnsupportedMediaType
from service_kit.protection import Keyring
from service_kit.routing import service_router
from service_kit.settings import ServiceSettings
from service_kit.timeutil import utcnow

__all__ = [
    "ACCEPTANCE_REPORT",
    "APPLICATION_ATTACHMENT",
    "CALL_DOCUMENT",
    "COMPLAINT_PHOTO",
    "DELIVERY_EVIDENCE",
    "NOTICE_DOCUMENT",
    "SUPERVISION_REPORT",
    "UPLOAD_ROUTES",
    "DocumentTables",
    "Documents",
    "Prepared",
    "Purpose",
    "documents_router",
    "is_upload_route",
]

log = structlog.get_logger("linli.documents")

# Who is shown a photo's location (delivery evidence).
LOCATION_READERS = frozenset({Role.official, Role.admin})
PLAIN, LOCATED = "plain", "located"


@dataclass(frozen=True)
class Purpose:
    """Why a document is attached, which decides what it may be and who sees it."""

    name: str
    owner_kind: str
    public: bool = False  # published: served at its plain URL and listed in open data
    photos_only: bool = False
    keeps_location: bool = False  # the copy with the photo's location is kept, for officials


COMPLAINT_PHOTO = Purpose("complaint_photo", "complaint", photos_only=True)
DELIVERY_EVIDENCE = Purpose("delivery_evidence", "booking", photos_only=True, keeps_location=True)
CALL_DOCUMENT = Purpose("call_document", "call", public=True)
APPLICATION_ATTACHMENT = Purpose("application_attachment", "application")
SUPERVISION_REPORT = Purpose("supervision_report", "supervision")
ACCEPTANCE_REPORT = Purpose("acceptance_report", "acceptance", public=True)
NOTICE_DOCUMENT = Purpose("notice_document", "notice", public=True)

# The routes that take a document in their body: the edge (service_kit.edge, the gateway) lets their bodies be
# as large as a document (``max_document_bytes``) plus the form around it. Written like the OpenAPI paths.
UPLOAD_ROUTES: tuple[str, ...] = (
    "/open311/v2/requests.json",
    "/open311/v2/requests.xml",
    "/api/v1/complaints/{complaint_id}/documents",
    "/api/v1/bookings/{booking_id}/evidence-photos",
    "/api/v1/contracts/{contract_id}/acceptance/{acceptance_id}/reports",
    "/api/v1/calls/{call_id}/documents",
    "/api/v1/notices/{notice_id}/documents",
    "/api/v1/calls/{call_id}/applications/{application_id}/attachments",
    "/api/v1/contracts/{contract_id}/supervision/{record_id}/reports",
)
# What a multipart form adds around a document: its boundaries, headers and other fields.
FORM_ALLOWANCE = 64 * 1024


def _pattern(route: str) -> str:
    return "".join("/[^/]+" if part.startswith("{") else "/" + re.escape(part) for part in route.strip("/").split("/"))


_UPLOAD = re.compile("|".join(f"(?:{_pattern(route)})" for route in UPLOAD_ROUTES))


def is_upload_route(path: str) -> bool:
    return _UPLOAD.fullmatch(path.rstrip("/") or "/") is not None


def _safe_filename(name: str | None, extension: str) -> str:
    """The sender's file name without a path or control characters, ending in the type's own extension."""
    base = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    base = "".join(c for c in unicodedata.normalize("NFC", base) if unicodedata.category(c)[0] != "C").strip()
    stem = base.rsplit(".", 1)[0] if "." in base else base
    return (stem[:150] or "document") + extension


@dataclass(frozen=True)
class Prepared:
    """A document checked and ready to store: its content as served, and the copy with the location if kept."""

    purpose: Purpose
    filename: str
    media_type: str
    data: bytes
    located: bytes | None


class Documents:
    """A service's documents: its tables, its store, its signing key, its clock (tests give their own)."""

    def __init__(
        self,
        service: str,
        tables: DocumentTables,
        store: Store,
        signing_key: bytes,
        *,
        public_base_url: str,
        max_bytes: int,
        link_seconds: int,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.service = service
        self.tables = tables
        self.store = store
        self.signing_key = signing_key
        self.public_base_url = public_base_url.rstrip("/")
        self.max_bytes = max_bytes
        self.link_seconds = link_seconds
        self.clock = clock

    @classmethod
    def from_settings(
        cls, service: str, tables: DocumentTables, settings: ServiceSettings, clock: Callable[[], datetime] = utcnow
    ) -> Documents:
        return cls(
            service,
            tables,
            store_from_settings(service, settings),
            Keyring.from_settings(settings).signing_key("document-links"),
            public_base_url=settings.public_base_url,
            max_bytes=settings.max_document_bytes,
            link_seconds=settings.document_link_seconds,
            clock=clock,
        )

    @staticmethod
    def of(request: Request) -> Documents:
        documents: Documents = request.app.state.documents
        return documents

    # ------------------------------------------------------------------ upload

    async def read(self, upload: UploadFile, purpose: Purpose) -> Prepared:
        """``prepare`` for a multipart part (FastAPI's ``UploadFile``)."""
        data = await upload.read(self.max_bytes + 1)
        return self.prepare(data, filename=upload.filename, declared_type=upload.content_type, purpose=purpose)

    def prepare(self, data: bytes, *, filename: str | None, declared_type: str | None, purpose: Purpose) -> Prepared:
        """Check ``data`` as a document of ``purpose`` before anything is recorded: 413 above the size limit, 415
        for a type not taken or a name or declared type that lies. A photo loses its location here."""
        if len(data) > self.max_bytes:
            raise PayloadTooLarge(f"A document may be at most {self.max_bytes} bytes.", max_bytes=self.max_bytes)
        sniffed = sniff(data, filename=filename, declared_type=declared_type)
        if purpose.photos_only and sniffed.media_type not in PHOTOS:
            raise UnsupportedMediaType("Only a JPEG or PNG photo is taken here.", accepted=sorted(PHOTOS))
        located = None
        plain = data
        if sniffed.media_type in PHOTOS:
            plain = without_location(data, sniffed.media_type)
            if purpose.keeps_location and has_location(data):
                located = data
        return Prepared(purpose, _safe_filename(filename, sniffed.extension), sniffed.media_type, plain, located)

    async def upload_file(
        self, session: AsyncSession, upload: UploadFile, *, purpose: Purpose, owner_id: uuid.UUID | str, by: str
    ) -> dict[str, Any]:
        """``upload`` for a multipart part (FastAPI's ``UploadFile``)."""
        return await self.save(session, await self.read(upload, purpose), owner_id=owner_id, by=by)

    async def upload(
        self,
        session: AsyncSession,
        data: bytes,
        *,
        filename: str | None,
        declared_type: str | None,
        purpose: Purpose,
        owner_id: uuid.UUID | str,
        by: str,
    ) -> dict[str, Any]:
        """Check (``prepare``), store and record ``data`` as a document of ``purpose`` on the record
        ``owner_id``; answers the document's row."""
        prepared = self.prepare(data, filename=filename, declared_type=declared_type, purpose=purpose)
        return await self.save(session, prepared, owner_id=owner_id, by=by)

    async def save(
        self, session: AsyncSession, prepared: Prepared, *, owner_id: uuid.UUID | str, by: str
    ) -> dict[str, Any]:
        """Store a prepared document's content (once per checksum) and record it on ``owner_id``."""
        located_sha256 = await self.store.put(prepared.located) if prepared.located is not None else None
        sha256 = await self.store.put(prepared.data)
        purpose = prepared.purpose
        document_id = uuid.uuid4()
        row: dict[str, Any] = {
            "id": document_id,
            "owner_kind": purpose.owner_kind,
            "owner_id": str(owner_id),
            "purpose": purpose.name,
            "filename": prepared.filename,
            "media_type": prepared.media_type,
            "size": len(prepared.data),
            "sha256": sha256,
            "located_sha256": located_sha256,
            "public": purpose.public,
            "uploaded_by": by[:120],
            "created_at": self.clock(),
        }
        await session.execute(insert(self.tables.document).values(**row))
        await self._audit(session, document_id, "upload", PLAIN, by)
        log.info("document uploaded", document_id=str(document_id), purpose=purpose.name, size=row["size"], by=by)
        return row

    # ------------------------------------------------------------------ listing and links

    async def listed(
        self, session: AsyncSession, owner_kind: str, owner_id: uuid.UUID | str, *, viewer: Principal | str
    ) -> list[dict[str, Any]]:
        """The documents of one record, oldest first, each with a link for ``viewer`` (and, for an official, a
        link to the copy with the photo's location where one was kept). Each link given is audited."""
        rows = (
            await session.execute(
                select(self.tables.document)
                .where(
                    self.tables.document.c.owner_kind == owner_kind, self.tables.document.c.owner_id == str(owner_id)
                )
                .order_by(self.tables.document.c.created_at, self.tables.document.c.id)
            )
        ).mappings()
        who = viewer if isinstance(viewer, str) else viewer.subject
        sees_location = not isinstance(viewer, str) and bool(viewer.roles & LOCATION_READERS)
        listed = []
        for row in rows:
            url, expires = self.link(row["id"], PLAIN, who)
            item: dict[str, Any] = {
                "id": row["id"],
                "purpose": row["purpose"],
                "filename": row["filename"],
                "media_type": row["media_type"],
                "size": row["size"],
                "sha256": row["sha256"],
                "uploaded_at": row["created_at"],
                "url": url,
                "url_expires_at": expires,
            }
            await self._audit(session, row["id"], "link", PLAIN, who)
            if row["public"]:
                item["public_url"] = self.public_url(row["id"])
            if sees_location and row["located_sha256"]:
                item["located_url"], _ = self.link(row["id"], LOCATED, who)
                await self._audit(session, row["id"], "link", LOCATED, who)
            listed.append(item)
        return listed

    async def public_documents(
        self, session: AsyncSession, owner_kind: str, owner_ids: list[str]
    ) -> dict[str, list[dict[str, Any]]]:
        """The public documents of many records (for open data): their rows, by owner id, oldest first."""
        if not owner_ids:
            return {}
        table = self.tables.document
        rows = (
            await session.execute(
                select(table)
                .where(table.c.owner_kind == owner_kind, table.c.owner_id.in_(owner_ids), table.c.public.is_(True))
                .order_by(table.c.created_at, table.c.id)
            )
        ).mappings()
        found: dict[str, list[dict[str, Any]]] = {}
        for row in rows:
            found.setdefault(row["owner_id"], []).append({**row, "url": self.public_url(row["id"])})
        return found

    def public_url(self, document_id: uuid.UUID) -> str:
        return f"{self.public_base_url}/api/v1/documents/{self.service}/{document_id}"

    def link(self, document_id: uuid.UUID, variant: str, issued_to: str) -> tuple[str, datetime]:
        """A signed link to a document's content for ``issued_to``, and when it stops working."""
        expires_at = self.clock() + timedelta(seconds=self.link_seconds)
        expires = int(expires_at.timestamp())
        query = urlencode(
            {
                "variant": variant,
                "expires": expires,
                "for": issued_to,
                "signature": self._signature(document_id, variant, expires, issued_to),
            }
        )
        return f"{self.public_url(document_id)}?{query}", expires_at

    def _signature(self, document_id: uuid.UUID, variant: str, expires: int, issued_to: str) -> str:
        message = f"{self.service}|{document_id}|{variant}|{expires}|{issued_to}".encode()
        digest = hmac.new(self.signing_key, message, hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode().rstrip("=")

    # ------------------------------------------------------------------ download

    async def serve(
        self,
        session: AsyncSession,
        document_id: uuid.UUID,
        *,
        variant: str | None,
        expires: int | None,
        issued_to: str | None,
        signature: str | None,
    ) -> Response:
        """A document's content: by a signed link not yet expired, or a public document at its plain URL."""
        row = (
            (await session.execute(select(self.tables.document).where(self.tables.document.c.id == document_id)))
            .mappings()
            .first()
        )
        if row is None:
            raise NotFound("No such document.")
        if signature is None:
            if not row["public"]:
                raise Forbidden("This document is served only through a signed link.", code="link_required")
            variant, who = PLAIN, "public"
        else:
            variant = variant or PLAIN
            if variant not in (PLAIN, LOCATED) or expires is None or issued_to is None:
                raise Forbidden("The link is not valid.", code="link_invalid")
            expected = self._signature(document_id, variant, expires, issued_to)
            # Bytes: a signature with characters outside ASCII is simply wrong, not a TypeError (a 500).
            if not hmac.compare_digest(expected.encode(), signature.encode()):
                raise Forbidden("The link is not valid.", code="link_invalid")
            if self.clock().timestamp() >= expires:
                raise Forbidden(
                    "The link has expired; list the record's documents again for a new one.", code="link_expired"
                )
            who = issued_to
        sha256 = row["located_sha256"] if variant == LOCATED else row["sha256"]
        if sha256 is None:
            raise NotFound("No such copy of the document.")
        try:
            data = await self.store.get(sha256)
        except (DamagedContent, FileNotFoundError) as exc:
            # Never served as the document; the operators read the log (and restore the content from a backup).
            log.error("stored document damaged or missing", document_id=str(document_id), sha256=sha256, error=str(exc))
            raise DependencyUnavailable(
                "The document's stored copy cannot be served; the platform's operators have been told.",
                code="document_damaged",
            ) from exc
        await self._audit(session, document_id, "download", variant, who)
        disposition = f"attachment; filename*=UTF-8''{quote(row['filename'])}"
        headers = {"Content-Disposition": disposition, "ETag": f'"{sha256}"', "X-Content-SHA256": sha256}
        if row["public"] and signature is None:
            headers["Cache-Control"] = "public, max-age=300"
        return Response(data, media_type=row["media_type"], headers=headers)

    async def _audit(
        self, session: AsyncSession, document_id: uuid.UUID, action: str, variant: str, actor: str
    ) -> None:
        await session.execute(
            insert(self.tables.access).values(
                id=uuid.uuid4(),
                document_id=document_id,
                action=action,
                variant=variant,
                actor=actor[:120],
                at=self.clock(),
            )
        )

    async def accesses(self, session: AsyncSession, document_id: uuid.UUID) -> list[dict[str, Any]]:
        """The audit of one document, oldest first."""
        table = self.tables.access
        rows = await session.execute(select(table).where(table.c.document_id == document_id).order_by(table.c.at))
        return [dict(row) for row in rows.mappings()]


def documents_router(service: str) -> APIRouter:
    """The download route of a service's documents: ``GET /api/v1/documents/<service>/{document_id}``."""
    router = service_router(prefix=f"/api/v1/documents/{service}", tags=["documents"])

    @router.get(
        "/{document_id}",
        summary="A document's content, by a signed link (or a public document at its plain URL)",
        response_class=Response,
        responses={200: {"content": {"application/pdf": {}, "image/jpeg": {}, "image/png": {}}}},
        operation_id=f"download{service.capitalize()}Document",
    )
    async def download_document(
        request: Request,
        session: SessionDep,
        document_id: uuid.UUID,
        variant: Annotated[str | None, Query(max_length=16)] = None,
        expires: Annotated[int | None, Query(ge=0)] = None,
        issued_to: Annotated[str | None, Query(alias="for", max_length=120)] = None,
        signature: Annotated[str | None, Query(max_length=100)] = None,
    ) -> Response:
        return await Documents.of(request).serve(
            session, document_id, variant=variant, expires=expires, issued_to=issued_to, signature=signature
        )

    download_document.__name__ = f"download_{service}_document"
    return router
