"""street-scoped officials: a call for proposals may name the street it serves, and a contract carries its street
(its call's, or the one its direct award names); existing calls and contracts are the district's (no street)

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-05 12:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("proposal_call") as batch:
        batch.add_column(sa.Column("street_code", sa.String(40), nullable=True))
        batch.create_index("ix_proposal_call_street_code", ["street_code"])
    with op.batch_alter_table("contract") as batch:
        batch.add_column(sa.Column("street_code", sa.String(40), nullable=True))
        batch.create_index("ix_contract_street_code", ["street_code"])


def downgrade() -> None:
    with op.batch_alter_table("contract") as batch:
        batch.drop_index("ix_contract_street_code")
        batch.drop_column("street_code")
    with op.batch_alter_table("proposal_call") as batch:
        batch.drop_index("ix_proposal_call_street_code")
        batch.drop_column("street_code")
