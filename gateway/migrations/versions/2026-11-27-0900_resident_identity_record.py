"""a resident identity's booking record (the resident_id in its tokens) and the consent given at sign-in

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Existing identities start unlinked: their next sign-in or refresh asks booking for their phone's record.
    with op.batch_alter_table("resident_identity") as batch:
        batch.add_column(sa.Column("resident_id", sa.Uuid(), nullable=True))
        batch.add_column(sa.Column("consent_version", sa.String(20), nullable=True))
        batch.create_unique_constraint("uq_resident_identity_resident_id", ["resident_id"])


def downgrade() -> None:
    with op.batch_alter_table("resident_identity") as batch:
        batch.drop_constraint("uq_resident_identity_resident_id", type_="unique")
        batch.drop_column("consent_version")
        batch.drop_column("resident_id")
