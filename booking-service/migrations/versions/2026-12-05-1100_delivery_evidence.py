"""suspect delivery evidence and provider no-show alerts

A visit's doubtful evidence (far from the place, not the assigned staff, checked in late) is kept as its
``suspect_reasons``; a confirmed visit nobody checked in to by the end of its slot is marked
``provider_missed_at`` once, and an operator closes that alert with a note.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05 11:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from service_kit.db import JSONDoc, UTCDateTime

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("booking", sa.Column("suspect_reasons", JSONDoc, nullable=True))
    op.add_column("booking", sa.Column("provider_missed_at", UTCDateTime(), nullable=True))
    op.add_column("booking", sa.Column("provider_missed_closed_at", UTCDateTime(), nullable=True))
    op.add_column("booking", sa.Column("provider_missed_closed_by", sa.String(160), nullable=True))
    op.add_column("booking", sa.Column("provider_missed_note", sa.String(500), nullable=True))
    op.create_index("ix_booking_provider_missed_at", "booking", ["provider_missed_at"])


def downgrade() -> None:
    op.drop_index("ix_booking_provider_missed_at", table_name="booking")
    with op.batch_alter_table("booking") as batch:
        for column in (
            "provider_missed_note",
            "provider_missed_closed_by",
            "provider_missed_closed_at",
            "provider_missed_at",
            "suspect_reasons",
        ):
            batch.drop_column(column)
