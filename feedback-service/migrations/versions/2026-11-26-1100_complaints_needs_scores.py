"""complaints with their history, needs grouped for procurement, booking outcomes and debounced score changes

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26 11:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from service_kit.db import JSONDoc, UTCDateTime
from service_kit.migrations import timestamps

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "complaint",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("category", sa.String(32), nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("target_kind", sa.String(16), nullable=False),
        sa.Column("target_id", sa.Uuid(), nullable=False),
        sa.Column("provider_id", sa.Uuid(), nullable=True),
        sa.Column("offering_id", sa.Uuid(), nullable=True),
        sa.Column("booking_id", sa.Uuid(), nullable=True),
        sa.Column("center_id", sa.Uuid(), nullable=True),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("attachments", JSONDoc, nullable=False),
        sa.Column("resident_id", sa.Uuid(), nullable=True),
        sa.Column("filed_by", sa.String(200), nullable=False),
        sa.Column("assignee_kind", sa.String(16), nullable=True),
        sa.Column("assignee_id", sa.String(200), nullable=True),
        sa.Column("address", sa.String(300), nullable=True),
        sa.Column("lat", sa.Double(), nullable=True),
        sa.Column("long", sa.Double(), nullable=True),
        sa.Column("ack_due_at", UTCDateTime(), nullable=False),
        sa.Column("resolve_due_at", UTCDateTime(), nullable=False),
        sa.Column("acknowledged_at", UTCDateTime(), nullable=True),
        sa.Column("resolved_at", UTCDateTime(), nullable=True),
        sa.Column("closed_at", UTCDateTime(), nullable=True),
        sa.Column("ack_escalated_at", UTCDateTime(), nullable=True),
        sa.Column("resolve_escalated_at", UTCDateTime(), nullable=True),
        *timestamps(),
        sa.PrimaryKeyConstraint("id", name="pk_complaint"),
    )
    op.create_index("ix_complaint_provider_id", "complaint", ["provider_id"])
    op.create_index("ix_complaint_offering_id", "complaint", ["offering_id"])
    op.create_index("ix_complaint_resident_id", "complaint", ["resident_id"])
    op.create_index("ix_complaint_status_ack_due_at", "complaint", ["status", "ack_due_at"])
    op.create_index("ix_complaint_status_resolve_due_at", "complaint", ["status", "resolve_due_at"])

    op.create_table(
        "complaint_step",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("complaint_id", sa.Uuid(), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("status_after", sa.String(16), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("actor_role", sa.String(32), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("internal", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_complaint_step"),
        sa.ForeignKeyConstraint(["complaint_id"], ["complaint.id"], name="fk_complaint_step_complaint_id_complaint"),
    )
    op.create_index("ix_complaint_step_complaint_id_created_at", "complaint_step", ["complaint_id", "created_at"])

    op.create_table(
        "need_group",
        sa.Column("group_key", sa.String(140), nullable=False),
        sa.Column("category_code", sa.String(64), nullable=False),
        sa.Column("community_code", sa.String(64), nullable=True),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("first_at", UTCDateTime(), nullable=False),
        sa.Column("last_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("group_key", name="pk_need_group"),
    )
    op.create_index("ix_need_group_count", "need_group", ["count"])

    op.create_table(
        "need",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("group_key", sa.String(140), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("category_code", sa.String(64), nullable=False),
        sa.Column("community_code", sa.String(64), nullable=True),
        sa.Column("target_group", sa.String(32), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("resident_id", sa.Uuid(), nullable=True),
        sa.Column("submitted_by", sa.String(200), nullable=False),
        sa.Column("via_open311", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_need"),
        sa.ForeignKeyConstraint(["group_key"], ["need_group.group_key"], name="fk_need_group_key_need_group"),
    )
    op.create_index("ix_need_resident_id", "need", ["resident_id"])
    op.create_index("ix_need_group_key_created_at", "need", ["group_key", "created_at"])

    op.create_table(
        "booking_outcome",
        sa.Column("booking_id", sa.Uuid(), nullable=False),
        sa.Column("provider_id", sa.Uuid(), nullable=False),
        sa.Column("offering_id", sa.Uuid(), nullable=False),
        sa.Column("resident_id", sa.Uuid(), nullable=True),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("occurred_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("booking_id", name="pk_booking_outcome"),
    )
    op.create_index("ix_booking_outcome_provider_id", "booking_outcome", ["provider_id"])
    op.create_index("ix_booking_outcome_offering_id", "booking_outcome", ["offering_id"])
    # Every booking completed before this revision already opened a rating invitation: count it.
    op.execute(
        "INSERT INTO booking_outcome (booking_id, provider_id, offering_id, resident_id, outcome, occurred_at) "
        "SELECT booking_id, provider_id, offering_id, resident_id, 'completed', completed_at FROM rating_invitation"
    )

    op.create_table(
        "score_change",
        sa.Column("subject_kind", sa.String(16), nullable=False),
        sa.Column("subject_id", sa.Uuid(), nullable=False),
        sa.Column("provider_id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("emitted_version", sa.Integer(), nullable=False),
        sa.Column("changed_at", UTCDateTime(), nullable=False),
        sa.Column("emitted_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("subject_kind", "subject_id", name="pk_score_change"),
    )


def downgrade() -> None:
    op.drop_table("score_change")
    op.drop_index("ix_booking_outcome_offering_id", table_name="booking_outcome")
    op.drop_index("ix_booking_outcome_provider_id", table_name="booking_outcome")
    op.drop_table("booking_outcome")
    op.drop_index("ix_need_group_key_created_at", table_name="need")
    op.drop_index("ix_need_resident_id", table_name="need")
    op.drop_table("need")
    op.drop_index("ix_need_group_count", table_name="need_group")
    op.drop_table("need_group")
    op.drop_index("ix_complaint_step_complaint_id_created_at", table_name="complaint_step")
    op.drop_table("complaint_step")
    op.drop_index("ix_complaint_status_resolve_due_at", table_name="complaint")
    op.drop_index("ix_complaint_status_ack_due_at", table_name="complaint")
    op.drop_index("ix_complaint_resident_id", table_name="complaint")
    op.drop_index("ix_complaint_offering_id", table_name="complaint")
    op.drop_index("ix_complaint_provider_id", table_name="complaint")
    op.drop_table("complaint")
