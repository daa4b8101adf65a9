"""lists an app can show, and visits staff can make

Booking answers name the service center an offering is given at (its name and address, from the registry's
offering snapshot), so a list of bookings shows the place without a call per row. A resident's access notes
(gate code, floor) and a visit's relay number are kept for the staff member assigned to a door-to-door visit.

Revision ID: 0015
Revises: 0013
Create Date: 2026-12-10 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("catalog_offering", sa.Column("place_name", sa.String(200), nullable=True))
    op.add_column("catalog_offering", sa.Column("place_address", sa.String(300), nullable=True))
    op.add_column("resident", sa.Column("access_notes", sa.String(300), nullable=True))
    op.add_column("booking", sa.Column("relay_number", sa.String(32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("booking") as batch:
        batch.drop_column("relay_number")
    with op.batch_alter_table("resident") as batch:
        batch.drop_column("access_notes")
    with op.batch_alter_table("catalog_offering") as batch:
        batch.drop_column("place_address")
        batch.drop_column("place_name")
