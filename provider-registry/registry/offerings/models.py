import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import BigInteger, Enum, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from registry.models import Base
from registry.organizations.scoring import PRIOR_MEAN
from service_kit.db import IdMixin, TimestampMixin


class OfferingMode(StrEnum):
    door_to_door = "door_to_door"
    at_center = "at_center"
    online = "online"


class OfferingStatus(StrEnum):
    draft = "draft"
    published = "published"
    withdrawn = "withdrawn"


def _enum(cls: type[StrEnum]) -> Enum:
    return Enum(cls, native_enum=False, length=20, values_callable=lambda e: [m.value for m in e])


class Offering(IdMixin, TimestampMixin, Base):
    __tablename__ = "offering"
    __table_args__ = (Index("ix_offering_circle", "status", "search_band", "lat", "lng"),)

    provider_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organization.id"), index=True)
    category_code: Mapped[str] = mapped_column(ForeignKey("category.code"), index=True)
    name_zh: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str | None] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    mode: Mapped[OfferingMode] = mapped_column(_enum(OfferingMode))
    price_fen: Mapped[int] = mapped_column(BigInteger)
    duration_minutes: Mapped[int]
    capacity_per_slot: Mapped[int]
    timezone: Mapped[str] = mapped_column(String(64), default="Asia/Shanghai")
    # Stored as the contract types dump them (service_kit.events.contracts.WeeklyRule / ScheduleException).
    weekly_rules: Mapped[list[Any]] = mapped_column(default=list)
    exceptions: Mapped[list[Any]] = mapped_column(default=list)
    target_groups: Mapped[list[Any]] = mapped_column(default=list)
    auto_confirm: Mapped[bool] = mapped_column(default=False)
    # Who the service is for, in the provider's words, and the documents a resident brings to receive it: the
    # HSDS export's ``eligibility_description`` and ``required_documents``.
    eligibility_description: Mapped[str | None] = mapped_column(Text)
    required_documents: Mapped[list[Any]] = mapped_column(default=list)
    status: Mapped[OfferingStatus] = mapped_column(_enum(OfferingStatus), index=True)
    # The version of the last snapshot announced to other services (0: never announced). Every event about the
    # offering carries a new version, so a consumer can ignore one that arrives after a newer one.
    version: Mapped[int] = mapped_column(default=0)
    published_at: Mapped[datetime | None]
    # Where it is given: a point, or a service center whose point is copied here (and follows the center).
    lat: Mapped[float | None]
    lng: Mapped[float | None]
    center_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("service_center.id"), index=True)
    # The area a door-to-door visit reaches: a radius around the point, and/or communities served (the list is
    # mirrored in ``offering_service_community`` so that a community's offerings are found through an index).
    service_radius_m: Mapped[int | None]
    service_communities: Mapped[list[Any]] = mapped_column(default=list)
    # How the circle finds it by place (see ``search_band``): 0 = walked to, 1.. = door-to-door within the
    # radius bound of that band, None = not found by place (online, or no location).
    search_band: Mapped[int | None]
    # The provider's facts the circle filters and ranks by, copied here so that a search reads one table; kept
    # current wherever the provider changes (``registry.organizations.repository.copy_provider_facts``).
    provider_name: Mapped[str] = mapped_column(String(200), default="")
    provider_score: Mapped[float] = mapped_column(default=PRIOR_MEAN)
    provider_verified: Mapped[bool] = mapped_column(default=False)


# Door-to-door offerings are searched per band, each with the bounding box of its largest radius: a search
# reads only offerings whose service area could hold the point, not every door-to-door offering 10 km around.
DOOR_TO_DOOR_BANDS = (500, 1_000, 2_000, 5_000, 10_000)
WALK_BAND = 0


def search_band(mode: OfferingMode, lat: float | None, service_radius_m: int | None) -> int | None:
    if lat is None or mode == OfferingMode.online:
        return None
    if mode == OfferingMode.at_center:
        return WALK_BAND
    if service_radius_m is None:
        return None
    return next(i for i, bound in enumerate(DOOR_TO_DOOR_BANDS, start=1) if service_radius_m <= bound)


class OfferingServiceCommunity(Base):
    __tablename__ = "offering_service_community"

    offering_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("offering.id", ondelete="CASCADE"), primary_key=True)
    community_code: Mapped[str] = mapped_column(ForeignKey("community.code"), primary_key=True, index=True)
