import uuid

from pydantic import BaseModel, Field

from booking.timefmt import LocalDateTime


class ActingFor(BaseModel):
    operator_subject: str = Field(description="The account that acted: an operator's, or the helper's.")
    operator_name: str | None
    resident_id: uuid.UUID
    action: str
    booking_id: uuid.UUID | None
    helper_resident_id: uuid.UUID | None = Field(
        default=None, description="Set when the resident's helper (a relative they authorised) acted."
    )
    at: LocalDateTime
