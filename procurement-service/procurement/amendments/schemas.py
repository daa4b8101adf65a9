from __future__ import annotations

import uuid
from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field

from procurement.amendments.models import ChangeKind, ChangeStatus, ContractAmendment, Party
from procurement.contracts.schemas import MAX_FEN, FundedOfferingCreate, Reason


class AmendmentCreate(BaseModel):
    """What an amendment changes (at least one of supplement_fen, reduction_fen, end_date, funded_offerings) and
    why."""

    model_config = ConfigDict(extra="forbid")

    summary: Reason = Field(description="What changes, e.g. 增加助餐服务人次2000人次.")
    reason: Reason = Field(description="Why.")
    supplement_fen: int = Field(
        default=0, strict=True, ge=0, le=MAX_FEN, description="Supplementary value; at most 10% of the original."
    )
    reduction_fen: int = Field(
        default=0,
        strict=True,
        ge=0,
        le=MAX_FEN,
        description="Lowers the contract's amount by this many fen: a settlement (结算), e.g. for services not "
        "delivered, usually with funded_offerings lowering the quotas. The new amount is never below what is "
        "already paid (409 reduction_below_paid) and stays above zero (422 reduction_above_amount; a contract "
        "worth nothing is terminated instead); the funded offerings must still fit it. The reduction comes off "
        "the unpaid installments, the last first (one lowered to nothing leaves the plan), and goes back to the "
        "fund. Not in the same amendment as a supplement (422 reduction_with_supplement).",
    )
    end_date: date | None = Field(default=None, description="A new last day of the term.")
    funded_offerings: list[FundedOfferingCreate] | None = Field(
        default=None, min_length=1, max_length=100, description="The funded offerings as they will stand."
    )


class TerminationCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Reason
    for_cause: bool = Field(
        default=False,
        strict=True,
        description="The purchaser ends the contract for cause (违约), at once and with this reason; "
        "otherwise the termination is proposed and takes effect when the other party approves.",
    )


class Decision(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Reason | None = None


class Rejection(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Reason


class Amendment(BaseModel):
    """A proposed change to a signed contract (an amendment or a termination) and what became of it."""

    id: uuid.UUID
    contract_id: uuid.UUID
    kind: ChangeKind
    status: ChangeStatus
    summary: str
    reason: str
    supplement_fen: int
    reduction_fen: int
    end_date: date | None
    funded_offerings: list[FundedOfferingCreate] | None
    for_cause: bool
    proposed_by_party: Party
    proposed_by: str
    proposed_by_name: str | None
    proposed_at: datetime
    decided_by_party: Party | None
    decided_by: str | None
    decided_at: datetime | None
    decision_reason: str | None
    resulting_version: int | None

    @classmethod
    def of(cls, row: ContractAmendment) -> Amendment:
        return cls(
            id=row.id,
            contract_id=row.contract_id,
            kind=row.kind,
            status=row.status,
            summary=row.summary,
            reason=row.reason,
            supplement_fen=row.supplement_fen,
            reduction_fen=row.reduction_fen,
            end_date=row.new_end_date,
            funded_offerings=[FundedOfferingCreate.model_validate(o) for o in row.new_funded_offerings]
            if row.new_funded_offerings is not None
            else None,
            for_cause=row.for_cause,
            proposed_by_party=row.proposed_by_party,
            proposed_by=row.proposed_by,
            proposed_by_name=row.proposed_by_name,
            proposed_at=row.proposed_at,
            decided_by_party=row.decided_by_party,
            decided_by=row.decided_by,
            decided_at=row.decided_at,
            decision_reason=row.decision_reason,
            resulting_version=row.resulting_version,
        )
