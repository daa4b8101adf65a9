"""The two tables of a service that keeps documents, declared on that service's own metadata
(``DocumentTables(Base.metadata)``) and created by its migration (``create_document_tables_v1``):

- ``document``: one row per document on an owning record (``owner_kind`` and ``owner_id``, e.g. a complaint), its
  purpose, type, size and checksum (the content's name in the store); ``located_sha256`` names the copy that keeps
  the photo's location, for officials only (delivery evidence).
- ``document_access``: who uploaded, was given a link to, or downloaded which document, and when; never content.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
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


def create_document_tables_v1() -> None:
    """The document tables as ``DocumentTables`` declares them; call from the migration that adds documents."""
    op.create_table(
        "document",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("owner_kind", sa.String(40), nullable=False),
        sa.Column("owner_id", sa.String(64), nullable=False),
        sa.Column("purpose", sa.String(40), nullable=False),
        sa.Column("filename", sa.String(200), nullable=False),
        sa.Column("media_type", sa.String(60), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("located_sha256", sa.String(64)),
        sa.Column("public", sa.Boolean(), nullable=False),
        sa.Column("uploaded_by", sa.String(120), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_document"),
    )
    op.create_index("ix_document_owner", "document", ["owner_kind", "owner_id"])
    op.create_table(
        "document_access",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("document_id", sa.Uuid(), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("variant", sa.String(16), nullable=False),
        sa.Column("actor", sa.String(120), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_document_access"),
    )
    op.create_index("ix_document_access_document_id", "document_access", ["document_id"])


def drop_document_tables_v1() -> None:
    op.drop_table("document_access")
    op.drop_table("document")
