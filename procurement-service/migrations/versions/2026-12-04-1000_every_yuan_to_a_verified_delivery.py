"""every yuan to a verified delivery: each contract records its procurement method, its award and the fund it
draws on; each fund its owner (the payer); procurement keeps the registry's offerings

Existing data is carried over as it stands:

- a fund gets as its owner the buyer the OCDS export named as every contract's payer until now
  (``LINLI_OCDS_BUYER_ID`` / ``LINLI_OCDS_BUYER_NAME``, by default 北京市房山区民政局);
- a contract drawn from an application is ``open`` (competitive), its award the application's approval (立项, by
  whom and when), its fund its call's;
- a contract drafted directly before this revision is ``direct`` with no rationale, no fund and the award
  ``unapproved``: a draft of them is never signed and an active one is not paid again (its disbursements so far
  stay as they are) until the district decides what to do with it;
- ``provider_offering`` starts empty: procurement's new consumer (procurement-offerings) reads the offerings
  the event stream still holds; an offering announced before that is known again once the registry updates it.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04 10:00:00
"""

import os
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from service_kit.db import UTCDateTime

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# What procurement.opendata.config.OcdsSettings reads, with its defaults (copied: a migration does not follow
# later changes of the application's code).
DEFAULT_OWNER_ID = "fangshan-civil-affairs"
DEFAULT_OWNER_NAME = "北京市房山区民政局"


def _backfill_fund_owners() -> None:
    fund = sa.table("fund", sa.column("owner_id", sa.String(64)), sa.column("owner_name", sa.String(200)))
    op.execute(
        sa.update(fund).values(
            owner_id=os.environ.get("LINLI_OCDS_BUYER_ID") or DEFAULT_OWNER_ID,
            owner_name=os.environ.get("LINLI_OCDS_BUYER_NAME") or DEFAULT_OWNER_NAME,
        )
    )


def _backfill_contract_methods() -> None:
    contract = sa.table(
        "contract",
        sa.column("application_id", sa.Uuid()),
        sa.column("procurement_method", sa.String(16)),
        sa.column("fund_id", sa.Uuid()),
        sa.column("award_status", sa.String(16)),
        sa.column("award_decided_by", sa.String(200)),
        sa.column("award_decided_at", UTCDateTime()),
    )
    application = sa.table(
        "application",
        sa.column("id", sa.Uuid()),
        sa.column("call_id", sa.Uuid()),
        sa.column("approved_by", sa.String(200)),
        sa.column("approved_at", UTCDateTime()),
    )
    call = sa.table("proposal_call", sa.column("id", sa.Uuid()), sa.column("fund_id", sa.Uuid()))
    of_application = application.c.id == contract.c.application_id
    op.execute(
        sa.update(contract)
        .where(contract.c.application_id.is_not(None))
        .values(
            procurement_method="open",
            award_status="approved",
            fund_id=(
                sa.select(call.c.fund_id)
                .select_from(application.join(call, call.c.id == application.c.call_id))
                .where(of_application)
                .scalar_subquery()
            ),
            award_decided_by=sa.select(application.c.approved_by).where(of_application).scalar_subquery(),
            award_decided_at=sa.select(application.c.approved_at).where(of_application).scalar_subquery(),
        )
    )
    op.execute(
        sa.update(contract)
        .where(contract.c.application_id.is_(None))
        .values(procurement_method="direct", award_status="unapproved")
    )


def upgrade() -> None:
    op.create_table(
        "provider_offering",
        sa.Column("offering_id", sa.Uuid(), nullable=False),
        sa.Column("provider_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("category_code", sa.String(length=80), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("offering_id", name="pk_provider_offering"),
    )
    op.create_index("ix_provider_offering_provider_id", "provider_offering", ["provider_id"])

    with op.batch_alter_table("fund", schema=None) as batch_op:
        batch_op.add_column(sa.Column("owner_id", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("owner_name", sa.String(length=200), nullable=True))
    _backfill_fund_owners()
    with op.batch_alter_table("fund", schema=None) as batch_op:
        batch_op.alter_column("owner_id", existing_type=sa.String(length=64), nullable=False)
        batch_op.alter_column("owner_name", existing_type=sa.String(length=200), nullable=False)

    with op.batch_alter_table("contract", schema=None) as batch_op:
        batch_op.add_column(sa.Column("procurement_method", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("fund_id", sa.Uuid(), nullable=True))
        batch_op.add_column(sa.Column("rationale", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("award_status", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("award_decided_by", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("award_decided_at", UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column("award_decision_reason", sa.Text(), nullable=True))
    _backfill_contract_methods()
    with op.batch_alter_table("contract", schema=None) as batch_op:
        batch_op.alter_column("procurement_method", existing_type=sa.String(length=16), nullable=False)
        batch_op.alter_column("award_status", existing_type=sa.String(length=16), nullable=False)
        batch_op.create_index("ix_contract_fund_id", ["fund_id"], unique=False)
        batch_op.create_foreign_key("fk_contract_fund_id_fund", "fund", ["fund_id"], ["id"])


def downgrade() -> None:
    with op.batch_alter_table("contract", schema=None) as batch_op:
        batch_op.drop_constraint("fk_contract_fund_id_fund", type_="foreignkey")
        batch_op.drop_index("ix_contract_fund_id")
        batch_op.drop_column("award_decision_reason")
        batch_op.drop_column("award_decided_at")
        batch_op.drop_column("award_decided_by")
        batch_op.drop_column("award_status")
        batch_op.drop_column("rationale")
        batch_op.drop_column("fund_id")
        batch_op.drop_column("procurement_method")
    with op.batch_alter_table("fund", schema=None) as batch_op:
        batch_op.drop_column("owner_name")
        batch_op.drop_column("owner_id")
    op.drop_index("ix_provider_offering_provider_id", table_name="provider_offering")
    op.drop_table("provider_offering")
