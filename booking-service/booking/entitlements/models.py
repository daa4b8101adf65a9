"""Personal entitlements: the evidence behind a resident's eligibility tags, the re-checks operators make when it
expires, and how many subsidised units each resident has drawn of a programme in a period."""

import uuid
from datetime import date, datetime

from sqlalchemy import Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from booking.models import Base
from service_kit.db import IdMixin, TimestampMixin


class EligibilityEvidence(IdMixin, TimestampMixin, Base):
    """Why a resident carries an eligibility tag: the evidence seen, who verified it and when, and until when it
    holds. A tag past its expiry no longer makes the resident eligible; a tag without evidence (recorded before
    evidence was kept) still does."""

    __tablename__ = "eligibility_evidence"
    __table_args__ = (UniqueConstraint("resident_id", "tag"), Index("ix_eligibility_evidence_expires_on", "expires_on"))

    resident_id: Mapped[uuid.UUID]
    tag: Mapped[str] = mapped_column(String(32))
    evidence_type: Mapped[str] = mapped_column(String(32))
    verified_by: Mapped[str] = mapped_column(String(160))
    verified_by_name: Mapped[str | None] = mapped_column(String(100))
    verified_on: Mapped[date]
    expires_on: Mapped[date | None]


class EligibilityRecheck(IdMixin, TimestampMixin, Base):
    """An operator's task: a tag's evidence expires (or has expired) on ``expires_on``; check it again. One task per
    tag and expiry, whoever opens it (two sweeps, two replicas)."""

    __tablename__ = "eligibility_recheck"
    __table_args__ = (
        UniqueConstraint("resident_id", "tag", "expires_on"),
        Index("ix_eligibility_recheck_closed_at_expires_on", "closed_at", "expires_on"),
    )

    resident_id: Mapped[uuid.UUID]
    tag: Mapped[str] = mapped_column(String(32))
    expires_on: Mapped[date]
    opened_at: Mapped[datetime]
    closed_at: Mapped[datetime | None]
    closed_by: Mapped[str | None] = mapped_column(String(160))
    # renewed (new evidence, a new expiry) or removed (the resident no longer carries the tag).
    outcome: Mapped[str | None] = mapped_column(String(16))
    note: Mapped[str | None] = mapped_column(String(500))


class EntitlementUsage(Base):
    """Units of a programme's personal entitlement a resident holds in one period (a month, a week). Taken and
    given back only by guarded writes, so racing bookings never exceed what one person gets."""

    __tablename__ = "entitlement_usage"

    program_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    resident_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    period_start: Mapped[date] = mapped_column(primary_key=True)
    used: Mapped[int] = mapped_column(default=0)
