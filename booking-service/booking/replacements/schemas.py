import uuid
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from booking.bookings.models import BookingStatus
from booking.replacements.models import FundingCause, ReplacementStatus
from booking.residents.schemas import ResidentSummary
from booking.timefmt import LocalDateTime


class Alternative(BaseModel):
    """An equivalent funded service in the resident's 15-minute circle: same category, funded by another active
    contract the resident is eligible for, with quota left."""

    offering_id: uuid.UUID
    name_zh: str
    name_en: str | None = None
    category_code: str
    mode: str
    provider_id: uuid.UUID
    provider_name: str
    distance_m: int | None = Field(
        description="From the resident's home; None for a door-to-door service that names the resident's "
        "community but whose distance is unknown."
    )
    price_fen: int = Field(description="The offering's own price.")
    resident_price_fen: int = Field(description="What the resident would pay under the other contract.")
    subsidy_fen: int
    funded_contract_id: uuid.UUID
    quota_left: int


class BookingToReplace(BaseModel):
    """The resident's upcoming booking: it keeps the price and subsidy it was booked with (see the list)."""

    id: uuid.UUID
    offering_id: uuid.UUID
    offering_name: str | None
    status: BookingStatus
    slot_start: LocalDateTime
    price_fen: int
    subsidy_fen: int
    funded_contract_id: uuid.UUID | None


class Replacement(BaseModel):
    id: uuid.UUID
    status: ReplacementStatus
    cause: FundingCause = Field(description="terminated, amended (the offering left the contract) or expired.")
    contract_id: uuid.UUID = Field(description="The contract whose funding ended.")
    funding_ended_at: LocalDateTime
    resident: ResidentSummary | None
    booking: BookingToReplace
    alternatives: list[Alternative] = Field(
        description="Nearest first (then cheapest for the resident); empty when none is funded near home."
    )
    handled_by: str | None = None
    handled_at: LocalDateTime | None = None
    note: str | None = None
    replacement_booking_id: uuid.UUID | None = None
    created_at: LocalDateTime


Note = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]


class ReplacementHandle(BaseModel):
    model_config = ConfigDict(extra="forbid")

    outcome: Literal["rebooked", "declined"] = Field(
        description="rebooked: the operator booked the resident another service (booking_id); declined: the "
        "resident wants none and keeps their booking."
    )
    booking_id: uuid.UUID | None = Field(
        default=None, description="rebooked only: the resident's new booking (made through POST /api/v1/bookings)."
    )
    note: Note | None = Field(default=None, description="What the resident said; kept with the record.")
