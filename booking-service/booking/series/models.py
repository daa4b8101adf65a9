"""Recurring series: a resident's standing booking of one offering (weekday lunches, bathing every Tuesday), and the
dates it has planned so far, each one a real booking (or the reason it is not)."""

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from booking.models import Base
from service_kit.db import IdMixin, TimestampMixin


class BookingSeries(IdMixin, TimestampMixin, Base):
    __tablename__ = "booking_series"

    resident_id: Mapped[uuid.UUID] = mapped_column(index=True)
    offering_id: Mapped[uuid.UUID]
    provider_id: Mapped[uuid.UUID] = mapped_column(index=True)
    # ``weekly`` (on ``weekdays``, every ``interval_weeks``) or ``working_days`` (the official calendar's).
    kind: Mapped[str] = mapped_column(String(16))
    weekdays: Mapped[list[Any]]
    interval_weeks: Mapped[int]
    skip_holidays: Mapped[bool]
    # The slot's local start time ("11:30").
    start_time: Mapped[str] = mapped_column(String(5))
    start_date: Mapped[date]
    end_date: Mapped[date | None]
    count: Mapped[int | None]
    waitlist_when_full: Mapped[bool]
    channel: Mapped[str] = mapped_column(String(16))
    # ``active`` (extended as the horizon moves), ``ended`` (its last date is planned), ``cancelled``.
    status: Mapped[str] = mapped_column(String(16))
    # The last date planned so far (None before the first): the extension job claims the dates after it by a
    # guarded write on this column.
    planned_through: Mapped[date | None]
    planned: Mapped[int] = mapped_column(default=0)
    # Who booked it, so the extension job books later dates as them, under the same rules.
    booker_kind: Mapped[str] = mapped_column(String(16))
    booker_subject: Mapped[str] = mapped_column(String(160))
    booker_name: Mapped[str | None] = mapped_column(String(100))
    helper_resident_id: Mapped[uuid.UUID | None]
    # The provider confirms a series once; dates booked later are confirmed on its word.
    confirmed_at: Mapped[datetime | None]
    confirmed_by: Mapped[str | None] = mapped_column(String(160))
    cancelled_at: Mapped[datetime | None]
    cancelled_by: Mapped[str | None] = mapped_column(String(160))


class SeriesOccurrence(IdMixin, Base):
    """One date of a series: booked (``booking_id``), ``full`` (and perhaps waitlisted), or refused with a code."""

    __tablename__ = "series_occurrence"
    # One row per date: a retried request or a second run of the extension job books nothing twice.
    __table_args__ = (UniqueConstraint("series_id", "day", name="uq_series_occurrence_series_id_day"),)

    series_id: Mapped[uuid.UUID]
    day: Mapped[date]
    slot_start: Mapped[datetime]
    outcome: Mapped[str] = mapped_column(String(16))
    code: Mapped[str | None] = mapped_column(String(64))
    booking_id: Mapped[uuid.UUID | None] = mapped_column(index=True)
    waitlist_entry_id: Mapped[uuid.UUID | None]
    created_at: Mapped[datetime]
