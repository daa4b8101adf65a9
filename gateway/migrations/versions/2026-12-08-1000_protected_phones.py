"""residents' phones sealed at rest: identities by blind index, one-time codes by blind index only

``resident_identity.phone`` becomes ``phone_sealed`` (AES-GCM, service_kit/protection.py) with ``phone_index``
(unique: one identity per phone); ``otp_challenge.phone`` becomes ``phone_index`` alone (codes are counted and
found by it; nothing reads the number back). Existing rows are converted in batches with the keyring of the
gateway's settings (``LINLI_DATA_KEY``, ``LINLI_DATA_INDEX_KEY``); then the plain columns are dropped. A downgrade
opens the identities' phones again; the codes' phones cannot come back (only their index was kept), so the codes
are deleted (they live minutes: a resident asks for a new one).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-08 10:00:00
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.engine import RowMapping

from gateway.config import GatewaySettings
from service_kit.protection import PHONE, Keyring, rewrite_rows

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

identity = sa.table(
    "resident_identity",
    sa.column("id", sa.Uuid()),
    sa.column("phone", sa.String()),
    sa.column("phone_sealed", sa.String()),
    sa.column("phone_index", sa.String()),
)
challenge = sa.table(
    "otp_challenge",
    sa.column("id", sa.Uuid()),
    sa.column("phone", sa.String()),
    sa.column("phone_index", sa.String()),
)


def upgrade() -> None:
    keyring = Keyring.from_settings(GatewaySettings())
    with op.batch_alter_table("resident_identity") as batch:
        batch.add_column(sa.Column("phone_sealed", sa.String(120), nullable=True))
        batch.add_column(sa.Column("phone_index", sa.String(64), nullable=True))
    with op.batch_alter_table("otp_challenge") as batch:
        batch.add_column(sa.Column("phone_index", sa.String(64), nullable=True))

    def seal(row: RowMapping) -> dict[str, Any]:
        return {
            "phone_sealed": keyring.seal(PHONE, row["phone"]),
            "phone_index": keyring.blind_index(PHONE, row["phone"]),
        }

    rewrite_rows(op.get_bind(), identity, "id", seal)
    rewrite_rows(op.get_bind(), challenge, "id", lambda row: {"phone_index": keyring.blind_index(PHONE, row["phone"])})
    with op.batch_alter_table("resident_identity") as batch:
        batch.drop_constraint("uq_resident_identity_phone", type_="unique")
        batch.drop_column("phone")
        batch.alter_column("phone_sealed", existing_type=sa.String(120), nullable=False)
        batch.alter_column("phone_index", existing_type=sa.String(64), nullable=False)
        batch.create_unique_constraint("uq_resident_identity_phone_index", ["phone_index"])
    op.drop_index("ix_otp_challenge_phone_created_at", table_name="otp_challenge")
    with op.batch_alter_table("otp_challenge") as batch:
        batch.drop_column("phone")
        batch.alter_column("phone_index", existing_type=sa.String(64), nullable=False)
    op.create_index("ix_otp_challenge_phone_index_created_at", "otp_challenge", ["phone_index", "created_at"])


def downgrade() -> None:
    keyring = Keyring.from_settings(GatewaySettings())
    with op.batch_alter_table("resident_identity") as batch:
        batch.add_column(sa.Column("phone", sa.String(20), nullable=True))
    rewrite_rows(op.get_bind(), identity, "id", lambda row: {"phone": keyring.open(PHONE, row["phone_sealed"])})
    with op.batch_alter_table("resident_identity") as batch:
        batch.drop_constraint("uq_resident_identity_phone_index", type_="unique")
        batch.drop_column("phone_sealed")
        batch.drop_column("phone_index")
        batch.alter_column("phone", existing_type=sa.String(20), nullable=False)
        batch.create_unique_constraint("uq_resident_identity_phone", ["phone"])
    op.execute("DELETE FROM otp_challenge")
    op.drop_index("ix_otp_challenge_phone_index_created_at", table_name="otp_challenge")
    with op.batch_alter_table("otp_challenge") as batch:
        batch.drop_column("phone_index")
        batch.add_column(sa.Column("phone", sa.String(20), nullable=False))
    op.create_index("ix_otp_challenge_phone_created_at", "otp_challenge", ["phone", "created_at"])
