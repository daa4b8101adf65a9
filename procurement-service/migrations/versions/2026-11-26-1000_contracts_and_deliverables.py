"""contracts, their funded offerings and audit trail; deliverables counted from completed bookings

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
        "contract",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("provider_id", sa.Uuid(), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("start_date", sa.Date(), nullable=False),
        sa.Column("end_date", sa.Date(), nullable=False),
        sa.Column("stable_service", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("signed_at", UTCDateTime(), nullable=True),
        sa.Column("signed_by", sa.String(200), nullable=True),
        sa.Column("terminated_at", UTCDateTime(), nullable=True),
        sa.Column("terminated_by", sa.String(200), nullable=True),
        sa.Column("termination_reason", sa.Text(), nullable=True),
        *timestamps(),
        sa.CheckConstraint("amount_fen > 0", name="ck_contract_amount_positive"),
        sa.CheckConstraint("end_date >= start_date", name="ck_contract_term_ordered"),
        sa.PrimaryKeyConstraint("id", name="pk_contract"),
    )
    op.create_index("ix_contract_provider_id", "contract", ["provider_id"])
    op.create_index("ix_contract_status", "contract", ["status"])

    op.create_table(
        "contract_funded_offering",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("contract_id", sa.Uuid(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("offering_id", sa.Uuid(), nullable=False),
        sa.Column("unit_price_fen", sa.BigInteger(), nullable=False),
        sa.Column("resident_price_fen", sa.BigInteger(), nullable=False),
        sa.Column("quota", sa.Integer(), nullable=False),
        sa.Column("eligibility_tags", JSONDoc, nullable=False),
        sa.CheckConstraint("unit_price_fen >= 0", name="ck_contract_funded_offering_unit_price_not_negative"),
        sa.CheckConstraint(
            "resident_price_fen >= 0 AND resident_price_fen <= unit_price_fen",
            name="ck_contract_funded_offering_resident_price",
        ),
        sa.CheckConstraint("quota >= 1", name="ck_contract_funded_offering_quota_positive"),
        sa.ForeignKeyConstraint(
            ["contract_id"],
            ["contract.id"],
            name="fk_contract_funded_offering_contract_id_contract",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_contract_funded_offering"),
        sa.UniqueConstraint("contract_id", "offering_id", name="uq_contract_funded_offering_contract_id_offering_id"),
    )
    op.create_index("ix_contract_funded_offering_offering_id", "contract_funded_offering", ["offering_id"])

    op.create_table(
        "contract_audit_entry",
        sa.Column("seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("contract_id", sa.Uuid(), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("actor_subject", sa.String(200), nullable=False),
        sa.Column("actor_name", sa.String(200), nullable=True),
        sa.Column("actor_roles", JSONDoc, nullable=False),
        sa.Column("occurred_at", UTCDateTime(), nullable=False),
        sa.Column("before", JSONDoc, nullable=True),
        sa.Column("after", JSONDoc, nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["contract_id"], ["contract.id"], name="fk_contract_audit_entry_contract_id_contract"),
        sa.PrimaryKeyConstraint("seq", name="pk_contract_audit_entry"),
    )
    op.create_index("ix_contract_audit_entry_contract_id_seq", "contract_audit_entry", ["contract_id", "seq"])

    op.create_table(
        "deliverable",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("contract_id", sa.Uuid(), nullable=False),
        sa.Column("booking_id", sa.Uuid(), nullable=False),
        sa.Column("offering_id", sa.Uuid(), nullable=False),
        sa.Column("unit_price_fen", sa.BigInteger(), nullable=False),
        sa.Column("delivered_at", UTCDateTime(), nullable=False),
        sa.Column("source_event_id", sa.String(120), nullable=False),
        *timestamps(),
        sa.ForeignKeyConstraint(["contract_id"], ["contract.id"], name="fk_deliverable_contract_id_contract"),
        sa.PrimaryKeyConstraint("id", name="pk_deliverable"),
        sa.UniqueConstraint("booking_id", name="uq_deliverable_booking_id"),
    )
    op.create_index("ix_deliverable_contract_id", "deliverable", ["contract_id"])


def downgrade() -> None:
    op.drop_index("ix_deliverable_contract_id", table_name="deliverable")
    op.drop_table("deliverable")
    op.drop_index("ix_contract_audit_entry_contract_id_seq", table_name="contract_audit_entry")
    op.drop_table("contract_audit_entry")
    op.drop_index("ix_contract_funded_offering_offering_id", table_name="contract_funded_offering")
    op.drop_table("contract_funded_offering")
    op.drop_index("ix_contract_status", table_name="contract")
    op.drop_index("ix_contract_provider_id", table_name="contract")
    op.drop_table("contract")
