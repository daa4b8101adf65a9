"""documents: acceptance reports, stored by checksum, every upload and download audited

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-09 09:00:00
"""

from collections.abc import Sequence

from service_kit.documents.migration import create_document_tables_v1, drop_document_tables_v1

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    create_document_tables_v1()


def downgrade() -> None:
    drop_document_tables_v1()
