import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from feedback.models import Base


class KnownCategory(Base):
    """A category of the registry's taxonomy (``category.upserted``): what a need's ``category_code`` names."""

    __tablename__ = "known_category"

    code: Mapped[str] = mapped_column(String(64), primary_key=True)
    parent_code: Mapped[str | None] = mapped_column(String(64))
    name_zh: Mapped[str] = mapped_column(String(100))
    version: Mapped[int]


class KnownCommunity(Base):
    """A community of the registry's gazetteer (``community.upserted``): what a ``community_code`` names."""

    __tablename__ = "known_community"

    code: Mapped[str] = mapped_column(String(64), primary_key=True)
    street_code: Mapped[str] = mapped_column(String(32))
    name_zh: Mapped[str] = mapped_column(String(100))
    version: Mapped[int]


class KnownCenter(Base):
    """A service center of the registry (``service_center.upserted``): what a complaint about a center names."""

    __tablename__ = "known_center"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    name_zh: Mapped[str] = mapped_column(String(200))
    operator_id: Mapped[uuid.UUID | None]
    communities: Mapped[list[Any]] = mapped_column(default=list)
    version: Mapped[int]


class KnownProvider(Base):
    """A provider the registry verified (``provider.verified`` / ``.suspended`` / ``.reinstated``), with its
    latest status as of the event's time."""

    __tablename__ = "known_provider"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    # None for a provider known from the bookings feedback had seen before this projection existed.
    name: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20))
    as_of: Mapped[datetime]


class KnownOffering(Base):
    """An offering the registry published (``offering.published`` / ``.updated`` / ``.withdrawn``) and its
    provider: what a complaint about an offering names."""

    __tablename__ = "known_offering"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    provider_id: Mapped[uuid.UUID] = mapped_column(index=True)
    status: Mapped[str] = mapped_column(String(20))
    version: Mapped[int]


class KnownBooking(Base):
    """A booking as booking-service last announced it (any ``booking.*`` event): whose it is, with which
    provider and offering. A complaint about a booking names one of its resident's, in any state."""

    __tablename__ = "known_booking"

    booking_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    resident_id: Mapped[uuid.UUID | None] = mapped_column(index=True)
    provider_id: Mapped[uuid.UUID]
    offering_id: Mapped[uuid.UUID]
    status: Mapped[str] = mapped_column(String(20))
    as_of: Mapped[datetime]
