"""first slice: catalog projections, residents, bookings and slot counters

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from service_kit.db import JSONDoc, UTCDateTime
from service_kit.migrations import timestamps

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "catalog_provider",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("accepts_bookings", sa.Boolean(), nullable=False),
        sa.Column("as_of", UTCDateTime(), nullable=False),
        *timestamps(),
        sa.PrimaryKeyConstraint("id", name="pk_catalog_provider"),
    )
    op.create_table(
        "catalog_offering",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("provider_id", sa.Uuid(), nullable=False),
        sa.Column("provider_name", sa.String(200), nullable=False),
        sa.Column("category_code", sa.String(64), nullable=False),
        sa.Column("name_zh", sa.String(200), nullable=False),
        sa.Column("name_en", sa.String(200), nullable=True),
        sa.Column("mode", sa.String(32), nullable=False),
        sa.Column("price_fen", sa.Integer(), nullable=False),
        sa.Column("duration_minutes", sa.Integer(), nullable=False),
        sa.Column("capacity_per_slot", sa.Integer(), nullable=False),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("weekly_rules", JSONDoc, nullable=False),
        sa.Column("exceptions", JSONDoc, nullable=False),
        sa.Column("target_groups", JSONDoc, nullable=False),
        sa.Column("auto_confirm", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        *timestamps(),
        sa.PrimaryKeyConstraint("id", name="pk_catalog_offering"),
    )
    op.create_index("ix_catalog_offering_provider_id", "catalog_offering", ["provider_id"])
    op.create_table(
        "funded_program",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("contract_id", sa.Uuid(), nullable=False),
        sa.Column("offering_id", sa.Uuid(), nullable=False),
        sa.Column("provider_id", sa.Uuid(), nullable=False),
        sa.Column("unit_price_fen", sa.Integer(), nullable=False),
        sa.Column("resident_price_fen", sa.Integer(), nullable=False),
        sa.Column("quota", sa.Integer(), nullable=False),
        sa.Column("used", sa.Integer(), nullable=False),
        sa.Column("eligibility_tags", JSONDoc, nullable=False),
        sa.Column("start_date", sa.Date(), nullable=False),
        sa.Column("end_date", sa.Date(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("contract_status", sa.String(32), nullable=False),
        sa.Column("as_of", UTCDateTime(), nullable=False),
        *timestamps(),
        sa.PrimaryKeyConstraint("id", name="pk_funded_program"),
        sa.UniqueConstraint("contract_id", "offering_id", name="uq_funded_program_contract_id_offering_id"),
    )
    op.create_index("ix_funded_program_contract_id", "funded_program", ["contract_id"])
    op.create_index("ix_funded_program_offering_id", "funded_program", ["offering_id"])
    op.create_table(
        "resident",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(50), nullable=False),
        sa.Column("phone", sa.String(20), nullable=False),
        sa.Column("community_code", sa.String(32), nullable=True),
        sa.Column("eligibility_tags", JSONDoc, nullable=False),
        sa.Column("consent_version", sa.String(20), nullable=False),
        sa.Column("consent_channel", sa.String(16), nullable=False),
        sa.Column("consent_at", UTCDateTime(), nullable=False),
        sa.Column("registered_by", sa.String(120), nullable=False),
        *timestamps(),
        sa.PrimaryKeyConstraint("id", name="pk_resident"),
        sa.UniqueConstraint("phone", name="uq_resident_phone"),
    )
    op.create_index("ix_resident_community_code", "resident", ["community_code"])
    op.create_table(
        "booking",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("offering_id", sa.Uuid(), nullable=False),
        sa.Column("provider_id", sa.Uuid(), nullable=False),
        sa.Column("resident_id", sa.Uuid(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("slot_start", UTCDateTime(), nullable=False),
        sa.Column("slot_end", UTCDateTime(), nullable=False),
        sa.Column("price_fen", sa.Integer(), nullable=False),
        sa.Column("subsidy_fen", sa.Integer(), nullable=False),
        sa.Column("funded_contract_id", sa.Uuid(), nullable=True),
        sa.Column("funded_program_id", sa.Uuid(), nullable=True),
        sa.Column("booked_by", sa.String(160), nullable=False),
        sa.Column("status_actor", sa.String(160), nullable=True),
        sa.Column("status_reason", sa.String(500), nullable=True),
        sa.Column("status_changed_at", UTCDateTime(), nullable=False),
        *timestamps(),
        sa.PrimaryKeyConstraint("id", name="pk_booking"),
    )
    op.create_index("ix_booking_offering_id", "booking", ["offering_id"])
    op.create_index("ix_booking_resident_id_created_at", "booking", ["resident_id", "created_at"])
    op.create_index("ix_booking_provider_id_created_at", "booking", ["provider_id", "created_at"])
    op.create_table(
        "slot_counter",
        sa.Column("offering_id", sa.Uuid(), nullable=False),
        sa.Column("slot_start", UTCDateTime(), nullable=False),
        sa.Column("used", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("offering_id", "slot_start", name="pk_slot_counter"),
    )


def downgrade() -> None:
    op.drop_table("slot_counter")
    op.drop_index("ix_booking_provider_id_created_at", table_name="booking")
    op.drop_index("ix_booking_resident_id_created_at", table_name="booking")
    op.drop_index("ix_booking_offering_id", table_name="booking")
    op.drop_table("booking")
    op.drop_index("ix_resident_community_code", table_name="resident")
    op.drop_table("resident")
    op.drop_index("ix_funded_program_offering_id", table_name="funded_program")
    op.drop_index("ix_funded_program_contract_id", table_name="funded_program")
    op.drop_table("funded_program")
    op.drop_index("ix_catalog_offering_provider_id", table_name="catalog_offering")
    op.drop_table("catalog_offering")
    op.drop_table("catalog_provider")
