"""webhook secrets sealed with the data keyring, so a data-key rotation re-seals them

They were sealed with a key of the registry's own derivation (``v1:``), which only the one data key opened: a
rotation would have left the registry unable to sign. Each is opened with it and sealed again with the keyring of
the service's settings (``service_kit.protection``, ``v2:<key id>:``). Downgrade does the reverse.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-08 12:00:00
"""

import base64
import os
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy.engine import RowMapping

from registry.config import Settings
from registry.webhooks.signing import WEBHOOK_SECRET
from service_kit.protection import Keyring, rewrite_rows

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

endpoint = sa.table(
    "webhook_endpoint",
    sa.column("id", sa.Uuid()),
    sa.column("secret_sealed", sa.String()),
    sa.column("previous_secret_sealed", sa.String()),
)
COLUMNS = ("secret_sealed", "previous_secret_sealed")
_V1_AAD = b"linli.registry.webhook.secret"


def _v1_key(settings: Settings) -> AESGCM:
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"linli-registry", info=b"webhook-secret")
    return AESGCM(hkdf.derive(settings.data_key.get_secret_value().encode()))


def upgrade() -> None:
    settings = Settings()
    keyring, old = Keyring.from_settings(settings), _v1_key(settings)

    def reseal(row: RowMapping) -> dict[str, Any]:
        values = {}
        for column in COLUMNS:
            stored = row[column]
            if stored is not None and stored.startswith("v1:"):
                raw = base64.b64decode(stored.removeprefix("v1:"))
                secret = old.decrypt(raw[:12], raw[12:], _V1_AAD).decode()
                values[column] = keyring.seal(WEBHOOK_SECRET, secret)
        return values

    rewrite_rows(op.get_bind(), endpoint, "id", reseal)


def downgrade() -> None:
    settings = Settings()
    keyring, old = Keyring.from_settings(settings), _v1_key(settings)

    def unseal(row: RowMapping) -> dict[str, Any]:
        values = {}
        for column in COLUMNS:
            stored = row[column]
            if stored is not None and stored.startswith("v2:"):
                nonce = os.urandom(12)
                sealed = old.encrypt(nonce, keyring.open(WEBHOOK_SECRET, stored).encode(), _V1_AAD)
                values[column] = "v1:" + base64.b64encode(nonce + sealed).decode()
        return values

    rewrite_rows(op.get_bind(), endpoint, "id", unseal)
