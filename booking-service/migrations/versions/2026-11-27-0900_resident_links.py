"""app accounts linked to resident records by a verified phone, with the consent each link rests on

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27 09:00:00
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
    op.create_table(
        "resident_link",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("resident_id", sa.Uuid(), nullable=False),
        sa.Column("account_subject", sa.String(160), nullable=False),
        sa.Column("how", sa.String(20), nullable=False),
        sa.Column("consent_version", sa.String(20), nullable=False),
        sa.Column("consent_source", sa.String(16), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_resident_link"),
    )
    op.create_index("ix_resident_link_resident_id_at", "resident_link", ["resident_id", "at"])
    # Records residents registered themself before: their link, on the consent they gave in the app.
    op.execute(
        "INSERT INTO resident_link (id, resident_id, account_subject, how, consent_version, consent_source, at) "
        "SELECT id, id, account_subject, 'self_registration', consent_version, 'app', created_at "
        "FROM resident WHERE account_subject IS NOT NULL"
    )


def downgrade() -> None:
    op.drop_index("ix_resident_link_resident_id_at", table_name="resident_link")
    op.drop_table("resident_link")
