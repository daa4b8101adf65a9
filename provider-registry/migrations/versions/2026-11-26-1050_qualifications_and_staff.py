"""qualifications and staff: providers' licenses, what categories require, caregivers with certifications

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-26 10:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from service_kit.db import JSONDoc
from service_kit.migrations import timestamps

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # No category requires a qualification yet: officials set them (PATCH /api/v1/categories/{code}) once
    # providers have entered their licenses, so that nothing already offered stops being publishable.
    with op.batch_alter_table("category") as batch:
        batch.add_column(sa.Column("required_qualification", sa.String(40)))
    op.create_table(
        "qualification",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("name_zh", sa.String(200), nullable=False),
        sa.Column("issuer", sa.String(200), nullable=False),
        sa.Column("number", sa.String(100), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_until", sa.Date(), nullable=False),
        *timestamps(),
        sa.PrimaryKeyConstraint("id", name="pk_qualification"),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organization.id"],
            name="fk_qualification_organization_id_organization",
            ondelete="CASCADE",
        ),
    )
    op.create_index("ix_qualification_organization_id", "qualification", ["organization_id"])
    op.create_index("ix_qualification_valid_until", "qualification", ["valid_until"])
    op.create_table(
        "staff_member",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("role", sa.String(40), nullable=False),
        sa.Column("phone", sa.String(32)),
        sa.Column("certifications", JSONDoc, nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        *timestamps(),
        sa.PrimaryKeyConstraint("id", name="pk_staff_member"),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organization.id"],
            name="fk_staff_member_organization_id_organization",
            ondelete="CASCADE",
        ),
    )
    op.create_index("ix_staff_member_organization_id", "staff_member", ["organization_id"])


def downgrade() -> None:
    op.drop_table("staff_member")
    op.drop_table("qualification")
    with op.batch_alter_table("category") as batch:
        batch.drop_column("required_qualification")
