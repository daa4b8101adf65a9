import uuid
from datetime import date

from pydantic import BaseModel, Field

from booking.timefmt import LocalDateTime


class SlotAvailability(BaseModel):
    start: LocalDateTime
    end: LocalDateTime
    capacity: int
    remaining: int


class Availability(BaseModel):
    offering_id: uuid.UUID
    timezone: str
    from_date: date = Field(serialization_alias="from")
    to_date: date = Field(serialization_alias="to")
    bookable: bool
    unavailable_reason: str | None = Field(
        default=None, description="Why there are no slots: offering_withdrawn, provider_suspended, …"
    )
    slots: list[SlotAvailability]
