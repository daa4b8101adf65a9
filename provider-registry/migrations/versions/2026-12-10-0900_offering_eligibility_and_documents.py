"""offerings say who they are for and what documents a resident brings (HSDS eligibility, required documents)

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-10 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from service_kit.db import JSONDoc

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("offering", sa.Column("eligibility_description", sa.Text(), nullable=True))
    # Every existing offering asks for no document until its provider says otherwise.
    op.add_column("offering", sa.Column("required_documents", JSONDoc, nullable=False, server_default="[]"))


def downgrade() -> None:
    with op.batch_alter_table("offering") as batch:
        batch.drop_column("required_documents")
        batch.drop_column("eligibility_description")
