import uuid
from datetime import date as date_type
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from booking.bookings.models import BookingStatus
from booking.residents.schemas import HelperLabel, Position, ResidentSummary
from booking.timefmt import LocalDateTime
from service_kit.events.contracts import BookingChannel


class Quote(BaseModel):
    """What a resident would pay for an offering on a date if booked now, and who pays the rest."""

    offering_id: uuid.UUID
    resident_id: uuid.UUID
    date: date_type
    price_fen: int = Field(description="The offering's own price.")
    resident_price_fen: int = Field(description="What the resident would pay.")
    subsidy_fen: int = Field(description="What the government contract would pay for this resident.")
    funded: bool
    funded_contract_id: uuid.UUID | None = None
    quota_left: int | None = Field(None, description="Funded bookings left in the contract's quota.")


class BookingCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    offering_id: uuid.UUID
    slot_start: AwareDatetime = Field(description="The start of a slot from /api/v1/availability, with its offset.")
    resident_id: uuid.UUID | None = Field(
        default=None,
        description=(
            "Required for operators and providers; a resident books for themself. A resident's helper (a relative "
            "the resident authorised, `POST /api/v1/residents/{id}/helpers`) books for them with their own token by "
            "naming them here; without an active grant: 404 `resident_not_found`."
        ),
    )
    channel: BookingChannel | None = Field(
        default=None,
        description="phone or walk_in (operator, default phone), app (resident), provider_api (provider).",
    )


Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]


class BookingTransition(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Reason | None = Field(default=None, description="Required to reject or cancel.")
    position: Position | None = Field(
        default=None, description="Start (check-in) and complete (check-out) only: where the staff member is."
    )


class BookingReschedule(BaseModel):
    model_config = ConfigDict(extra="forbid")

    slot_start: AwareDatetime = Field(description="The start of another slot of the same offering.")
    reason: Reason | None = None


class BookingAssign(BaseModel):
    model_config = ConfigDict(extra="forbid")

    staff_id: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=160)] = Field(
        description="The staff member's account (the ``sub`` of their provider_staff token)."
    )
    staff_name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=50)] | None = None


class AssignedStaff(BaseModel):
    """The provider's staff member sent to deliver the booking."""

    staff_id: str
    staff_name: str | None = None
    assigned_by: str | None = None
    assigned_at: LocalDateTime | None = None


class Visit(BaseModel):
    """Delivery evidence: the check-in and check-out of the visit (what procurement counts as delivered)."""

    checked_in_at: LocalDateTime | None = None
    checked_in_by: str | None = None
    checked_in_position: Position | None = None
    checked_in_distance_m: int | None = Field(
        default=None, description="How far the check-in was from the resident's address, when both are known."
    )
    checked_in_far: bool | None = Field(default=None, description="The check-in was far from the address.")
    staff_mismatch: bool | None = Field(
        default=None,
        description="A provider staff member other than the assigned one checked in (flagged, not refused); "
        "None when nobody was assigned or the check-in was not by provider staff.",
    )
    checked_out_at: LocalDateTime | None = None
    checked_out_by: str | None = None
    checked_out_position: Position | None = None


class ProviderMissed(BaseModel):
    """The provider did not come: no check-in by the end of the confirmed slot; operators close the alert."""

    missed_at: LocalDateTime
    closed_at: LocalDateTime | None = None
    closed_by: str | None = None
    note: str | None = None


class ProviderMissedClose(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: Reason = Field(description="What was done, e.g. the resident was called and the visit rebooked.")


class BookedBy(BaseModel):
    """Who made the booking, as the resident's card shows it."""

    kind: Literal["resident", "helper", "operator", "provider", "system"] = Field(
        description="The resident themself, their helper (a relative they authorised), an operator, the provider."
    )
    name: str | None = Field(default=None, description="An operator's or a helper's name, when known.")
    helper: HelperLabel | None = Field(default=None, description="The helper, for kind helper.")


class Booking(BaseModel):
    id: uuid.UUID
    offering_id: uuid.UUID
    provider_id: uuid.UUID
    resident_id: uuid.UUID
    resident: ResidentSummary | None = None
    booked_by: BookedBy | None = None
    status: BookingStatus
    channel: str
    slot_start: LocalDateTime
    slot_end: LocalDateTime
    price_fen: int = Field(description="What the resident pays, in fen.")
    subsidy_fen: int = Field(description="What the funding contract pays, in fen.")
    funded_contract_id: uuid.UUID | None
    status_reason: str | None
    status_changed_at: LocalDateTime
    confirm_by: LocalDateTime | None = Field(
        default=None, description="A requested booking not confirmed by then expires."
    )
    assigned_staff: AssignedStaff | None = None
    visit: Visit | None = None
    suspect_reasons: list[str] = Field(
        default_factory=list,
        description="Why the visit's evidence is doubtful (far_from_place, unassigned_staff, outside_window): "
        "accepted, but paid by the contract only once an official accepts it.",
    )
    provider_missed: ProviderMissed | None = None
    reminded_at: LocalDateTime | None = Field(
        default=None, description="When the resident was sent the reminder the day before."
    )
    created_at: LocalDateTime
    updated_at: LocalDateTime
