"""ratings: invitations opened by completed bookings, one rating per booking

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from service_kit.db import JSONDoc, UTCDateTime
from service_kit.migrations import timestamps

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DIMENSIONS = ("punctuality", "attitude", "professionalism", "value")


def upgrade() -> None:
    op.create_table(
        "rating_invitation",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("booking_id", sa.Uuid(), nullable=False),
        sa.Column("resident_id", sa.Uuid(), nullable=False),
        sa.Column("provider_id", sa.Uuid(), nullable=False),
        sa.Column("offering_id", sa.Uuid(), nullable=False),
        sa.Column("completed_at", UTCDateTime(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        *timestamps(),
        sa.PrimaryKeyConstraint("id", name="pk_rating_invitation"),
        sa.UniqueConstraint("booking_id", name="uq_rating_invitation_booking_id"),
    )
    op.create_index("ix_rating_invitation_provider_id", "rating_invitation", ["provider_id"])
    op.create_index("ix_rating_invitation_resident_id_status", "rating_invitation", ["resident_id", "status"])

    op.create_table(
        "rating",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("invitation_id", sa.Uuid(), nullable=False),
        sa.Column("booking_id", sa.Uuid(), nullable=False),
        sa.Column("resident_id", sa.Uuid(), nullable=False),
        sa.Column("provider_id", sa.Uuid(), nullable=False),
        sa.Column("offering_id", sa.Uuid(), nullable=False),
        sa.Column("stars", sa.Integer(), nullable=False),
        *(sa.Column(d, sa.Integer(), nullable=True) for d in DIMENSIONS),
        sa.Column("tags", JSONDoc, nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("submitted_by", sa.String(200), nullable=False),
        sa.Column("on_behalf_of", sa.Uuid(), nullable=True),
        *timestamps(),
        sa.PrimaryKeyConstraint("id", name="pk_rating"),
        sa.ForeignKeyConstraint(
            ["invitation_id"], ["rating_invitation.id"], name="fk_rating_invitation_id_rating_invitation"
        ),
        sa.UniqueConstraint("booking_id", name="uq_rating_booking_id"),
        sa.CheckConstraint("stars >= 1 AND stars <= 5", name="ck_rating_stars_range"),
        *(
            sa.CheckConstraint(f"{d} IS NULL OR ({d} >= 1 AND {d} <= 5)", name=f"ck_rating_{d}_range")
            for d in DIMENSIONS
        ),
    )
    op.create_index("ix_rating_resident_id", "rating", ["resident_id"])
    op.create_index("ix_rating_provider_id_created_at", "rating", ["provider_id", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_rating_provider_id_created_at", table_name="rating")
    op.drop_index("ix_rating_resident_id", table_name="rating")
    op.drop_table("rating")
    op.drop_index("ix_rating_invitation_resident_id_status", table_name="rating_invitation")
    op.drop_index("ix_rating_invitation_provider_id", table_name="rating_invitation")
    op.drop_table("rating_invitation")
