"""the hotline's daily work: residents found by their name's pinyin and initials; calls and callbacks

``resident.name_pinyin`` and ``resident.name_initials`` (residents/pinyin.py) are filled for every existing row and
indexed for prefix queries, as is ``resident.name`` (``varchar_pattern_ops`` on PostgreSQL, so ``LIKE 'x%'`` uses
them whatever the collation). ``call_record``: every call logged with its reason and what came of it;
``callback``: the calls owed to residents.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-10 09:00:00
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.engine import RowMapping

from booking.residents.pinyin import name_keys
from service_kit.db import UTCDateTime
from service_kit.protection import rewrite_rows

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

resident = sa.table(
    "resident",
    sa.column("id", sa.Uuid()),
    sa.column("name", sa.String()),
    sa.column("name_pinyin", sa.String()),
    sa.column("name_initials", sa.String()),
)

PREFIX_INDEXED = ("name", "name_pinyin", "name_initials")


def upgrade() -> None:
    with op.batch_alter_table("resident") as batch:
        batch.add_column(sa.Column("name_pinyin", sa.String(200), nullable=True))
        batch.add_column(sa.Column("name_initials", sa.String(50), nullable=True))

    def keys(row: RowMapping) -> dict[str, Any]:
        pinyin, initials = name_keys(row["name"])
        return {"name_pinyin": pinyin, "name_initials": initials}

    rewrite_rows(op.get_bind(), resident, "id", keys)
    for column in PREFIX_INDEXED:
        op.create_index(
            f"ix_resident_{column}", "resident", [column], postgresql_ops={column: "varchar_pattern_ops"}
        )

    op.create_table(
        "call_record",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("resident_id", sa.Uuid(), nullable=False),
        sa.Column("reason", sa.String(32), nullable=False),
        sa.Column("note", sa.String(1000), nullable=False),
        sa.Column("caller_kind", sa.String(16), nullable=False),
        sa.Column("caller_name", sa.String(50), nullable=True),
        sa.Column("caller_relation", sa.String(20), nullable=True),
        sa.Column("outcome_kind", sa.String(16), nullable=True),
        sa.Column("outcome_id", sa.Uuid(), nullable=True),
        sa.Column("operator", sa.String(160), nullable=False),
        sa.Column("operator_name", sa.String(100), nullable=True),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_call_record"),
    )
    op.create_index("ix_call_record_resident_id_at", "call_record", ["resident_id", "at"])
    op.create_index("ix_call_record_at", "call_record", ["at"])
    op.create_table(
        "callback",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("resident_id", sa.Uuid(), nullable=False),
        sa.Column("call_id", sa.Uuid(), nullable=False),
        sa.Column("due_at", UTCDateTime(), nullable=False),
        sa.Column("reason", sa.String(200), nullable=False),
        sa.Column("status", sa.String(8), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.String(160), nullable=False),
        sa.Column("created_by_name", sa.String(100), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("done_by", sa.String(160), nullable=True),
        sa.Column("done_by_name", sa.String(100), nullable=True),
        sa.Column("done_at", UTCDateTime(), nullable=True),
        sa.Column("last_note", sa.String(500), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_callback"),
    )
    op.create_index("ix_callback_resident_id", "callback", ["resident_id"])
    op.create_index("ix_callback_status_due_at", "callback", ["status", "due_at"])


def downgrade() -> None:
    op.drop_table("callback")
    op.drop_table("call_record")
    for column in PREFIX_INDEXED:
        op.drop_index(f"ix_resident_{column}", "resident")
    with op.batch_alter_table("resident") as batch:
        batch.drop_column("name_initials")
        batch.drop_column("name_pinyin")
