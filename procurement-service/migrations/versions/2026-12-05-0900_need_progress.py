"""needs pool progress told to authors: an official may decline a pool item, with the reason the residents read

``need.status`` gains the value ``declined`` (a string column: no schema change for it); ``decline_reason`` and
``declined_at`` record why and when. Existing needs are open or merged and keep both empty.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from service_kit.db import UTCDateTime

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("need") as batch:
        batch.add_column(sa.Column("decline_reason", sa.Text(), nullable=True))
        batch.add_column(sa.Column("declined_at", UTCDateTime(), nullable=True))


def downgrade() -> None:
    # Before this revision a need was open or merged: a declined one is open again.
    need = sa.table("need", sa.column("status", sa.String(16)))
    op.execute(sa.update(need).where(need.c.status == "declined").values(status="open"))
    with op.batch_alter_table("need") as batch:
        batch.drop_column("declined_at")
        batch.drop_column("decline_reason")
