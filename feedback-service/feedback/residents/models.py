import uuid
from datetime import datetime

from sqlalchemy import Index
from sqlalchemy.orm import Mapped, mapped_column

from feedback.models import Base


class KnownHelperGrant(Base):
    """A resident's authorisation of a helper (a relative's resident account) as booking-service announced it
    (``resident.helper_granted`` / ``.helper_revoked``): who may file complaints and needs for whom. A revocation
    is final, whichever of the two events arrives first."""

    __tablename__ = "known_helper_grant"
    __table_args__ = (Index("ix_known_helper_grant_resident_id_helper", "resident_id", "helper_resident_id"),)

    grant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    resident_id: Mapped[uuid.UUID]
    helper_resident_id: Mapped[uuid.UUID]
    active: Mapped[bool]
    as_of: Mapped[datetime]


class ResidentMergeApplied(Base):
    """A merge of a duplicate resident record whose complaints, needs and ratings feedback moved to the survivor."""

    __tablename__ = "resident_merge_applied"

    duplicate_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    survivor_id: Mapped[uuid.UUID]
    complaints_moved: Mapped[int]
    needs_moved: Mapped[int]
    ratings_moved: Mapped[int]
    at: Mapped[datetime]
