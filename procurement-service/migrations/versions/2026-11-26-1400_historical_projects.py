"""historical projects get their own table, one row per project with its current facts (they were read from the
audit trail, which keeps recording each import)

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26 14:00:00
"""

import uuid
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

from service_kit.db import JSONDoc, UTCDateTime

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _backfill() -> None:
    """Each project's latest audit entry holds its current facts; its first, when it was recorded."""
    connection = op.get_bind()
    audit_entry = sa.table(
        "audit_entry",
        sa.column("seq", sa.BigInteger()),
        sa.column("subject_kind", sa.String(32)),
        sa.column("subject_id", sa.Uuid()),
        sa.column("occurred_at", UTCDateTime()),
        sa.column("details", JSONDoc),
    )
    entries = connection.execute(
        sa.select(audit_entry.c.subject_id, audit_entry.c.occurred_at, audit_entry.c.details)
        .where(audit_entry.c.subject_kind == "historical_project")
        .order_by(audit_entry.c.seq)
    ).all()
    rows: dict[Any, dict[str, Any]] = {}
    for subject_id, occurred_at, details in entries:
        provider = details["provider"]
        rows[subject_id] = {
            "id": subject_id,
            "reference": details.get("reference"),
            "year": details["year"],
            "title": details["title"],
            "direction": details["direction"],
            "street_code": details["street_code"],
            "provider_id": uuid.UUID(provider["organization_id"]),
            "provider_name": provider["name"],
            "provider_kind": provider["kind"],
            "amount_fen": details["amount_fen"],
            "result": details["result"],
            "score": details.get("score"),
            "recorded_at": rows[subject_id]["recorded_at"] if subject_id in rows else occurred_at,
            "updated_at": occurred_at,
        }
    if rows:
        op.bulk_insert(_table(), list(rows.values()))


def _table() -> sa.Table:
    return sa.table(
        "historical_project",
        *(
            sa.column(name, kind)
            for name, kind in (
                ("id", sa.Uuid()),
                ("reference", sa.String(80)),
                ("year", sa.Integer()),
                ("title", sa.String(200)),
                ("direction", sa.String(40)),
                ("street_code", sa.String(40)),
                ("provider_id", sa.Uuid()),
                ("provider_name", sa.String(200)),
                ("provider_kind", sa.String(32)),
                ("amount_fen", sa.BigInteger()),
                ("result", sa.String(16)),
                ("score", sa.Integer()),
                ("recorded_at", UTCDateTime()),
                ("updated_at", UTCDateTime()),
            )
        ),
    )


def upgrade() -> None:
    op.create_table(
        "historical_project",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("reference", sa.String(length=80), nullable=True),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("direction", sa.String(length=40), nullable=False),
        sa.Column("street_code", sa.String(length=40), nullable=False),
        sa.Column("provider_id", sa.Uuid(), nullable=False),
        sa.Column("provider_name", sa.String(length=200), nullable=False),
        sa.Column("provider_kind", sa.String(length=32), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("result", sa.String(length=16), nullable=False),
        sa.Column("score", sa.Integer(), nullable=True),
        sa.Column("recorded_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.CheckConstraint("amount_fen > 0", name="ck_historical_project_amount_positive"),
        sa.PrimaryKeyConstraint("id", name="pk_historical_project"),
    )
    op.create_index("ix_historical_project_year_title", "historical_project", ["year", "title"], unique=False)
    _backfill()


def downgrade() -> None:
    op.drop_index("ix_historical_project_year_title", table_name="historical_project")
    op.drop_table("historical_project")
