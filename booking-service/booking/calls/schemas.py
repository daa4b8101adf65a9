import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from booking.calls.reasons import CallerKind, OutcomeKind, Reason
from booking.residents.schemas import ResidentSummary
from booking.timefmt import LocalDateTime
from booking.urgent.schemas import UrgentCall
from booking.worklist.schemas import FollowUp, WorklistItem
from service_kit.timeutil import Instant

Note = Annotated[str, StringConstraints(strip_whitespace=True, max_length=1000)]
ShortText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=50)]
Relation = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=20)]
CallbackReason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


class CallerIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: CallerKind = Field(description="`helper`: a relative or family helper calling for the resident.")
    name: ShortText | None = Field(default=None, description="Who called, when not the resident (required then).")
    relation: Relation | None = Field(default=None, description="How they are related (女儿, 儿子 …); a helper's.")


class OutcomeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: OutcomeKind
    id: uuid.UUID | None = Field(default=None, description="The booking, complaint, need … the call led to.")


class CallbackIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    due_at: Instant = Field(description="When to call back (after now).")
    reason: CallbackReason


class CallCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Reason = Field(description="One of the hotline's reason codes (booking-service/README.md).")
    note: Note = ""
    caller: CallerIn = Field(default_factory=lambda: CallerIn(kind="resident"))
    outcome: OutcomeIn | None = None
    callback: CallbackIn | None = Field(default=None, description="Schedule a callback from this call.")


class Caller(BaseModel):
    kind: str
    name: str | None
    relation: str | None


class Outcome(BaseModel):
    kind: str
    id: uuid.UUID | None


class Callback(BaseModel):
    id: uuid.UUID
    resident_id: uuid.UUID
    resident: ResidentSummary | None = None
    call_id: uuid.UUID
    due_at: LocalDateTime
    reason: str
    status: str
    attempts: int
    created_by_name: str | None
    created_at: LocalDateTime
    done_by_name: str | None
    done_at: LocalDateTime | None
    last_note: str | None


class Call(BaseModel):
    id: uuid.UUID
    resident_id: uuid.UUID
    reason: str
    note: str
    caller: Caller
    outcome: Outcome | None
    operator_name: str | None
    at: LocalDateTime
    callback: Callback | None = None
    urgent: UrgentCall | None = Field(
        default=None,
        description=(
            "The urgent safety call this call opened (reason `safety`, outcome `urgent_call`): its reason, note, "
            "state and escalation as they are now."
        ),
    )


class CallbackAttempt(BaseModel):
    model_config = ConfigDict(extra="forbid")

    outcome: Literal["done", "no_answer"]
    attempts: int = Field(ge=0, description="The callback's `attempts` as the operator saw it (a stale one is 409).")
    next_due_at: Instant | None = Field(default=None, description="With `no_answer`: when to try again.")
    note: Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)] | None = None


class OperatorCounts(BaseModel):
    operator: str
    operator_name: str | None
    calls: int
    callbacks_done: int
    callbacks_scheduled: int
    urgent_opened: int = 0
    items_done: int = Field(default=0, description="Work-list items (of every kind) they closed in the shift.")


class Handover(BaseModel):
    """A shift's handover: what is still open and who took what."""

    since: datetime
    until: datetime
    callbacks_due: list[Callback]
    urgent_open: list[UrgentCall] = Field(description="Urgent safety calls not resolved, whoever opened them.")
    worklist_open: list[WorklistItem] = Field(
        default_factory=list, description="The work list's items still open by the shift's end, with who took each."
    )
    complaints_taken: list[FollowUp] = Field(
        default_factory=list, description="Overdue complaints an operator took and has not closed (feedback's)."
    )
    operators: list[OperatorCounts]
