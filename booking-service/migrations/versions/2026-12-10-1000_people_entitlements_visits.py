"""lists an app can show, visits staff can make, personal entitlements

Booking answers name the service center an offering is given at (its name and address, from the registry's
offering snapshot), so a list of bookings shows the place without a call per row. A resident's access notes
(gate code, floor) and a visit's relay number are kept for the staff member assigned to a door-to-door visit.
A funded programme states what each eligible person gets per period; each resident's units drawn are counted per
programme and period; eligibility tags carry their evidence and expiry, and expiring evidence opens a re-check.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-10 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from service_kit.db import UTCDateTime

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("catalog_offering", sa.Column("place_name", sa.String(200), nullable=True))
    op.add_column("catalog_offering", sa.Column("place_address", sa.String(300), nullable=True))
    op.add_column("resident", sa.Column("access_notes", sa.String(300), nullable=True))
    op.add_column("booking", sa.Column("relay_number", sa.String(32), nullable=True))
    op.add_column("funded_program", sa.Column("per_person_units", sa.Integer(), nullable=True))
    op.add_column("funded_program", sa.Column("per_person_period", sa.String(8), nullable=True))
    op.add_column("funded_program", sa.Column("per_person_unit", sa.String(8), nullable=True))
    op.add_column("booking", sa.Column("entitlement_period_start", sa.Date(), nullable=True))
    op.add_column("booking", sa.Column("entitlement_units", sa.Integer(), nullable=True))
    op.add_column("booking", sa.Column("price_note", sa.String(300), nullable=True))
    op.create_table(
        "entitlement_usage",
        sa.Column("program_id", sa.Uuid(), nullable=False),
        sa.Column("resident_id", sa.Uuid(), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("used", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("program_id", "resident_id", "period_start", name=op.f("pk_entitlement_usage")),
    )
    op.create_table(
        "eligibility_evidence",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("resident_id", sa.Uuid(), nullable=False),
        sa.Column("tag", sa.String(32), nullable=False),
        sa.Column("evidence_type", sa.String(32), nullable=False),
        sa.Column("verified_by", sa.String(160), nullable=False),
        sa.Column("verified_by_name", sa.String(100), nullable=True),
        sa.Column("verified_on", sa.Date(), nullable=False),
        sa.Column("expires_on", sa.Date(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_eligibility_evidence")),
        sa.UniqueConstraint("resident_id", "tag", name=op.f("uq_eligibility_evidence_resident_id_tag")),
    )
    op.create_index("ix_eligibility_evidence_expires_on", "eligibility_evidence", ["expires_on"])
    op.create_table(
        "eligibility_recheck",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("resident_id", sa.Uuid(), nullable=False),
        sa.Column("tag", sa.String(32), nullable=False),
        sa.Column("expires_on", sa.Date(), nullable=False),
        sa.Column("opened_at", UTCDateTime(), nullable=False),
        sa.Column("closed_at", UTCDateTime(), nullable=True),
        sa.Column("closed_by", sa.String(160), nullable=True),
        sa.Column("outcome", sa.String(16), nullable=True),
        sa.Column("note", sa.String(500), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_eligibility_recheck")),
        sa.UniqueConstraint("resident_id", "tag", "expires_on", name=op.f("uq_eligibility_recheck_resident_id_tag_expires_on")),
    )
    op.create_index(
        "ix_eligibility_recheck_closed_at_expires_on", "eligibility_recheck", ["closed_at", "expires_on"]
    )


def downgrade() -> None:
    op.drop_index("ix_eligibility_recheck_closed_at_expires_on", table_name="eligibility_recheck")
    op.drop_table("eligibility_recheck")
    op.drop_index("ix_eligibility_evidence_expires_on", table_name="eligibility_evidence")
    op.drop_table("eligibility_evidence")
    op.drop_table("entitlement_usage")
    with op.batch_alter_table("funded_program") as batch:
        for column in ("per_person_unit", "per_person_period", "per_person_units"):
            batch.drop_column(column)
    with op.batch_alter_table("booking") as batch:
        for column in ("price_note", "entitlement_units", "entitlement_period_start"):
            batch.drop_column(column)
    with op.batch_alter_table("booking") as batch:
        batch.drop_column("relay_number")
    with op.batch_alter_table("resident") as batch:
        batch.drop_column("access_notes")
    with op.batch_alter_table("catalog_offering") as batch:
        batch.drop_column("place_address")
        batch.drop_column("place_name")
