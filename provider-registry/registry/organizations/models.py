import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import Enum, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from registry.models import Base
from registry.organizations.scoring import PRIOR_MEAN
from service_kit.db import IdMixin, TimestampMixin
from service_kit.timeutil import utcnow


class OrganizationKind(StrEnum):
    public_welfare = "public_welfare"  # 公益性社会组织
    commercial = "commercial"  # 商业性组织
    startup = "startup"  # 创业型


class OrganizationStatus(StrEnum):
    applied = "applied"
    verified = "verified"
    suspended = "suspended"


def _enum(cls: type[StrEnum]) -> Enum:
    return Enum(cls, native_enum=False, length=20, values_callable=lambda e: [m.value for m in e])


class Organization(IdMixin, TimestampMixin, Base):
    __tablename__ = "organization"

    name_zh: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str | None] = mapped_column(String(200))
    kind: Mapped[OrganizationKind] = mapped_column(_enum(OrganizationKind))
    # Unified Social Credit Code (统一社会信用代码), stored compact and upper-case.
    uscc: Mapped[str] = mapped_column(String(18), unique=True)
    contact_phone: Mapped[str | None] = mapped_column(String(32))
    status: Mapped[OrganizationStatus] = mapped_column(_enum(OrganizationStatus), index=True)
    # Who applied (the token subject), so an applicant can follow an application not yet verified.
    applied_by: Mapped[str] = mapped_column(String(200))
    # Standing, fed by events: ratings from feedback, contracts from procurement.
    rating_count: Mapped[int] = mapped_column(default=0)
    rating_sum: Mapped[int] = mapped_column(default=0)
    score: Mapped[float] = mapped_column(default=PRIOR_MEAN)
    has_government_contract: Mapped[bool] = mapped_column(default=False)


class OrganizationStatusChange(IdMixin, Base):
    """The audit trail of an organization's status: who changed it, when, from what, to what, and why."""

    __tablename__ = "organization_status_change"

    organization_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organization.id", ondelete="CASCADE"), index=True)
    from_status: Mapped[OrganizationStatus | None] = mapped_column(_enum(OrganizationStatus))
    to_status: Mapped[OrganizationStatus] = mapped_column(_enum(OrganizationStatus))
    actor: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ProviderRating(Base):
    """A rating already counted in its provider's score (a rating is counted once, whatever the redelivery)."""

    __tablename__ = "provider_rating"

    rating_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    provider_id: Mapped[uuid.UUID] = mapped_column(index=True)
    stars: Mapped[int]
    submitted_at: Mapped[datetime]


class ContractStatus(StrEnum):
    active = "active"
    terminated = "terminated"


class ProviderContract(Base):
    """A government contract as procurement announced it; ``has_government_contract`` = any active one."""

    __tablename__ = "provider_contract"

    contract_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    provider_id: Mapped[uuid.UUID] = mapped_column(index=True)
    status: Mapped[ContractStatus] = mapped_column(_enum(ContractStatus))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
