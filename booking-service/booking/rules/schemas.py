import uuid

from pydantic import BaseModel, ConfigDict, Field


class BookingRulesUpdate(BaseModel):
    """An offering's own rules; ``null`` (or leaving a field out) follows the district-wide default."""

    model_config = ConfigDict(extra="forbid")

    min_lead_minutes: int | None = Field(default=None, ge=0, le=30 * 24 * 60)
    horizon_days: int | None = Field(default=None, ge=1, le=365)
    cancellation_window_minutes: int | None = Field(default=None, ge=0, le=30 * 24 * 60)
    confirm_within_minutes: int | None = Field(default=None, ge=5, le=30 * 24 * 60)


class BookingRules(BaseModel):
    """The rules in force for an offering's bookings."""

    offering_id: uuid.UUID
    min_lead_minutes: int = Field(description="A slot is bookable until this many minutes before it starts.")
    horizon_days: int = Field(description="Slots are bookable at most this many days ahead.")
    cancellation_window_minutes: int = Field(
        description="A resident cancels or reschedules until this many minutes before the slot; later only an "
        "operator or the provider may."
    )
    confirm_within_minutes: int = Field(
        description="A requested booking expires when not confirmed within this (and by its slot's start)."
    )
    own_rules: list[str] = Field(description="Which rules the offering sets itself; the others are defaults.")
