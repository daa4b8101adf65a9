"""complaints carry the complainant's community; complaints and needs carry its street, for reports by street

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26 12:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("complaint", sa.Column("community_code", sa.String(64), nullable=True))
    op.add_column("complaint", sa.Column("street_code", sa.String(64), nullable=True))
    op.create_index("ix_complaint_street_code", "complaint", ["street_code"])
    op.add_column("need", sa.Column("street_code", sa.String(64), nullable=True))
    op.create_index("ix_need_street_code", "need", ["street_code"])
    # Needs recorded so far: the street is the part of the community code before its first dot (as street_of).
    if op.get_bind().dialect.name == "postgresql":
        street = "split_part(community_code, '.', 1)"
        has_dot = "strpos(community_code, '.') > 1"
    else:
        street = "substr(community_code, 1, instr(community_code, '.') - 1)"
        has_dot = "instr(community_code, '.') > 1"
    op.execute(f"UPDATE need SET street_code = {street} WHERE community_code IS NOT NULL AND {has_dot}")


def downgrade() -> None:
    op.drop_index("ix_need_street_code", table_name="need")
    with op.batch_alter_table("need") as batch:
        batch.drop_column("street_code")
    op.drop_index("ix_complaint_street_code", table_name="complaint")
    with op.batch_alter_table("complaint") as batch:
        batch.drop_column("street_code")
        batch.drop_column("community_code")
