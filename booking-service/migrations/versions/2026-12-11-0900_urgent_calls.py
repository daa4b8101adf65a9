"""urgent safety calls, their escalation by SMS to someone else's phone, and the communities' duty phones

``urgent_call``: an urgent call about a resident and its steps (opened → contacted → resolved, who and when);
``open_resident_id`` is unique, so a resident has one open at most. ``notification_delivery`` may now carry an
SMS to a phone that is not the resident's (``recipient``, ``to_phone_sealed``) with no inbox message
(``notification_id`` nullable). ``community_duty_contact``: the duty phone the call center keeps per community
(the gazetteer has none).

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-11 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from service_kit.db import UTCDateTime

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "urgent_call",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("resident_id", sa.Uuid(), nullable=False),
        sa.Column("open_resident_id", sa.Uuid(), nullable=True),
        sa.Column("reason", sa.String(16), nullable=False),
        sa.Column("note", sa.String(1000), nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("contact_name", sa.String(80), nullable=True),
        sa.Column("community_code", sa.String(64), nullable=True),
        sa.Column("community_name", sa.String(100), nullable=True),
        sa.Column("opened_by", sa.String(160), nullable=False),
        sa.Column("opened_by_name", sa.String(100), nullable=True),
        sa.Column("opened_at", UTCDateTime(), nullable=False),
        sa.Column("contacted_by", sa.String(160), nullable=True),
        sa.Column("contacted_by_name", sa.String(100), nullable=True),
        sa.Column("contacted_at", UTCDateTime(), nullable=True),
        sa.Column("contacted_note", sa.String(500), nullable=True),
        sa.Column("resolved_by", sa.String(160), nullable=True),
        sa.Column("resolved_by_name", sa.String(100), nullable=True),
        sa.Column("resolved_at", UTCDateTime(), nullable=True),
        sa.Column("resolved_note", sa.String(500), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_urgent_call"),
        sa.UniqueConstraint("open_resident_id", name="uq_urgent_call_open_resident_id"),
    )
    op.create_index("ix_urgent_call_resident_id", "urgent_call", ["resident_id"])
    op.create_index("ix_urgent_call_status_opened_at", "urgent_call", ["status", "opened_at"])
    op.create_table(
        "community_duty_contact",
        sa.Column("community_code", sa.String(64), nullable=False),
        sa.Column("name", sa.String(50), nullable=False),
        sa.Column("phone_sealed", sa.String(120), nullable=False),
        sa.Column("updated_by", sa.String(160), nullable=False),
        sa.Column("updated_by_name", sa.String(100), nullable=True),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("community_code", name="pk_community_duty_contact"),
    )
    with op.batch_alter_table("notification_delivery") as batch:
        batch.alter_column("notification_id", existing_type=sa.Uuid(), nullable=True)
        batch.add_column(sa.Column("recipient", sa.String(32), nullable=True))
        batch.add_column(sa.Column("to_phone_sealed", sa.String(120), nullable=True))


def downgrade() -> None:
    # The SMS to others' phones have no inbox message to hang on: they go with the column.
    op.execute("DELETE FROM notification_delivery WHERE notification_id IS NULL")
    with op.batch_alter_table("notification_delivery") as batch:
        batch.drop_column("to_phone_sealed")
        batch.drop_column("recipient")
        batch.alter_column("notification_id", existing_type=sa.Uuid(), nullable=False)
    op.drop_table("community_duty_contact")
    op.drop_table("urgent_call")
