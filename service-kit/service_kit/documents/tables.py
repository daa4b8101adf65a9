"""The two tables of a service that keeps documents, declared on that service's own metadata
(``DocumentTables(Base.metadata)``) and created by its migration (``service_kit.documents.migration``):

- ``document``: one row per document on an owning record (``owner_kind`` and ``owner_id``, e.g. a complaint), its
  purpose, type, size and checksum (the content's name in the store); ``located_sha256`` names the copy that keeps
  the photo's location, for officials only (delivery evidence).
- ``document_access``: who uploaded, was given a link to, or downloaded which document, and when; never content.
"""

from __future__ import annotations

from sqlalchemy import Boolean, Column, Index, Integer, MetaData, String, Table, Uuid

from service_kit.db import UTCDateTime


class DocumentTables:
    def __init__(self, metadata: MetaData) -> None:
        self.document = Table(
            "document",
            metadata,
            Column("id", Uuid, primary_key=True),
            Column("owner_kind", String(40), nullable=False),
            Column("owner_id", String(64), nullable=False),
            Column("purpose", String(40), nullable=False),
            Column("filename", String(200), nullable=False),
            Column("media_type", String(60), nullable=False),
            Column("size", Integer, nullable=False),
            Column("sha256", String(64), nullable=False),
            Column("located_sha256", String(64)),
            Column("public", Boolean, nullable=False),
            Column("uploaded_by", String(120), nullable=False),
            Column("created_at", UTCDateTime(), nullable=False),
            Index("ix_document_owner", "owner_kind", "owner_id"),
        )
        self.access = Table(
            "document_access",
            metadata,
            Column("id", Uuid, primary_key=True),
            Column("document_id", Uuid, nullable=False, index=True),
            Column("action", String(16), nullable=False),
            Column("variant", String(16), nullable=False),
            Column("actor", String(120), nullable=False),
            Column("at", UTCDateTime(), nullable=False),
        )
