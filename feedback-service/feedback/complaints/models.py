import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Enum, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from feedback.models import Base
from service_kit.db import IdMixin, TimestampMixin


class ComplaintStatus(StrEnum):
    submitted = "submitted"
    acknowledged = "acknowledged"
    investigating = "investigating"
    resolved = "resolved"
    closed = "closed"
    reopened = "reopened"


class Severity(StrEnum):
    low = "low"
    normal = "normal"
    high = "high"
    urgent = "urgent"


class Channel(StrEnum):
    app = "app"  # a resident in the mobile app
    phone = "phone"  # an operator taking a call
    center_desk = "center"  # staff at a service center's desk
    open311 = "open311"  # a 311 client through the Open311 facade


class TargetKind(StrEnum):
    provider = "provider"
    booking = "booking"
    offering = "offering"
    service_center = "center"


class AssigneeKind(StrEnum):
    official = "official"
    provider = "provider"


class ComplaintCategory(StrEnum):
    service_quality = "service_quality"
    staff_conduct = "staff_conduct"
    punctuality = "punctuality"
    safety = "safety"
    billing = "billing"
    facility = "facility"
    other = "other"


def _enum(cls: type[StrEnum], length: int = 16) -> Enum:
    return Enum(cls, native_enum=False, length=length)


class Complaint(IdMixin, TimestampMixin, Base):
    """One complaint and where it stands; each change is also a ``ComplaintStep``."""

    __tablename__ = "complaint"
    __table_args__ = (
        Index("ix_complaint_status_ack_due_at", "status", "ack_due_at"),
        Index("ix_complaint_status_resolve_due_at", "status", "resolve_due_at"),
        Index("ix_complaint_street_code", "street_code"),
        Index("uq_complaint_reference", "reference", unique=True),
    )

    # Eight digits the caller writes down and reads back (feedback.complaints.references); unique.
    reference: Mapped[str] = mapped_column(String(8))
    channel: Mapped[Channel] = mapped_column(_enum(Channel))
    category: Mapped[ComplaintCategory] = mapped_column(_enum(ComplaintCategory, 32))
    severity: Mapped[Severity] = mapped_column(_enum(Severity))
    status: Mapped[ComplaintStatus] = mapped_column(_enum(ComplaintStatus), default=ComplaintStatus.submitted)
    target_kind: Mapped[TargetKind] = mapped_column(_enum(TargetKind))
    target_id: Mapped[uuid.UUID]
    # The provider concerned (the target itself, or the provider of the booking or offering), when known.
    provider_id: Mapped[uuid.UUID | None] = mapped_column(index=True)
    offering_id: Mapped[uuid.UUID | None] = mapped_column(index=True)
    booking_id: Mapped[uuid.UUID | None]
    center_id: Mapped[uuid.UUID | None]
    description: Mapped[str] = mapped_column(Text)
    attachments: Mapped[list[Any]] = mapped_column(default=list)
    # The resident who complains (None for an anonymous visitor at a center desk).
    resident_id: Mapped[uuid.UUID | None] = mapped_column(index=True)
    # Token subject of whoever filed it: the resident, their helper, or the operator / center staff for them.
    filed_by: Mapped[str] = mapped_column(String(200))
    # The resident's helper (a relative's resident account the resident authorised) who filed it, if one did.
    helper_resident_id: Mapped[uuid.UUID | None]
    assignee_kind: Mapped[AssigneeKind | None] = mapped_column(_enum(AssigneeKind))
    # An official's token subject, or a provider's id as text.
    assignee_id: Mapped[str | None] = mapped_column(String(200))
    # Where it happened (Open311 clients send a point and an address); never shown to the public.
    address: Mapped[str | None] = mapped_column(String(300))
    lat: Mapped[float | None]
    long: Mapped[float | None]
    # The complainant's community (an operator reads it off the caller's card; a resident may give it) and its
    # street, derived by feedback.communities.street_of: what reports by street group on.
    community_code: Mapped[str | None] = mapped_column(String(64))
    street_code: Mapped[str | None] = mapped_column(String(64))
    ack_due_at: Mapped[datetime]
    resolve_due_at: Mapped[datetime]
    acknowledged_at: Mapped[datetime | None]
    resolved_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    # Each breach is escalated once: these mark that it was.
    ack_escalated_at: Mapped[datetime | None]
    resolve_escalated_at: Mapped[datetime | None]


class StepAction(StrEnum):
    submitted = "submitted"
    acknowledged = "acknowledged"
    investigating = "investigating"
    resolved = "resolved"
    closed = "closed"
    reopened = "reopened"
    assigned = "assigned"
    note = "note"
    escalated = "escalated"


class ComplaintStep(IdMixin, Base):
    """One step of a complaint's history: who did what, when, with which note. ``internal`` steps are for
    staff and the provider concerned; the complainant never sees them."""

    __tablename__ = "complaint_step"
    __table_args__ = (Index("ix_complaint_step_complaint_id_created_at", "complaint_id", "created_at"),)

    complaint_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("complaint.id"))
    action: Mapped[StepAction] = mapped_column(_enum(StepAction))
    status_after: Mapped[ComplaintStatus] = mapped_column(_enum(ComplaintStatus))
    actor: Mapped[str] = mapped_column(String(200))
    actor_role: Mapped[str] = mapped_column(String(32))
    note: Mapped[str | None] = mapped_column(Text)
    internal: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime]
