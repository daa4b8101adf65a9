"""bilateral signing: the purchaser's and the provider's signatures of a contract, each with who and when;
``signed_at``/``signed_by`` keep meaning when (and by whose signature) the contract became signed

Contracts signed before this revision were signed by the purchaser alone: their purchaser signature is their
``signed_at``/``signed_by``; their provider signature stays unrecorded (NULL).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26 13:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from service_kit.db import UTCDateTime

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("contract", schema=None) as batch_op:
        batch_op.add_column(sa.Column("purchaser_signed_at", UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column("purchaser_signed_by", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("provider_signed_at", UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column("provider_signed_by", sa.String(length=200), nullable=True))
    contract = sa.table(
        "contract",
        sa.column("signed_at", UTCDateTime()),
        sa.column("signed_by", sa.String(200)),
        sa.column("purchaser_signed_at", UTCDateTime()),
        sa.column("purchaser_signed_by", sa.String(200)),
    )
    op.execute(
        sa.update(contract)
        .where(contract.c.signed_at.is_not(None))
        .values(purchaser_signed_at=contract.c.signed_at, purchaser_signed_by=contract.c.signed_by)
    )


def downgrade() -> None:
    with op.batch_alter_table("contract", schema=None) as batch_op:
        batch_op.drop_column("provider_signed_by")
        batch_op.drop_column("provider_signed_at")
        batch_op.drop_column("purchaser_signed_by")
        batch_op.drop_column("purchaser_signed_at")
