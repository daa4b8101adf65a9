"""helpers who act for residents, merged resident records

``known_helper_grant``: the grants booking-service announces (``resident.helper_granted`` / ``.helper_revoked``),
which admit a helper's complaints and needs for the resident; ``complaint.helper_resident_id`` and
``need.helper_resident_id``: the helper who filed one. ``resident_merge_applied``: the merges
(``resident.merged``) whose complaints, needs and ratings were moved to the survivor.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from service_kit.db import UTCDateTime

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "known_helper_grant",
        sa.Column("grant_id", sa.Uuid(), nullable=False),
        sa.Column("resident_id", sa.Uuid(), nullable=False),
        sa.Column("helper_resident_id", sa.Uuid(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("as_of", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("grant_id", name="pk_known_helper_grant"),
    )
    op.create_index(
        "ix_known_helper_grant_resident_id_helper", "known_helper_grant", ["resident_id", "helper_resident_id"]
    )
    op.create_table(
        "resident_merge_applied",
        sa.Column("duplicate_id", sa.Uuid(), nullable=False),
        sa.Column("survivor_id", sa.Uuid(), nullable=False),
        sa.Column("complaints_moved", sa.Integer(), nullable=False),
        sa.Column("needs_moved", sa.Integer(), nullable=False),
        sa.Column("ratings_moved", sa.Integer(), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("duplicate_id", name="pk_resident_merge_applied"),
    )
    with op.batch_alter_table("complaint") as batch:
        batch.add_column(sa.Column("helper_resident_id", sa.Uuid(), nullable=True))
    with op.batch_alter_table("need") as batch:
        batch.add_column(sa.Column("helper_resident_id", sa.Uuid(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("need") as batch:
        batch.drop_column("helper_resident_id")
    with op.batch_alter_table("complaint") as batch:
        batch.drop_column("helper_resident_id")
    op.drop_table("resident_merge_applied")
    op.drop_index("ix_known_helper_grant_resident_id_helper", table_name="known_helper_grant")
    op.drop_table("known_helper_grant")
