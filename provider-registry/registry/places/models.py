import uuid
from enum import StrEnum
from typing import Any

from sqlalchemy import Enum, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from registry.models import Announced, Base
from service_kit.db import IdMixin, TimestampMixin


class StreetKind(StrEnum):
    street = "street"  # 街道
    town = "town"  # 乡镇


class Street(TimestampMixin, Base):
    """A street office or town of the district, with its centroid (WGS-84)."""

    __tablename__ = "street"

    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    name_zh: Mapped[str] = mapped_column(String(100))
    name_en: Mapped[str | None] = mapped_column(String(100))
    kind: Mapped[StreetKind] = mapped_column(
        Enum(StreetKind, native_enum=False, length=20, values_callable=lambda e: [m.value for m in e])
    )
    lat: Mapped[float]
    lng: Mapped[float]


class Community(Announced, TimestampMixin, Base):
    """A community (社区) of a street; its code starts with the street's (``gongchen.shidai_jiahe``)."""

    __tablename__ = "community"
    __table_args__ = (Index("ix_community_lat_lng", "lat", "lng"),)

    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    street_code: Mapped[str] = mapped_column(ForeignKey("street.code"), index=True)
    name_zh: Mapped[str] = mapped_column(String(100))
    name_en: Mapped[str | None] = mapped_column(String(100))
    lat: Mapped[float]
    lng: Mapped[float]


class ServiceCenter(Announced, IdMixin, TimestampMixin, Base):
    """A regional community service center (区域性社区综合服务中心), run by a provider, serving communities."""

    __tablename__ = "service_center"

    name_zh: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str | None] = mapped_column(String(200))
    address: Mapped[str | None] = mapped_column(String(300))
    lat: Mapped[float]
    lng: Mapped[float]
    operator_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("organization.id"), index=True)
    # Opening hours as weekly rules (service_kit.events.contracts.WeeklyRule dumps), facilities as short labels,
    # communities served as community codes.
    hours: Mapped[list[Any]] = mapped_column(default=list)
    facilities: Mapped[list[Any]] = mapped_column(default=list)
    communities: Mapped[list[Any]] = mapped_column(default=list)
