"""the circle reads its R*Trees alone on SQLite: each entry carries what a search ranks and filters by

Each R*Tree entry now holds the offering's id, point, radius, provider score, name, category and price as
auxiliary columns (``registry.circle.area.AUX_COLUMNS``), kept by the same triggers; a search no longer joins
``offering`` row by row. The trees and triggers are built again from the offerings. PostgreSQL is unchanged.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-11 09:00:00
"""

from alembic import op

from registry.circle import area

revision: str = "0014"
down_revision: str | None = "0013"


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for statement in [*area.DROP_SQLITE, *area.create_sqlite()]:
            op.execute(statement)


def downgrade() -> None:
    # The trees as built now serve the search before this revision as well: it joins ``offering`` and reads
    # the box only.
    pass
