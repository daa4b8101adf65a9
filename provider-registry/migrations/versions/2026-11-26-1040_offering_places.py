"""offering places: where an offering is given (a point or a service center) and the area a visit reaches

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26 10:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from service_kit.db import JSONDoc

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("offering") as batch:
        batch.add_column(sa.Column("lat", sa.Float()))
        batch.add_column(sa.Column("lng", sa.Float()))
        batch.add_column(sa.Column("center_id", sa.Uuid()))
        batch.add_column(sa.Column("service_radius_m", sa.Integer()))
        batch.add_column(sa.Column("service_communities", JSONDoc, nullable=False, server_default="[]"))
        batch.add_column(sa.Column("search_band", sa.SmallInteger()))
        batch.create_foreign_key("fk_offering_center_id_service_center", "service_center", ["center_id"], ["id"])
        batch.create_index("ix_offering_center_id", ["center_id"])
        # The 15-minute circle's prefilter: published offerings of one search band (walk-to, or door-to-door
        # with a radius up to a bound) inside a latitude band, then a longitude band.
        batch.create_index("ix_offering_circle", ["status", "search_band", "lat", "lng"])
    op.create_table(
        "offering_service_community",
        sa.Column("offering_id", sa.Uuid(), nullable=False),
        sa.Column("community_code", sa.String(32), nullable=False),
        sa.PrimaryKeyConstraint("offering_id", "community_code", name="pk_offering_service_community"),
        sa.ForeignKeyConstraint(
            ["offering_id"],
            ["offering.id"],
            name="fk_offering_service_community_offering_id_offering",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["community_code"], ["community.code"], name="fk_offering_service_community_community_code_community"
        ),
    )
    op.create_index("ix_offering_service_community_community_code", "offering_service_community", ["community_code"])


def downgrade() -> None:
    op.drop_table("offering_service_community")
    with op.batch_alter_table("offering") as batch:
        batch.drop_index("ix_offering_circle")
        batch.drop_index("ix_offering_center_id")
        batch.drop_constraint("fk_offering_center_id_service_center", type_="foreignkey")
        batch.drop_column("search_band")
        batch.drop_column("service_communities")
        batch.drop_column("service_radius_m")
        batch.drop_column("center_id")
        batch.drop_column("lng")
        batch.drop_column("lat")
