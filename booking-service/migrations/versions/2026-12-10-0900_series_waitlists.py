"""recurring series and waitlists

``booking_series`` (a resident's standing booking: weekly on chosen weekdays or on the official working days, every N
weeks, to an end date or a count) and ``series_occurrence`` (each planned date, unique per series, with its booking
or why it has none); ``waitlist_entry`` (residents waiting for a place in a full slot, one waiting entry per
resident and slot, and the place offered to the first in line).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-10 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from service_kit.db import JSONDoc, UTCDateTime

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WAITING = sa.text("status IN ('waiting', 'offered')")


def upgrade() -> None:
    op.create_table(
        "booking_series",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("resident_id", sa.Uuid(), nullable=False),
        sa.Column("offering_id", sa.Uuid(), nullable=False),
        sa.Column("provider_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("weekdays", JSONDoc, nullable=False),
        sa.Column("interval_weeks", sa.Integer(), nullable=False),
        sa.Column("skip_holidays", sa.Boolean(), nullable=False),
        sa.Column("start_time", sa.String(5), nullable=False),
        sa.Column("start_date", sa.Date(), nullable=False),
        sa.Column("end_date", sa.Date(), nullable=True),
        sa.Column("count", sa.Integer(), nullable=True),
        sa.Column("waitlist_when_full", sa.Boolean(), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("planned_through", sa.Date(), nullable=True),
        sa.Column("planned", sa.Integer(), nullable=False),
        sa.Column("booker_kind", sa.String(16), nullable=False),
        sa.Column("booker_subject", sa.String(160), nullable=False),
        sa.Column("booker_name", sa.String(100), nullable=True),
        sa.Column("helper_resident_id", sa.Uuid(), nullable=True),
        sa.Column("confirmed_at", UTCDateTime(), nullable=True),
        sa.Column("confirmed_by", sa.String(160), nullable=True),
        sa.Column("cancelled_at", UTCDateTime(), nullable=True),
        sa.Column("cancelled_by", sa.String(160), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_booking_series"),
    )
    op.create_index("ix_booking_series_resident_id", "booking_series", ["resident_id"])
    op.create_index("ix_booking_series_provider_id", "booking_series", ["provider_id"])
    op.create_table(
        "series_occurrence",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("series_id", sa.Uuid(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("slot_start", UTCDateTime(), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("code", sa.String(64), nullable=True),
        sa.Column("booking_id", sa.Uuid(), nullable=True),
        sa.Column("waitlist_entry_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_series_occurrence"),
        sa.UniqueConstraint("series_id", "day", name="uq_series_occurrence_series_id_day"),
    )
    op.create_index("ix_series_occurrence_booking_id", "series_occurrence", ["booking_id"])
    op.create_table(
        "waitlist_entry",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("offering_id", sa.Uuid(), nullable=False),
        sa.Column("provider_id", sa.Uuid(), nullable=False),
        sa.Column("slot_start", UTCDateTime(), nullable=False),
        sa.Column("resident_id", sa.Uuid(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("joined_at", UTCDateTime(), nullable=False),
        sa.Column("joined_by", sa.String(160), nullable=False),
        sa.Column("helper_resident_id", sa.Uuid(), nullable=True),
        sa.Column("series_id", sa.Uuid(), nullable=True),
        sa.Column("offered_at", UTCDateTime(), nullable=True),
        sa.Column("offer_expires_at", UTCDateTime(), nullable=True),
        sa.Column("booking_id", sa.Uuid(), nullable=True),
        sa.Column("closed_at", UTCDateTime(), nullable=True),
        sa.Column("closed_by", sa.String(160), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_waitlist_entry"),
    )
    op.create_index("ix_waitlist_entry_resident_id", "waitlist_entry", ["resident_id"])
    op.create_index(
        "ix_waitlist_entry_offering_id_slot_start_status", "waitlist_entry", ["offering_id", "slot_start", "status"]
    )
    op.create_index("ix_waitlist_entry_status_offer_expires_at", "waitlist_entry", ["status", "offer_expires_at"])
    op.create_index(
        "uq_waitlist_entry_resident_slot_waiting",
        "waitlist_entry",
        ["offering_id", "slot_start", "resident_id"],
        unique=True,
        sqlite_where=WAITING,
        postgresql_where=WAITING,
    )


def downgrade() -> None:
    op.drop_table("waitlist_entry")
    op.drop_table("series_occurrence")
    op.drop_table("booking_series")
