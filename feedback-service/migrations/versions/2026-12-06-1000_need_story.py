"""each need's story: its status and steps

``need.status`` is where the need stands in procurement (``received`` until procurement's ``need.progressed``
says more) and ``need.status_at`` the moment of that step; ``need_step`` holds each step after it was received.
Needs recorded before this revision are ``received`` with no steps: procurement's events before it were not kept.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from service_kit.db import JSONDoc, UTCDateTime

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("need") as batch:
        batch.add_column(sa.Column("status", sa.String(16), nullable=False, server_default="received"))
        batch.add_column(sa.Column("status_at", UTCDateTime(), nullable=True))
    op.create_table(
        "need_step",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("need_id", sa.Uuid(), nullable=False),
        sa.Column("event_id", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("occurred_at", UTCDateTime(), nullable=False),
        sa.Column("call_id", sa.Uuid(), nullable=True),
        sa.Column("call_title", sa.String(200), nullable=True),
        sa.Column("contract_id", sa.Uuid(), nullable=True),
        sa.Column("contract_title", sa.String(200), nullable=True),
        sa.Column("offering_ids", JSONDoc, nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["need_id"], ["need.id"], name="fk_need_step_need_id_need"),
        sa.PrimaryKeyConstraint("id", name="pk_need_step"),
        sa.UniqueConstraint("need_id", "event_id", name="uq_need_step_need_id_event_id"),
    )
    op.create_index("ix_need_step_need_id", "need_step", ["need_id"])


def downgrade() -> None:
    op.drop_index("ix_need_step_need_id", table_name="need_step")
    op.drop_table("need_step")
    with op.batch_alter_table("need") as batch:
        batch.drop_column("status_at")
        batch.drop_column("status")
