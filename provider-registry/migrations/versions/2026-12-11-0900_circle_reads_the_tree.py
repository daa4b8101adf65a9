"""the circle reads its spatial index alone: each entry carries what a search ranks and filters by

SQLite: each R*Tree entry now holds the offering's id, point, radius, provider score, name, category and price
as auxiliary columns (``registry.circle.area.AUX_COLUMNS``), kept by the same triggers; a search no longer joins
``offering`` row by row. The trees and triggers are built again from the offerings. PostgreSQL: the GiST
indexes INCLUDE the same columns, so that a search is an index-only scan.

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
        statements = [*area.DROP_SQLITE, *area.create_sqlite()]
    else:
        statements = [*area.DROP_POSTGRESQL_INDEXES, *area.create_postgresql_indexes()]
    for statement in statements:
        op.execute(statement)


def downgrade() -> None:
    # The trees and indexes as built now serve the search before this revision as well: it reads the box only
    # and joins (SQLite) or reads (PostgreSQL) the offering row.
    pass
