import uuid
from datetime import date as date_type
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from booking.bookings.models import BookingStatus
from booking.entitlements.schemas import PersonalEntitlement, SubsidyReason
from booking.residents.schemas import HelperLabel, Position, ResidentSummary, VisitArea
from booking.timefmt import LocalDateTime
from service_kit import phones
from service_kit.events.contracts import BookingChannel
from service_kit.timeutil import Instant


class Place(BaseModel):
    """Where the service is given, as an app or the operator shows it."""

    kind: Literal["at_home", "at_center", "online"] = Field(
        description="at_home: the provider comes to the resident's door (上门); at_center: at a service point."
    )
    label: str = Field(description="上门, 线上, or the service center's name (到店服务 when the registry names none).")
    address: str | None = Field(default=None, description="The service center's street address, when known.")


class ServiceSummary(BaseModel):
    """The booked service as a list row shows it, without a call per row."""

    offering_name: str = Field(description="The service's name (Chinese).")
    offering_name_en: str | None = None
    category_code: str
    provider_name: str
    place: Place


class CancellationRule(BaseModel):
    """Until when the resident may cancel or move the booking herself (the provider and the call center can
    always): read out before booking."""

    window_minutes: int = Field(description="The resident cancels herself up to this long before the slot.")
    text: str = Field(description="The rule in the words the operator reads to the caller.")


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
    service: ServiceSummary
    cancellation_rule: CancellationRule
    entitlement: PersonalEntitlement | None = Field(
        default=None, description="What the resident has left this period of the programme that limits it per person."
    )
    price_note: str | None = Field(
        default=None, description="Why there is no subsidy (read back to the caller), e.g. this month's meals are used."
    )
    subsidy: SubsidyReason = Field(
        description=(
            "Why the booking would (not) be subsidised: `subsidised`; `quota_used_up` (a programme would fund her but "
            "its units are used up: she may wait in its quota line); `entitlement_used_up` (her own allowance for the "
            "period is used up); `evidence_expired` (the evidence of a tag a funding programme asks for has expired); "
            "`not_eligible` (programmes fund the day, none for her); `not_funded` (no programme funds it that day)."
        )
    )


class BookingCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    offering_id: uuid.UUID
    slot_start: Instant = Field(description="The start of a slot from /api/v1/availability, with its offset.")
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
    contract_id: uuid.UUID | None = Field(
        default=None,
        description="Book under this funding programme's subsidy: a resident it does not make eligible is refused "
        "(422 `not_eligible` on this field) and nothing is booked. Without it, the cheapest programme she is "
        "eligible for applies.",
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

    slot_start: Instant = Field(description="The start of another slot of the same offering.")
    reason: Reason | None = None


class BookingAssign(BaseModel):
    model_config = ConfigDict(extra="forbid")

    staff_id: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=160)] = Field(
        description="The staff member's account (the ``sub`` of their provider_staff token)."
    )
    staff_name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=50)] | None = None
    relay_number: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=32)] | None = Field(
        default=None,
        description="Where the provider integrates a number-relay service: the number the staff member calls the "
        "resident through (shown to them in place of the resident's phone).",
    )

    @field_validator("relay_number")
    @classmethod
    def _relay_e164(cls, value: str | None) -> str | None:
        return None if value is None else phones.e164(value)


class AssignedStaff(BaseModel):
    """The provider's staff member sent to deliver the booking."""

    staff_id: str
    staff_name: str | None = None
    assigned_by: str | None = None
    assigned_at: LocalDateTime | None = None


class VisitDetails(BaseModel):
    """What the assigned staff member needs at the door, from a while before the visit until its end."""

    booking_id: uuid.UUID
    resident_name: str
    address: str | None
    access_notes: str | None
    callable_number: str | None = Field(description="The number to call: the relay number, else the resident's phone.")
    number_kind: Literal["relay", "resident_phone"] | None
    visit_area: VisitArea | None = None
    visible_from: LocalDateTime = Field(description="From when these details are shown.")
    visible_until: LocalDateTime = Field(description="The end of the visit's slot: shown until then.")


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
    service: ServiceSummary | None = Field(
        default=None, description="The service's and provider's names and the place (None if booking never knew it)."
    )
    status: BookingStatus
    channel: str
    slot_start: LocalDateTime
    slot_end: LocalDateTime
    price_fen: int = Field(description="What the resident pays, in fen.")
    resident_share_fen: int = Field(description="What the resident pays, in fen (the same as price_fen).")
    subsidy_fen: int = Field(description="What the funding contract pays, in fen.")
    funded_contract_id: uuid.UUID | None
    price_note: str | None = Field(
        default=None, description="Why the booking carries no subsidy, as the operator reads it to the caller."
    )
    status_reason: str | None
    status_changed_at: LocalDateTime
    confirm_by: LocalDateTime | None = Field(
        default=None, description="A requested booking not confirmed by then expires."
    )
    assigned_staff: AssignedStaff | None = None
    visit_area: VisitArea | None = Field(
        default=None,
        description="A door-to-door visit's community and street, for planning; the address is only in the assigned "
        "staff member's visit details.",
    )
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
