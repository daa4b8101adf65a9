"""Expert review (评审): reviewers assigned to a call, their conflict-of-interest declarations and score sheets."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from procurement.models import Base
from service_kit.db import IdMixin, TimestampMixin


class ReviewAssignment(IdMixin, TimestampMixin, Base):
    __tablename__ = "review_assignment"
    __table_args__ = (UniqueConstraint("call_id", "reviewer_subject"),)

    call_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("proposal_call.id"), index=True)
    # The reviewer's identity: the ``sub`` of their token (role ``reviewer``).
    reviewer_subject: Mapped[str] = mapped_column(String(200), index=True)
    reviewer_name: Mapped[str] = mapped_column(String(200))
    # Providers the official knows the reviewer to be linked to (employer, board seat, adviser, kin):
    # the reviewer may not score their applications, whatever they declare.
    linked_provider_ids: Mapped[list[Any]]
    assigned_by: Mapped[str] = mapped_column(String(200))


class ReviewDeclaration(IdMixin, Base):
    """A reviewer's declaration, before scoring, that they have (or have not) a link to the applicant."""

    __tablename__ = "review_declaration"
    __table_args__ = (UniqueConstraint("assignment_id", "application_id"),)

    assignment_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("review_assignment.id"))
    application_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("application.id"), index=True)
    conflict: Mapped[bool]
    note: Mapped[str | None] = mapped_column(Text)
    declared_at: Mapped[datetime]


class ReviewScore(IdMixin, Base):
    __tablename__ = "review_score"
    __table_args__ = (UniqueConstraint("assignment_id", "application_id"),)

    assignment_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("review_assignment.id"))
    application_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("application.id"), index=True)
    # {criterion code: 0–100}
    scores: Mapped[dict[str, Any]]
    # Σ score × weight: the weighted total in hundredths of a point (0–10000), exact in integers.
    weighted_centi: Mapped[int] = mapped_column(Integer)
    comment: Mapped[str | None] = mapped_column(Text)
    scored_at: Mapped[datetime]
