"""organizations: providers, their status audit trail, counted ratings, government contracts

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from service_kit.db import UTCDateTime
from service_kit.migrations import timestamps

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "organization",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name_zh", sa.String(200), nullable=False),
        sa.Column("name_en", sa.String(200)),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("uscc", sa.String(18), nullable=False),
        sa.Column("contact_phone", sa.String(32)),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("applied_by", sa.String(200), nullable=False),
        sa.Column("rating_count", sa.Integer(), nullable=False),
        sa.Column("rating_sum", sa.Integer(), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("has_government_contract", sa.Boolean(), nullable=False),
        *timestamps(),
        sa.PrimaryKeyConstraint("id", name="pk_organization"),
        sa.UniqueConstraint("uscc", name="uq_organization_uscc"),
    )
    op.create_index("ix_organization_status", "organization", ["status"])
    op.create_table(
        "organization_status_change",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("from_status", sa.String(20)),
        sa.Column("to_status", sa.String(20), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("reason", sa.String(500)),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_organization_status_change"),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organization.id"],
            name="fk_organization_status_change_organization_id_organization",
            ondelete="CASCADE",
        ),
    )
    op.create_index("ix_organization_status_change_organization_id", "organization_status_change", ["organization_id"])
    op.create_table(
        "provider_rating",
        sa.Column("rating_id", sa.Uuid(), nullable=False),
        sa.Column("provider_id", sa.Uuid(), nullable=False),
        sa.Column("stars", sa.Integer(), nullable=False),
        sa.Column("submitted_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("rating_id", name="pk_provider_rating"),
    )
    op.create_index("ix_provider_rating_provider_id", "provider_rating", ["provider_id"])
    op.create_table(
        "provider_contract",
        sa.Column("contract_id", sa.Uuid(), nullable=False),
        sa.Column("provider_id", sa.Uuid(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("contract_id", name="pk_provider_contract"),
    )
    op.create_index("ix_provider_contract_provider_id", "provider_contract", ["provider_id"])


def downgrade() -> None:
    op.drop_table("provider_contract")
    op.drop_table("provider_rating")
    op.drop_table("organization_status_change")
    op.drop_table("organization")
