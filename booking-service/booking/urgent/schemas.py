import uuid
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from booking.residents.schemas import ResidentSummary
from booking.timefmt import LocalDateTime

# Why the call is urgent; the console and the SMS say it in Chinese (``REASONS``).
UrgentReason = Literal["fall", "no_answer", "other"]
REASONS: dict[str, str] = {"fall": "摔倒", "no_answer": "独居老人联系不上", "other": "其他紧急情况"}
Recipient = Literal["emergency_contact", "community_duty"]

Note = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=1000)]
StepNote = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]


class UrgentCallCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: UrgentReason = Field(description="`fall` 摔倒, `no_answer` 独居老人联系不上, `other` 其他紧急情况.")
    note: Note = Field(description="What the caller said: where, since when, who is with the resident.")


class Step(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: StepNote = Field(description="Who reached the resident and how they are; or how it ended.")


class Escalation(BaseModel):
    """One message of the escalation: to whom, and what became of it (``pending``, ``sent``, ``failed``;
    ``suppressed`` with ``reason`` ``no_phone`` when there was no number to send to)."""

    to: Recipient
    name: str | None
    phone_masked: str | None
    status: str
    reason: str | None
    text: str | None


class UrgentCall(BaseModel):
    id: uuid.UUID
    resident_id: uuid.UUID
    resident: ResidentSummary | None = None
    reason: str
    note: str
    status: Literal["opened", "contacted", "resolved"]
    community_name: str | None
    opened_by_name: str | None
    opened_at: LocalDateTime
    contacted_by_name: str | None
    contacted_at: LocalDateTime | None
    contacted_note: str | None
    resolved_by_name: str | None
    resolved_at: LocalDateTime | None
    resolved_note: str | None
    escalations: list[Escalation]


class DutyContactIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=50)] = Field(
        description="Who answers the duty phone (社区值班室, a named worker)."
    )
    phone: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=32)]


class DutyContact(BaseModel):
    community_code: str
    community_name: str
    name: str | None
    phone_masked: str | None
    updated_by_name: str | None
    updated_at: LocalDateTime | None
