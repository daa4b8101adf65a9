"""funded residents whose contract ended before their booking

Bookings marked for replacement when their contract's funding ends, and where offerings are (the 15-minute
circle the alternatives are found in).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05 12:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from service_kit.db import JSONDoc, UTCDateTime
from service_kit.migrations import timestamps

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OFFERING_PLACE = (
    sa.Column("latitude", sa.Double(), nullable=True),
    sa.Column("longitude", sa.Double(), nullable=True),
    sa.Column("service_radius_m", sa.Integer(), nullable=True),
    sa.Column("service_communities", JSONDoc, nullable=True),
)


def upgrade() -> None:
    with op.batch_alter_table("catalog_offering") as batch:
        for column in OFFERING_PLACE:
            batch.add_column(column._copy())
    op.create_table(
        "booking_replacement",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("booking_id", sa.Uuid(), nullable=False),
        sa.Column("resident_id", sa.Uuid(), nullable=False),
        sa.Column("offering_id", sa.Uuid(), nullable=False),
        sa.Column("category_code", sa.String(64), nullable=False),
        sa.Column("contract_id", sa.Uuid(), nullable=False),
        sa.Column(
            "cause",
            sa.Enum("terminated", "amended", "expired", name="fundingcause", native_enum=False, length=16),
            nullable=False,
        ),
        sa.Column("funding_ended_at", UTCDateTime(), nullable=False),
        sa.Column(
            "status",
            sa.Enum("open", "rebooked", "declined", name="replacementstatus", native_enum=False, length=16),
            nullable=False,
        ),
        sa.Column("handled_by", sa.String(160), nullable=True),
        sa.Column("handled_at", UTCDateTime(), nullable=True),
        sa.Column("note", sa.String(500), nullable=True),
        sa.Column("replacement_booking_id", sa.Uuid(), nullable=True),
        *timestamps(),
        sa.PrimaryKeyConstraint("id", name="pk_booking_replacement"),
        sa.UniqueConstraint("booking_id", name="uq_booking_replacement_booking_id"),
    )
    op.create_index("ix_booking_replacement_resident_id", "booking_replacement", ["resident_id"])
    op.create_index("ix_booking_replacement_status_created_at", "booking_replacement", ["status", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_booking_replacement_status_created_at", table_name="booking_replacement")
    op.drop_index("ix_booking_replacement_resident_id", table_name="booking_replacement")
    op.drop_table("booking_replacement")
    with op.batch_alter_table("catalog_offering") as batch:
        for column in reversed(OFFERING_PLACE):
            batch.drop_column(column.name)
