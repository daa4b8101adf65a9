"""the 15-minute circle on a spatial index: provider facts on the offering row, search areas in an R*Tree/GiST

The circle used to filter a B-tree range on latitude, scan longitude inside it and join ``organization`` for the
provider's status, name and score. The provider facts it ranks and filters by are now copied onto each offering
(kept current where the provider changes: verification, suspension, ratings), and each findable offering's
search area is in a spatial index (``registry.circle.area``): SQLite's R*Tree, a GiST index on PostgreSQL.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-09 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from registry.circle import area
from registry.organizations.scoring import PRIOR_MEAN

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("offering", sa.Column("provider_name", sa.String(200), nullable=False, server_default=""))
    op.add_column(
        "offering", sa.Column("provider_score", sa.Float(), nullable=False, server_default=sa.text(repr(PRIOR_MEAN)))
    )
    op.add_column("offering", sa.Column("provider_verified", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.execute(
        "UPDATE offering SET"
        " provider_name = (SELECT o.name_zh FROM organization o WHERE o.id = offering.provider_id),"
        " provider_score = (SELECT o.score FROM organization o WHERE o.id = offering.provider_id),"
        " provider_verified = (SELECT o.status = 'verified' FROM organization o WHERE o.id = offering.provider_id)"
    )
    if op.get_bind().dialect.name == "sqlite":
        op.add_column("offering", sa.Column("area_key", sa.Integer()))
        op.create_index("ix_offering_area_key", "offering", ["area_key"], unique=True)
        for statement in area.create_sqlite():
            op.execute(statement)
    else:
        for statement in area.create_postgresql():
            op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for statement in area.DROP_SQLITE:
            op.execute(statement)
        op.drop_index("ix_offering_area_key", "offering")
        with op.batch_alter_table("offering") as batch:
            batch.drop_column("area_key")
    else:
        for statement in area.DROP_POSTGRESQL:
            op.execute(statement)
    with op.batch_alter_table("offering") as batch:
        batch.drop_column("provider_verified")
        batch.drop_column("provider_score")
        batch.drop_column("provider_name")
