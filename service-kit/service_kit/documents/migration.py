"""The document tables' migration steps, for a service's migration (``create_document_tables_v1``): apart from
``tables`` so that a running service, which declares the tables, never imports Alembic (about 0.15 s of every
process's start)."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from service_kit.db import UTCDateTime


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
