"""each contract's latest applied event, kept apart from its funded programs

A contract terminated before its signing reached booking left no row behind, so the late signing turned its funding
on. Backfilled from the funded programs: a contract's latest ``as_of`` and the status it carried.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from service_kit.db import UTCDateTime
from service_kit.migrations import timestamps

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "contract_projection",
        sa.Column("contract_id", sa.Uuid(), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("as_of", UTCDateTime(), nullable=False),
        *timestamps(),
        sa.PrimaryKeyConstraint("contract_id", name="pk_contract_projection"),
    )
    op.execute(
        """
        INSERT INTO contract_projection (contract_id, status, as_of, created_at, updated_at)
        SELECT fp.contract_id,
               (SELECT f2.contract_status FROM funded_program f2
                 WHERE f2.contract_id = fp.contract_id ORDER BY f2.as_of DESC LIMIT 1),
               max(fp.as_of), min(fp.created_at), max(fp.updated_at)
          FROM funded_program fp
         GROUP BY fp.contract_id
        """
    )


def downgrade() -> None:
    op.drop_table("contract_projection")
