"""the back half of a contract's life: payment plans and versions, bilateral amendments and terminations,
progress reports, supervision records and linked complaints, three-party evaluations, acceptance,
disbursements against funds, and provider sanctions

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26 12:00:00
"""

import uuid
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from service_kit.db import JSONDoc, UTCDateTime
from service_kit.migrations import timestamps

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _backfill_payment_plans() -> None:
    """Contracts drafted before payment plans get the default plan: 30% on signing, 40% after the mid-term
    evaluation, the rest after the acceptance has passed."""
    connection = op.get_bind()
    installment = sa.table(
        "contract_installment",
        sa.column("id", sa.Uuid()),
        sa.column("contract_id", sa.Uuid()),
        sa.column("seq", sa.Integer()),
        sa.column("condition", sa.String(32)),
        sa.column("amount_fen", sa.BigInteger()),
    )
    contract = sa.table("contract", sa.column("id", sa.Uuid()), sa.column("amount_fen", sa.BigInteger()))
    rows = []
    for contract_id, amount in connection.execute(sa.select(contract.c.id, contract.c.amount_fen)).all():
        first, second = amount * 30 // 100, amount * 40 // 100
        plan = [
            ("on_signing", first),
            ("after_midterm_evaluation", second),
            ("after_acceptance", amount - first - second),
        ]
        plan = [(condition, part) for condition, part in plan if part > 0]
        rows += [
            {"id": uuid.uuid4(), "contract_id": contract_id, "seq": seq, "condition": condition, "amount_fen": part}
            for seq, (condition, part) in enumerate(plan, start=1)
        ]
    if rows:
        connection.execute(sa.insert(installment), rows)


def upgrade() -> None:
    op.create_table(
        "provider_satisfaction",
        sa.Column("provider_id", sa.Uuid(), nullable=False),
        sa.Column("score_milli", sa.Integer(), nullable=False),
        sa.Column("rating_count", sa.Integer(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("provider_id", name=("pk_provider_satisfaction")),
    )
    op.create_table(
        "contract_acceptance",
        sa.Column("contract_id", sa.Uuid(), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("result", sa.String(16), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("conditions", sa.Text(), nullable=True),
        sa.Column("rectification_due", sa.Date(), nullable=True),
        sa.Column("recipient_opinions", JSONDoc, nullable=False),
        sa.Column("evaluator_opinion", sa.Text(), nullable=True),
        sa.Column("decided_by", sa.String(length=200), nullable=False),
        sa.Column("decided_by_name", sa.String(length=200), nullable=True),
        sa.Column("decided_at", UTCDateTime(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        *timestamps(),
        sa.ForeignKeyConstraint(["contract_id"], ["contract.id"], name=("fk_contract_acceptance_contract_id_contract")),
        sa.PrimaryKeyConstraint("id", name=("pk_contract_acceptance")),
        sa.UniqueConstraint("contract_id", "attempt", name=("uq_contract_acceptance_contract_id_attempt")),
    )
    with op.batch_alter_table("contract_acceptance", schema=None) as batch_op:
        batch_op.create_index(("ix_contract_acceptance_contract_id"), ["contract_id"], unique=False)

    op.create_table(
        "contract_amendment",
        sa.Column("contract_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("supplement_fen", sa.BigInteger(), nullable=False),
        sa.Column("new_end_date", sa.Date(), nullable=True),
        sa.Column("new_funded_offerings", JSONDoc, nullable=True),
        sa.Column("for_cause", sa.Boolean(), nullable=False),
        sa.Column("proposed_by_party", sa.String(16), nullable=False),
        sa.Column("proposed_by", sa.String(length=200), nullable=False),
        sa.Column("proposed_by_name", sa.String(length=200), nullable=True),
        sa.Column("proposed_at", UTCDateTime(), nullable=False),
        sa.Column("decided_by_party", sa.String(16), nullable=True),
        sa.Column("decided_by", sa.String(length=200), nullable=True),
        sa.Column("decided_at", UTCDateTime(), nullable=True),
        sa.Column("decision_reason", sa.Text(), nullable=True),
        sa.Column("resulting_version", sa.Integer(), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        *timestamps(),
        sa.CheckConstraint("supplement_fen >= 0", name=("ck_contract_amendment_supplement_not_negative")),
        sa.ForeignKeyConstraint(["contract_id"], ["contract.id"], name=("fk_contract_amendment_contract_id_contract")),
        sa.PrimaryKeyConstraint("id", name=("pk_contract_amendment")),
    )
    with op.batch_alter_table("contract_amendment", schema=None) as batch_op:
        batch_op.create_index(("ix_contract_amendment_contract_id"), ["contract_id"], unique=False)
        batch_op.create_index(("ix_contract_amendment_status"), ["status"], unique=False)

    op.create_table(
        "contract_complaint_link",
        sa.Column("contract_id", sa.Uuid(), nullable=False),
        sa.Column("complaint_id", sa.Uuid(), nullable=False),
        sa.Column("provider_id", sa.Uuid(), nullable=True),
        sa.Column("booking_id", sa.Uuid(), nullable=True),
        sa.Column("offering_id", sa.Uuid(), nullable=True),
        sa.Column("linked_by", sa.String(length=16), nullable=False),
        sa.Column("category", sa.String(length=80), nullable=False),
        sa.Column("severity", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("opened_at", UTCDateTime(), nullable=False),
        sa.Column("last_event_at", UTCDateTime(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        *timestamps(),
        sa.ForeignKeyConstraint(
            ["contract_id"], ["contract.id"], name=("fk_contract_complaint_link_contract_id_contract")
        ),
        sa.PrimaryKeyConstraint("id", name=("pk_contract_complaint_link")),
        sa.UniqueConstraint(
            "contract_id", "complaint_id", name=("uq_contract_complaint_link_contract_id_complaint_id")
        ),
    )
    with op.batch_alter_table("contract_complaint_link", schema=None) as batch_op:
        batch_op.create_index(("ix_contract_complaint_link_complaint_id"), ["complaint_id"], unique=False)
        batch_op.create_index(("ix_contract_complaint_link_contract_id"), ["contract_id"], unique=False)

    op.create_table(
        "contract_evaluation",
        sa.Column("contract_id", sa.Uuid(), nullable=False),
        sa.Column("stage", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("purchaser_score_centi", sa.Integer(), nullable=True),
        sa.Column("purchaser_comment", sa.Text(), nullable=True),
        sa.Column("purchaser_by", sa.String(length=200), nullable=True),
        sa.Column("third_party_score_centi", sa.Integer(), nullable=True),
        sa.Column("third_party_comment", sa.Text(), nullable=True),
        sa.Column("third_party_by", sa.String(length=200), nullable=True),
        sa.Column("recipients_score_centi", sa.Integer(), nullable=True),
        sa.Column("recipients_rating_count", sa.Integer(), nullable=True),
        sa.Column("weights", JSONDoc, nullable=True),
        sa.Column("combined_score_centi", sa.Integer(), nullable=True),
        sa.Column("kpi", JSONDoc, nullable=True),
        sa.Column("opened_by", sa.String(length=200), nullable=False),
        sa.Column("opened_at", UTCDateTime(), nullable=False),
        sa.Column("finalized_by", sa.String(length=200), nullable=True),
        sa.Column("finalized_at", UTCDateTime(), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        *timestamps(),
        sa.ForeignKeyConstraint(["contract_id"], ["contract.id"], name=("fk_contract_evaluation_contract_id_contract")),
        sa.PrimaryKeyConstraint("id", name=("pk_contract_evaluation")),
        sa.UniqueConstraint("contract_id", "stage", name=("uq_contract_evaluation_contract_id_stage")),
    )
    with op.batch_alter_table("contract_evaluation", schema=None) as batch_op:
        batch_op.create_index(("ix_contract_evaluation_contract_id"), ["contract_id"], unique=False)

    op.create_table(
        "contract_installment",
        sa.Column("contract_id", sa.Uuid(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("condition", sa.String(32), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.CheckConstraint("amount_fen > 0", name=("ck_contract_installment_amount_positive")),
        sa.ForeignKeyConstraint(
            ["contract_id"], ["contract.id"], name=("fk_contract_installment_contract_id_contract"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=("pk_contract_installment")),
        sa.UniqueConstraint("contract_id", "seq", name=("uq_contract_installment_contract_id_seq")),
    )
    op.create_table(
        "contract_progress_report",
        sa.Column("contract_id", sa.Uuid(), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("issues", sa.Text(), nullable=True),
        sa.Column("submitted_by", sa.String(length=200), nullable=False),
        sa.Column("submitted_at", UTCDateTime(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        *timestamps(),
        sa.ForeignKeyConstraint(
            ["contract_id"], ["contract.id"], name=("fk_contract_progress_report_contract_id_contract")
        ),
        sa.PrimaryKeyConstraint("id", name=("pk_contract_progress_report")),
    )
    with op.batch_alter_table("contract_progress_report", schema=None) as batch_op:
        batch_op.create_index(("ix_contract_progress_report_contract_id"), ["contract_id"], unique=False)

    op.create_table(
        "contract_supervision_record",
        sa.Column("contract_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("occurred_on", sa.Date(), nullable=False),
        sa.Column("location", sa.String(length=200), nullable=True),
        sa.Column("findings", sa.Text(), nullable=False),
        sa.Column("conclusion", sa.String(32), nullable=False),
        sa.Column("rectification_due", sa.Date(), nullable=True),
        sa.Column("recorded_by", sa.String(length=200), nullable=False),
        sa.Column("recorded_by_name", sa.String(length=200), nullable=True),
        sa.Column("recorded_at", UTCDateTime(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        *timestamps(),
        sa.ForeignKeyConstraint(
            ["contract_id"], ["contract.id"], name=("fk_contract_supervision_record_contract_id_contract")
        ),
        sa.PrimaryKeyConstraint("id", name=("pk_contract_supervision_record")),
    )
    with op.batch_alter_table("contract_supervision_record", schema=None) as batch_op:
        batch_op.create_index(("ix_contract_supervision_record_contract_id"), ["contract_id"], unique=False)

    op.create_table(
        "contract_version",
        sa.Column("contract_id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("amendment_id", sa.Uuid(), nullable=True),
        sa.Column("effective_at", UTCDateTime(), nullable=False),
        sa.Column("terms", JSONDoc, nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["contract_id"], ["contract.id"], name=("fk_contract_version_contract_id_contract"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=("pk_contract_version")),
        sa.UniqueConstraint("contract_id", "version", name=("uq_contract_version_contract_id_version")),
    )
    op.create_table(
        "disbursement",
        sa.Column("contract_id", sa.Uuid(), nullable=False),
        sa.Column("installment_seq", sa.Integer(), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("voucher_number", sa.String(length=64), nullable=False),
        sa.Column("payer", sa.String(length=200), nullable=False),
        sa.Column("payee", sa.String(length=200), nullable=False),
        sa.Column("paid_on", sa.Date(), nullable=False),
        sa.Column("fund_id", sa.Uuid(), nullable=True),
        sa.Column("recorded_by", sa.String(length=200), nullable=False),
        sa.Column("recorded_at", UTCDateTime(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        *timestamps(),
        sa.CheckConstraint("amount_fen > 0", name=("ck_disbursement_amount_positive")),
        sa.ForeignKeyConstraint(["contract_id"], ["contract.id"], name=("fk_disbursement_contract_id_contract")),
        sa.ForeignKeyConstraint(["fund_id"], ["fund.id"], name=("fk_disbursement_fund_id_fund")),
        sa.PrimaryKeyConstraint("id", name=("pk_disbursement")),
        sa.UniqueConstraint("contract_id", "installment_seq", name=("uq_disbursement_contract_id_installment_seq")),
        sa.UniqueConstraint("voucher_number", name=("uq_disbursement_voucher_number")),
    )
    with op.batch_alter_table("disbursement", schema=None) as batch_op:
        batch_op.create_index(("ix_disbursement_contract_id"), ["contract_id"], unique=False)
        batch_op.create_index(("ix_disbursement_fund_id"), ["fund_id"], unique=False)

    op.create_table(
        "provider_sanction",
        sa.Column("provider_id", sa.Uuid(), nullable=False),
        sa.Column("contract_id", sa.Uuid(), nullable=True),
        sa.Column("cause", sa.String(32), nullable=False),
        sa.Column("measure", sa.String(length=40), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("rounds", sa.Integer(), nullable=False),
        sa.Column("rounds_served", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("imposed_at", UTCDateTime(), nullable=False),
        sa.Column("imposed_by", sa.String(length=200), nullable=False),
        sa.Column("ended_at", UTCDateTime(), nullable=True),
        sa.Column("lifted_by", sa.String(length=200), nullable=True),
        sa.Column("lift_reason", sa.Text(), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        *timestamps(),
        sa.CheckConstraint(
            "rounds_served >= 0 AND rounds_served <= rounds", name=("ck_provider_sanction_rounds_served")
        ),
        sa.ForeignKeyConstraint(["contract_id"], ["contract.id"], name=("fk_provider_sanction_contract_id_contract")),
        sa.PrimaryKeyConstraint("id", name=("pk_provider_sanction")),
    )
    with op.batch_alter_table("provider_sanction", schema=None) as batch_op:
        batch_op.create_index(("ix_provider_sanction_contract_id"), ["contract_id"], unique=False)
        batch_op.create_index(("ix_provider_sanction_provider_id"), ["provider_id"], unique=False)
        batch_op.create_index(("ix_provider_sanction_status"), ["status"], unique=False)

    with op.batch_alter_table("contract", schema=None) as batch_op:
        batch_op.add_column(sa.Column("supplement_fen", sa.BigInteger(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("disbursed_fen", sa.BigInteger(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("paid_installments", sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("version", sa.Integer(), server_default="1", nullable=False))
        batch_op.create_check_constraint(
            "ck_contract_supplement_within_tenth",
            "supplement_fen >= 0 AND supplement_fen * 10 <= amount_fen - supplement_fen",
        )
        batch_op.create_check_constraint(
            "ck_contract_disbursed_within_amount", "disbursed_fen >= 0 AND disbursed_fen <= amount_fen"
        )

    with op.batch_alter_table("fund", schema=None) as batch_op:
        batch_op.add_column(sa.Column("spent_fen", sa.BigInteger(), server_default="0", nullable=False))
        batch_op.create_check_constraint(
            "ck_fund_spent_within_committed", "spent_fen >= 0 AND spent_fen <= committed_fen"
        )

    _backfill_payment_plans()


def downgrade() -> None:
    with op.batch_alter_table("fund", schema=None) as batch_op:
        batch_op.drop_constraint("ck_fund_spent_within_committed", type_="check")
        batch_op.drop_column("spent_fen")

    with op.batch_alter_table("contract", schema=None) as batch_op:
        batch_op.drop_constraint("ck_contract_disbursed_within_amount", type_="check")
        batch_op.drop_constraint("ck_contract_supplement_within_tenth", type_="check")
        batch_op.drop_column("version")
        batch_op.drop_column("paid_installments")
        batch_op.drop_column("disbursed_fen")
        batch_op.drop_column("supplement_fen")

    with op.batch_alter_table("provider_sanction", schema=None) as batch_op:
        batch_op.drop_index("ix_provider_sanction_status")
        batch_op.drop_index("ix_provider_sanction_provider_id")
        batch_op.drop_index("ix_provider_sanction_contract_id")

    op.drop_table("provider_sanction")
    with op.batch_alter_table("disbursement", schema=None) as batch_op:
        batch_op.drop_index("ix_disbursement_fund_id")
        batch_op.drop_index("ix_disbursement_contract_id")

    op.drop_table("disbursement")
    op.drop_table("contract_version")
    with op.batch_alter_table("contract_supervision_record", schema=None) as batch_op:
        batch_op.drop_index("ix_contract_supervision_record_contract_id")

    op.drop_table("contract_supervision_record")
    with op.batch_alter_table("contract_progress_report", schema=None) as batch_op:
        batch_op.drop_index("ix_contract_progress_report_contract_id")

    op.drop_table("contract_progress_report")
    op.drop_table("contract_installment")
    with op.batch_alter_table("contract_evaluation", schema=None) as batch_op:
        batch_op.drop_index("ix_contract_evaluation_contract_id")

    op.drop_table("contract_evaluation")
    with op.batch_alter_table("contract_complaint_link", schema=None) as batch_op:
        batch_op.drop_index("ix_contract_complaint_link_contract_id")
        batch_op.drop_index("ix_contract_complaint_link_complaint_id")

    op.drop_table("contract_complaint_link")
    with op.batch_alter_table("contract_amendment", schema=None) as batch_op:
        batch_op.drop_index("ix_contract_amendment_status")
        batch_op.drop_index("ix_contract_amendment_contract_id")

    op.drop_table("contract_amendment")
    with op.batch_alter_table("contract_acceptance", schema=None) as batch_op:
        batch_op.drop_index("ix_contract_acceptance_contract_id")

    op.drop_table("contract_acceptance")
    op.drop_table("provider_satisfaction")
