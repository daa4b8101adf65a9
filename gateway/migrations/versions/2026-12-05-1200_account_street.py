"""a staff account's street: a street-scoped official sees and acts only on that street's procurement

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-05 12:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Existing accounts stay district-wide.
    with op.batch_alter_table("account") as batch:
        batch.add_column(sa.Column("street_code", sa.String(40), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("account") as batch:
        batch.drop_column("street_code")
