import uuid
from datetime import date
from typing import Any

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from registry.models import Base
from service_kit.db import IdMixin, TimestampMixin


class Qualification(IdMixin, TimestampMixin, Base):
    """A license or qualification an organization holds, e.g. ``elderly_care`` (养老服务资质) from 房山区民政局."""

    __tablename__ = "qualification"
    __table_args__ = (Index("ix_qualification_valid_until", "valid_until"),)

    organization_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organization.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(40))
    name_zh: Mapped[str] = mapped_column(String(200))
    issuer: Mapped[str] = mapped_column(String(200))
    number: Mapped[str] = mapped_column(String(100))
    valid_from: Mapped[date]
    valid_until: Mapped[date]


class StaffMember(IdMixin, TimestampMixin, Base):
    """A person working for a provider (caregiver, nurse, counselor), with certifications."""

    __tablename__ = "staff_member"

    organization_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organization.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(40))
    phone: Mapped[str | None] = mapped_column(String(32))
    # [{"name": "养老护理员（四级）", "number": "...", "issuer": "...", "valid_until": "2028-06-30"}, ...]
    certifications: Mapped[list[Any]] = mapped_column(default=list)
    active: Mapped[bool] = mapped_column(default=True)
