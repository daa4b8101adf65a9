"""offerings: the service catalog

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26 10:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from service_kit.db import JSONDoc, UTCDateTime
from service_kit.migrations import timestamps

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "offering",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("provider_id", sa.Uuid(), nullable=False),
        sa.Column("category_code", sa.String(64), nullable=False),
        sa.Column("name_zh", sa.String(200), nullable=False),
        sa.Column("name_en", sa.String(200)),
        sa.Column("description", sa.Text()),
        sa.Column("mode", sa.String(20), nullable=False),
        sa.Column("price_fen", sa.BigInteger(), nullable=False),
        sa.Column("duration_minutes", sa.Integer(), nullable=False),
        sa.Column("capacity_per_slot", sa.Integer(), nullable=False),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("weekly_rules", JSONDoc, nullable=False),
        sa.Column("exceptions", JSONDoc, nullable=False),
        sa.Column("target_groups", JSONDoc, nullable=False),
        sa.Column("auto_confirm", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("published_at", UTCDateTime()),
        *timestamps(),
        sa.PrimaryKeyConstraint("id", name="pk_offering"),
        sa.ForeignKeyConstraint(["provider_id"], ["organization.id"], name="fk_offering_provider_id_organization"),
        sa.ForeignKeyConstraint(["category_code"], ["category.code"], name="fk_offering_category_code_category"),
    )
    op.create_index("ix_offering_provider_id", "offering", ["provider_id"])
    op.create_index("ix_offering_category_code", "offering", ["category_code"])
    op.create_index("ix_offering_status", "offering", ["status"])


def downgrade() -> None:
    op.drop_table("offering")
