"""a quota waitlist place may be for a booking the resident already holds

A resident who booked at the full price because the subsidised quota was used up can wait for a subsidised unit
for *that* booking: ``waitlist_entry.for_booking_id`` names it, and accepting the offer re-prices it instead of
booking anew. Indexed: a cancelled booking ends the places that wait for it.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-12 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("waitlist_entry") as batch:
        batch.add_column(sa.Column("for_booking_id", sa.Uuid(), nullable=True))
    op.create_index("ix_waitlist_entry_for_booking_id", "waitlist_entry", ["for_booking_id"])


def downgrade() -> None:
    op.drop_index("ix_waitlist_entry_for_booking_id", table_name="waitlist_entry")
    with op.batch_alter_table("waitlist_entry") as batch:
        batch.drop_column("for_booking_id")
