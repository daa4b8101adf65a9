"""the sourcing lifecycle: audit trail, funds, provider standing, needs pool, calls for proposals, applications,
expert review, public notices and objections; contracts drawn from approved applications

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26 11:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from service_kit.db import JSONDoc, UTCDateTime
from service_kit.migrations import timestamps

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "audit_entry",
        sa.Column("seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("subject_kind", sa.String(32), nullable=False),
        sa.Column("subject_id", sa.Uuid(), nullable=False),
        sa.Column("action", sa.String(40), nullable=False),
        sa.Column("actor_subject", sa.String(200), nullable=False),
        sa.Column("actor_name", sa.String(200), nullable=True),
        sa.Column("actor_roles", JSONDoc, nullable=False),
        sa.Column("occurred_at", UTCDateTime(), nullable=False),
        sa.Column("details", JSONDoc, nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("seq", name="pk_audit_entry"),
    )
    op.create_index("ix_audit_entry_subject_id_seq", "audit_entry", ["subject_id", "seq"])

    op.create_table(
        "fund",
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("budget_fen", sa.BigInteger(), nullable=False),
        sa.Column("committed_fen", sa.BigInteger(), nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        *timestamps(),
        sa.CheckConstraint("budget_fen > 0", name="ck_fund_budget_positive"),
        sa.CheckConstraint(
            "committed_fen >= 0 AND committed_fen <= budget_fen", name="ck_fund_committed_within_budget"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_fund"),
    )

    op.create_table(
        "provider_standing",
        sa.Column("provider_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(200), nullable=True),
        sa.Column("kind", sa.String(32), nullable=True),
        sa.Column("status", sa.String(32), nullable=True),
        sa.Column("status_at", UTCDateTime(), nullable=True),
        sa.Column("sanctioned", sa.Boolean(), nullable=False),
        sa.Column("sanction_until", sa.Date(), nullable=True),
        sa.Column("sanction_reason", sa.Text(), nullable=True),
        sa.Column("sanction_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("provider_id", name="pk_provider_standing"),
    )

    op.create_table(
        "need",
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("group_key", sa.String(200), nullable=True),
        sa.Column("category_code", sa.String(80), nullable=False),
        sa.Column("street_code", sa.String(40), nullable=True),
        sa.Column("community_code", sa.String(40), nullable=True),
        sa.Column("target_group", sa.String(40), nullable=True),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("merged_into_id", sa.Uuid(), nullable=True),
        sa.Column("rank", sa.Integer(), nullable=True),
        sa.Column("submitted_by", sa.String(200), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        *timestamps(),
        sa.ForeignKeyConstraint(["merged_into_id"], ["need.id"], name="fk_need_merged_into_id_need"),
        sa.PrimaryKeyConstraint("id", name="pk_need"),
        sa.UniqueConstraint("group_key", name="uq_need_group_key"),
    )
    op.create_index("ix_need_category_code", "need", ["category_code"])
    op.create_index("ix_need_status", "need", ["status"])

    op.create_table(
        "proposal_call",
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("directions", JSONDoc, nullable=False),
        sa.Column("budget_cap_fen", sa.BigInteger(), nullable=False),
        sa.Column("fund_id", sa.Uuid(), nullable=False),
        sa.Column("need_ids", JSONDoc, nullable=False),
        sa.Column("eligible_kinds", JSONDoc, nullable=False),
        sa.Column("criteria", JSONDoc, nullable=False),
        sa.Column("deadline", UTCDateTime(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("published_at", UTCDateTime(), nullable=True),
        sa.Column("closed_at", UTCDateTime(), nullable=True),
        sa.Column("reviewed_at", UTCDateTime(), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        *timestamps(),
        sa.CheckConstraint("budget_cap_fen > 0", name="ck_proposal_call_budget_cap_positive"),
        sa.ForeignKeyConstraint(["fund_id"], ["fund.id"], name="fk_proposal_call_fund_id_fund"),
        sa.PrimaryKeyConstraint("id", name="pk_proposal_call"),
    )
    op.create_index("ix_proposal_call_status", "proposal_call", ["status"])
    op.create_index("ix_proposal_call_fund_id", "proposal_call", ["fund_id"])

    op.create_table(
        "application",
        sa.Column("call_id", sa.Uuid(), nullable=False),
        sa.Column("provider_id", sa.Uuid(), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("proposal", sa.Text(), nullable=False),
        sa.Column("budget_request_fen", sa.BigInteger(), nullable=False),
        sa.Column("deliverables", JSONDoc, nullable=False),
        sa.Column("kpis", JSONDoc, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("submitted_by", sa.String(200), nullable=False),
        sa.Column("submitted_at", UTCDateTime(), nullable=False),
        sa.Column("withdrawn_at", UTCDateTime(), nullable=True),
        sa.Column("score_centi", sa.Integer(), nullable=True),
        sa.Column("reviewer_count", sa.Integer(), nullable=True),
        sa.Column("rank", sa.Integer(), nullable=True),
        sa.Column("approved_amount_fen", sa.BigInteger(), nullable=True),
        sa.Column("approved_at", UTCDateTime(), nullable=True),
        sa.Column("approved_by", sa.String(200), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        *timestamps(),
        sa.CheckConstraint("budget_request_fen > 0", name="ck_application_budget_request_positive"),
        sa.ForeignKeyConstraint(["call_id"], ["proposal_call.id"], name="fk_application_call_id_proposal_call"),
        sa.PrimaryKeyConstraint("id", name="pk_application"),
    )
    op.create_index("ix_application_status", "application", ["status"])
    op.create_index("ix_application_provider_id", "application", ["provider_id"])
    op.create_index("ix_application_call_id", "application", ["call_id"])

    op.create_table(
        "review_assignment",
        sa.Column("call_id", sa.Uuid(), nullable=False),
        sa.Column("reviewer_subject", sa.String(200), nullable=False),
        sa.Column("reviewer_name", sa.String(200), nullable=False),
        sa.Column("linked_provider_ids", JSONDoc, nullable=False),
        sa.Column("assigned_by", sa.String(200), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        *timestamps(),
        sa.ForeignKeyConstraint(["call_id"], ["proposal_call.id"], name="fk_review_assignment_call_id_proposal_call"),
        sa.PrimaryKeyConstraint("id", name="pk_review_assignment"),
        sa.UniqueConstraint("call_id", "reviewer_subject", name="uq_review_assignment_call_id_reviewer_subject"),
    )
    op.create_index("ix_review_assignment_call_id", "review_assignment", ["call_id"])
    op.create_index("ix_review_assignment_reviewer_subject", "review_assignment", ["reviewer_subject"])

    for table, extra in (
        (
            "review_declaration",
            [
                sa.Column("conflict", sa.Boolean(), nullable=False),
                sa.Column("note", sa.Text(), nullable=True),
                sa.Column("declared_at", UTCDateTime(), nullable=False),
            ],
        ),
        (
            "review_score",
            [
                sa.Column("scores", JSONDoc, nullable=False),
                sa.Column("weighted_centi", sa.Integer(), nullable=False),
                sa.Column("comment", sa.Text(), nullable=True),
                sa.Column("scored_at", UTCDateTime(), nullable=False),
            ],
        ),
    ):
        op.create_table(
            table,
            sa.Column("assignment_id", sa.Uuid(), nullable=False),
            sa.Column("application_id", sa.Uuid(), nullable=False),
            *extra,
            sa.Column("id", sa.Uuid(), nullable=False),
            sa.ForeignKeyConstraint(
                ["assignment_id"], ["review_assignment.id"], name=f"fk_{table}_assignment_id_review_assignment"
            ),
            sa.ForeignKeyConstraint(
                ["application_id"], ["application.id"], name=f"fk_{table}_application_id_application"
            ),
            sa.PrimaryKeyConstraint("id", name=f"pk_{table}"),
            sa.UniqueConstraint("assignment_id", "application_id", name=f"uq_{table}_assignment_id_application_id"),
        )
        op.create_index(f"ix_{table}_application_id", table, ["application_id"])

    op.create_table(
        "notice",
        sa.Column("call_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("title", sa.String(300), nullable=False),
        sa.Column("projects", JSONDoc, nullable=False),
        sa.Column("published_at", UTCDateTime(), nullable=False),
        sa.Column("published_by", sa.String(200), nullable=False),
        sa.Column("period_working_days", sa.Integer(), nullable=False),
        sa.Column("objection_deadline", sa.Date(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        *timestamps(),
        sa.ForeignKeyConstraint(["call_id"], ["proposal_call.id"], name="fk_notice_call_id_proposal_call"),
        sa.PrimaryKeyConstraint("id", name="pk_notice"),
        sa.UniqueConstraint("call_id", name="uq_notice_call_id"),
    )

    op.create_table(
        "objection",
        sa.Column("notice_id", sa.Uuid(), nullable=False),
        sa.Column("application_id", sa.Uuid(), nullable=True),
        sa.Column("filer_name", sa.String(100), nullable=False),
        sa.Column("filer_phone", sa.String(32), nullable=True),
        sa.Column("filer_subject", sa.String(200), nullable=True),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("filed_at", UTCDateTime(), nullable=False),
        sa.Column("answer", sa.Text(), nullable=True),
        sa.Column("answered_at", UTCDateTime(), nullable=True),
        sa.Column("answered_by", sa.String(200), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        *timestamps(),
        sa.ForeignKeyConstraint(["notice_id"], ["notice.id"], name="fk_objection_notice_id_notice"),
        sa.PrimaryKeyConstraint("id", name="pk_objection"),
    )
    op.create_index("ix_objection_notice_id", "objection", ["notice_id"])
    op.create_index("ix_objection_status", "objection", ["status"])

    with op.batch_alter_table("contract") as batch:
        batch.add_column(sa.Column("application_id", sa.Uuid(), nullable=True))
        batch.create_unique_constraint("uq_contract_application_id", ["application_id"])
        batch.create_foreign_key("fk_contract_application_id_application", "application", ["application_id"], ["id"])


def downgrade() -> None:
    with op.batch_alter_table("contract") as batch:
        batch.drop_constraint("fk_contract_application_id_application", type_="foreignkey")
        batch.drop_constraint("uq_contract_application_id", type_="unique")
        batch.drop_column("application_id")
    op.drop_index("ix_objection_status", table_name="objection")
    op.drop_index("ix_objection_notice_id", table_name="objection")
    op.drop_table("objection")
    op.drop_table("notice")
    for table in ("review_score", "review_declaration"):
        op.drop_index(f"ix_{table}_application_id", table_name=table)
        op.drop_table(table)
    op.drop_index("ix_review_assignment_reviewer_subject", table_name="review_assignment")
    op.drop_index("ix_review_assignment_call_id", table_name="review_assignment")
    op.drop_table("review_assignment")
    op.drop_index("ix_application_call_id", table_name="application")
    op.drop_index("ix_application_provider_id", table_name="application")
    op.drop_index("ix_application_status", table_name="application")
    op.drop_table("application")
    op.drop_index("ix_proposal_call_fund_id", table_name="proposal_call")
    op.drop_index("ix_proposal_call_status", table_name="proposal_call")
    op.drop_table("proposal_call")
    op.drop_index("ix_need_status", table_name="need")
    op.drop_index("ix_need_category_code", table_name="need")
    op.drop_table("need")
    op.drop_table("provider_standing")
    op.drop_table("fund")
    op.drop_index("ix_audit_entry_subject_id_seq", table_name="audit_entry")
    op.drop_table("audit_entry")
