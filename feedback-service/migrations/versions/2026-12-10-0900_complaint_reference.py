"""complaints carry a reference of eight digits a caller writes down and an operator looks up

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-10 09:00:00

Complaints filed before it are given one here, drawn as the service draws them (``feedback.complaints.
references``: seven random digits and a Damm check digit), each distinct from the others.
"""

import secrets
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The migration keeps its own copy of the rule, as it stood at this revision: a later change to the service's
# module must not change what this revision did.
_DAMM = (
    (0, 3, 1, 7, 5, 9, 8, 6, 4, 2),
    (7, 0, 9, 2, 1, 5, 4, 8, 6, 3),
    (4, 2, 0, 6, 8, 7, 1, 3, 5, 9),
    (1, 7, 5, 0, 9, 8, 3, 4, 2, 6),
    (6, 1, 2, 3, 0, 4, 5, 9, 7, 8),
    (3, 6, 7, 4, 2, 0, 9, 5, 8, 1),
    (5, 8, 6, 9, 7, 2, 0, 1, 3, 4),
    (8, 9, 4, 5, 3, 6, 2, 0, 1, 7),
    (9, 4, 3, 8, 6, 1, 7, 2, 0, 5),
    (2, 5, 8, 1, 4, 3, 6, 7, 9, 0),
)


def _reference() -> str:
    body = str(1_000_000 + secrets.randbelow(9_000_000))
    interim = 0
    for digit in body:
        interim = _DAMM[interim][int(digit)]
    return body + str(interim)


def upgrade() -> None:
    op.add_column("complaint", sa.Column("reference", sa.String(8), nullable=True))
    bind = op.get_bind()
    complaint = sa.table("complaint", sa.column("id", sa.Uuid()), sa.column("reference", sa.String(8)))
    given: set[str] = set()
    for (complaint_id,) in bind.execute(sa.select(complaint.c.id).order_by(complaint.c.id)).all():
        reference = _reference()
        while reference in given:
            reference = _reference()
        given.add(reference)
        bind.execute(sa.update(complaint).where(complaint.c.id == complaint_id).values(reference=reference))
    with op.batch_alter_table("complaint") as batch:
        batch.alter_column("reference", existing_type=sa.String(8), nullable=False)
    op.create_index("uq_complaint_reference", "complaint", ["reference"], unique=True)


def downgrade() -> None:
    op.drop_index("uq_complaint_reference", table_name="complaint")
    with op.batch_alter_table("complaint") as batch:
        batch.drop_column("reference")
