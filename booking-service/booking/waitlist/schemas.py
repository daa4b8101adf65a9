import uuid
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from booking.residents.schemas import ResidentSummary
from booking.timefmt import LocalDateTime
from service_kit.timeutil import Instant

Status = Literal["waiting", "offered", "accepted", "expired", "left", "ended"]
EndReason = Literal["booking_ended", "program_ended", "slot_passed"]


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
    status: Status
    position: int | None = Field(
        default=None, description="1 = next to be offered a place; None once offered or out of line."
    )
    joined_at: LocalDateTime
    offered_at: LocalDateTime | None = None
    offer_expires_at: LocalDateTime | None = Field(
        default=None, description="An offered place is held until then; unanswered, it passes to the next."
    )
    booking_id: uuid.UUID | None = Field(
        default=None, description="The booking made (or, for a quota place, re-priced) by accepting the offer."
    )
    for_booking_id: uuid.UUID | None = Field(
        default=None,
        description=(
            "quota only: the full-price booking of the slot the resident already held when she joined; accepting "
            "the offer re-prices it (subsidy applied) instead of booking anew."
        ),
    )
    series_id: uuid.UUID | None = None
    end_reason: EndReason | None = Field(
        default=None,
        description=(
            "Why the place left the line without the resident leaving it: booking_ended (the booking it waited for "
            "was cancelled, rejected or expired), program_ended (the contract ended or stopped funding the service: "
            "no unit will come), slot_passed (its time went by)."
        ),
    )


class ListedWaitlistEntry(WaitlistEntry):
    """A place in a list of places: a programme's quota line (with the resident) or a resident's own places."""

    offering_name: str | None = Field(default=None, description="The service's Chinese name.")
    resident: ResidentSummary | None = Field(
        default=None, description="Who waits (a programme's quota line only; phone masked for all but staff)."
    )
