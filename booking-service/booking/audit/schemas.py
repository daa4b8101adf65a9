import uuid

from pydantic import BaseModel

from booking.timefmt import LocalDateTime


class ActingFor(BaseModel):
    operator_subject: str
    operator_name: str | None
    resident_id: uuid.UUID
    action: str
    booking_id: uuid.UUID | None
    at: LocalDateTime
