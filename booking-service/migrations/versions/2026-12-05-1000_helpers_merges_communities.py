"""family helpers, merged duplicate records, known communities

Helpers: ``helper_grant`` (a resident's authorisation of a relative's resident account to act for them, one active
per pair), the helper on bookings they made (``booking.helper_resident_id``) and on the acting-for trail. Merges:
``resident_merge`` (the audit of each merge) and the duplicate's tombstone on ``resident`` (``merged_into_id``).
Communities: ``known_community``, the registry's gazetteer as announced by ``community.upserted``. Also the
booker's name on bookings (``booked_by_name``: "话务员 王芳" on the card).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-05 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from service_kit.db import UTCDateTime

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "known_community",
        sa.Column("code", sa.String(64), nullable=False),
        sa.Column("street_code", sa.String(32), nullable=False),
        sa.Column("name_zh", sa.String(100), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("code", name="pk_known_community"),
    )
    op.create_table(
        "helper_grant",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("resident_id", sa.Uuid(), nullable=False),
        sa.Column("helper_resident_id", sa.Uuid(), nullable=False),
        sa.Column("relation", sa.String(20), nullable=True),
        sa.Column("consent_channel", sa.String(16), nullable=False),
        sa.Column("granted_by", sa.String(160), nullable=False),
        sa.Column("granted_at", UTCDateTime(), nullable=False),
        sa.Column("revoked_at", UTCDateTime(), nullable=True),
        sa.Column("revoked_by", sa.String(160), nullable=True),
        sa.Column("revoked_reason", sa.String(16), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_helper_grant"),
    )
    op.create_index("ix_helper_grant_resident_id", "helper_grant", ["resident_id"])
    op.create_index("ix_helper_grant_helper_resident_id", "helper_grant", ["helper_resident_id"])
    op.create_index(
        "uq_helper_grant_resident_id_helper_active",
        "helper_grant",
        ["resident_id", "helper_resident_id"],
        unique=True,
        sqlite_where=sa.text("revoked_at IS NULL"),
        postgresql_where=sa.text("revoked_at IS NULL"),
    )
    op.create_table(
        "resident_merge",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("survivor_id", sa.Uuid(), nullable=False),
        sa.Column("duplicate_id", sa.Uuid(), nullable=False),
        sa.Column("reason", sa.String(500), nullable=False),
        sa.Column("merged_by", sa.String(160), nullable=False),
        sa.Column("merged_by_name", sa.String(100), nullable=True),
        sa.Column("bookings_moved", sa.Integer(), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_resident_merge"),
        sa.UniqueConstraint("duplicate_id", name="uq_resident_merge_duplicate_id"),
    )
    op.create_index("ix_resident_merge_survivor_id", "resident_merge", ["survivor_id"])
    with op.batch_alter_table("resident") as batch:
        batch.add_column(sa.Column("merged_into_id", sa.Uuid(), nullable=True))
        batch.add_column(sa.Column("merged_at", UTCDateTime(), nullable=True))
    with op.batch_alter_table("booking") as batch:
        batch.add_column(sa.Column("booked_by_name", sa.String(100), nullable=True))
        batch.add_column(sa.Column("helper_resident_id", sa.Uuid(), nullable=True))
    with op.batch_alter_table("acting_for") as batch:
        batch.add_column(sa.Column("helper_resident_id", sa.Uuid(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("acting_for") as batch:
        batch.drop_column("helper_resident_id")
    with op.batch_alter_table("booking") as batch:
        batch.drop_column("helper_resident_id")
        batch.drop_column("booked_by_name")
    with op.batch_alter_table("resident") as batch:
        batch.drop_column("merged_at")
        batch.drop_column("merged_into_id")
    op.drop_index("ix_resident_merge_survivor_id", table_name="resident_merge")
    op.drop_table("resident_merge")
    op.drop_index("uq_helper_grant_resident_id_helper_active", table_name="helper_grant")
    op.drop_index("ix_helper_grant_helper_resident_id", table_name="helper_grant")
    op.drop_index("ix_helper_grant_resident_id", table_name="helper_grant")
    op.drop_table("helper_grant")
    op.drop_table("known_community")
