import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import CheckConstraint, Enum, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from feedback.models import Base
from service_kit.db import IdMixin, TimestampMixin

DIMENSIONS = ("punctuality", "attitude", "professionalism", "value")


class InvitationStatus(StrEnum):
    pending = "pending"
    rated = "rated"


class RatingInvitation(IdMixin, TimestampMixin, Base):
    """A completed booking its resident may rate, opened by ``booking.completed``; one per booking."""

    __tablename__ = "rating_invitation"
    __table_args__ = (Index("ix_rating_invitation_resident_id_status", "resident_id", "status"),)

    booking_id: Mapped[uuid.UUID] = mapped_column(unique=True)
    resident_id: Mapped[uuid.UUID]
    provider_id: Mapped[uuid.UUID] = mapped_column(index=True)
    offering_id: Mapped[uuid.UUID]
    completed_at: Mapped[datetime]
    status: Mapped[InvitationStatus] = mapped_column(
        Enum(InvitationStatus, native_enum=False, length=16), default=InvitationStatus.pending
    )


def _stars_check(column: str) -> CheckConstraint:
    return CheckConstraint(f"{column} IS NULL OR ({column} >= 1 AND {column} <= 5)", name=f"{column}_range")


class Rating(IdMixin, TimestampMixin, Base):
    """A resident's rating of one completed booking. ``booking_id`` is unique: the database, not only the
    service, guarantees a booking is rated once, however many requests race."""

    __tablename__ = "rating"
    __table_args__ = (
        CheckConstraint("stars >= 1 AND stars <= 5", name="stars_range"),
        *(_stars_check(d) for d in DIMENSIONS),
        Index("ix_rating_provider_id_created_at", "provider_id", "created_at"),
    )

    invitation_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("rating_invitation.id"))
    booking_id: Mapped[uuid.UUID] = mapped_column(unique=True)
    resident_id: Mapped[uuid.UUID] = mapped_column(index=True)
    provider_id: Mapped[uuid.UUID]
    offering_id: Mapped[uuid.UUID]
    stars: Mapped[int]
    punctuality: Mapped[int | None]
    attitude: Mapped[int | None]
    professionalism: Mapped[int | None]
    value: Mapped[int | None]
    tags: Mapped[list[Any]] = mapped_column(default=list)
    comment: Mapped[str | None] = mapped_column(Text)
    # Who pressed the button: the resident's own token subject, or the operator's when rating for a caller.
    submitted_by: Mapped[str] = mapped_column(String(200))
    # The resident an operator acted for; None when the resident rated themself.
    on_behalf_of: Mapped[uuid.UUID | None]
