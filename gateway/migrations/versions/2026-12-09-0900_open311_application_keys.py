"""API keys of two kinds: a provider's system's, and an Open311 application's (no provider)

``api_key.kind`` is ``provider`` (every existing key) or ``open311``: a key an admin issues to an application
that files GeoReport service requests (the district's 12345 hotline system, a community app). An application
belongs to no provider, so ``provider_id`` may be empty — for ``open311`` keys only, as the gateway checks.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-09 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("api_key") as batch:
        batch.add_column(sa.Column("kind", sa.String(16), nullable=False, server_default="provider"))
        batch.alter_column("provider_id", existing_type=sa.Uuid(), nullable=True)


def downgrade() -> None:
    op.execute(sa.text("DELETE FROM api_key WHERE kind = 'open311'"))
    with op.batch_alter_table("api_key") as batch:
        batch.alter_column("provider_id", existing_type=sa.Uuid(), nullable=False)
        batch.drop_column("kind")
