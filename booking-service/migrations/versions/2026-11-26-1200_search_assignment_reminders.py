"""operator search of bookings, provider staff assignment, reminders the day before

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26 12:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from service_kit.db import UTCDateTime

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("booking", sa.Column("assigned_staff_id", sa.String(160), nullable=True))
    op.add_column("booking", sa.Column("assigned_staff_name", sa.String(50), nullable=True))
    op.add_column("booking", sa.Column("assigned_by", sa.String(160), nullable=True))
    op.add_column("booking", sa.Column("assigned_at", UTCDateTime(), nullable=True))
    op.add_column("booking", sa.Column("checked_in_staff_mismatch", sa.Boolean(), nullable=True))
    op.add_column("booking", sa.Column("reminded_at", UTCDateTime(), nullable=True))
    op.create_index("ix_booking_status_slot_start", "booking", ["status", "slot_start"])


def downgrade() -> None:
    op.drop_index("ix_booking_status_slot_start", table_name="booking")
    with op.batch_alter_table("booking") as batch:
        for column in (
            "reminded_at",
            "checked_in_staff_mismatch",
            "assigned_at",
            "assigned_by",
            "assigned_staff_name",
            "assigned_staff_id",
        ):
            batch.drop_column(column)
