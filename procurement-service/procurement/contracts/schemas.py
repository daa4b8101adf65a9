"""What clients send and receive about contracts. Money is integer fen, refused as a float or a string."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from procurement.contracts.models import AwardStatus, ContractStatus, InstallmentCondition, ProcurementMethod

# 100 亿元: far above any district contract, far below what a BIGINT holds.
MAX_FEN = 1_000_000_000_000
MAX_QUOTA = 10_000_000

Fen = Annotated[int, Field(strict=True, ge=0, le=MAX_FEN, description="An amount in fen (1/100 yuan).")]
PositiveFen = Annotated[int, Field(strict=True, gt=0, le=MAX_FEN, description="An amount in fen (1/100 yuan).")]
Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Tag = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40)]
Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]
StreetCode = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40, pattern=r"^[a-z0-9_.]+$")
]


class FundedOfferingCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    offering_id: uuid.UUID
    unit_price_fen: Fen = Field(description="What the district pays the provider per delivered service.")
    resident_price_fen: Fen = Field(description="What an eligible resident pays; at most the unit price.")
    quota: int = Field(strict=True, ge=1, le=MAX_QUOTA, description="How many services the contract pays for.")
    eligibility_tags: list[Tag] = Field(
        default_factory=list, max_length=20, description="A resident with any of these tags is eligible (e.g. 80+)."
    )


class InstallmentCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    condition: InstallmentCondition = Field(description="When the installment falls due.")
    amount_fen: PositiveFen


class ContractCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: Title = Field(description="The contract's title, in Chinese first (e.g. 长阳镇老年餐桌服务项目).")
    provider_id: uuid.UUID
    amount_fen: PositiveFen
    start_date: date
    end_date: date
    stable_service: bool = Field(
        default=False, strict=True, description="A stable, recurring service: the term may run up to three years."
    )
    funded_offerings: list[FundedOfferingCreate] = Field(min_length=1, max_length=100)
    installments: list[InstallmentCreate] | None = Field(
        default=None,
        min_length=1,
        max_length=12,
        description="The payment plan, summing to the amount; by default 30% on signing, 40% after the "
        "mid-term evaluation, 30% after the acceptance has passed.",
    )


class TargetCreate(BaseModel):
    """A target the contract promises (绩效目标). With ``offering_id`` and ``quantity`` it is measured: that many
    verified services of the funded offering; without, it is stated (e.g. 服务满意度 ≥ 90%)."""

    model_config = ConfigDict(extra="forbid")

    name: Title = Field(description="e.g. 助餐服务人次")
    target: Title = Field(description="e.g. 2000人次, ≥ 90%")
    offering_id: uuid.UUID | None = Field(default=None, description="The funded offering a quantity counts.")
    quantity: int | None = Field(
        default=None, strict=True, ge=1, le=MAX_QUOTA, description="How many services of the offering."
    )


class DirectAwardCreate(ContractCreate):
    """A direct award (直接委托) one official proposes: the contract's terms, the fund it draws on and the legal
    rationale for not calling for proposals. Another official approves it (four eyes) before it is signed."""

    fund_id: uuid.UUID = Field(description="The fund the contract draws on; the award commits its amount there.")
    rationale: Reason = Field(
        description="The legal rationale of the direct award, e.g. 单一来源：该服务在本镇仅此一家机构能够提供"
        "（《政府购买服务管理办法》第二十二条）."
    )
    street_code: StreetCode | None = Field(
        default=None,
        description="The street the contract serves (registry street code); a street-scoped official's own by "
        "default. None: the district's.",
    )
    targets: list[TargetCreate] | None = Field(
        default=None,
        min_length=1,
        max_length=50,
        description="The targets the official states for the award; left out, each funded offering's quota is "
        "its quantity target.",
    )


class AwardDecision(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Reason | None = Field(default=None, description="Why the award is approved or rejected.")


class AwardRejection(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Reason


class ContractTerminate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Reason


class FundedOffering(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    offering_id: uuid.UUID
    unit_price_fen: int
    resident_price_fen: int
    quota: int
    eligibility_tags: list[str]
    delivered_count: int = 0
    delivered_value_fen: int = 0


class Target(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    name: str
    target: str
    offering_id: uuid.UUID | None
    quantity: int | None


class Installment(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    seq: int
    condition: InstallmentCondition
    amount_fen: int
    paid: bool = False


class Signature(BaseModel):
    """One party's signature of a contract: who signed for it, and when."""

    signed_at: datetime
    signed_by: str = Field(description="The signer's account (subject).")


class Award(BaseModel):
    """How the contract was awarded: the approved application of a call, or a direct award with its rationale,
    proposed by one official and decided by another."""

    status: AwardStatus
    rationale: str | None = Field(description="A direct award's legal rationale.")
    proposed_by: str | None = Field(description="The official who proposed a direct award.")
    decided_by: str | None = Field(description="Who approved (or rejected) the award.")
    decided_at: datetime | None
    reason: str | None = Field(description="The decision's reason, if one was given.")


class Contract(BaseModel):
    id: uuid.UUID
    title: str
    provider_id: uuid.UUID
    amount_fen: int
    start_date: date
    end_date: date
    stable_service: bool
    status: ContractStatus
    funded_offerings: list[FundedOffering]
    delivered_count: int
    delivered_value_fen: int
    purchaser_signature: Signature | None = Field(description="The district's signature, once an official signed.")
    provider_signature: Signature | None = Field(description="The provider's signature, once its admin signed.")
    signed_at: datetime | None = Field(
        description="When the contract became signed (active): the moment the second party signed."
    )
    terminated_at: datetime | None
    termination_reason: str | None
    application_id: uuid.UUID | None = None
    procurement_method: ProcurementMethod = Field(
        description="open: from a call for proposals' approved application; direct: a direct award."
    )
    fund_id: uuid.UUID | None = Field(description="The fund the contract draws on.")
    street_code: str | None = Field(default=None, description="The street the contract serves; None: the district's.")
    award: Award
    original_amount_fen: int = Field(
        description="The amount as signed; amount_fen adds approved supplements and takes off approved reductions."
    )
    supplement_fen: int
    reduction_fen: int = Field(
        description="What approved settlement amendments took off the amount (released to the fund)."
    )
    disbursed_fen: int
    kept_fen: int = Field(
        description="After a termination: what stays committed for residents' bookings that keep the contract's "
        "subsidy (GET /contracts/{id}/kept-bookings); paid by settlements as they are delivered, given back to the "
        "fund as they lapse. Until booking-service reports them, the whole unpaid rest."
    )
    kept_reported: bool = Field(
        description="Whether booking-service has reported the bookings a terminated contract keeps."
    )
    version: int
    installments: list[Installment]
    targets: list[Target] = Field(
        description="What the contract promises: the winning application's KPIs, or the direct award's targets."
    )
    created_at: datetime
    updated_at: datetime


class ContractVersion(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    version: int
    amendment_id: uuid.UUID | None
    effective_at: datetime
    terms: dict[str, Any]


# ``purchaser_signed``/``provider_signed``: the first party signed; ``signed``: the second did, the contract is signed.
ContractAction = Literal[
    "created",
    "award_approved",
    "award_rejected",
    "purchaser_signed",
    "provider_signed",
    "signed",
    "amended",
    "terminated",
]


class HistoryEntry(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    seq: int
    action: str
    actor_subject: str
    actor_name: str | None
    actor_roles: list[str]
    occurred_at: datetime
    reason: str | None
    before: dict[str, Any] | None
    after: dict[str, Any]


class History(BaseModel):
    contract_id: uuid.UUID
    items: list[HistoryEntry]
