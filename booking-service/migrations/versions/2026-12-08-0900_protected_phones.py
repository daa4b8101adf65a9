"""residents' phones sealed at rest, found by blind index (exact and last 4 digits)

``resident.phone`` becomes ``phone_sealed`` (AES-GCM, service_kit/protection.py) with ``phone_index`` (unique: one
resident per phone) and ``phone_last4_index``; ``emergency_contact_phone`` becomes
``emergency_contact_phone_sealed``. Existing rows are sealed in batches with the keyring of the service's settings
(``LINLI_DATA_KEY``, ``LINLI_DATA_INDEX_KEY``); then the plain columns are dropped. Downgrade opens them again.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-08 09:00:00
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.engine import RowMapping

from booking.config import Settings
from service_kit.protection import PHONE, Keyring, rewrite_rows

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

resident = sa.table(
    "resident",
    sa.column("id", sa.Uuid()),
    sa.column("phone", sa.String()),
    sa.column("emergency_contact_phone", sa.String()),
    sa.column("phone_sealed", sa.String()),
    sa.column("phone_index", sa.String()),
    sa.column("phone_last4_index", sa.String()),
    sa.column("emergency_contact_phone_sealed", sa.String()),
)


def upgrade() -> None:
    keyring = Keyring.from_settings(Settings())
    with op.batch_alter_table("resident") as batch:
        batch.add_column(sa.Column("phone_sealed", sa.String(120), nullable=True))
        batch.add_column(sa.Column("phone_index", sa.String(64), nullable=True))
        batch.add_column(sa.Column("phone_last4_index", sa.String(64), nullable=True))
        batch.add_column(sa.Column("emergency_contact_phone_sealed", sa.String(120), nullable=True))

    def seal(row: RowMapping) -> dict[str, Any]:
        values: dict[str, Any] = {}
        if row["phone"] is not None:
            values["phone_sealed"] = keyring.seal(PHONE, row["phone"])
            values["phone_index"], values["phone_last4_index"] = keyring.phone_indexes(row["phone"])
        if row["emergency_contact_phone"] is not None:
            values["emergency_contact_phone_sealed"] = keyring.seal(PHONE, row["emergency_contact_phone"])
        return values

    rewrite_rows(op.get_bind(), resident, "id", seal)
    with op.batch_alter_table("resident") as batch:
        batch.drop_constraint("uq_resident_phone", type_="unique")
        batch.drop_column("phone")
        batch.drop_column("emergency_contact_phone")
        batch.create_unique_constraint("uq_resident_phone_index", ["phone_index"])
        batch.create_index("ix_resident_phone_last4_index", ["phone_last4_index"])


def downgrade() -> None:
    keyring = Keyring.from_settings(Settings())
    with op.batch_alter_table("resident") as batch:
        batch.add_column(sa.Column("phone", sa.String(20), nullable=True))
        batch.add_column(sa.Column("emergency_contact_phone", sa.String(20), nullable=True))

    def open_(row: RowMapping) -> dict[str, Any]:
        values: dict[str, Any] = {}
        if row["phone_sealed"] is not None:
            values["phone"] = keyring.open(PHONE, row["phone_sealed"])
        if row["emergency_contact_phone_sealed"] is not None:
            values["emergency_contact_phone"] = keyring.open(PHONE, row["emergency_contact_phone_sealed"])
        return values

    rewrite_rows(op.get_bind(), resident, "id", open_)
    with op.batch_alter_table("resident") as batch:
        batch.drop_index("ix_resident_phone_last4_index")
        batch.drop_constraint("uq_resident_phone_index", type_="unique")
        batch.drop_column("phone_sealed")
        batch.drop_column("phone_index")
        batch.drop_column("phone_last4_index")
        batch.drop_column("emergency_contact_phone_sealed")
        batch.create_unique_constraint("uq_resident_phone", ["phone"])
