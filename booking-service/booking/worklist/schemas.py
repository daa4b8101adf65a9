import uuid
from datetime import date
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from booking.residents.schemas import ResidentSummary
from booking.timefmt import LocalDateTime

# The kinds booking lists itself; ``complaint`` items live in feedback-service (see ``service.py``) and are only
# taken and closed here.
ListedKind = Literal["callback", "unconfirmed_booking", "waitlist_offer", "recheck", "no_show"]
Kind = Literal["callback", "unconfirmed_booking", "waitlist_offer", "recheck", "no_show", "complaint"]
LISTED_KINDS: tuple[str, ...] = ListedKind.__args__  # type: ignore[attr-defined]

# Why the item is on the list, a code the console shows in Chinese (i18n.js ``worklist.reason.*``).
Reason = Literal[
    "callback_due",
    "provider_not_confirmed",
    "booking_expired_unconfirmed",
    "offer_unanswered",
    "eligibility_expiring",
    "eligibility_expired",
    "resident_absent",
    "resident_absent_living_alone",
    "complaint_overdue",
]


class About(BaseModel):
    """What the item is about, as much as its kind has."""

    booking_id: uuid.UUID | None = None
    offering_name: str | None = None
    provider_name: str | None = None
    slot_start: LocalDateTime | None = None
    booking_status: str | None = None
    hold_until: LocalDateTime | None = Field(default=None, description="A waitlist offer's: held until then.")
    tag: str | None = Field(default=None, description="A re-check's eligibility tag.")
    expires_on: date | None = Field(default=None, description="A re-check's: when the tag's evidence expires.")
    callback_reason: str | None = Field(default=None, description="A callback's reason, as the operator wrote it.")
    attempts: int | None = Field(default=None, description="A callback's tries with no answer.")


class WorklistItem(BaseModel):
    kind: ListedKind
    item_id: uuid.UUID
    resident_id: uuid.UUID
    resident: ResidentSummary | None = None
    reason: Reason
    due_at: LocalDateTime
    about: About
    taken_by_name: str | None = Field(default=None, description="Who took it (nobody yet when null).")
    taken_at: LocalDateTime | None = None


Note = Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)]


class Take(BaseModel):
    model_config = ConfigDict(extra="forbid")

    resident_id: uuid.UUID | None = Field(
        default=None, description="A complaint's resident (booking does not hold complaints); ignored otherwise."
    )


class Done(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: Note | None = None


class FollowUp(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    kind: Kind
    item_id: uuid.UUID
    resident_id: uuid.UUID | None
    taken_by_name: str | None
    taken_at: LocalDateTime
    done_by_name: str | None
    done_at: LocalDateTime | None
    note: str | None
