"""suspect deliveries reviewed by officials

A completed booking whose delivery evidence booking-service found doubtful (``suspect_reasons``) is recorded as
a deliverable pending review: counted nowhere until an official accepts it (or never, once rejected). Existing
deliverables raised no doubt and stay counted (no review). A visit the provider missed becomes a supervision
record of its contract, one per booking.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from service_kit.db import JSONDoc, UTCDateTime

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("deliverable") as batch:
        batch.add_column(sa.Column("suspect_reasons", JSONDoc, nullable=True))
        batch.add_column(
            sa.Column(
                "review",
                sa.Enum("pending", "accepted", "rejected", name="deliverablereview", native_enum=False, length=16),
                nullable=True,
            )
        )
        batch.add_column(sa.Column("review_reason", sa.String(500), nullable=True))
        batch.add_column(sa.Column("reviewed_by", sa.String(200), nullable=True))
        batch.add_column(sa.Column("reviewed_at", UTCDateTime(), nullable=True))
    with op.batch_alter_table("contract_supervision_record") as batch:
        batch.add_column(sa.Column("booking_id", sa.Uuid(), nullable=True))
        batch.create_unique_constraint("uq_contract_supervision_record_booking_id", ["booking_id"])


def downgrade() -> None:
    with op.batch_alter_table("contract_supervision_record") as batch:
        batch.drop_constraint("uq_contract_supervision_record_booking_id", type_="unique")
        batch.drop_column("booking_id")
    with op.batch_alter_table("deliverable") as batch:
        for column in ("reviewed_at", "reviewed_by", "review_reason", "review", "suspect_reasons"):
            batch.drop_column(column)
