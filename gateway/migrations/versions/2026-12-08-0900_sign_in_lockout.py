"""sign-in lockout: failed sign-ins per target (a staff account, a resident's phone), shared by every replica

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-08 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from service_kit.db import UTCDateTime
from service_kit.migrations import timestamps

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # subject: the account's id, or the phone's blind index (never the phone itself).
    op.create_table(
        "sign_in_lockout",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("subject", sa.String(64), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("window_started_at", UTCDateTime(), nullable=True),
        sa.Column("last_failure_at", UTCDateTime(), nullable=True),
        sa.Column("locked_until", UTCDateTime(), nullable=True),
        sa.Column("lockouts", sa.Integer(), nullable=False),
        sa.Column("notified_at", UTCDateTime(), nullable=True),
        sa.Column("cleared_at", UTCDateTime(), nullable=True),
        sa.Column("unlocked_by", sa.String(120), nullable=True),
        *timestamps(),
        sa.PrimaryKeyConstraint("id", name="pk_sign_in_lockout"),
        sa.UniqueConstraint("kind", "subject", name="uq_sign_in_lockout_kind_subject"),
    )


def downgrade() -> None:
    op.drop_table("sign_in_lockout")
