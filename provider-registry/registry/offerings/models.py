import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import BigInteger, Enum, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from registry.models import Base
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
    status: Mapped[OfferingStatus] = mapped_column(_enum(OfferingStatus), index=True)
    # The version of the last snapshot announced to other services (0: never announced). Every event about the
    # offering carries a new version, so a consumer can ignore one that arrives after a newer one.
    version: Mapped[int] = mapped_column(default=0)
    published_at: Mapped[datetime | None]
