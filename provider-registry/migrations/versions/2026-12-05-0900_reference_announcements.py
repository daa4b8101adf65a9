"""reference announcements: categories, communities and service centers carry a version and the version last
announced to the other services (category.upserted, community.upserted, service_center.upserted)

Every row that exists when this runs starts at version 1, announced at none: the registry's start-up job
(registry.reference.service.announce_reference_data) announces each once.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("category", "community", "service_center")


def upgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("version", sa.Integer(), nullable=False, server_default="1"))
            batch.add_column(sa.Column("announced_version", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.drop_column("announced_version")
            batch.drop_column("version")
