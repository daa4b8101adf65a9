"""kept bookings: a terminated contract holds what its residents' upcoming bookings still cost

At a termination the unpaid rest stays committed until booking-service reports the bookings that keep their
subsidy (``linli.contract.funding_kept.v1``); then their value stays held (``contract.kept_fen``), the rest goes
back to the fund, and each kept booking is paid by a settlement once delivered, or given back when it lapses.
Contracts terminated before this change gave everything back already: they count as reported.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-08 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from service_kit.db import UTCDateTime
from service_kit.migrations import timestamps

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("contract") as batch:
        batch.add_column(sa.Column("kept_fen", sa.BigInteger(), server_default="0", nullable=False))
        batch.add_column(sa.Column("kept_reported_at", UTCDateTime(), nullable=True))
        batch.create_check_constraint("ck_contract_kept_within_unpaid", "kept_fen >= 0")
    op.execute("UPDATE contract SET kept_reported_at = terminated_at WHERE terminated_at IS NOT NULL")
    op.create_table(
        "kept_booking",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("contract_id", sa.Uuid(), nullable=False),
        sa.Column("booking_id", sa.Uuid(), nullable=False),
        sa.Column("offering_id", sa.Uuid(), nullable=False),
        sa.Column("value_fen", sa.BigInteger(), nullable=False),
        sa.Column(
            "state",
            sa.Enum("open", "delivered", "lapsed", name="keptstate", native_enum=False, length=16),
            nullable=False,
        ),
        sa.Column("closed_at", UTCDateTime(), nullable=True),
        sa.Column("disbursement_id", sa.Uuid(), nullable=True),
        *timestamps(),
        sa.CheckConstraint("value_fen >= 0", name="ck_kept_booking_value_not_negative"),
        sa.ForeignKeyConstraint(["contract_id"], ["contract.id"], name="fk_kept_booking_contract_id_contract"),
        sa.ForeignKeyConstraint(
            ["disbursement_id"], ["disbursement.id"], name="fk_kept_booking_disbursement_id_disbursement"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_kept_booking"),
        sa.UniqueConstraint("booking_id", name="uq_kept_booking_booking_id"),
    )
    op.create_index("ix_kept_booking_contract_id", "kept_booking", ["contract_id"])
    op.create_index("ix_kept_booking_disbursement_id", "kept_booking", ["disbursement_id"])


def downgrade() -> None:
    op.drop_index("ix_kept_booking_disbursement_id", table_name="kept_booking")
    op.drop_index("ix_kept_booking_contract_id", table_name="kept_booking")
    op.drop_table("kept_booking")
    with op.batch_alter_table("contract") as batch:
        batch.drop_constraint("ck_contract_kept_within_unpaid", type_="check")
        batch.drop_column("kept_reported_at")
        batch.drop_column("kept_fen")
