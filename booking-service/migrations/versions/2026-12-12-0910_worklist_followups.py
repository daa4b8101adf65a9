"""the hotline's work list: who took and who closed each item

``worklist_followup``: one row per work-list item an operator took (kind and the item's id, unique), who took
it and when, who closed it, when and with what note.

Revision ID: 0021
Revises: 0019
Create Date: 2026-12-12 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from service_kit.db import UTCDateTime

revision: str = "0021"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "worklist_followup",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(24), nullable=False),
        sa.Column("item_id", sa.Uuid(), nullable=False),
        sa.Column("resident_id", sa.Uuid(), nullable=True),
        sa.Column("taken_by", sa.String(160), nullable=False),
        sa.Column("taken_by_name", sa.String(100), nullable=True),
        sa.Column("taken_at", UTCDateTime(), nullable=False),
        sa.Column("done_by", sa.String(160), nullable=True),
        sa.Column("done_by_name", sa.String(100), nullable=True),
        sa.Column("done_at", UTCDateTime(), nullable=True),
        sa.Column("note", sa.String(500), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_worklist_followup"),
        sa.UniqueConstraint("kind", "item_id", name="uq_worklist_followup_kind_item_id"),
    )
    op.create_index("ix_worklist_followup_done_at", "worklist_followup", ["done_at"])


def downgrade() -> None:
    op.drop_index("ix_worklist_followup_done_at", table_name="worklist_followup")
    op.drop_table("worklist_followup")
