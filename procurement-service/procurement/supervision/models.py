"""Implementation and supervision (监管) of a signed contract: the provider's progress reports, the officials'
supervision records (visits, findings), and the residents' complaints about the contracted service."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import Enum, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from procurement.models import Base
from service_kit.db import IdMixin, TimestampMixin


class SupervisionKind(StrEnum):
    site_visit = "site_visit"  # 实地走访
    spot_check = "spot_check"  # 随机抽查
    document_review = "document_review"  # 资料审查
    resident_interview = "resident_interview"  # 服务对象回访
    # 服务未到: booking-service found a confirmed visit nobody checked in to (linli.booking.provider_missed.v1).
    provider_missed = "provider_missed"


class SupervisionConclusion(StrEnum):
    satisfactory = "satisfactory"
    rectification_required = "rectification_required"  # 限期整改
    unsatisfactory = "unsatisfactory"


def _enum(cls: type[StrEnum]) -> Enum:
    return Enum(
        cls, native_enum=False, create_constraint=False, length=32, values_callable=lambda s: [m.value for m in s]
    )


class ProgressReport(IdMixin, TimestampMixin, Base):
    __tablename__ = "contract_progress_report"

    contract_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("contract.id"), index=True)
    period_start: Mapped[date]
    period_end: Mapped[date]
    summary: Mapped[str] = mapped_column(Text)
    issues: Mapped[str | None] = mapped_column(Text)
    submitted_by: Mapped[str] = mapped_column(String(200))
    submitted_at: Mapped[datetime]


class SupervisionRecord(IdMixin, TimestampMixin, Base):
    __tablename__ = "contract_supervision_record"

    contract_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("contract.id"), index=True)
    kind: Mapped[SupervisionKind] = mapped_column(_enum(SupervisionKind))
    occurred_on: Mapped[date]
    location: Mapped[str | None] = mapped_column(String(200))
    findings: Mapped[str] = mapped_column(Text)
    conclusion: Mapped[SupervisionConclusion] = mapped_column(_enum(SupervisionConclusion))
    rectification_due: Mapped[date | None]
    recorded_by: Mapped[str] = mapped_column(String(200))
    recorded_by_name: Mapped[str | None] = mapped_column(String(200))
    recorded_at: Mapped[datetime]
    # The booking a record made from booking-service's provider-missed alert is about: one record per booking.
    booking_id: Mapped[uuid.UUID | None] = mapped_column(unique=True)


class ContractComplaint(IdMixin, TimestampMixin, Base):
    """A resident's complaint (from feedback-service) linked to the contract whose service it concerns."""

    __tablename__ = "contract_complaint_link"
    __table_args__ = (UniqueConstraint("contract_id", "complaint_id"),)

    contract_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("contract.id"), index=True)
    complaint_id: Mapped[uuid.UUID] = mapped_column(index=True)
    provider_id: Mapped[uuid.UUID | None]
    booking_id: Mapped[uuid.UUID | None]
    offering_id: Mapped[uuid.UUID | None]
    # How the complaint was tied to the contract: its booking was a deliverable, or the provider's offering
    # (or the provider alone) was funded by the contract that day.
    linked_by: Mapped[str] = mapped_column(String(16))
    category: Mapped[str] = mapped_column(String(80))
    severity: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(32))
    opened_at: Mapped[datetime]
    # The time of the newest complaint event applied; an older one arriving late changes nothing.
    last_event_at: Mapped[datetime]
