"""residents' protected personal data and rights, acting-for trail, booking rules, expiry, delivery evidence,
provider sanctions

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26 11:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from service_kit.db import UTCDateTime
from service_kit.migrations import timestamps

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ACTIVE = sa.text("status IN ('requested', 'confirmed', 'in_service')")


def upgrade() -> None:
    with op.batch_alter_table("resident") as batch:
        batch.alter_column("phone", existing_type=sa.String(20), nullable=True)
        batch.add_column(sa.Column("id_card_encrypted", sa.String(120), nullable=True))
        batch.add_column(sa.Column("id_card_index", sa.String(64), nullable=True))
        batch.add_column(sa.Column("id_card_masked", sa.String(18), nullable=True))
        batch.add_column(sa.Column("birth_date", sa.Date(), nullable=True))
        batch.add_column(sa.Column("address", sa.String(200), nullable=True))
        batch.add_column(sa.Column("latitude", sa.Double(), nullable=True))
        batch.add_column(sa.Column("longitude", sa.Double(), nullable=True))
        batch.add_column(sa.Column("emergency_contact_name", sa.String(50), nullable=True))
        batch.add_column(sa.Column("emergency_contact_phone", sa.String(20), nullable=True))
        batch.add_column(sa.Column("emergency_contact_relation", sa.String(20), nullable=True))
        batch.add_column(
            sa.Column("consent_purpose", sa.String(100), nullable=False, server_default="community_services")
        )
        batch.add_column(sa.Column("account_subject", sa.String(160), nullable=True))
        batch.add_column(sa.Column("erased_at", UTCDateTime(), nullable=True))
        batch.create_unique_constraint("uq_resident_id_card_index", ["id_card_index"])
        batch.create_unique_constraint("uq_resident_account_subject", ["account_subject"])
    with op.batch_alter_table("resident") as batch:
        batch.alter_column("consent_purpose", existing_type=sa.String(100), server_default=None)

    op.add_column("booking", sa.Column("confirm_by", UTCDateTime(), nullable=True))
    op.add_column("booking", sa.Column("checked_in_at", UTCDateTime(), nullable=True))
    op.add_column("booking", sa.Column("checked_in_by", sa.String(160), nullable=True))
    op.add_column("booking", sa.Column("checked_in_latitude", sa.Double(), nullable=True))
    op.add_column("booking", sa.Column("checked_in_longitude", sa.Double(), nullable=True))
    op.add_column("booking", sa.Column("checked_in_distance_m", sa.Integer(), nullable=True))
    op.add_column("booking", sa.Column("checked_in_far", sa.Boolean(), nullable=True))
    op.add_column("booking", sa.Column("checked_out_at", UTCDateTime(), nullable=True))
    op.add_column("booking", sa.Column("checked_out_by", sa.String(160), nullable=True))
    op.add_column("booking", sa.Column("checked_out_latitude", sa.Double(), nullable=True))
    op.add_column("booking", sa.Column("checked_out_longitude", sa.Double(), nullable=True))
    op.create_index(
        "uq_booking_resident_id_active_slot",
        "booking",
        ["resident_id", "offering_id", "slot_start"],
        unique=True,
        sqlite_where=ACTIVE,
        postgresql_where=ACTIVE,
    )
    op.create_index("ix_booking_status_confirm_by", "booking", ["status", "confirm_by"])
    # Bookings requested before this revision expire, at the latest, when their slot starts.
    op.execute("UPDATE booking SET confirm_by = slot_start WHERE status = 'requested'")

    op.create_table(
        "acting_for",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("operator_subject", sa.String(160), nullable=False),
        sa.Column("operator_name", sa.String(100), nullable=True),
        sa.Column("resident_id", sa.Uuid(), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("booking_id", sa.Uuid(), nullable=True),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_acting_for"),
    )
    op.create_index("ix_acting_for_resident_id_at", "acting_for", ["resident_id", "at"])
    op.create_table(
        "booking_rule",
        sa.Column("offering_id", sa.Uuid(), nullable=False),
        sa.Column("min_lead_minutes", sa.Integer(), nullable=True),
        sa.Column("horizon_days", sa.Integer(), nullable=True),
        sa.Column("cancellation_window_minutes", sa.Integer(), nullable=True),
        sa.Column("confirm_within_minutes", sa.Integer(), nullable=True),
        *timestamps(),
        sa.PrimaryKeyConstraint("offering_id", name="pk_booking_rule"),
    )
    op.create_table(
        "provider_sanction",
        sa.Column("provider_id", sa.Uuid(), nullable=False),
        sa.Column("sanctioned", sa.Boolean(), nullable=False),
        sa.Column("sanction_id", sa.Uuid(), nullable=False),
        sa.Column("measure", sa.String(64), nullable=False),
        sa.Column("until", sa.Date(), nullable=True),
        sa.Column("as_of", UTCDateTime(), nullable=False),
        *timestamps(),
        sa.PrimaryKeyConstraint("provider_id", name="pk_provider_sanction"),
    )


def downgrade() -> None:
    op.drop_table("provider_sanction")
    op.drop_table("booking_rule")
    op.drop_index("ix_acting_for_resident_id_at", table_name="acting_for")
    op.drop_table("acting_for")
    op.drop_index("ix_booking_status_confirm_by", table_name="booking")
    op.drop_index("uq_booking_resident_id_active_slot", table_name="booking")
    # The earlier schema knows no expired status: such bookings read as rejected (not confirmed in time).
    op.execute("UPDATE booking SET status = 'rejected' WHERE status = 'expired'")
    with op.batch_alter_table("booking") as batch:
        for column in (
            "checked_out_longitude",
            "checked_out_latitude",
            "checked_out_by",
            "checked_out_at",
            "checked_in_far",
            "checked_in_distance_m",
            "checked_in_longitude",
            "checked_in_latitude",
            "checked_in_by",
            "checked_in_at",
            "confirm_by",
        ):
            batch.drop_column(column)
    # Erased residents have no phone; the earlier schema requires one, so they get a placeholder.
    op.execute("UPDATE resident SET phone = 'erased-' || substr(CAST(id AS VARCHAR(36)), 1, 12) WHERE phone IS NULL")
    with op.batch_alter_table("resident") as batch:
        batch.drop_constraint("uq_resident_account_subject", type_="unique")
        batch.drop_constraint("uq_resident_id_card_index", type_="unique")
        for column in (
            "erased_at",
            "account_subject",
            "consent_purpose",
            "emergency_contact_relation",
            "emergency_contact_phone",
            "emergency_contact_name",
            "longitude",
            "latitude",
            "address",
            "birth_date",
            "id_card_masked",
            "id_card_index",
            "id_card_encrypted",
        ):
            batch.drop_column(column)
        batch.alter_column("phone", existing_type=sa.String(20), nullable=False)
