import uuid
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from booking.timefmt import LocalDateTime
from service_kit.timeutil import Instant


class WaitlistJoin(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["slot", "quota"] = Field(
        default="slot",
        description=(
            "slot: wait for a place in a full slot. quota: the slot has places but the funded programme's subsidised "
            "quota is used up; wait for a subsidised unit, offered to book the slot at the subsidised price."
        ),
    )
    contract_id: uuid.UUID | None = Field(
        default=None, description="quota only: the funding contract whose quota to wait for (default: any eligible)."
    )

    offering_id: uuid.UUID
    slot_start: Instant = Field(description="The start of a full slot of the offering, with its offset.")
    resident_id: uuid.UUID | None = Field(
        default=None, description="Required for operators; a resident waits for themself (a helper names them)."
    )


class WaitlistEntry(BaseModel):
    """A resident's place in a full slot's line, and the place offered to them when one frees."""

    id: uuid.UUID
    kind: Literal["slot", "quota"] = "slot"
    offering_id: uuid.UUID
    slot_start: LocalDateTime
    resident_id: uuid.UUID
    status: Literal["waiting", "offered", "accepted", "expired", "left"]
    position: int | None = Field(
        default=None, description="1 = next to be offered a place; None once offered or out of line."
    )
    joined_at: LocalDateTime
    offered_at: LocalDateTime | None = None
    offer_expires_at: LocalDateTime | None = Field(
        default=None, description="An offered place is held until then; unanswered, it passes to the next."
    )
    booking_id: uuid.UUID | None = Field(default=None, description="The booking made by accepting the offer.")
    series_id: uuid.UUID | None = None
