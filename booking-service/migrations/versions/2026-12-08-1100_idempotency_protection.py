"""idempotency records name the resident they are about (erasure deletes them); responses sealed, kept 24 h

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-08 11:00:00
"""

from collections.abc import Sequence

from service_kit.migrations import downgrade_idempotency_v2, upgrade_idempotency_v2

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    upgrade_idempotency_v2()


def downgrade() -> None:
    downgrade_idempotency_v2()
