"""assigned evaluators, KPI targets, attainment thresholds: the evaluation decides

- ``contract_target``: what each contract promises (the winning application's KPIs and quantities, or the targets
  a direct award states). Existing contracts get as targets what they promised until now: each funded offering's
  quota as its quantity target, and, for a contract drawn from an application, that application's KPIs as stated
  targets (its quantities of the contract's offerings, where it named them, replace the quota).
- ``contract_evaluator``: the evaluators an official assigns to a contract, with their declarations. None exists
  for existing contracts: an open evaluation is scored by the third party once an official assigns one.
- ``booking_rating``: residents' ratings of bookings (rating.submitted), read by a contract's quality part. It
  starts empty and fills from the ratings the stream still holds (procurement's new consumer
  ``evaluation-ratings``).
- ``satisfaction_callback``: the callbacks operators make to a random sample of a contract's residents.
- ``contract_evaluation.parts`` / ``.result``: each scored part and the conclusion, recorded when finalized;
  evaluations finalized before this revision keep the weights and scores they were finalized with.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-05 11:00:00
"""

import uuid
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from service_kit.db import JSONDoc, UTCDateTime
from service_kit.migrations import timestamps

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _backfill_targets() -> None:
    connection = op.get_bind()
    target = sa.table(
        "contract_target",
        sa.column("id", sa.Uuid()),
        sa.column("contract_id", sa.Uuid()),
        sa.column("position", sa.Integer()),
        sa.column("name", sa.String(200)),
        sa.column("target", sa.String(200)),
        sa.column("offering_id", sa.Uuid()),
        sa.column("quantity", sa.Integer()),
    )
    contract = sa.table("contract", sa.column("id", sa.Uuid()), sa.column("application_id", sa.Uuid()))
    funded = sa.table(
        "contract_funded_offering",
        sa.column("contract_id", sa.Uuid()),
        sa.column("position", sa.Integer()),
        sa.column("offering_id", sa.Uuid()),
        sa.column("quota", sa.Integer()),
    )
    application = sa.table(
        "application", sa.column("id", sa.Uuid()), sa.column("deliverables", JSONDoc), sa.column("kpis", JSONDoc)
    )
    offerings: dict[uuid.UUID, list[tuple[uuid.UUID, int]]] = {}
    for contract_id, offering_id, quota in connection.execute(
        sa.select(funded.c.contract_id, funded.c.offering_id, funded.c.quota).order_by(
            funded.c.contract_id, funded.c.position
        )
    ).all():
        offerings.setdefault(contract_id, []).append((offering_id, quota))
    rows = []
    for contract_id, application_id in connection.execute(sa.select(contract.c.id, contract.c.application_id)).all():
        promised: dict[uuid.UUID, int] = {}
        kpis: list[dict[str, str]] = []
        if application_id is not None:
            found = connection.execute(
                sa.select(application.c.deliverables, application.c.kpis).where(application.c.id == application_id)
            ).first()
            if found is not None:
                for item in found[0] or []:
                    if item.get("offering_id"):
                        key = uuid.UUID(item["offering_id"])
                        promised[key] = promised.get(key, 0) + int(item["quantity"])
                kpis = list(found[1] or [])
        terms = [
            ("服务人次", f"{promised.get(o, q)}人次", o, promised.get(o, q)) for o, q in offerings.get(contract_id, [])
        ]
        terms += [(str(k["name"])[:200], str(k["target"])[:200], None, None) for k in kpis]
        rows += [
            {
                "id": uuid.uuid4(),
                "contract_id": contract_id,
                "position": position,
                "name": name,
                "target": what,
                "offering_id": offering_id,
                "quantity": quantity,
            }
            for position, (name, what, offering_id, quantity) in enumerate(terms)
        ]
    if rows:
        op.bulk_insert(target, rows)


def upgrade() -> None:
    op.create_table(
        "contract_target",
        sa.Column("contract_id", sa.Uuid(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("target", sa.String(length=200), nullable=False),
        sa.Column("offering_id", sa.Uuid(), nullable=True),
        sa.Column("quantity", sa.Integer(), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.CheckConstraint("quantity IS NULL OR quantity >= 1", name=("ck_contract_target_quantity_positive")),
        sa.CheckConstraint(
            "(offering_id IS NULL) = (quantity IS NULL)", name=("ck_contract_target_measured_names_both")
        ),
        sa.ForeignKeyConstraint(
            ["contract_id"], ["contract.id"], name=("fk_contract_target_contract_id_contract"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=("pk_contract_target")),
        sa.UniqueConstraint("contract_id", "position", name=("uq_contract_target_contract_id_position")),
    )
    with op.batch_alter_table("contract_target", schema=None) as batch_op:
        batch_op.create_index(("ix_contract_target_contract_id"), ["contract_id"], unique=False)
    _backfill_targets()

    op.create_table(
        "contract_evaluator",
        sa.Column("contract_id", sa.Uuid(), nullable=False),
        sa.Column("evaluator_subject", sa.String(length=200), nullable=False),
        sa.Column("evaluator_name", sa.String(length=200), nullable=False),
        sa.Column("linked_provider_ids", JSONDoc, nullable=False),
        sa.Column("assigned_by", sa.String(length=200), nullable=False),
        sa.Column("conflict", sa.Boolean(), nullable=True),
        sa.Column("declaration_note", sa.Text(), nullable=True),
        sa.Column("declared_at", UTCDateTime(), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        *timestamps(),
        sa.ForeignKeyConstraint(["contract_id"], ["contract.id"], name=("fk_contract_evaluator_contract_id_contract")),
        sa.PrimaryKeyConstraint("id", name=("pk_contract_evaluator")),
        sa.UniqueConstraint(
            "contract_id", "evaluator_subject", name=("uq_contract_evaluator_contract_id_evaluator_subject")
        ),
    )
    with op.batch_alter_table("contract_evaluator", schema=None) as batch_op:
        batch_op.create_index(("ix_contract_evaluator_contract_id"), ["contract_id"], unique=False)
        batch_op.create_index(("ix_contract_evaluator_evaluator_subject"), ["evaluator_subject"], unique=False)

    op.create_table(
        "booking_rating",
        sa.Column("booking_id", sa.Uuid(), nullable=False),
        sa.Column("rating_id", sa.Uuid(), nullable=False),
        sa.Column("provider_id", sa.Uuid(), nullable=False),
        sa.Column("stars", sa.Integer(), nullable=False),
        sa.Column("submitted_at", UTCDateTime(), nullable=False),
        sa.CheckConstraint("stars BETWEEN 1 AND 5", name=("ck_booking_rating_stars_range")),
        sa.PrimaryKeyConstraint("booking_id", name=("pk_booking_rating")),
    )
    with op.batch_alter_table("booking_rating", schema=None) as batch_op:
        batch_op.create_index(("ix_booking_rating_provider_id"), ["provider_id"], unique=False)

    op.create_table(
        "satisfaction_callback",
        sa.Column("contract_id", sa.Uuid(), nullable=False),
        sa.Column("booking_id", sa.Uuid(), nullable=False),
        sa.Column("offering_id", sa.Uuid(), nullable=False),
        sa.Column("drawn_by", sa.String(length=200), nullable=False),
        sa.Column("drawn_at", UTCDateTime(), nullable=False),
        sa.Column("reached", sa.Boolean(), nullable=True),
        sa.Column("satisfied", sa.Boolean(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("recorded_by", sa.String(length=200), nullable=True),
        sa.Column("recorded_at", UTCDateTime(), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        *timestamps(),
        sa.ForeignKeyConstraint(
            ["contract_id"], ["contract.id"], name=("fk_satisfaction_callback_contract_id_contract")
        ),
        sa.PrimaryKeyConstraint("id", name=("pk_satisfaction_callback")),
        sa.UniqueConstraint("booking_id", name=("uq_satisfaction_callback_booking_id")),
    )
    with op.batch_alter_table("satisfaction_callback", schema=None) as batch_op:
        batch_op.create_index(("ix_satisfaction_callback_contract_id"), ["contract_id"], unique=False)

    with op.batch_alter_table("contract_evaluation", schema=None) as batch_op:
        batch_op.add_column(sa.Column("parts", JSONDoc, nullable=True))
        batch_op.add_column(sa.Column("result", sa.String(length=16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("contract_evaluation", schema=None) as batch_op:
        batch_op.drop_column("result")
        batch_op.drop_column("parts")
    with op.batch_alter_table("satisfaction_callback", schema=None) as batch_op:
        batch_op.drop_index("ix_satisfaction_callback_contract_id")
    op.drop_table("satisfaction_callback")
    with op.batch_alter_table("booking_rating", schema=None) as batch_op:
        batch_op.drop_index("ix_booking_rating_provider_id")
    op.drop_table("booking_rating")
    with op.batch_alter_table("contract_evaluator", schema=None) as batch_op:
        batch_op.drop_index("ix_contract_evaluator_evaluator_subject")
        batch_op.drop_index("ix_contract_evaluator_contract_id")
    op.drop_table("contract_evaluator")
    with op.batch_alter_table("contract_target", schema=None) as batch_op:
        batch_op.drop_index("ix_contract_target_contract_id")
    op.drop_table("contract_target")
