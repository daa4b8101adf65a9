"""messages to residents: inbox, deliveries, preferences

Each message in a resident's inbox (``notification``, one per event and recipient), its fate per channel
(``notification_delivery``: inbox, SMS; unique per event, recipient and channel), the residents' choices
(``notification_preference``) and who copies whom (``notification_helper``, from the helper events).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-05 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from service_kit.db import JSONDoc, UTCDateTime
from service_kit.migrations import timestamps

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "notification",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("resident_id", sa.Uuid(), nullable=False),
        sa.Column("about_resident_id", sa.Uuid(), nullable=True),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("title", sa.String(60), nullable=False),
        sa.Column("body", sa.String(500), nullable=False),
        sa.Column("event_id", sa.String(120), nullable=False),
        sa.Column("subject_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("read_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_notification"),
        sa.UniqueConstraint("event_id", "resident_id", name="uq_notification_event_id_resident_id"),
    )
    op.create_index("ix_notification_resident_id_created_at", "notification", ["resident_id", "created_at"])
    op.create_table(
        "notification_delivery",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("notification_id", sa.Uuid(), nullable=False),
        sa.Column("event_id", sa.String(120), nullable=False),
        sa.Column("resident_id", sa.Uuid(), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("params", JSONDoc, nullable=False),
        sa.Column("text", sa.String(500), nullable=False),
        sa.Column("about_at", UTCDateTime(), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(120), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", UTCDateTime(), nullable=True),
        sa.Column("lease_until", UTCDateTime(), nullable=True),
        sa.Column("phone_masked", sa.String(20), nullable=True),
        sa.Column("phone_key", sa.String(64), nullable=True),
        sa.Column("provider_message_id", sa.String(80), nullable=True),
        sa.Column("sent_at", UTCDateTime(), nullable=True),
        *timestamps(),
        sa.PrimaryKeyConstraint("id", name="pk_notification_delivery"),
        sa.ForeignKeyConstraint(
            ["notification_id"],
            ["notification.id"],
            name="fk_notification_delivery_notification_id_notification",
        ),
        sa.UniqueConstraint(
            "event_id", "resident_id", "channel", name="uq_notification_delivery_event_id_resident_id_channel"
        ),
    )
    op.create_index("ix_notification_delivery_notification_id", "notification_delivery", ["notification_id"])
    op.create_index("ix_notification_delivery_due", "notification_delivery", ["status", "next_attempt_at"])
    op.create_index("ix_notification_delivery_phone_key_sent_at", "notification_delivery", ["phone_key", "sent_at"])
    op.create_table(
        "notification_preference",
        sa.Column("resident_id", sa.Uuid(), nullable=False),
        sa.Column("sms_off", JSONDoc, nullable=False),
        sa.Column("copy_helpers", sa.Boolean(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("resident_id", name="pk_notification_preference"),
    )
    op.create_table(
        "notification_helper",
        sa.Column("resident_id", sa.Uuid(), nullable=False),
        sa.Column("helper_resident_id", sa.Uuid(), nullable=False),
        sa.Column("grant_id", sa.Uuid(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("as_of", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("resident_id", "helper_resident_id", name="pk_notification_helper"),
    )


def downgrade() -> None:
    op.drop_table("notification_helper")
    op.drop_table("notification_preference")
    op.drop_index("ix_notification_delivery_phone_key_sent_at", table_name="notification_delivery")
    op.drop_index("ix_notification_delivery_due", table_name="notification_delivery")
    op.drop_index("ix_notification_delivery_notification_id", table_name="notification_delivery")
    op.drop_table("notification_delivery")
    op.drop_index("ix_notification_resident_id_created_at", table_name="notification")
    op.drop_table("notification")
