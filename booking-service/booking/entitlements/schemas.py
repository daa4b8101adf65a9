import uuid
from datetime import date as date_type
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from booking.residents.schemas import EligibilityTag
from booking.timefmt import LocalDateTime

Period = Literal["month", "week"]
Unit = Literal["booking", "hour"]
# Why a booking is or is not subsidised (the quote's ``subsidy``).
SubsidyReason = Literal[
    "subsidised", "quota_used_up", "entitlement_used_up", "evidence_expired", "not_eligible", "not_funded"
]
EvidenceType = Literal[
    "id_card",  # 身份证 (age)
    "household_register",  # 户口簿
    "disability_certificate",  # 残疾人证
    "low_income_certificate",  # 低保证 / 低收入证明
    "community_certificate",  # 社区（村）出具的证明 (living alone)
    "home_visit",  # 入户核查
    "other",
]
Note = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]


class EntitlementRule(BaseModel):
    """What each eligible person gets of a funded programme per period."""

    model_config = ConfigDict(extra="forbid")

    units_per_period: int = Field(ge=1, le=1000, description="e.g. 22 subsidised meals, or 4 home-care hours.")
    period: Period = Field(description="month (calendar month, Beijing) or week (Monday to Sunday).")
    unit: Unit = Field(
        default="booking", description="booking: one booking is one unit; hour: each started hour of the slot."
    )


class ProgramEntitlement(EntitlementRule):
    contract_id: uuid.UUID
    offering_id: uuid.UUID
    eligibility_tags: list[str]
    subsidy_per_unit_fen: int = Field(description="What the programme pays per booking for an eligible person.")


class EvidenceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    evidence_type: EvidenceType
    verified_on: date_type = Field(description="When the operator (or the street office) saw the evidence.")
    expires_on: date_type | None = Field(
        default=None, description="Until when it holds (a certificate's validity, the next yearly check)."
    )


class Eligibility(BaseModel):
    """One eligibility tag of a resident and what stands behind it."""

    tag: str
    evidence_type: str | None = None
    verified_by: str | None = None
    verified_by_name: str | None = None
    verified_on: date_type | None = None
    expires_on: date_type | None = None
    status: Literal["valid", "expiring", "expired", "no_evidence"]


class PersonalEntitlement(BaseModel):
    """What a resident has left of one programme this period."""

    contract_id: uuid.UUID
    offering_id: uuid.UUID
    offering_name: str | None = None
    units_per_period: int
    period: Period
    unit: Unit
    period_start: date_type
    period_end: date_type = Field(description="The period's last day (inclusive).")
    used: int
    left: int
    subsidy_per_unit_fen: int


class ResidentEntitlements(BaseModel):
    resident_id: uuid.UUID
    date: date_type
    eligibility: list[Eligibility]
    entitlements: list[PersonalEntitlement] = Field(
        description="Programmes with a personal limit the resident is eligible for on the date, and what is left."
    )


class Recheck(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    resident_id: uuid.UUID
    tag: str
    expires_on: date_type
    opened_at: LocalDateTime
    closed_at: LocalDateTime | None = None
    closed_by: str | None = None
    outcome: str | None = None
    note: str | None = None


class RecheckClose(BaseModel):
    model_config = ConfigDict(extra="forbid")

    outcome: Literal["renewed", "removed"] = Field(
        description="renewed: new evidence was seen (give it); removed: the resident no longer carries the tag."
    )
    evidence: EvidenceIn | None = Field(default=None, description="Required to renew.")
    note: Note


TagPath = EligibilityTag
