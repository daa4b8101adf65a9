"""waitlists for a funded programme's subsidised quota

A waitlist entry is of one of two kinds: ``slot`` (a place in a full slot, as before) or ``quota`` (a subsidised
unit of a funded programme whose pool is used up, for the slot the resident wants booked at the subsidised price).
A quota entry names its programme; its line is the programme's.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-11 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("waitlist_entry") as batch:
        batch.add_column(sa.Column("kind", sa.String(8), nullable=False, server_default="slot"))
        batch.add_column(sa.Column("program_id", sa.Uuid(), nullable=True))
    op.create_index("ix_waitlist_entry_program_id_status", "waitlist_entry", ["program_id", "status"])


def downgrade() -> None:
    op.drop_index("ix_waitlist_entry_program_id_status", table_name="waitlist_entry")
    op.execute("DELETE FROM waitlist_entry WHERE kind = 'quota'")
    with op.batch_alter_table("waitlist_entry") as batch:
        batch.drop_column("program_id")
        batch.drop_column("kind")
