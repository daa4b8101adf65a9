"""reference projections: the categories, communities, service centers, verified providers and published offerings
the registry announces, and every booking booking-service announces, to refuse complaints and needs about things
that do not exist

What feedback already knew is kept: the bookings it saw end (booking_outcome) become known bookings of their
residents, and their providers and offerings known ones (at the oldest version or time, so any event wins).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-05 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from service_kit.db import JSONDoc, UTCDateTime

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "known_category",
        sa.Column("code", sa.String(64), nullable=False),
        sa.Column("parent_code", sa.String(64), nullable=True),
        sa.Column("name_zh", sa.String(100), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("code", name="pk_known_category"),
    )
    op.create_table(
        "known_community",
        sa.Column("code", sa.String(64), nullable=False),
        sa.Column("street_code", sa.String(32), nullable=False),
        sa.Column("name_zh", sa.String(100), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("code", name="pk_known_community"),
    )
    op.create_table(
        "known_center",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name_zh", sa.String(200), nullable=False),
        sa.Column("operator_id", sa.Uuid(), nullable=True),
        sa.Column("communities", JSONDoc, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_known_center"),
    )
    op.create_table(
        "known_provider",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(200), nullable=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("as_of", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_known_provider"),
    )
    op.create_table(
        "known_offering",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("provider_id", sa.Uuid(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_known_offering"),
    )
    op.create_index("ix_known_offering_provider_id", "known_offering", ["provider_id"])
    op.create_table(
        "known_booking",
        sa.Column("booking_id", sa.Uuid(), nullable=False),
        sa.Column("resident_id", sa.Uuid(), nullable=True),
        sa.Column("provider_id", sa.Uuid(), nullable=False),
        sa.Column("offering_id", sa.Uuid(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("as_of", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("booking_id", name="pk_known_booking"),
    )
    op.create_index("ix_known_booking_resident_id", "known_booking", ["resident_id"])

    # What feedback knew before: every booking it saw end (booking_outcome, itself seeded from the rating
    # invitations), with its provider (verified when it was booked) and its offering (published then).
    op.execute(
        "INSERT INTO known_booking (booking_id, resident_id, provider_id, offering_id, status, as_of) "
        "SELECT booking_id, resident_id, provider_id, offering_id, outcome, occurred_at FROM booking_outcome"
    )
    op.execute(
        "INSERT INTO known_provider (id, name, status, as_of) "
        "SELECT provider_id, NULL, 'verified', min(occurred_at) FROM booking_outcome GROUP BY provider_id"
    )
    # One row per offering (its latest booking's provider: an offering has one), without an aggregate over uuids.
    op.execute(
        "INSERT INTO known_offering (id, provider_id, status, version) "
        "SELECT b.offering_id, b.provider_id, 'published', 0 FROM booking_outcome b WHERE b.booking_id = ("
        "SELECT l.booking_id FROM booking_outcome l WHERE l.offering_id = b.offering_id "
        "ORDER BY l.occurred_at DESC, l.booking_id LIMIT 1)"
    )


def downgrade() -> None:
    op.drop_index("ix_known_booking_resident_id", table_name="known_booking")
    op.drop_table("known_booking")
    op.drop_index("ix_known_offering_provider_id", table_name="known_offering")
    op.drop_table("known_offering")
    op.drop_table("known_provider")
    op.drop_table("known_center")
    op.drop_table("known_community")
    op.drop_table("known_category")
