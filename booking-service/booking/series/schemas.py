import uuid
from datetime import date
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from booking.bookings.schemas import Booking, Reason
from booking.timefmt import LocalDateTime
from booking.waitlist.schemas import WaitlistEntry
from service_kit.events.contracts import BookingChannel

Weekday = Annotated[int, Field(ge=0, le=6, description="0 = Monday … 6 = Sunday, as in the offering's weekly rules.")]


class SeriesCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    offering_id: uuid.UUID
    resident_id: uuid.UUID | None = Field(
        default=None, description="Required for operators; a resident books for themself, a helper names them."
    )
    channel: BookingChannel | None = None
    kind: Literal["weekly", "working_days"] = Field(
        description="weekly: on ``weekdays`` every ``interval_weeks`` weeks; working_days: every official working "
        "day (public holidays off, make-up working days on)."
    )
    weekdays: list[Weekday] | None = Field(default=None, min_length=1, max_length=7)
    interval_weeks: int = Field(default=1, ge=1, le=8, description="Every N weeks, counted from the start date's.")
    time: Annotated[str, StringConstraints(pattern=r"^([01]\d|2[0-3]):[0-5]\d$")] = Field(
        description="The slot's local start time, e.g. 11:30."
    )
    start_date: date
    end_date: date | None = Field(default=None, description="The last date (inclusive); or give ``count``.")
    count: int | None = Field(default=None, ge=1, description="How many dates in all; or give ``end_date``.")
    skip_holidays: bool = Field(
        default=True, description="weekly: leave out public holidays and their days off (working_days always does)."
    )
    waitlist_when_full: bool = Field(
        default=False, description="Join the waitlist of a date whose slot is full (else it is only reported)."
    )


class SeriesCancel(BaseModel):
    model_config = ConfigDict(extra="forbid")

    from_date: date | None = Field(default=None, description="This date and all after it (default: today).")
    reason: Reason


class Occurrence(BaseModel):
    """One date of a series and what became of it."""

    date: date
    slot_start: LocalDateTime
    outcome: Literal["booked", "full", "waitlisted", "refused"] = Field(
        description="booked (see ``booking``), full (the slot had no place), waitlisted (full, and in its line: "
        "``waitlist``), refused (``code`` says why, e.g. slot_not_in_schedule on a day the offering is closed)."
    )
    code: str | None = None
    booking: Booking | None = None
    waitlist: WaitlistEntry | None = None


class DayOff(BaseModel):
    date: date
    name: str


class NotCancelled(BaseModel):
    date: date
    booking_id: uuid.UUID
    code: str
    detail: str


class Series(BaseModel):
    id: uuid.UUID
    resident_id: uuid.UUID
    offering_id: uuid.UUID
    provider_id: uuid.UUID
    kind: str
    weekdays: list[int]
    interval_weeks: int
    time: str
    start_date: date
    end_date: date | None
    count: int | None
    skip_holidays: bool
    waitlist_when_full: bool
    status: Literal["active", "ended", "cancelled"] = Field(
        description="active: later dates are booked as the booking horizon reaches them; ended: every date is "
        "planned; cancelled."
    )
    planned_through: date | None = Field(description="Dates up to this one are planned (booked or reported).")
    confirmed_at: LocalDateTime | None = Field(
        default=None, description="The provider confirmed the series: its later dates are confirmed as booked."
    )
    created_at: LocalDateTime
    occurrences: list[Occurrence]
    days_off_skipped: list[DayOff] = Field(
        default_factory=list, description="Public holidays and days off the series left out, so far."
    )
    not_cancelled: list[NotCancelled] = Field(
        default_factory=list, description="After a cancellation: the dates that could not be cancelled, and why."
    )
