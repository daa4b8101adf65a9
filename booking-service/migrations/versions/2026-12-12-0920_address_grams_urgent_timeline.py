"""addresses found by their character grams; every urgent call on the card's call timeline

``resident_address_grams`` (gram, resident_id): each resident's address as its character bigrams and its last
character (``booking/residents/address_grams.py``), so the console's search for part of an address reads the
index instead of every address; filled here from the residents registered so far (erased and merged records have
no address). ``gram`` compares by code point (PostgreSQL's ``C`` collation; SQLite's binary order).

An urgent call opened before now gets the call record opening one writes from now on (reason ``safety``, outcome
``urgent_call``), at its time and by its operator, so the card's timeline tells its story.

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-12 09:00:00
"""

import uuid
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from service_kit.db import UTCDateTime

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 5000


def _grams(address: str) -> set[str]:
    # residents/address_grams.py as it is today: a migration keeps its own copy of a rule it applies.
    folded = address.translate(str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz"))
    return {folded[i : i + 2] for i in range(len(folded))}


def upgrade() -> None:
    grams = op.create_table(
        "resident_address_grams",
        sa.Column("gram", sa.String(2).with_variant(sa.String(2, collation="C"), "postgresql"), nullable=False),
        sa.Column("resident_id", sa.Uuid(), nullable=False),
        sa.PrimaryKeyConstraint("gram", "resident_id", name="pk_resident_address_grams"),
    )
    op.create_index("ix_resident_address_grams_resident_id", "resident_address_grams", ["resident_id"])
    connection = op.get_bind()
    resident = sa.table("resident", sa.column("id", sa.Uuid()), sa.column("address", sa.String()))
    query = sa.select(resident.c.id, resident.c.address).where(resident.c.address.is_not(None)).order_by(resident.c.id)
    last: uuid.UUID | None = None
    while True:
        page = query if last is None else query.where(resident.c.id > last)
        rows = connection.execute(page.limit(BATCH)).all()
        if not rows:
            break
        values = [{"gram": g, "resident_id": rid} for rid, address in rows for g in sorted(_grams(address))]
        if values:
            connection.execute(sa.insert(grams), values)
        last = rows[-1][0]

    urgent = sa.table(
        "urgent_call",
        sa.column("id", sa.Uuid()),
        sa.column("resident_id", sa.Uuid()),
        sa.column("opened_by", sa.String()),
        sa.column("opened_by_name", sa.String()),
        sa.column("opened_at", UTCDateTime()),
    )
    call = sa.table(
        "call_record",
        sa.column("id", sa.Uuid()),
        sa.column("resident_id", sa.Uuid()),
        sa.column("reason", sa.String()),
        sa.column("note", sa.String()),
        sa.column("caller_kind", sa.String()),
        sa.column("outcome_kind", sa.String()),
        sa.column("outcome_id", sa.Uuid()),
        sa.column("operator", sa.String()),
        sa.column("operator_name", sa.String()),
        sa.column("at", UTCDateTime()),
    )
    linked = sa.select(call.c.outcome_id).where(call.c.outcome_kind == "urgent_call")
    opened = connection.execute(
        sa.select(urgent.c.id, urgent.c.resident_id, urgent.c.opened_by, urgent.c.opened_by_name, urgent.c.opened_at)
        .where(urgent.c.id.not_in(linked))
    ).all()
    if opened:
        connection.execute(
            sa.insert(call),
            [
                {
                    "id": uuid.uuid4(),
                    "resident_id": resident_id,
                    "reason": "safety",
                    "note": "",
                    "caller_kind": "other",
                    "outcome_kind": "urgent_call",
                    "outcome_id": urgent_id,
                    "operator": opened_by,
                    "operator_name": opened_by_name,
                    "at": opened_at,
                }
                for urgent_id, resident_id, opened_by, opened_by_name, opened_at in opened
            ],
        )


def downgrade() -> None:
    # The timeline's records of urgent calls stay: they are calls the hotline took.
    op.drop_index("ix_resident_address_grams_resident_id", table_name="resident_address_grams")
    op.drop_table("resident_address_grams")
