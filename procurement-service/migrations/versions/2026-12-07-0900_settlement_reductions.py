"""settlements: an amendment may lower a contract's amount (``reduction_fen``); the contract keeps the sum of its
approved reductions, and supplements stay within a tenth of the original amount (amount - supplements +
reductions). Existing contracts and amendments have reduced nothing.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("contract") as batch:
        batch.add_column(sa.Column("reduction_fen", sa.BigInteger(), server_default="0", nullable=False))
        batch.drop_constraint("ck_contract_supplement_within_tenth", type_="check")
        batch.create_check_constraint(
            "ck_contract_supplement_within_tenth",
            "supplement_fen >= 0 AND supplement_fen * 10 <= amount_fen - supplement_fen + reduction_fen",
        )
        batch.create_check_constraint("ck_contract_reduction_not_negative", "reduction_fen >= 0")
    with op.batch_alter_table("contract_amendment") as batch:
        batch.add_column(sa.Column("reduction_fen", sa.BigInteger(), server_default="0", nullable=False))
        batch.create_check_constraint("ck_contract_amendment_reduction_not_negative", "reduction_fen >= 0")
        batch.create_check_constraint(
            "ck_contract_amendment_supplement_or_reduction", "supplement_fen = 0 OR reduction_fen = 0"
        )


def downgrade() -> None:
    with op.batch_alter_table("contract_amendment") as batch:
        batch.drop_constraint("ck_contract_amendment_supplement_or_reduction", type_="check")
        batch.drop_constraint("ck_contract_amendment_reduction_not_negative", type_="check")
        batch.drop_column("reduction_fen")
    with op.batch_alter_table("contract") as batch:
        batch.drop_constraint("ck_contract_reduction_not_negative", type_="check")
        batch.drop_constraint("ck_contract_supplement_within_tenth", type_="check")
        batch.create_check_constraint(
            "ck_contract_supplement_within_tenth",
            "supplement_fen >= 0 AND supplement_fen * 10 <= amount_fen - supplement_fen",
        )
        batch.drop_column("reduction_fen")
